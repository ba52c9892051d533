//! The accept loop: one task per connection, a connection limit, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rpc_core::{ConnectOptions, ConnectionConfig, Keepalive, Published, Service, Uri};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::auth::Authenticator;
use crate::error::{Error, Result};
use crate::listener::{shown, Accepted, Failure, Listener, Security};
use crate::tls::ServerTls;

type Factory = Arc<dyn Fn() -> Arc<dyn Service> + Send + Sync>;

/// Default idle timeout of a server's connections: 10 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Default keepalive of a server's connections: a peer silent for 20 s is pinged, one silent
/// for 60 s is declared dead.
pub const DEFAULT_KEEPALIVE: Keepalive = Keepalive {
    interval: Duration::from_secs(20),
    deadline: Duration::from_secs(60),
};

/// Default time a shutting-down server gives running calls to finish: 10 s.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a server.
///
/// A socket is a *stranger* from its accept until its handshake is done: strangers have their
/// own quota ([`max_handshaking`](Self::max_handshaking)) and deadline (the connection's
/// [`handshake_timeout`](ConnectionConfig::handshake_timeout)), and never take one of the
/// [`max_connections`](Self::max_connections) slots, so silent sockets cannot lock real
/// clients out. A client that arrives while every slot is taken is told "server full" (its
/// connect fails with [`rpc_core::Error::PeerClosed`] naming the limit) instead of a reset.
/// A stranger's TLS handshake and authenticator run within the same deadline as its hello.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Settings of every connection (except its idle timeout and keepalive: see
    /// [`idle_timeout`](Self::idle_timeout) and [`keepalive`](Self::keepalive)).
    pub connection: ConnectionConfig,
    /// Most connections served at once, handshakes done (default 10,000).
    pub max_connections: usize,
    /// Most sockets in their handshake at once; more are closed at once (default 256).
    pub max_handshaking: usize,
    /// Close a connection when nothing went either way for this long and no call is
    /// outstanding (default [`DEFAULT_IDLE_TIMEOUT`], 10 minutes; `None`: never). Overrides
    /// the connection settings' own.
    pub idle_timeout: Option<Duration>,
    /// Ping silent peers and drop dead ones (default [`DEFAULT_KEEPALIVE`]; `None`: off).
    /// Overrides the connection settings' own.
    pub keepalive: Option<Keepalive>,
    /// On shutdown, how long running calls get to finish before the connections close
    /// (default [`DEFAULT_DRAIN_TIMEOUT`]).
    pub drain_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            connection: ConnectionConfig::default(),
            max_connections: 10_000,
            max_handshaking: 256,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            keepalive: Some(DEFAULT_KEEPALIVE),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }
}

impl ServerConfig {
    /// The settings each connection gets.
    fn connection_config(&self) -> ConnectionConfig {
        let mut config = self.connection.clone().idle_timeout(self.idle_timeout);
        config.keepalive = self.keepalive;
        config
    }
}

/// A server, before it is bound: which service each connection gets, and the limits.
///
/// [`Server::new`] gives each connection its own service instance from a factory (RPyC's
/// `ThreadedServer(MyService)`); [`Server::shared`] serves one instance to every connection
/// (RPyC's `ThreadedServer(MyService())`).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use rpc_core::service;
/// use rpc_server::Server;
///
/// #[derive(Default)]
/// struct Counter(AtomicU64);
///
/// #[service]
/// impl Counter {
///     fn exposed_incr(&self) -> u64 {
///         self.0.fetch_add(1, Ordering::SeqCst) + 1
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // One counter for every client, at most 100 of them at once.
/// let server = Server::shared(Arc::new(Counter::default()))
///     .max_connections(100)
///     .bind("127.0.0.1:0")
///     .await?;
/// let port = server.local_addr()?.port();
/// let stop = server.shutdown_handle();
/// let serving = tokio::spawn(server.serve());
///
/// let first = rpc_core::connect("127.0.0.1", port).await?;
/// let second = rpc_core::connect("127.0.0.1", port).await?;
/// assert_eq!(first.root().call::<u64>("incr", ()).await?, 1);
/// assert_eq!(second.root().call::<u64>("incr", ()).await?, 2);
///
/// stop.shutdown(); // stops accepting and closes the connections
/// serving.await??;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Server {
    factory: Factory,
    config: ServerConfig,
    security: Security,
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
            security: Security::default(),
        }
    }

    /// Every connection shares `service`.
    pub fn shared<S: Service>(service: Arc<S>) -> Self {
        Server {
            factory: Arc::new(move || service.clone() as Arc<dyn Service>),
            config: ServerConfig::default(),
            security: Security::default(),
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

    /// Sets the most sockets in their handshake at once.
    pub fn max_handshaking(mut self, n: usize) -> Self {
        self.config.max_handshaking = n;
        self
    }

    /// Sets the idle timeout of every connection (`None`: never close an idle connection).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Pings a peer silent for `interval` and drops one silent for `deadline` (see
    /// [`Keepalive`]); on by default ([`DEFAULT_KEEPALIVE`]).
    pub fn keepalive(mut self, interval: Duration, deadline: Duration) -> Self {
        self.config.keepalive = Some(Keepalive::new(interval, deadline));
        self
    }

    /// Turns keepalive off: silent peers are kept until the idle timeout.
    pub fn no_keepalive(mut self) -> Self {
        self.config.keepalive = None;
        self
    }

    /// Sets how long running calls get to finish when the server shuts down.
    pub fn drain_timeout(mut self, grace: Duration) -> Self {
        self.config.drain_timeout = grace;
        self
    }

    /// Speaks TLS with every client (see [`ServerTls`]); a verified client certificate
    /// becomes the connection's credentials. TLS runs before the
    /// [`authenticator`](Self::authenticator), if there is one.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.security.tls = Some(tls);
        self
    }

    /// Checks every client with `authenticator` before the protocol starts (after TLS, if
    /// set): a [`SharedSecret`](rpc_core::SharedSecret), or one of your own (see
    /// [`Authenticator`]). What it verifies joins the connection's credentials.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.security.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// What a Python `rpyc` client that connects is told, as the message of the
    /// `ConnectionRefusedError` its first request raises (default
    /// [`DEFAULT_RPYC_REFUSAL`](crate::DEFAULT_RPYC_REFUSAL)). The server recognises such a
    /// client by its first frame, over TCP and inside TLS; over a Unix socket it is not
    /// recognised and gets the protocol's handshake error.
    pub fn rpyc_refusal(mut self, message: impl Into<String>) -> Self {
        self.security.rpyc_refusal = message.into().into();
        self
    }

    /// Serves Python's own `rpyc` clients (RPyC 6's wire, `rpyc.connect(host, port)`)
    /// instead of this framework's protocol, with the same services: give it a port of its
    /// own. The same connection engine runs both wires; what a Python client sees of a
    /// service, and how values, references and errors map, is in
    /// [`rpc_core::rpyc`](rpc_core::rpyc). With [`tls`](Self::tls), clients connect with
    /// `rpyc.ssl_connect`. Keepalive pings and [`authenticator`](Self::authenticator)s are
    /// this protocol's: off on this wire (binding with an authenticator fails).
    pub fn rpyc(mut self) -> Self {
        self.security.rpyc = true;
        self
    }

    /// Listens on a TCP address (`"127.0.0.1:0"` picks a free port).
    pub async fn bind(self, addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<BoundServer> {
        let shown = format!("{addr:?}");
        let bind_error = |source| Error::Bind {
            addr: shown.clone(),
            source,
        };
        self.check_wire().map_err(bind_error)?;
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        let uri = crate::publish::tcp_uri(local, self.security.tls.is_some()).map_err(bind_error)?;
        Ok(self.into_bound(Listener::Tcp(listener), uri))
    }

    /// Listens on a Unix domain socket at `path`; the socket file is removed when the server
    /// ends (or the bound server is dropped).
    ///
    /// The path must be one a URI can name ([`BoundServer::uri`]): UTF-8, without `#` or
    /// control characters.
    #[cfg(unix)]
    pub fn bind_unix(self, path: impl AsRef<std::path::Path>) -> Result<BoundServer> {
        let path = path.as_ref();
        let bind_error = |source| Error::Bind {
            addr: path.display().to_string(),
            source,
        };
        self.check_wire().map_err(bind_error)?;
        let uri = crate::publish::unix_uri(path).map_err(bind_error)?;
        let listener = tokio::net::UnixListener::bind(path).map_err(bind_error)?;
        let socket = crate::listener::UnixSocket {
            listener,
            path: path.to_owned(),
        };
        Ok(self.into_bound(Listener::Unix(socket), uri))
    }

    /// What a new connection starts with: its service, its settings, the published objects.
    /// An rpyc server cannot run this protocol's authenticators.
    fn check_wire(&self) -> std::io::Result<()> {
        if self.security.rpyc && self.security.authenticator.is_some() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an rpyc server cannot use an authenticator (rpyc clients do not speak it); use TLS with client certificates",
            ));
        }
        Ok(())
    }

    fn options(&self, published: &Published) -> ConnectOptions {
        ConnectOptions::new()
            .shared_service((self.factory)())
            .config(self.config.connection_config())
            .published(published.clone())
    }

    fn into_bound(self, listener: Listener, uri: Uri) -> BoundServer {
        let (shutdown, _) = watch::channel(false);
        BoundServer {
            server: self,
            listener,
            shutdown: ShutdownHandle {
                tx: Arc::new(shutdown),
            },
            published: Published::new(),
            uri,
        }
    }
}

/// Stops a running server gracefully: it stops accepting and drains every connection — the peer
/// is told (its new calls then fail at once with [`rpc_core::Error::PeerClosing`]), calls
/// already running finish within the drain timeout ([`ServerConfig::drain_timeout`]), then the
/// connection closes cleanly, never mid-reply. `serve` returns once every connection is done.
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

/// A server bound to its address, ready to serve; besides its root service it offers the
/// objects it [publishes](BoundServer::publish) by name to every connection.
pub struct BoundServer {
    server: Server,
    listener: Listener,
    shutdown: ShutdownHandle,
    /// Shared with every connection, and with the handles [`published`](Self::published) gives.
    pub(crate) published: Published,
    /// Where the server is (see `publish.rs`).
    pub(crate) uri: Uri,
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
            published,
            ..
        } = self;
        let config = &server.config;
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let strangers = Arc::new(Semaphore::new(config.max_handshaking));
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
            let Ok(stranger) = strangers.clone().try_acquire_owned() else {
                tracing::warn!(peer = %shown(peer), limit = config.max_handshaking, "too many handshakes at once, dropping");
                drop(stream);
                continue;
            };
            let span = tracing::debug_span!("peer", peer = %shown(peer));
            if slots.available_permits() == 0 {
                tracing::warn!(peer = %shown(peer), limit = config.max_connections, "connection limit reached, refusing");
                let reason = server_full(config.max_connections);
                let security = server.security.clone();
                tasks.spawn(
                    async move {
                        stream.refuse(&reason, &security).await;
                        drop(stranger);
                    }
                    .instrument(span),
                );
                continue;
            }
            let options = server.options(&published);
            let admission = Admission {
                stranger,
                slots: slots.clone(),
                max_connections: config.max_connections,
            };
            let security = server.security.clone();
            tasks.spawn(
                serve_connection(
                    Stranger { stream, peer },
                    options,
                    security,
                    shutdown.clone(),
                    Some(admission),
                    config.drain_timeout,
                )
                .instrument(span),
            );
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    /// Serves until `signal` completes (`tokio::signal::ctrl_c()`, say), then shuts down
    /// gracefully as a [`ShutdownHandle`] does, and returns once every connection is done.
    pub async fn serve_until(self, signal: impl std::future::Future) -> Result<()> {
        let stop = self.shutdown_handle();
        let serving = self.serve();
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => return result,
            _ = signal => stop.shutdown(),
        }
        serving.await
    }

    /// Serves exactly one connection to its end, then returns (RPyC's `OneShotServer`).
    pub async fn serve_one(self) -> Result<()> {
        let BoundServer {
            server,
            listener,
            shutdown,
            published,
            ..
        } = self;
        let (stream, peer) = tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        let stranger = Stranger { stream, peer };
        serve_connection(
            stranger,
            server.options(&published),
            server.security,
            shutdown,
            None,
            server.config.drain_timeout,
        )
        .instrument(tracing::debug_span!("peer", peer = %shown(peer)))
        .await;
        Ok(())
    }
}

/// What a stranger needs to become a served connection: it holds a handshake permit until its
/// handshake is done, then takes a connection slot if one is free.
struct Admission {
    stranger: OwnedSemaphorePermit,
    slots: Arc<Semaphore>,
    max_connections: usize,
}

fn server_full(max_connections: usize) -> String {
    format!("server full: it serves at most {max_connections} connections at once (max_connections)")
}

/// An accepted socket and where it comes from.
struct Stranger {
    stream: Accepted,
    peer: Option<SocketAddr>,
}

/// Serves one accepted socket with `options` (a new connection's service, settings and
/// published objects).
async fn serve_connection(
    stranger: Stranger,
    options: ConnectOptions,
    security: Security,
    shutdown: ShutdownHandle,
    admission: Option<Admission>,
    drain_timeout: Duration,
) {
    let Stranger { stream, peer } = stranger;
    // Authentication and hello share one deadline; a peer that stalls them must not hold up
    // a shutdown either.
    let limit = options.connection_config().handshake_timeout;
    let start = tokio::time::timeout(limit, stream.start(options, &security, peer));
    let started = tokio::select! {
        started = start => started,
        _ = shutdown.wait() => return,
    };
    let conn = match started {
        Ok(Ok(c)) => c,
        Ok(Err(Failure::Auth(e))) => {
            tracing::warn!(peer = %shown(peer), error = %e, "authentication failed, closing");
            return;
        }
        Ok(Err(Failure::Foreign(what))) => {
            tracing::info!(peer = %shown(peer), "{what}");
            return;
        }
        Ok(Err(Failure::Handshake(e))) => {
            tracing::warn!(peer = %shown(peer), error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            tracing::warn!(peer = %shown(peer), ?limit, "no authentication and handshake within the handshake timeout, closing");
            return;
        }
    };
    let _slot = match admission {
        None => None,
        Some(Admission {
            stranger,
            slots,
            max_connections,
        }) => {
            drop(stranger);
            match slots.try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    // The last slot went while this one shook hands.
                    tracing::warn!(limit = max_connections, "connection limit reached, refusing");
                    conn.close_with_reason(server_full(max_connections)).await;
                    return;
                }
            }
        }
    };
    tracing::debug!("connection open");
    tokio::select! {
        _ = conn.closed() => {}
        _ = shutdown.wait() => conn.drain("the server is shutting down", drain_timeout).await,
    }
    match conn.close_reason() {
        Some(reason) => tracing::debug!(error = %reason, "connection closed"),
        None => tracing::debug!("connection closed"),
    }
}
