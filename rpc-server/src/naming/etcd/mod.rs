//! The etcd store (the `etcd` cargo feature): entries as keys under a prefix, time to live as
//! etcd leases, changes as an etcd watch; several registry servers on one etcd cluster share
//! their entries.
//!
//! See [`EtcdStore`] for the layout in etcd, how a watch tells a removal from an expiry, and
//! what happens when etcd goes away.

mod watch;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, KeyValue, KvClient, LeaseClient,
    LeaseTimeToLiveOptions, PutOptions, Txn, TxnOp, WatchClient,
};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::FutureExt;

use super::entry::{Change, Entry, Filter, LeaseId};
use super::store::{RegistryStore, StoreError, StoreResult};
use rpc_core::check_name;

/// The key prefix entries live under unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "/rpc/registry/";
/// How long connecting to etcd may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one request to etcd may take by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest listing answer taken from etcd (tonic's default of 4 MiB holds about 10,000
/// entries; the largest entries are about 6 KiB).
const MAX_LISTING_BYTES: usize = 256 << 20;
/// After the prefix, where removal marks live: a space, so that no name is one.
const REMOVED_MARK: &str = " removed/";
/// How often `remove(name, None)` tries again when the entry changed under it.
const REMOVE_ATTEMPTS: usize = 3;

/// How to reach etcd, and where in it the entries live; [`connect`](Self::connect) makes the
/// [`EtcdStore`].
///
/// ```no_run
/// use std::time::Duration;
/// use rpc_server::naming::EtcdConfig;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = EtcdConfig::new(["10.0.0.7:2379", "10.0.0.8:2379"])
///     .prefix("/prod/registry/")
///     .request_timeout(Duration::from_secs(2))
///     .connect()
///     .await?;
/// assert_eq!(store.prefix(), "/prod/registry/");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EtcdConfig {
    endpoints: Vec<String>,
    prefix: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    user: Option<(String, String)>,
}

impl EtcdConfig {
    /// The etcd cluster at `endpoints` (`host:port` or `http://host:port`), entries under
    /// [`DEFAULT_PREFIX`], the default timeouts.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> EtcdConfig {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: DEFAULT_PREFIX.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            user: None,
        }
    }

    /// The key prefix of the entries: not empty, and ending with a separator such as `/` (keys
    /// of a longer prefix that starts with this one would read as entries). Registries that
    /// share entries use the same one; another one keeps a set of entries apart, e.g. per
    /// environment.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long connecting to an endpoint may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one request may take (a store call makes one request, or a few).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Authenticates as `name` with `password` (an etcd with authentication enabled).
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some((name.into(), password.into()));
        self
    }

    /// Connects, and checks that etcd answers: [`StoreError::Unavailable`] naming the
    /// endpoints if it does not within the timeouts, [`StoreError::Invalid`] for an empty
    /// prefix, no endpoint or a malformed one.
    pub async fn connect(self) -> StoreResult<EtcdStore> {
        if self.prefix.is_empty() {
            return Err(StoreError::Invalid(
                "the etcd key prefix must not be empty".into(),
            ));
        }
        if self.endpoints.is_empty() {
            return Err(StoreError::Invalid("no etcd endpoint given".into()));
        }
        let at = self.endpoints.join(",");
        let mut options = ConnectOptions::new()
            .with_connect_timeout(self.connect_timeout)
            .with_require_leader(true)
            // Finds a dead connection under a long watch; etcd refuses pings more often than
            // every 5 s (--grpc-keepalive-min-time).
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        if let Some((name, password)) = self.user {
            options = options.with_user(name, password);
        }
        let deadline = self.connect_timeout + self.request_timeout;
        let client =
            match tokio::time::timeout(deadline, Client::connect(&self.endpoints, Some(options))).await {
                Ok(Ok(client)) => client,
                Ok(Err(etcd_client::Error::InvalidArgs(why) | etcd_client::Error::EndpointError(why))) => {
                    return Err(StoreError::Invalid(format!("etcd endpoints {at}: {why}")))
                }
                Ok(Err(etcd_client::Error::InvalidUri(e))) => {
                    return Err(StoreError::Invalid(format!("etcd endpoints {at}: {e}")))
                }
                Ok(Err(e)) => {
                    return Err(StoreError::Unavailable(format!(
                        "etcd at {at}: connecting failed: {}",
                        describe(&e)
                    )))
                }
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "etcd at {at} did not answer within {deadline:?} (connecting)"
                    )))
                }
            };
        let store = EtcdStore {
            kv: client.kv_client().max_decoding_message_size(MAX_LISTING_BYTES),
            leases: client.lease_client(),
            watches: client.watch_client(),
            _client: client,
            prefix: self.prefix,
            endpoints: self.endpoints,
            at,
            request_timeout: self.request_timeout,
        };
        // Connecting is lazy: one small read says whether etcd is there.
        let probe = GetOptions::new().with_prefix().with_count_only();
        store
            .call("a read", store.kv.clone().get(store.prefix.clone(), Some(probe)))
            .await?;
        Ok(store)
    }
}

impl fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdConfig")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("user", &self.user.as_ref().map(|(name, _)| name))
            .finish()
    }
}

/// The registry store on etcd: entries shared by every registry (and every program) that uses
/// the same etcd cluster and prefix. Cheap to clone (clones share the connection).
///
/// # Layout in etcd
///
/// The entry `NAME` is the key `PREFIX` + `NAME` ([`DEFAULT_PREFIX`] unless configured), its
/// value the [`Entry`] as JSON (`etcdctl get --prefix /rpc/registry/` shows them), attached to
/// a lease of its own whose id is the entry's [`lease`](Entry::lease). A lease is granted for
/// the asked time to live rounded up to whole seconds (at least one; etcd itself grants no less
/// than 1.5 election timeouts, 2 s with its default settings), and the entry's `ttl_ms` is what
/// etcd granted. Registering a name again puts it on a new lease; the old one is left to lapse
/// (a lease may hold keys that are not the store's to delete). Keys under the prefix that are
/// not valid names, or whose value is not a valid entry of that name, are not entries: the
/// store skips them (it writes one kind itself, the removal marks below).
///
/// # Removed or expired
///
/// An etcd watch says only that a key was deleted; the store tells a removal from an expiry
/// so: [`remove`](RegistryStore::remove) deletes the key and, in the same transaction, writes
/// a mark `PREFIX + " removed/" + NAME` on the entry's lease (the space keeps it from being a
/// name), then revokes the lease, which takes the mark away (if the lease holds keys of
/// someone else's too, it deletes only the mark). A delete that comes with its mark,
/// at the same revision, is [`Change::Removed`]. A delete without one is [`Change::Expired`]
/// when the key's lease no longer exists, [`Change::Removed`] when it still does (someone ran
/// `etcdctl del`) or when the key had no lease. The limits: a lease revoked by hand
/// (`etcdctl lease revoke`) reads as expired, like a key deleted by hand whose lease is revoked
/// before the watcher asks about it, since etcd keeps no trace of who ended a lease.
///
/// # When etcd goes away
///
/// Every call is bounded by the connect and request timeouts and then fails with
/// [`StoreError::Unavailable`] naming the endpoints; a watch ends with such an error (watch
/// again once etcd is back: changes in between are not replayed). An etcd restarted on its
/// data extends every lease as it comes back, so its entries live on and their registrations
/// go on refreshing them; one that kept running while the registry could not reach it (a
/// partition, a frozen process) expires the entries whose leases ran out meanwhile. Either
/// way a [`Registration`](super::Registration) keeps trying, and registers again when its
/// refresh finds the entry gone (so too when etcd lost its data).
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
///
/// use rpc_server::naming::{EtcdStore, RegistryService};
/// use rpc_server::Server;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A registry server whose entries live in etcd: run several, on one etcd.
/// let store = EtcdStore::connect(["127.0.0.1:2379"]).await?;
/// let registry = RegistryService::new(store);
/// let bound = Server::shared(Arc::new(registry)).bind("127.0.0.1:18811").await?;
/// bound.serve().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EtcdStore {
    /// Holds the channel's list of endpoints open (the clients below share its channel).
    _client: Client,
    kv: KvClient,
    leases: LeaseClient,
    watches: WatchClient,
    prefix: String,
    endpoints: Vec<String>,
    /// The endpoints, for messages.
    at: String,
    request_timeout: Duration,
}

impl EtcdStore {
    /// Connects to the etcd cluster at `endpoints` with the defaults of [`EtcdConfig`].
    pub async fn connect(endpoints: impl IntoIterator<Item = impl Into<String>>) -> StoreResult<EtcdStore> {
        EtcdConfig::new(endpoints).connect().await
    }

    /// The key prefix of the entries.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The etcd endpoints.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn mark(&self, name: &str) -> String {
        format!("{}{REMOVED_MARK}{name}", self.prefix)
    }

    /// The name a key stands for, if it is an entry's key.
    fn name_of<'k>(&self, key: &'k [u8]) -> Option<&'k str> {
        let name = std::str::from_utf8(key.strip_prefix(self.prefix.as_bytes())?).ok()?;
        check_name(name).is_ok().then_some(name)
    }

    /// The entry a key-value holds; `None` (and a warning) for a value that is not a valid
    /// entry of that name: data from etcd is not trusted.
    fn decode(&self, kv: &KeyValue) -> Option<Entry> {
        let name = self.name_of(kv.key())?;
        let stored = match serde_json::from_slice::<Entry>(kv.value()) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(key = %String::from_utf8_lossy(kv.key()), error = %e, "an etcd value that is not a registry entry: ignored");
                return None;
            }
        };
        let ttl = stored.ttl();
        let checked = if stored.name == name {
            Entry::new(name, stored.uri, stored.metadata, ttl).and_then(|mut entry| {
                entry.lease = u64::try_from(kv.lease()).map_err(|_| format!("lease {}", kv.lease()))?;
                Ok(entry)
            })
        } else {
            Err(format!("it holds the entry of {:?}", stored.name))
        };
        match checked {
            Ok(entry) => Some(entry),
            Err(why) => {
                tracing::warn!(key = %String::from_utf8_lossy(kv.key()), %why, "an invalid registry entry in etcd: ignored");
                None
            }
        }
    }

    /// `request`, within the request timeout; its etcd error as is.
    async fn within<T>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> StoreResult<Result<T, etcd_client::Error>> {
        tokio::time::timeout(self.request_timeout, request)
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "etcd at {} did not answer {what} within {:?}",
                    self.at, self.request_timeout
                ))
            })
    }

    /// `request`, within the request timeout; any failure is [`StoreError::Unavailable`].
    async fn call<T>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> StoreResult<T> {
        self.within(what, request)
            .await?
            .map_err(|e| self.failed(what, e))
    }

    fn failed(&self, what: &str, e: etcd_client::Error) -> StoreError {
        StoreError::Unavailable(format!("etcd at {}: {what} failed: {}", self.at, describe(&e)))
    }

    /// The key-value of `name`, if there is one (none for what is not a name, such as a
    /// removal mark's key).
    async fn get(&self, name: &str) -> StoreResult<Option<KeyValue>> {
        if check_name(name).is_err() {
            return Ok(None);
        }
        let found = self
            .call("a read", self.kv.clone().get(self.key(name), None))
            .await?;
        Ok(found.kvs().first().cloned())
    }

    /// Whether lease `lease` is gone (expired or revoked); a key without a lease has none to
    /// lose.
    async fn lease_gone(&self, lease: i64) -> StoreResult<bool> {
        if lease == 0 {
            return Ok(false);
        }
        // etcd answers -1 for a lease it does not know.
        let ttl = self
            .call("a lease query", self.leases.clone().time_to_live(lease, None))
            .await?;
        Ok(ttl.ttl() < 0)
    }

    async fn register(&self, mut entry: Entry, ttl: Duration) -> StoreResult<Entry> {
        let seconds = i64::try_from(ttl.as_millis().div_ceil(1000))
            .unwrap_or(i64::MAX)
            .max(1);
        let grant = self
            .call("granting a lease", self.leases.clone().grant(seconds, None))
            .await?;
        let (Ok(lease), Ok(granted)) = (u64::try_from(grant.id()), u64::try_from(grant.ttl())) else {
            return Err(StoreError::Unavailable(format!(
                "etcd at {} granted lease {} for {} s",
                self.at,
                grant.id(),
                grant.ttl()
            )));
        };
        entry.lease = lease;
        entry.ttl_ms = granted.saturating_mul(1000);
        let value = serde_json::to_vec(&entry)
            .map_err(|e| StoreError::Invalid(format!("the entry of {:?}: {e}", entry.name)))?;
        let put = PutOptions::new().with_lease(grant.id());
        // A lease it replaces lapses by itself (it may hold keys that are not ours to end).
        self.call(
            "a write",
            self.kv.clone().put(self.key(&entry.name), value, Some(put)),
        )
        .await?;
        Ok(entry)
    }

    async fn refresh(&self, name: String, lease: LeaseId) -> StoreResult<()> {
        let Some(kv) = self.get(&name).await? else {
            return Err(StoreError::NotFound(name));
        };
        if u64::try_from(kv.lease()) != Ok(lease) {
            return Err(StoreError::Replaced(name));
        }
        // One keep-alive: etcd-client sends it and reads the answer, an error if the lease is
        // gone (expired since the read above: the key with it).
        match self
            .within("a lease keep-alive", self.leases.clone().keep_alive(kv.lease()))
            .await?
        {
            Ok(_) => Ok(()),
            Err(etcd_client::Error::LeaseKeepAliveError(_)) => Err(StoreError::NotFound(name)),
            Err(e) => Err(self.failed("a lease keep-alive", e)),
        }
    }

    async fn remove(&self, name: String, lease: Option<LeaseId>) -> StoreResult<bool> {
        for _ in 0..REMOVE_ATTEMPTS {
            let held = match lease {
                // No etcd lease is beyond i64: no key holds it. What is not a name is no entry.
                Some(lease) => match i64::try_from(lease) {
                    Ok(lease) if check_name(&name).is_ok() => lease,
                    _ => return Ok(false),
                },
                None => match self.get(&name).await? {
                    Some(kv) => kv.lease(),
                    None => return Ok(false),
                },
            };
            if self.delete_held(&name, held).await? {
                self.release(&name, held).await;
                return Ok(true);
            }
            if lease.is_some() {
                return Ok(false);
            }
            // Registered again between the read and the delete: read again.
        }
        Err(StoreError::Unavailable(format!(
            "etcd at {}: the entry of {name:?} changed under each of {REMOVE_ATTEMPTS} attempts to remove it",
            self.at
        )))
    }

    /// Deletes the key of `name` if lease `held` holds it, marking the removal for watchers;
    /// whether it did.
    async fn delete_held(&self, name: &str, held: i64) -> StoreResult<bool> {
        let key = self.key(name);
        let mut then = vec![TxnOp::delete(key.clone(), None)];
        if held != 0 {
            then.push(TxnOp::put(
                self.mark(name),
                "",
                Some(PutOptions::new().with_lease(held)),
            ));
        }
        let txn = Txn::new()
            .when([
                // A missing key compares as lease 0: it must exist.
                Compare::version(key.clone(), CompareOp::Greater, 0),
                Compare::lease(key, CompareOp::Equal, held),
            ])
            .and_then(then);
        let done = self.call("a delete", self.kv.clone().txn(txn)).await?;
        Ok(done.succeeded())
    }

    /// Ends lease `held` after its entry was removed, which takes the removal mark away too;
    /// if the lease holds other keys (someone else's, sharing it), only the mark is deleted.
    /// Best effort: a lease left behind lapses by itself.
    async fn release(&self, name: &str, held: i64) {
        if held == 0 {
            return;
        }
        let mark = self.mark(name);
        let with_keys = LeaseTimeToLiveOptions::new().with_keys();
        let outcome = async {
            let lease = self
                .call(
                    "a lease query",
                    self.leases.clone().time_to_live(held, Some(with_keys)),
                )
                .await?;
            if lease.keys().iter().all(|key| key.as_slice() == mark.as_bytes()) {
                self.call("revoking a lease", self.leases.clone().revoke(held))
                    .await
                    .map(drop)
            } else {
                self.call("a delete", self.kv.clone().delete(mark.clone(), None))
                    .await
                    .map(drop)
            }
        };
        if let Err(e) = outcome.await {
            tracing::debug!(%name, lease = held, error = %e, "the removed entry's lease is left to lapse");
        }
    }

    async fn list(&self, filter: Filter) -> StoreResult<Vec<Entry>> {
        let matcher = filter.compile().map_err(StoreError::Invalid)?;
        let from = self.key(matcher.prefix().unwrap_or(""));
        let found = self
            .call(
                "a listing",
                self.kv.clone().get(from, Some(GetOptions::new().with_prefix())),
            )
            .await?;
        let mut entries: Vec<Entry> = found
            .kvs()
            .iter()
            .filter_map(|kv| self.decode(kv))
            .filter(|entry| matcher.matches(entry))
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }
}

/// An etcd error in one line: a gRPC status as its code, message and root cause (`Unavailable:
/// tcp connect error (Connection refused (os error 111))`) rather than its nested debug form.
fn describe(e: &etcd_client::Error) -> String {
    let etcd_client::Error::GRpcStatus(status) = e else {
        return e.to_string();
    };
    let mut text = format!("{:?}: {}", status.code(), status.message());
    let mut root = None;
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        root = Some(cause);
        source = cause.source();
    }
    if let Some(root) = root {
        text.push_str(&format!(" ({root})"));
    }
    text
}

impl fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RegistryStore for EtcdStore {
    fn register(&self, entry: Entry, ttl: Duration) -> BoxFuture<'_, StoreResult<Entry>> {
        EtcdStore::register(self, entry, ttl).boxed()
    }

    fn refresh(&self, name: String, lease: LeaseId) -> BoxFuture<'_, StoreResult<()>> {
        EtcdStore::refresh(self, name, lease).boxed()
    }

    fn remove(&self, name: String, lease: Option<LeaseId>) -> BoxFuture<'_, StoreResult<bool>> {
        EtcdStore::remove(self, name, lease).boxed()
    }

    fn lookup(&self, name: String) -> BoxFuture<'_, StoreResult<Option<Entry>>> {
        async move { Ok(self.get(&name).await?.and_then(|kv| self.decode(&kv))) }.boxed()
    }

    fn list(&self, filter: Filter) -> BoxFuture<'_, StoreResult<Vec<Entry>>> {
        EtcdStore::list(self, filter).boxed()
    }

    fn watch(&self) -> BoxFuture<'_, StoreResult<BoxStream<'static, StoreResult<Change>>>> {
        watch::start(self.clone()).boxed()
    }
}
