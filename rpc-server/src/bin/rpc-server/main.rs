//! `rpc-server`: serves a demo service over TCP until Ctrl-C or SIGTERM, then drains.
//!
//! Run: `cargo run --release -p rpc-server -- --service demo --port 18861` (`--help` lists
//! every option). The bound address is the one line on stdout; logs go to stderr. Exit status:
//! 0 after a clean shutdown, 1 on an error, 2 on bad arguments.
//!
//! Its flags and steps, but `--service`, `--host` and `--port`, are [`rpc_server::cli`]'s.

mod args;
mod services;

use std::process::ExitCode;

use clap::Parser;
use rpc_server::{cli, Server};

use args::{Args, ServiceKind};
use services::{Demo, Echo};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(message) = cli::init_logging(args.serve.log.as_deref()) {
        eprintln!("rpc-server: error: {message}");
        return ExitCode::from(2);
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rpc-server: error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let (server, service) = match args.service {
        ServiceKind::Demo => (Server::new(|| Demo), "demo"),
        ServiceKind::Echo => (Server::new(|| Echo), "echo"),
    };
    let server = cli::configure(server, &args.serve)?;
    let addrs = cli::resolve(&args.host, args.port).await?;
    let bound = cli::bind(server, &addrs).await?;
    let addr = bound.local_addr().map_err(|e| cli::error_chain(&e))?;
    let secret = args.serve.secret_file.is_some();
    if let Some(warning) = cli::exposure_warning("rpc-server", addr.ip(), args.serve.tls(), secret) {
        eprintln!("{warning}");
    }
    cli::serve(
        bound,
        "rpc-server",
        service,
        &args.serve,
        cli::Serving::Connections,
    )
    .await
}
