//! `rpc`: the framework from a shell, like grpcurl, `pyro5-nsc` and `rpyc_registry`.
//!
//! `rpc call URI METHOD [JSON-ARG…]` calls a method and prints its result as JSON;
//! `rpc describe URI` lists what an object exposes; `rpc ping URI` measures round trips;
//! `rpc registry list|lookup|register|remove|watch` works a registry; `rpc completions SHELL`
//! prints a completion script. Every subcommand takes the connection flags of
//! [`rpc_server::cli::ClientArgs`] (`--tls`, `--ca-file`, `--secret-file`, `--timeout`).
//!
//! Modules: [`args`] the command line, [`json`] JSON to values and back, [`target`] the URI
//! and connecting, [`failure`] errors and exit statuses, [`output`] stdout; one module per
//! subcommand.

mod args;
mod call;
mod completions;
mod describe;
mod failure;
mod json;
mod output;
mod ping;
mod registry;
mod target;

use std::future::Future;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use failure::{one_line, Failure};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (code, message) = match run(cli) {
        Ok(()) => (0, None),
        Err(failure) => {
            let (code, message) = failure.report();
            (code, message.map(one_line))
        }
    };
    if let Some(message) = message {
        eprintln!("rpc: {message}");
    }
    ExitCode::from(code)
}

/// Runs the subcommand; the network ones on a single-threaded runtime.
fn run(cli: Cli) -> Result<(), Failure> {
    let client = cli.client;
    if let Command::Completions(cmd) = &cli.command {
        return completions::run(cmd);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Local(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Call(cmd) => call::run(cmd, &client).await,
            Command::Describe(cmd) => describe::run(cmd, &client).await,
            Command::Ping(cmd) => ping::run(cmd, &client).await,
            Command::Registry(cmd) => registry::run(cmd, &client).await,
            Command::Completions(cmd) => completions::run(&cmd),
        }
    })
}

/// A future that completes on Ctrl-C or SIGTERM (what ends `ping`, `registry register` and
/// `registry watch`); its handlers are installed now.
fn stop_signal() -> Result<impl Future<Output = &'static str>, Failure> {
    rpc_server::cli::stop_signal().map_err(|e| Failure::Local(format!("cannot listen for signals: {e}")))
}
