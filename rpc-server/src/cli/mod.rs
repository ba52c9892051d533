//! The pieces of a server binary's command line (feature `cli`): the flags every server
//! shares, their units, and what a `main` does with them; and the flags every client shares
//! ([`ClientArgs`]: TLS, a shared secret, `--timeout`), which the `rpc` tool is made with.
//!
//! The `rpc-server` binary is built from them, and so can another: flatten [`ServeArgs`] into
//! the binary's clap arguments next to its own `--host`, `--port` and whatever says what to
//! serve; then [`init_logging`], [`configure`] the [`Server`], [`resolve`] and [`bind`] its
//! address, and [`serve`] until Ctrl-C or SIGTERM:
//!
//! ```no_run
//! use clap::Parser;
//! use rpc_server::{cli, Server};
//! # use rpc_core::service;
//! # struct Echo;
//! # #[service]
//! # impl Echo {
//! #     fn exposed_echo(&self, s: String) -> String { s }
//! # }
//!
//! /// Serves the echo service.
//! #[derive(Parser)]
//! struct Args {
//!     /// Address to listen on.
//!     #[arg(long, default_value = "127.0.0.1")]
//!     host: String,
//!     /// Port to listen on.
//!     #[arg(long, default_value_t = 18861)]
//!     port: u16,
//!     #[command(flatten)]
//!     serve: cli::ServeArgs,
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), String> {
//!     let args = Args::parse();
//!     cli::init_logging(args.serve.log.as_deref())?;
//!     let server = cli::configure(Server::new(|| Echo), &args.serve)?;
//!     let addrs = cli::resolve(&args.host, args.port).await?;
//!     let bound = cli::bind(server, &addrs).await?;
//!     cli::serve(bound, "echo-server", "echo", &args.serve, cli::Serving::Connections).await
//! }
//! ```
//!
//! Errors are `String`s, ready for `eprintln!("{name}: error: {message}")`: each names the flag
//! or address at fault, with its causes ([`error_chain`]).

mod args;
mod client;
mod setup;
mod units;

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

pub use crate::error::error_chain;
pub use args::ServeArgs;
pub use client::ClientArgs;
pub use setup::{configure, exposure_warning, is_loopback, loud_warning, read_secret};
pub use units::{KeepaliveArg, Size, Span, Timeout};

use crate::{BoundServer, Server};

/// How [`ServeArgs`]' durations and sizes are written, for a binary's `--help`
/// (`#[command(after_help = ...)]`).
pub const UNITS_HELP: &str =
    "Durations: 500ms, 5s, 2m, 1h, or a bare number of seconds. Sizes: 65536, 64KiB, 64MiB, 1GiB.";

/// Logs to stderr, filtered by `directives` (`--log`), else `RUST_LOG`, else `info`; with
/// colours only on a terminal. Fails on directives that do not parse. Call it once.
pub fn init_logging(directives: Option<&str>) -> Result<(), String> {
    let filter = match directives {
        Some(d) => EnvFilter::try_new(d).map_err(|e| format!("--log {d:?}: {e}"))?,
        None => EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .from_env_lossy(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM, naming which; the handlers are
/// installed now, so a signal that comes early is not missed. Needs a tokio runtime.
#[cfg(unix)]
pub fn stop_signal() -> std::io::Result<impl Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    })
}

/// A future that completes on Ctrl-C, naming it.
#[cfg(not(unix))]
pub fn stop_signal() -> std::io::Result<impl Future<Output = &'static str>> {
    Ok(async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    })
}

/// The addresses `host` (an IP address or a host name) and `port` stand for; at least one.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("cannot resolve {host}: it has no address"));
    }
    Ok(addrs)
}

/// Listens on the first of `addrs` that can be bound (as [`resolve`] gives them); the error
/// of the last one otherwise.
pub async fn bind(server: Server, addrs: &[SocketAddr]) -> Result<BoundServer, String> {
    let mut failure = String::from("no address to listen on");
    for addr in addrs {
        match server.clone().bind(*addr).await {
            Ok(bound) => return Ok(bound),
            Err(e) => failure = error_chain(&e),
        }
    }
    Err(failure)
}

/// How many connections [`serve`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// Any number, until Ctrl-C or SIGTERM (RPyC's `ThreadedServer`).
    Connections,
    /// The first one, to its end or until Ctrl-C or SIGTERM (RPyC's `OneShotServer`).
    OneConnection,
}

/// Serves on `bound` until Ctrl-C or SIGTERM, then drains (running calls get up to
/// `--drain-timeout`, clients are told); or, for [`Serving::OneConnection`], until the first
/// connection ends.
///
/// First it prints the one line on stdout a parent process reads to learn the address (with
/// `--port 0`): `<name>: serving <what> on <address>`. `name` is the program's, `what` the
/// service's.
pub async fn serve(
    bound: BoundServer,
    name: &str,
    what: &str,
    args: &ServeArgs,
    serving: Serving,
) -> Result<(), String> {
    let stop = stop_signal().map_err(|e| format!("cannot listen for signals: {e}"))?;
    let addr = bound.local_addr().map_err(|e| error_chain(&e))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{name}: serving {what} on {addr}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);
    tracing::info!(%addr, service = what, tls = args.tls(), secret = args.secret_file.is_some(), "serving");
    let drain = args.drain_timeout;
    let stopping = async move {
        let which = stop.await;
        tracing::info!("{which}: draining, running calls get up to {drain}");
    };
    match serving {
        Serving::Connections => bound.serve_until(stopping).await,
        Serving::OneConnection => {
            let handle = bound.shutdown_handle();
            let serving = bound.serve_one();
            tokio::pin!(serving);
            tokio::select! {
                result = &mut serving => result,
                () = stopping => {
                    handle.shutdown();
                    serving.await
                }
            }
        }
    }
    .map_err(|e| error_chain(&e))?;
    tracing::info!("stopped");
    Ok(())
}
