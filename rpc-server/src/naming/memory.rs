//! The embedded store: entries in a sharded concurrent map, expired by a pruning task, changes
//! fanned out to watchers through a bounded broadcast channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use futures::FutureExt;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::entry::{Change, Entry, Filter, LeaseId};
use super::store::{RegistryStore, StoreError, StoreResult};

/// Most entries a memory store holds by default.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// How many changes a slow watcher may fall behind before it is told it lagged.
pub const WATCH_BACKLOG: usize = 4096;
/// How often expired entries are looked for.
const PRUNE_EVERY: Duration = Duration::from_millis(100);

/// The embedded in-memory store (the registry's default): nothing to install, entries gone
/// when the process ends. Cheap to clone (clones share the entries).
///
/// ```
/// use std::time::Duration;
/// use rpc_server::naming::{Entry, Filter, MemoryStore, RegistryStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// let entry = Entry::new("home.thermostat", "rpc://127.0.0.1:18861", ["climate"], Duration::from_secs(10))?;
/// store.register(entry, Duration::from_secs(10)).await?;
/// let found = store.list(Filter::prefix("home.").with_all(["climate"])).await?;
/// assert_eq!(found[0].uri, "rpc://127.0.0.1:18861");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    entries: DashMap<String, Slot>,
    changes: broadcast::Sender<Change>,
    next_lease: AtomicU64,
    max_entries: usize,
}

struct Slot {
    entry: Entry,
    expires: Instant,
}

impl MemoryStore {
    /// An empty store of at most [`DEFAULT_MAX_ENTRIES`] entries. Call it inside a tokio
    /// runtime: it starts the task that expires entries (which ends with the store).
    pub fn new() -> MemoryStore {
        MemoryStore::with_capacity(DEFAULT_MAX_ENTRIES)
    }

    /// An empty store of at most `max_entries` entries (a registration beyond is refused).
    pub fn with_capacity(max_entries: usize) -> MemoryStore {
        let (changes, _) = broadcast::channel(WATCH_BACKLOG);
        let inner = Arc::new(Inner {
            entries: DashMap::new(),
            changes,
            next_lease: AtomicU64::new(1),
            max_entries,
        });
        tokio::spawn(prune(Arc::downgrade(&inner)));
        MemoryStore { inner }
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl Inner {
    fn announce(&self, change: Change) {
        // No watcher is not an error.
        let _ = self.changes.send(change);
    }

    fn register(&self, mut entry: Entry, ttl: Duration) -> StoreResult<Entry> {
        if self.entries.len() >= self.max_entries && !self.entries.contains_key(&entry.name) {
            return Err(StoreError::Invalid(format!(
                "the registry is full ({} entries)",
                self.max_entries
            )));
        }
        entry.lease = self.next_lease.fetch_add(1, Ordering::Relaxed);
        entry.ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let slot = Slot {
            entry: entry.clone(),
            expires: Instant::now() + ttl,
        };
        self.entries.insert(entry.name.clone(), slot);
        self.announce(Change::Registered(entry.clone()));
        Ok(entry)
    }

    fn refresh(&self, name: &str, lease: LeaseId) -> StoreResult<()> {
        let mut slot = self
            .entries
            .get_mut(name)
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
        if slot.entry.lease != lease {
            return Err(StoreError::Replaced(name.to_owned()));
        }
        slot.expires = Instant::now() + slot.entry.ttl();
        Ok(())
    }

    fn remove(&self, name: &str, lease: Option<LeaseId>) -> bool {
        let removed = self
            .entries
            .remove_if(name, |_, slot| lease.is_none_or(|l| slot.entry.lease == l));
        match removed {
            Some((_, slot)) => {
                self.announce(Change::Removed(slot.entry));
                true
            }
            None => false,
        }
    }

    fn list(&self, filter: &Filter) -> StoreResult<Vec<Entry>> {
        let matcher = filter.compile().map_err(StoreError::Invalid)?;
        let now = Instant::now();
        let mut found: Vec<Entry> = self
            .entries
            .iter()
            .filter(|slot| slot.expires > now && matcher.matches(&slot.entry))
            .map(|slot| slot.entry.clone())
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// Removes the entries whose lease ran out, announcing each.
    fn prune(&self) {
        let now = Instant::now();
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|slot| slot.expires <= now)
            .map(|slot| slot.key().clone())
            .collect();
        for name in expired {
            // Refreshed in between: keep it.
            if let Some((_, slot)) = self.entries.remove_if(&name, |_, slot| slot.expires <= now) {
                self.announce(Change::Expired(slot.entry));
            }
        }
    }
}

async fn prune(store: Weak<Inner>) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.upgrade() {
            Some(inner) => inner.prune(),
            None => return,
        }
    }
}

impl RegistryStore for MemoryStore {
    fn register(&self, entry: Entry, ttl: Duration) -> BoxFuture<'_, StoreResult<Entry>> {
        std::future::ready(self.inner.register(entry, ttl)).boxed()
    }

    fn refresh(&self, name: String, lease: LeaseId) -> BoxFuture<'_, StoreResult<()>> {
        std::future::ready(self.inner.refresh(&name, lease)).boxed()
    }

    fn remove(&self, name: String, lease: Option<LeaseId>) -> BoxFuture<'_, StoreResult<bool>> {
        std::future::ready(Ok(self.inner.remove(&name, lease))).boxed()
    }

    fn lookup(&self, name: String) -> BoxFuture<'_, StoreResult<Option<Entry>>> {
        let now = Instant::now();
        let found = self
            .inner
            .entries
            .get(&name)
            .filter(|slot| slot.expires > now)
            .map(|slot| slot.entry.clone());
        std::future::ready(Ok(found)).boxed()
    }

    fn list(&self, filter: Filter) -> BoxFuture<'_, StoreResult<Vec<Entry>>> {
        std::future::ready(self.inner.list(&filter)).boxed()
    }

    fn watch(&self) -> BoxFuture<'_, StoreResult<BoxStream<'static, StoreResult<Change>>>> {
        let rx = self.inner.changes.subscribe();
        let stream = futures::stream::unfold(Some(rx), |rx| async move {
            let mut rx = rx?;
            match rx.recv().await {
                Ok(change) => Some((Ok(change), Some(rx))),
                Err(broadcast::error::RecvError::Lagged(n)) => Some((Err(StoreError::Lagged(n)), None)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        std::future::ready(Ok(stream.boxed())).boxed()
    }
}
