//! The benchmarked service and the rpc server every scenario calls.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rpc::server::{Server, ShutdownHandle};
use rpc::{service, Callback, Connection, NetRef};
use tokio::task::JoinHandle;

use crate::common::on_server_side;

/// The benchmarked service: as little work as a call can do.
#[derive(Default)]
pub struct BenchService {
    /// The callback `keep` stored, for `call_kept`.
    kept: Mutex<Option<Callback>>,
    /// The `tick`s counted since the last `take_ticks`, shared by the connections' services so
    /// that the harness can watch it (only the one-way scenario's connection ticks).
    ticks: Arc<AtomicU64>,
}

#[service]
impl BenchService {
    /// Does nothing.
    fn exposed_null(&self) {}

    /// Returns its argument.
    fn exposed_echo(&self, x: i64) -> i64 {
        x
    }

    /// Calls the client's closure `f` once with `x` and returns its answer.
    async fn exposed_call_back(&self, f: Callback, x: i64) -> Result<i64, rpc::Error> {
        f.call((x,)).await
    }

    /// Keeps `f` (and so the server's proxy of it) until `forget`.
    fn exposed_keep(&self, f: Callback) {
        *self.kept.lock() = Some(f);
    }

    /// Drops the kept callback.
    fn exposed_forget(&self) {
        self.kept.lock().take();
    }

    /// Calls the kept callback once with `x` and returns its answer.
    async fn exposed_call_kept(&self, x: i64) -> Result<i64, rpc::Error> {
        let f = self.kept.lock().clone();
        match f {
            Some(f) => f.call((x,)).await,
            None => Err(rpc::Error::Decode("call_kept before keep".into())),
        }
    }

    /// The export id under which this call received `f` (0 if it is not the client's).
    fn exposed_callback_id(&self, f: Callback) -> u64 {
        f.netref().map_or(0, NetRef::id)
    }

    /// A fresh counter, returned by reference.
    fn exposed_open(&self) -> Counter {
        Counter::default()
    }

    /// Counts one call (the one-way scenario sends it with `call_oneway`).
    fn exposed_tick(&self) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// The same, declared one-way: the typed client's `tick_oneway()` sends it without a reply.
    #[oneway]
    fn exposed_tick_oneway(&self) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// The ticks counted since the last call, starting the count over.
    fn exposed_take_ticks(&self) -> u64 {
        self.ticks.swap(0, Ordering::Relaxed)
    }

    /// The length of a (large) byte argument (`Vec<u8>` parameters are taken as bytes).
    fn exposed_size(&self, data: Vec<u8>) -> usize {
        data.len()
    }

    /// How many objects the server exports on this connection.
    fn exposed_exported(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }
}

/// The object `open()` hands out by reference in the NetRef churn scenario.
#[derive(Default)]
pub struct Counter {
    /// The count.
    n: AtomicI64,
}

#[service]
impl Counter {
    /// Adds one and returns the new count.
    fn exposed_incr(&self) -> i64 {
        self.n.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The rpc server on `127.0.0.1`, a [`BenchService`] per connection, serving in a task of its
/// own until [`BenchServer::stop`].
pub struct BenchServer {
    /// The port it listens on.
    pub port: u16,
    /// The tick counter all its services share.
    pub ticks: Arc<AtomicU64>,
    /// Stops it.
    shutdown: ShutdownHandle,
    /// The serving task.
    serving: JoinHandle<rpc::server::Result<()>>,
}

impl BenchServer {
    /// Binds a free port and starts serving (where the servers run, see `placement`).
    pub async fn start() -> BenchServer {
        BenchServer::start_with(|server| server).await
    }

    /// Like [`BenchServer::start`], with the server's settings changed by `configure` (TLS, an
    /// authenticator, keepalive: the `secure` bench).
    pub async fn start_with(configure: impl FnOnce(Server) -> Server + Send + 'static) -> BenchServer {
        let ticks = Arc::new(AtomicU64::new(0));
        let service_ticks = ticks.clone();
        let (port, shutdown, serving) = on_server_side(async move {
            let server = Server::new(move || BenchService {
                ticks: service_ticks.clone(),
                ..BenchService::default()
            });
            let server = configure(server)
                .bind("127.0.0.1:0")
                .await
                .expect("bind rpc server");
            let port = server.local_addr().expect("rpc server address").port();
            let shutdown = server.shutdown_handle();
            (port, shutdown, tokio::spawn(server.serve()))
        })
        .await;
        BenchServer {
            port,
            ticks,
            shutdown,
            serving,
        }
    }

    /// Shuts the server down and waits until it has closed every connection.
    pub async fn stop(self) {
        self.shutdown.shutdown();
        self.serving.await.expect("server task").expect("server");
    }
}
