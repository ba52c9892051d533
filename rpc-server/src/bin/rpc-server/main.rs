//! `rpc-server`: serves a demo service over TCP until Ctrl-C or SIGTERM, then drains.
//!
//! Run: `cargo run --release -p rpc-server -- --service demo --port 18861` (`--help` lists
//! every option). The bound address is the one line on stdout; logs go to stderr. Exit status:
//! 0 after a clean shutdown, 1 on an error, 2 on bad arguments.

mod args;
mod services;
mod setup;
mod units;

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};

use args::Args;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(message) = init_logging(args.log.as_deref()) {
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
    let server = setup::server(&args)?;
    let stop = stop_signal().map_err(|e| format!("cannot listen for signals: {e}"))?;
    let bound = match args.host.parse::<std::net::IpAddr>() {
        Ok(ip) => server.bind((ip, args.port)).await,
        Err(_) => server.bind((args.host.as_str(), args.port)).await,
    }
    .map_err(|e| chain(&e))?;
    let addr = bound.local_addr().map_err(|e| chain(&e))?;
    let secured = (args.tls_cert.is_some(), args.secret_file.is_some());
    if let Some(warning) = setup::exposure_warning(addr.ip(), secured.0, secured.1) {
        eprintln!("{warning}");
    }
    let service = match args.service {
        args::ServiceKind::Demo => "demo",
        args::ServiceKind::Echo => "echo",
    };
    // The one line a parent process reads to learn the port (`--port 0`).
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "rpc-server: serving {service} on {addr}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(stdout);
    tracing::info!(%addr, service, tls = secured.0, secret = secured.1, "serving");
    let drain = args.drain_timeout;
    let stopping = async move {
        let which = stop.await;
        tracing::info!("{which}: draining, running calls get up to {drain}");
    };
    bound.serve_until(stopping).await.map_err(|e| chain(&e))?;
    tracing::info!("stopped");
    Ok(())
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM, naming which; the handlers are
/// installed now, so a signal that comes early is not missed.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl Future<Output = &'static str>> {
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

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl Future<Output = &'static str>> {
    Ok(async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    })
}

/// Logs to stderr, filtered by `--log`, else `RUST_LOG`, else `info`.
fn init_logging(directives: Option<&str>) -> Result<(), String> {
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

/// An error and its causes on one line: `cannot listen on 127.0.0.1:80: permission denied`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}
