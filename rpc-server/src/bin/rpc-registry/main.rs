//! `rpc-registry`: serves a registry (names → URIs, with metadata tags and TTLs) until Ctrl-C or
//! SIGTERM, then drains.
//!
//! Run: `cargo run --release -p rpc-server --bin rpc-registry` (`--help` lists every option).
//! The bound address is the one line on stdout; logs go to stderr. Exit status: 0 after a
//! clean shutdown, 1 on an error, 2 on bad arguments.
//!
//! With `--secret-file`, registering and removing need the secret and lookups do not (they
//! do too with `--private-lookups`).

mod args;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rpc_server::auth::OptionalSecret;
use rpc_server::naming::{discovery, Access, MemoryStore, RegistryService, RegistryStore};
use rpc_server::{cli, Server};

use args::Args;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(message) = cli::init_logging(args.serve.log.as_deref()) {
        eprintln!("rpc-registry: error: {message}");
        return ExitCode::from(2);
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rpc-registry: error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let store: Arc<dyn RegistryStore> = Arc::new(MemoryStore::with_capacity(args.max_entries));
    let mut service = RegistryService::from_arc(store.clone());
    // The secret: required of everyone with --private-lookups (the shared flags' own
    // behaviour), else asked only of the clients that offer it, and writes need it.
    let mut serve = args.serve.clone();
    let optional = match (&args.serve.secret_file, args.private_lookups) {
        (Some(path), false) => {
            serve.secret_file = None;
            Some(OptionalSecret(cli::read_secret(path)?))
        }
        _ => None,
    };
    if args.serve.secret_file.is_some() {
        service = service.writers(Access::Authenticated);
    }
    if args.private_lookups {
        service = service.readers(Access::Authenticated);
    }
    let mut server = cli::configure(Server::shared(Arc::new(service)), &serve)?;
    if let Some(optional) = optional {
        server = server.authenticator(optional);
    }
    let addrs = cli::resolve(&args.host, args.port).await?;
    let bound = cli::bind(server, &addrs).await?;
    let addr = bound.local_addr().map_err(|e| cli::error_chain(&e))?;
    let secret = args.serve.secret_file.is_some();
    if let Some(warning) = cli::exposure_warning("rpc-registry", addr.ip(), args.serve.tls(), secret) {
        eprintln!("{warning}");
    }
    let _responder = match args.discovery {
        None => None,
        Some(at) => {
            let scheme = if args.serve.tls() { "rpc+tls" } else { "rpc" };
            let uri = args
                .advertise
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}"));
            if addr.ip().is_unspecified() && args.advertise.is_none() {
                return Err(format!(
                    "--discovery with --host {}: say the URI to announce with --advertise",
                    args.host
                ));
            }
            let socket = tokio::net::UdpSocket::bind(at)
                .await
                .map_err(|e| format!("--discovery {at}: {e}"))?;
            tracing::info!(%at, %uri, "answering discovery queries");
            Some(AbortOnDrop(tokio::spawn(discovery::respond(socket, uri, store))))
        }
    };
    cli::serve(
        bound,
        "rpc-registry",
        "registry",
        &args.serve,
        cli::Serving::Connections,
    )
    .await
}

/// Stops the discovery responder when the registry stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
