//! The accept loop: one task per connection, a connection limit, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use rpc_core::{ConnectionConfig, Service};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::listener::{Accepted, Listener};

type Factory = Arc<dyn Fn() -> Arc<dyn Service> + Send + Sync>;

/// Settings of a server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Settings of every connection.
    pub connection: ConnectionConfig,
    /// Most connections served at once; more are closed right after being accepted
    /// (default 10,000).
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            connection: ConnectionConfig::default(),
            max_connections: 10_000,
        }
    }
}

/// A server, before it is bound: which service each connection gets, and the limits.
///
/// [`Server::new`] gives each connection its own service instance from a factory (RPyC's
/// `ThreadedServer(MyService)`); [`Server::shared`] serves one instance to every connection
/// (RPyC's `ThreadedServer(MyService())`).
#[derive(Clone)]
pub struct Server {
    factory: Factory,
    config: ServerConfig,
}

/// RPyC's name for [`Server`]: one task (not thread) per connection.
pub type ThreadedServer = Server;

impl Server {
    /// Each connection gets the service `factory()` returns.
    pub fn new<S, F>(factory: F) -> Self
    where
        S: Service,
        F: Fn() -> S + Send + Sync + 'static,
    {
        Server {
            factory: Arc::new(move || Arc::new(factory()) as Arc<dyn Service>),
            config: ServerConfig::default(),
        }
    }

    /// Every connection shares `service`.
    pub fn shared<S: Service>(service: Arc<S>) -> Self {
        Server {
            factory: Arc::new(move || service.clone() as Arc<dyn Service>),
            config: ServerConfig::default(),
        }
    }

    /// Replaces all settings.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the settings of every connection.
    pub fn connection_config(mut self, config: ConnectionConfig) -> Self {
        self.config.connection = config;
        self
    }

    /// Sets the most connections served at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.max_connections = n;
        self
    }

    /// Listens on a TCP address (`"127.0.0.1:0"` picks a free port).
    pub async fn bind(self, addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<BoundServer> {
        let shown = format!("{addr:?}");
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr: shown, source })?;
        Ok(self.into_bound(Listener::Tcp(listener)))
    }

    /// Listens on a Unix domain socket at `path`.
    #[cfg(unix)]
    pub fn bind_unix(self, path: impl AsRef<std::path::Path>) -> Result<BoundServer> {
        let path = path.as_ref();
        let listener = tokio::net::UnixListener::bind(path).map_err(|source| Error::Bind {
            addr: path.display().to_string(),
            source,
        })?;
        Ok(self.into_bound(Listener::Unix(listener)))
    }

    fn into_bound(self, listener: Listener) -> BoundServer {
        let (shutdown, _) = watch::channel(false);
        BoundServer {
            server: self,
            listener,
            shutdown: ShutdownHandle {
                tx: Arc::new(shutdown),
            },
        }
    }
}

/// Stops a running server: it stops accepting, closes every connection (each peer sees a clean
/// close), and `serve` returns once all connection tasks are done.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    tx: Arc<watch::Sender<bool>>,
}

impl ShutdownHandle {
    /// Asks the server to shut down.
    pub fn shutdown(&self) {
        self.tx.send_replace(true);
    }

    async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// A server bound to its address, ready to serve.
pub struct BoundServer {
    server: Server,
    listener: Listener,
    shutdown: ShutdownHandle,
}

impl BoundServer {
    /// The TCP address the server listens on.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        match &self.listener {
            Listener::Tcp(l) => Ok(l.local_addr()?),
            #[cfg(unix)]
            Listener::Unix(_) => Err(Error::Io(std::io::Error::other(
                "a Unix socket server has no TCP address",
            ))),
        }
    }

    /// A handle that shuts the server down.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Accepts and serves connections until shut down, then closes them all and returns.
    pub async fn serve(self) -> Result<()> {
        let BoundServer {
            server,
            listener,
            shutdown,
        } = self;
        let limit = Arc::new(Semaphore::new(server.config.max_connections));
        let mut tasks = JoinSet::new();
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.wait() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Running out of file descriptors and the like: log, back off, go on.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            };
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                tracing::warn!(%peer, limit = server.config.max_connections, "connection limit reached, refusing");
                drop(stream);
                continue;
            };
            let span = tracing::debug_span!("peer", %peer);
            let service = (server.factory)();
            let config = server.config.connection.clone();
            let stop = shutdown.clone();
            tasks.spawn(
                async move {
                    let _permit = permit;
                    serve_connection(stream, service, config, stop).await;
                }
                .instrument(span),
            );
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    /// Serves exactly one connection to its end, then returns (RPyC's `OneShotServer`).
    pub async fn serve_one(self) -> Result<()> {
        let BoundServer {
            server,
            listener,
            shutdown,
        } = self;
        let (stream, peer) = tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        let service = (server.factory)();
        serve_connection(stream, service, server.config.connection.clone(), shutdown)
            .instrument(tracing::debug_span!("peer", %peer))
            .await;
        Ok(())
    }
}

async fn serve_connection(
    stream: Accepted,
    service: Arc<dyn Service>,
    config: ConnectionConfig,
    shutdown: ShutdownHandle,
) {
    // A peer that stalls its handshake must not hold up a shutdown.
    let started = tokio::select! {
        started = stream.start(service, config) => started,
        _ = shutdown.wait() => return,
    };
    let conn = match started {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "handshake failed");
            return;
        }
    };
    tracing::debug!("connection open");
    tokio::select! {
        _ = conn.closed() => {}
        _ = shutdown.wait() => conn.close().await,
    }
    match conn.close_reason() {
        Some(reason) => tracing::debug!(error = %reason, "connection closed"),
        None => tracing::debug!("connection closed"),
    }
}
