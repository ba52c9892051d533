//! [`ConnectOptions`]: everything a side chooses when it opens a connection, in one value taken
//! by every `connect*` and `serve*` entry point.

use std::fmt;
use std::sync::Arc;

use super::{ClientTls, SharedSecret};
use crate::connection::{ConnectionConfig, Setup};
use crate::credentials::PeerInfo;
use crate::published::Published;
use crate::service::{Service, VoidService};

/// How this side of a connection presents itself: the service it exposes to the peer, the
/// objects it publishes by name, the limits it holds the peer to, and how it authenticates
/// (TLS, a shared secret).
///
/// Taken by [`connect_with`](crate::connect_with), [`connect_stream`](crate::connect_stream),
/// [`connect_subproc`](crate::connect_subproc), [`serve_stdio`](crate::serve_stdio) and their
/// [`blocking`](crate::blocking) counterparts; [`connect`](crate::connect) is the one-liner
/// with the defaults (nothing exposed, default limits).
///
/// ```
/// use std::time::Duration;
/// use rpc_core::{ConnectOptions, ConnectionConfig, VoidService};
///
/// let options = ConnectOptions::new()
///     .service(VoidService)
///     .config(ConnectionConfig::default().call_timeout(Some(Duration::from_secs(5))));
/// assert_eq!(options.connection_config().call_timeout, Some(Duration::from_secs(5)));
/// assert_eq!(options.root_service().name(), "VOID");
/// ```
#[derive(Clone)]
#[must_use = "options do nothing until passed to a connect or serve function"]
pub struct ConnectOptions {
    service: Arc<dyn Service>,
    config: ConnectionConfig,
    tls: Option<ClientTls>,
    secret: Option<SharedSecret>,
    peer: PeerInfo,
    published: Option<Published>,
}

impl ConnectOptions {
    /// The defaults: this side exposes nothing ([`VoidService`]) and holds the peer to
    /// [`ConnectionConfig::default`].
    pub fn new() -> Self {
        ConnectOptions {
            service: Arc::new(VoidService),
            config: ConnectionConfig::default(),
            tls: None,
            secret: None,
            peer: PeerInfo::default(),
            published: None,
        }
    }

    /// Exposes `service` to the peer as this side's root (so the peer can call us back).
    pub fn service<S: Service>(self, service: S) -> Self {
        self.shared_service(Arc::new(service))
    }

    /// Exposes a service shared with other connections (or kept by the caller).
    pub fn shared_service(mut self, service: Arc<dyn Service>) -> Self {
        self.service = service;
        self
    }

    /// Sets every limit and timeout at once.
    pub fn config(mut self, config: ConnectionConfig) -> Self {
        self.config = config;
        self
    }

    /// Changes some limits or timeouts, keeping the others:
    /// `ConnectOptions::new().configure(|c| c.max_in_flight = 16)`.
    pub fn configure(mut self, change: impl FnOnce(&mut ConnectionConfig)) -> Self {
        change(&mut self.config);
        self
    }

    /// Speaks TLS to the server, verifying its certificate (see [`ClientTls`]). Applied by
    /// [`connect_with`](crate::connect_with), [`tcp_connection`](crate::transport::tcp_connection),
    /// [`connect_unix`](crate::transport::connect_unix) (which needs
    /// [`ClientTls::server_name`]) and their blocking counterparts, as the client; the
    /// server's verified certificate becomes the connection's
    /// [`credentials`](crate::Connection::credentials).
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Proves `secret` to the server, and checks the server knows it, before the protocol
    /// starts (after TLS, if set; see [`SharedSecret`]). Applied as the client by the network
    /// and stream entry points: [`connect_with`](crate::connect_with),
    /// [`tcp_connection`](crate::transport::tcp_connection), `connect_unix`, `unix_connection`,
    /// [`connect_stream`](crate::connect_stream) and their blocking counterparts. A child
    /// process's pipes ([`connect_subproc`](crate::connect_subproc)) and in-memory pairs skip
    /// it: nobody else can reach them.
    pub fn secret(mut self, secret: SharedSecret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Offers the objects of `published` to the peer by name: it reaches them with
    /// [`Connection::lookup`](crate::Connection::lookup). Without a table (the default), a
    /// lookup fails with "this peer publishes no named objects". A server gives every
    /// connection it accepts its one table (`rpc_server::BoundServer::published`).
    pub fn published(mut self, published: Published) -> Self {
        self.published = Some(published);
        self
    }

    /// The table of objects published to the peer, if one is set.
    pub fn published_objects(&self) -> Option<&Published> {
        self.published.as_ref()
    }

    /// What is known of the peer (its address, its verified credentials), for a connection
    /// authenticated outside this crate. Servers set it; transports fill in what they verify.
    pub fn peer(mut self, peer: PeerInfo) -> Self {
        self.peer = peer;
        self
    }

    /// The TLS settings, if TLS is on.
    pub fn tls_settings(&self) -> Option<&ClientTls> {
        self.tls.as_ref()
    }

    /// The shared secret, if one is set.
    pub fn shared_secret(&self) -> Option<&SharedSecret> {
        self.secret.as_ref()
    }

    /// The service this side exposes.
    pub fn root_service(&self) -> &Arc<dyn Service> {
        &self.service
    }

    /// The limits and timeouts this side holds the peer to.
    pub fn connection_config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// Takes the authentication settings out, leaving the rest.
    pub(crate) fn take_security(&mut self) -> (Option<ClientTls>, Option<SharedSecret>) {
        (self.tls.take(), self.secret.take())
    }

    /// What is known of the peer, to fill in.
    pub(crate) fn peer_mut(&mut self) -> &mut PeerInfo {
        &mut self.peer
    }

    /// What the connection starts with: the service, the settings, what is known of the
    /// peer, the published objects.
    pub(crate) fn into_setup(self) -> Setup {
        Setup {
            service: self.service,
            config: self.config,
            peer: self.peer,
            published: self.published,
        }
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions::new()
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("service", &self.service.name())
            .field("config", &self.config)
            .field("tls", &self.tls)
            .field("secret", &self.secret)
            .field("peer", &self.peer)
            .field("published", &self.published)
            .finish()
    }
}

impl From<ConnectionConfig> for ConnectOptions {
    fn from(config: ConnectionConfig) -> Self {
        ConnectOptions::new().config(config)
    }
}
