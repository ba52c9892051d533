//! The registry as a service over this framework's own protocol: what `rpc-registry` serves
//! and [`Registry`](super::Registry) calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::StreamExt;
use rpc_core::{service, Connection, RemoteError, RemoteErrorKind, RemoteIter};

use super::entry::{Change, Entry, Filter, LeaseId};
use super::store::{RegistryStore, StoreError};

/// The remote type name of registry errors (the message says which).
pub const REGISTRY_ERROR: &str = "rpc::naming::RegistryError";

/// Who may do something in a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Every client.
    Anyone,
    /// Clients whose connection is authenticated (its credentials are not empty: a shared
    /// secret, a client certificate, your own authenticator).
    Authenticated,
}

/// The registry service: entries in a [`RegistryStore`], a name per service, kept alive by
/// their registering side. Shared by every connection of a registry server (the state is in
/// the store).
pub struct RegistryService {
    store: Arc<dyn RegistryStore>,
    writers: Access,
    readers: Access,
    rotation: AtomicUsize,
}

impl RegistryService {
    /// A registry over `store` where anyone may read and write (fine on loopback; set
    /// [`writers`](Self::writers) for a network).
    pub fn new(store: impl RegistryStore) -> RegistryService {
        RegistryService::from_arc(Arc::new(store))
    }

    /// Like [`new`](Self::new), for a store shared with other code.
    pub fn from_arc(store: Arc<dyn RegistryStore>) -> RegistryService {
        RegistryService {
            store,
            writers: Access::Anyone,
            readers: Access::Anyone,
            rotation: AtomicUsize::new(0),
        }
    }

    /// Who may register, refresh and remove entries.
    pub fn writers(mut self, access: Access) -> Self {
        self.writers = access;
        self
    }

    /// Who may look entries up, list and watch them.
    pub fn readers(mut self, access: Access) -> Self {
        self.readers = access;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn RegistryStore> {
        &self.store
    }
}

fn error(kind: RemoteErrorKind, message: impl Into<String>) -> RemoteError {
    RemoteError::new(kind, REGISTRY_ERROR, message)
}

fn store_error(e: StoreError) -> RemoteError {
    let kind = match &e {
        StoreError::NotFound(_) => RemoteErrorKind::NotFound,
        StoreError::Replaced(_) | StoreError::Invalid(_) => RemoteErrorKind::Refused,
        StoreError::Unavailable(_) | StoreError::Lagged(_) => RemoteErrorKind::Application,
    };
    error(kind, e.to_string())
}

fn allowed(access: Access, conn: &Connection, what: &str) -> Result<(), RemoteError> {
    match access {
        Access::Anyone => Ok(()),
        Access::Authenticated if conn.credentials().is_some_and(|c| !c.is_empty()) => Ok(()),
        Access::Authenticated => Err(error(
            RemoteErrorKind::Refused,
            format!("{what} needs an authenticated connection (connect with the registry's secret or certificate)"),
        )),
    }
}

/// One item of a watch as it crosses the wire: a change, or why the watch ended.
pub type WatchItem = Result<Change, String>;

#[service(name = "registry")]
impl RegistryService {
    /// Registers `name` at `uri` with `metadata` tags for `ttl_ms` milliseconds; the entry
    /// with its lease, to refresh within the time to live. Replaces an entry of that name.
    async fn exposed_register(
        &self,
        conn: &Connection,
        name: String,
        uri: String,
        metadata: Vec<String>,
        ttl_ms: u64,
    ) -> Result<Entry, RemoteError> {
        allowed(self.writers, conn, "registering")?;
        let ttl = Duration::from_millis(ttl_ms);
        let entry =
            Entry::new(name, uri, metadata, ttl).map_err(|e| error(RemoteErrorKind::BadArguments, e))?;
        self.store.register(entry, ttl).await.map_err(store_error)
    }

    /// Keeps the entry `name` of `lease` alive for another time to live.
    async fn exposed_refresh(
        &self,
        conn: &Connection,
        name: String,
        lease: LeaseId,
    ) -> Result<(), RemoteError> {
        allowed(self.writers, conn, "refreshing")?;
        self.store.refresh(name, lease).await.map_err(store_error)
    }

    /// Removes the entry `name` (only if its lease is `lease`, when given); whether one was
    /// removed.
    async fn exposed_remove(
        &self,
        conn: &Connection,
        name: String,
        lease: Option<LeaseId>,
    ) -> Result<bool, RemoteError> {
        allowed(self.writers, conn, "removing")?;
        self.store.remove(name, lease).await.map_err(store_error)
    }

    /// The entry `name`, if registered.
    async fn exposed_lookup(&self, conn: &Connection, name: String) -> Result<Option<Entry>, RemoteError> {
        allowed(self.readers, conn, "looking up")?;
        self.store.lookup(name).await.map_err(store_error)
    }

    /// The entries that pass `filter`, sorted by name.
    async fn exposed_list(&self, conn: &Connection, filter: Filter) -> Result<Vec<Entry>, RemoteError> {
        allowed(self.readers, conn, "listing")?;
        self.store.list(filter).await.map_err(store_error)
    }

    /// One entry with every tag of `tags` (Pyro's `yplookup`), taken in turn among those
    /// that have them, so that clients spread over equivalent servers.
    async fn exposed_lookup_any(
        &self,
        conn: &Connection,
        tags: Vec<String>,
    ) -> Result<Option<Entry>, RemoteError> {
        allowed(self.readers, conn, "looking up")?;
        let found = self
            .store
            .list(Filter::everything().with_all(tags))
            .await
            .map_err(store_error)?;
        if found.is_empty() {
            return Ok(None);
        }
        let turn = self.rotation.fetch_add(1, Ordering::Relaxed) % found.len();
        Ok(found.into_iter().nth(turn))
    }

    /// The changes from now on of the entries that pass `filter` (registered, removed,
    /// expired). A watcher that falls behind by more than the store's backlog gets an error
    /// item saying so, and the watch ends.
    async fn exposed_watch(
        &self,
        conn: &Connection,
        filter: Filter,
    ) -> Result<RemoteIter<WatchItem>, RemoteError> {
        allowed(self.readers, conn, "watching")?;
        let matcher = filter
            .compile()
            .map_err(|e| error(RemoteErrorKind::BadArguments, e))?;
        let changes = self.store.watch().await.map_err(store_error)?;
        let items = changes
            .filter(move |item| {
                let keep = match item {
                    Ok(change) => matcher.matches(change.entry()),
                    Err(_) => true,
                };
                std::future::ready(keep)
            })
            .map(|item| item.map_err(|e| e.to_string()));
        Ok(RemoteIter::from_stream(items))
    }
}
