//! What the scenarios measure side by side: a registry server on the embedded store, filled
//! with entries; the `Nulls` server (a null call, and the same as an `async` method), which is
//! also the server the registry's `bench.null` entry names; and the raw TCP echo servers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rpc::naming::{Entry, MemoryStore, Registration, Registry, RegistryService, RegistryStore};
use rpc::server::{BoundServer, Server, ShutdownHandle};
use rpc::{service, Args, NetRef};
use tokio::task::JoinHandle;

use crate::common::on_server_side;
use crate::common::servers::start_raw_server;
use crate::frames::call_frames;

/// The name every lookup asks for, and `rpcname:` connects to: the `Nulls` server.
pub const NAME: &str = "bench.null";

/// A name nobody registered (the lookup that answers `None`).
pub const UNKNOWN: &str = "bench.nobody";

/// The tag of the entries the listing asks for.
pub const TAG: &str = "listed";

/// How long the bench's entries live without a refresh: longer than any run, so that no
/// refresh or expiry happens while measuring.
const TTL: Duration = Duration::from_secs(3600);

/// The plain server: a null call, and a null call that runs as a task as every `async`
/// method does (the registry's methods are all `async`).
pub struct Nulls;

#[service]
impl Nulls {
    /// Does nothing (answered inline, as a plain method is).
    fn exposed_null(&self) {}

    /// Does nothing, as an `async` method: the request runs as a task of its own.
    async fn exposed_null_async(&self) {}
}

/// One `null()` call.
pub async fn null(root: &NetRef) {
    root.call::<()>("null", ()).await.expect("null call");
}

/// One `null_async()` call.
pub async fn null_async(root: &NetRef) {
    root.call::<()>("null_async", ()).await.expect("null_async call");
}

pub use crate::frames::null_frames;

/// Bytes on the wire of the registry's `method(arg)` request and of its reply carrying
/// `value` (as the typed client and the service encode them).
pub fn registry_frames(
    method: &str,
    arg: impl serde::Serialize,
    value: impl serde::Serialize,
) -> (usize, usize) {
    let args = (rpc::to_value(&arg).expect("encode the argument"),)
        .into_args()
        .expect("encode arguments");
    call_frames(method, args, rpc::to_value(&value).expect("encode the reply"))
}

/// A server serving in a task of its own until [`Serving::stop`].
struct Serving {
    port: u16,
    shutdown: ShutdownHandle,
    task: JoinHandle<rpc::server::Result<()>>,
}

impl Serving {
    /// Binds `server` to a free port of `127.0.0.1` where the servers run (see `placement`),
    /// with `more` made there too (the store, whose pruning task is spawned where it is made).
    async fn start<T, F, Fut>(make: F) -> (Serving, T)
    where
        T: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = (Server, T)> + Send,
    {
        on_server_side(async move {
            let (server, more) = make().await;
            let bound: BoundServer = server.bind("127.0.0.1:0").await.expect("bind");
            let port = bound.local_addr().expect("server address").port();
            let shutdown = bound.shutdown_handle();
            (
                Serving {
                    port,
                    shutdown,
                    task: tokio::spawn(bound.serve()),
                },
                more,
            )
        })
        .await
    }

    /// Shuts it down and waits until it has closed every connection.
    async fn stop(self) {
        self.shutdown.shutdown();
        self.task.await.expect("server task").expect("server");
    }
}

/// The servers of every scenario, and the entries they hold.
pub struct Servers {
    /// The registry.
    registry: Serving,
    /// Its store, the one the registry serves (for the no-rpc figures).
    pub store: Arc<dyn RegistryStore>,
    /// The `Nulls` server.
    nulls: Serving,
    /// The registration of [`NAME`], kept alive for the run.
    registration: Registration,
    /// Entries tagged [`TAG`] in the store.
    pub entries: usize,
    /// The raw echo server answering like `null()`.
    pub raw_null: SocketAddr,
    /// The raw echo server answering like a lookup of [`NAME`].
    pub raw_lookup: SocketAddr,
}

impl Servers {
    /// Starts the servers, fills the registry's store with `entries` entries tagged [`TAG`]
    /// and as many without it, and registers [`NAME`] (at the `Nulls` server) through the
    /// registry's client as a server would.
    pub async fn start(entries: usize) -> Servers {
        let (registry, store) = Serving::start(|| async {
            let service = RegistryService::new(MemoryStore::new());
            let store = service.store().clone();
            (Server::shared(Arc::new(service)), store)
        })
        .await;
        let (nulls, ()) = Serving::start(|| async { (Server::new(|| Nulls), ()) }).await;
        for i in 0..entries {
            for entry in [listed(i), unlisted(i)] {
                store.register(entry, TTL).await.expect("fill the store");
            }
        }
        let reg = Registry::connect("127.0.0.1", registry.port)
            .await
            .expect("connect to the registry");
        let registration = reg
            .register(NAME, nulls_uri(nulls.port), ["null"], TTL)
            .await
            .expect("register the null server");
        let lookup = registry_frames("lookup", NAME, Some(registration.entry())).1;
        Servers {
            registry,
            store,
            nulls,
            registration,
            entries,
            raw_null: start_raw_server(null_frames().1).await,
            raw_lookup: start_raw_server(lookup).await,
        }
    }

    /// The registry's port.
    pub fn registry_port(&self) -> u16 {
        self.registry.port
    }

    /// The `Nulls` server's port.
    pub fn nulls_port(&self) -> u16 {
        self.nulls.port
    }

    /// The entry of [`NAME`] as registered.
    pub fn entry(&self) -> Entry {
        self.registration.entry()
    }

    /// A fresh client connection to the registry.
    pub async fn registry(&self) -> Registry {
        Registry::connect("127.0.0.1", self.registry.port)
            .await
            .expect("connect to the registry")
    }

    /// How many entries the store holds.
    pub fn store_len(&self) -> usize {
        2 * self.entries + 1
    }

    /// Removes the registration and stops the servers.
    pub async fn stop(self) {
        assert!(
            self.registration.remove().await.expect("remove the entry"),
            "the entry was still registered"
        );
        self.registry.stop().await;
        self.nulls.stop().await;
    }
}

/// The URI of the `Nulls` server on `port`.
pub fn nulls_uri(port: u16) -> String {
    format!("rpc://127.0.0.1:{port}")
}

/// The filter of the listing: every entry tagged [`TAG`].
pub fn list_filter() -> rpc::naming::Filter {
    rpc::naming::Filter::everything().with_all([TAG])
}

/// The `i`-th entry the listing answers (its lease is the store's to set).
fn listed(i: usize) -> Entry {
    Entry::new(
        format!("service.{i:05}"),
        format!("rpc://10.0.{}.{}:18861", i / 250, i % 250 + 1),
        [TAG.to_owned(), format!("zone:{}", i % 4)],
        TTL,
    )
    .expect("a valid entry")
}

/// The `i`-th entry the listing leaves out.
fn unlisted(i: usize) -> Entry {
    Entry::new(
        format!("other.{i:05}"),
        format!("rpc://10.1.{}.{}:18861", i / 250, i % 250 + 1),
        [format!("zone:{}", i % 4)],
        TTL,
    )
    .expect("a valid entry")
}

/// The listing's answer but for the leases (the store's to set): the first `n` listed
/// entries, in name order (their zero-padded numbers sort as the names do).
pub fn listed_entries(n: usize) -> Vec<Entry> {
    (0..n).map(listed).collect()
}
