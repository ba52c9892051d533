//! [`Registry`], the client of a registry, and [`Registration`], an entry kept alive while it
//! lives.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{Stream, StreamExt};
use parking_lot::Mutex;
use rpc_core::{memory_pair_with, ConnectOptions, Connection, Error, Result, Uri};
use tokio::sync::watch;

use super::entry::{Change, Entry, Filter};
use super::memory::MemoryStore;
use super::service::{RegistryService, RegistryServiceClient};

/// How to reach a registry again when its connection closed.
#[derive(Clone)]
struct Connector {
    uri: Uri,
    options: ConnectOptions,
}

/// A client of a registry (an `rpc-registry` server, or one embedded in this process).
///
/// Its connection is made again when it closed (a registry that restarted), at the next call.
/// Cheap to clone: clones share the connection.
///
/// ```
/// use std::time::Duration;
/// use rpc_server::naming::{Filter, Registry};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let reg = Registry::embedded().await?;
/// let entry = reg
///     .register("home.thermostat", "rpc://127.0.0.1:18861", ["climate"], Duration::from_secs(10))
///     .await?;
/// assert_eq!(reg.lookup("home.thermostat").await?.uri, "rpc://127.0.0.1:18861");
/// assert_eq!(reg.list(Filter::prefix("home.")).await?.len(), 1);
/// drop(entry); // removes it
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    address: String,
    connector: Option<Connector>,
    live: Mutex<Option<(Connection, RegistryServiceClient)>>,
    reconnect: tokio::sync::Mutex<()>,
}

impl Registry {
    /// Connects to the registry at `host:port` (its default port is
    /// [`DEFAULT_PORT`](super::DEFAULT_PORT)).
    pub async fn connect(host: &str, port: u16) -> Result<Registry> {
        Registry::connect_with(host, port, ConnectOptions::new()).await
    }

    /// Connects with `options` (TLS, a shared secret: a registry that takes registrations from
    /// authenticated clients only wants one of them from the registering side).
    pub async fn connect_with(host: &str, port: u16, options: ConnectOptions) -> Result<Registry> {
        Registry::connect_to(Uri::tcp(host, port)?, options).await
    }

    /// Connects to the registry at the direct URI `uri`.
    pub(super) async fn connect_to(uri: Uri, options: ConnectOptions) -> Result<Registry> {
        let address = match (uri.host(), uri.port()) {
            (Some(host), Some(port)) if host.contains(':') => format!("[{host}]:{port}"),
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => uri.to_string(),
        };
        let registry = Registry::new(address, Some(Connector { uri, options }), None);
        registry.client().await?;
        Ok(registry)
    }

    /// A registry in this process, on an embedded [`MemoryStore`], reached without a socket:
    /// for one program whose parts find each other by name, and for tests.
    pub async fn embedded() -> Result<Registry> {
        let service = RegistryService::new(MemoryStore::new());
        let (conn, server) =
            memory_pair_with(ConnectOptions::new(), ConnectOptions::new().service(service)).await?;
        // The server side lives as long as the client side: it closes when the client does.
        tokio::spawn(async move { server.closed().await });
        let client = RegistryServiceClient::new(conn.root());
        Ok(Registry::new("embedded".to_owned(), None, Some((conn, client))))
    }

    /// The registry on the other side of `conn` (a connection to a registry server).
    pub fn from_connection(conn: Connection) -> Registry {
        let address = conn
            .peer_addr()
            .map_or_else(|| "a connection".to_owned(), |a| a.to_string());
        let client = RegistryServiceClient::new(conn.root());
        Registry::new(address, None, Some((conn, client)))
    }

    fn new(
        address: String,
        connector: Option<Connector>,
        live: Option<(Connection, RegistryServiceClient)>,
    ) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                address,
                connector,
                live: Mutex::new(live),
                reconnect: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Where the registry is (`host:port`, or `embedded`).
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// The typed client of the registry service, connecting again if the connection closed.
    pub async fn client(&self) -> Result<RegistryServiceClient> {
        if let Some(client) = self.current() {
            return Ok(client);
        }
        let _one = self.inner.reconnect.lock().await;
        if let Some(client) = self.current() {
            return Ok(client);
        }
        let Some(c) = &self.inner.connector else {
            return Err(Error::ConnectionClosed(None));
        };
        let conn = rpc_core::transport::connect_direct(&c.uri, c.options.clone())
            .await
            .map_err(|e| self.unreachable(e))?;
        let client = RegistryServiceClient::new(conn.root());
        *self.inner.live.lock() = Some((conn, client.clone()));
        Ok(client)
    }

    fn current(&self) -> Option<RegistryServiceClient> {
        match &*self.inner.live.lock() {
            Some((conn, client)) if !conn.is_closed() => Some(client.clone()),
            _ => None,
        }
    }

    /// `e`, said to come from reaching this registry (with its causes: an i/o error's is
    /// what went wrong).
    fn unreachable(&self, e: Error) -> Error {
        Error::Handshake(format!(
            "the registry at {} cannot be reached: {}",
            self.address(),
            crate::error::error_chain(&e)
        ))
    }

    /// Registers `name` at `uri` with `metadata` tags, kept alive (refreshed at a third of
    /// `ttl`) while the returned [`Registration`] lives; dropping it removes the entry.
    pub async fn register(
        &self,
        name: &str,
        uri: impl ToString,
        metadata: impl IntoIterator<Item = impl Into<String>>,
        ttl: Duration,
    ) -> Result<Registration> {
        let uri = uri.to_string();
        let metadata: Vec<String> = metadata.into_iter().map(Into::into).collect();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let client = self.client().await?;
        let entry = client.register(name.to_owned(), uri, metadata, ttl_ms).await?;
        Ok(Registration::start(self.clone(), entry))
    }

    /// The entry `name`; an error naming the registry if there is none.
    pub async fn lookup(&self, name: &str) -> Result<Entry> {
        self.try_lookup(name)
            .await?
            .ok_or_else(|| self.not_found(format!("no service is registered as {name:?}")))
    }

    /// The entry `name`, if there is one.
    pub async fn try_lookup(&self, name: &str) -> Result<Option<Entry>> {
        self.client().await?.lookup(name.to_owned()).await
    }

    /// The entries that pass `filter`, sorted by name.
    pub async fn list(&self, filter: Filter) -> Result<Vec<Entry>> {
        self.client().await?.list(filter).await
    }

    /// One entry with every tag of `tags` (Pyro's `yplookup`), in turn among those that have
    /// them; an error if none has.
    pub async fn lookup_any<T: Into<String>>(&self, tags: impl IntoIterator<Item = T>) -> Result<Entry> {
        let tags: Vec<String> = tags.into_iter().map(Into::into).collect();
        let found = self.client().await?.lookup_any(tags.clone()).await?;
        found.ok_or_else(|| self.not_found(format!("no service has all of the tags {tags:?}")))
    }

    /// The error for a lookup that found nothing: `what`, in this registry.
    fn not_found(&self, what: String) -> Error {
        Error::Remote(rpc_core::RemoteError::new(
            rpc_core::RemoteErrorKind::NotFound,
            super::REGISTRY_ERROR,
            format!("{what} in the registry at {}", self.address()),
        ))
    }

    /// Removes the entry `name` (whoever registered it); whether there was one.
    pub async fn remove(&self, name: &str) -> Result<bool> {
        self.client().await?.remove(name.to_owned(), None).await
    }

    /// The changes of the entries that pass `filter`, from now on. The stream ends with an
    /// error if the watch fell behind (list again, and watch anew) or the registry went away.
    pub async fn watch(&self, filter: Filter) -> Result<impl Stream<Item = Result<Change>> + Send + 'static> {
        let items = self.client().await?.watch(filter).await?;
        Ok(items.map(|item| match item {
            Ok(Ok(change)) => Ok(change),
            Ok(Err(why)) => Err(Error::Remote(rpc_core::RemoteError::new(
                rpc_core::RemoteErrorKind::Application,
                super::REGISTRY_ERROR,
                why,
            ))),
            Err(e) => Err(e),
        }))
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("address", &self.address())
            .finish()
    }
}

/// An entry kept alive by its registering side: refreshed at a third of its time to live,
/// registered again if the registry lost it (a registry restarted, an etcd came back), given
/// up if someone else registered the name since. Dropping it (or [`remove`](Self::remove))
/// removes the entry, if it is still this registration's.
#[must_use = "the entry is removed when the Registration is dropped"]
pub struct Registration {
    entry: watch::Receiver<Entry>,
    registry: Registry,
    refresher: tokio::task::JoinHandle<()>,
    remove_on_drop: bool,
}

impl Registration {
    fn start(registry: Registry, entry: Entry) -> Registration {
        let (tx, rx) = watch::channel(entry);
        let refresher = tokio::spawn(keep_alive(registry.clone(), tx));
        Registration {
            entry: rx,
            registry,
            refresher,
            remove_on_drop: true,
        }
    }

    /// The entry as registered (its lease changes when it is registered again).
    pub fn entry(&self) -> Entry {
        self.entry.borrow().clone()
    }

    /// Whether the refresher gave up (the name was registered by someone else).
    pub fn is_lost(&self) -> bool {
        self.refresher.is_finished()
    }

    /// Stops refreshing without removing the entry: it expires after its time to live, as
    /// when the registering process dies (watchers then see [`Change::Expired`]).
    pub fn abandon(mut self) {
        self.refresher.abort();
        self.remove_on_drop = false;
    }

    /// Removes the entry now, and says whether it was still there.
    pub async fn remove(mut self) -> Result<bool> {
        self.refresher.abort();
        self.remove_on_drop = false;
        let entry = self.entry();
        let client = self.registry.client().await?;
        client.remove(entry.name, Some(entry.lease)).await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Lost to another registration, abandoned, or removed already: nothing to remove.
        if !self.remove_on_drop || self.refresher.is_finished() {
            return;
        }
        self.refresher.abort();
        let entry = self.entry();
        let registry = self.registry.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Ok(client) = registry.client().await {
                    let _ = client.remove(entry.name, Some(entry.lease)).await;
                }
            });
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("entry", &*self.entry.borrow())
            .finish()
    }
}

/// Refreshes the entry until it is lost to another registration.
async fn keep_alive(registry: Registry, entry: watch::Sender<Entry>) {
    loop {
        let current = entry.borrow().clone();
        tokio::time::sleep(current.ttl() / 3).await;
        let client = match registry.client().await {
            Ok(client) => client,
            Err(e) => {
                tracing::debug!(name = %current.name, error = %e, "registry unreachable, retrying");
                continue;
            }
        };
        match client.refresh(current.name.clone(), current.lease).await {
            Ok(()) => {}
            Err(Error::Remote(r)) if r.kind == rpc_core::RemoteErrorKind::NotFound => {
                let metadata: Vec<String> = current.metadata.iter().cloned().collect();
                let again = client
                    .register(
                        current.name.clone(),
                        current.uri.clone(),
                        metadata,
                        current.ttl_ms,
                    )
                    .await;
                match again {
                    Ok(fresh) => {
                        tracing::info!(name = %fresh.name, "entry was gone from the registry: registered again");
                        entry.send_replace(fresh);
                    }
                    Err(e) => {
                        tracing::debug!(name = %current.name, error = %e, "registering again failed, retrying")
                    }
                }
            }
            Err(Error::Remote(r)) if r.kind == rpc_core::RemoteErrorKind::Refused => {
                tracing::warn!(name = %current.name, reason = %r.message, "registration lost");
                return;
            }
            Err(e) => tracing::debug!(name = %current.name, error = %e, "refresh failed, retrying"),
        }
    }
}
