//! [`ConnectOptions`]: everything a side chooses when it opens a connection, in one value taken
//! by every `connect*` and `serve*` entry point.

use std::fmt;
use std::sync::Arc;

use crate::connection::ConnectionConfig;
use crate::service::{Service, VoidService};

/// How this side of a connection presents itself: the service it exposes to the peer and the
/// limits it holds the peer to.
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
}

impl ConnectOptions {
    /// The defaults: this side exposes nothing ([`VoidService`]) and holds the peer to
    /// [`ConnectionConfig::default`].
    pub fn new() -> Self {
        ConnectOptions {
            service: Arc::new(VoidService),
            config: ConnectionConfig::default(),
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

    /// The service this side exposes.
    pub fn root_service(&self) -> &Arc<dyn Service> {
        &self.service
    }

    /// The limits and timeouts this side holds the peer to.
    pub fn connection_config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// The service and the settings, taken apart.
    pub(crate) fn into_parts(self) -> (Arc<dyn Service>, ConnectionConfig) {
        (self.service, self.config)
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
            .finish()
    }
}

impl From<ConnectionConfig> for ConnectOptions {
    fn from(config: ConnectionConfig) -> Self {
        ConnectOptions::new().config(config)
    }
}
