//! Where a registry keeps its entries: the [`RegistryStore`] trait, implemented by the
//! embedded [`MemoryStore`](super::MemoryStore) and, with the `etcd` feature, by an etcd store.

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::entry::{Change, Entry, Filter, LeaseId};

/// Why a store could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No entry of that name (for a refresh: it expired, or was removed).
    NotFound(String),
    /// The name is now held by another registration: this lease no longer keeps it.
    Replaced(String),
    /// The request breaks a rule (a name, a tag, a TTL, a pattern, a full store).
    Invalid(String),
    /// The store's backend cannot be reached or failed.
    Unavailable(String),
    /// A watcher fell behind by this many changes and missed them: list again.
    Lagged(u64),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(name) => write!(f, "no entry named {name:?}"),
            StoreError::Replaced(name) => {
                write!(
                    f,
                    "{name:?} was registered again by someone else: this registration no longer holds it"
                )
            }
            StoreError::Invalid(why) => write!(f, "{why}"),
            StoreError::Unavailable(why) => write!(f, "the registry's store is unavailable: {why}"),
            StoreError::Lagged(n) => write!(f, "the watch fell behind and missed {n} changes: list again"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What a store's operations return.
pub type StoreResult<T> = Result<T, StoreError>;

/// A registry's storage. Entries live while their lease is refreshed within its time to live;
/// a store removes expired ones itself and reports them to watchers as [`Change::Expired`].
///
/// Implementations: [`MemoryStore`](super::MemoryStore) (embedded, the default) and, behind
/// the `etcd` cargo feature, `EtcdStore` (entries as keys under a prefix, TTLs as leases), so
/// that several registry servers share one set of entries. The test suite in
/// `naming/tests.rs` runs against every implementation.
pub trait RegistryStore: Send + Sync + 'static {
    /// Registers `entry` (its `lease` field is ignored) for `ttl`, replacing any entry of the
    /// same name; the entry as stored, with its lease.
    fn register(&self, entry: Entry, ttl: Duration) -> BoxFuture<'_, StoreResult<Entry>>;

    /// Keeps the entry `name` of lease `lease` alive for another time to live.
    /// [`StoreError::NotFound`] if it is gone (register again), [`StoreError::Replaced`] if
    /// another registration holds the name now (do not).
    fn refresh(&self, name: String, lease: LeaseId) -> BoxFuture<'_, StoreResult<()>>;

    /// Removes the entry `name` (only if its lease is `lease`, when given: a registration
    /// that ends must not remove the one that replaced it); whether one was removed.
    fn remove(&self, name: String, lease: Option<LeaseId>) -> BoxFuture<'_, StoreResult<bool>>;

    /// The entry `name`, if registered.
    fn lookup(&self, name: String) -> BoxFuture<'_, StoreResult<Option<Entry>>>;

    /// The entries that pass `filter`, sorted by name.
    fn list(&self, filter: Filter) -> BoxFuture<'_, StoreResult<Vec<Entry>>>;

    /// Every change from now on, in order; ends with a [`StoreError::Lagged`] item if the
    /// watcher fell behind (then it should list again and watch anew).
    fn watch(&self) -> BoxFuture<'_, StoreResult<BoxStream<'static, StoreResult<Change>>>>;
}
