//! Services and peer pairs shared by the tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpc::server::Server;
use rpc::{service, Connection, ConnectionConfig, Service, VoidService};
use serde::{Deserialize, Serialize};

/// What `exposed_fail` returns: an error with a cause.
#[derive(Debug, thiserror::Error)]
#[error("the operation failed")]
pub struct Failure(#[source] pub std::io::Error);

/// Nested typed data for round trips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub tags: Vec<std::collections::BTreeMap<String, Option<Vec<i32>>>>,
    pub kind: Kind,
}

/// An enum inside [`Record`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    Plain,
    Weighted(f64),
    Sized { w: u32, h: u32 },
}

/// Large and small byte values side by side, nested, for the bulk tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parts {
    pub head: rpc::serde_bytes::ByteBuf,
    pub small: Vec<u8>,
    pub nested: Vec<rpc::serde_bytes::ByteBuf>,
    pub tail: String,
}

/// A counting signal shared between a test and a service: `raise` adds one, `wait` takes one,
/// waiting for it if need be. Clones share the count.
#[derive(Clone)]
pub struct Signal(Arc<tokio::sync::Semaphore>);

impl Default for Signal {
    fn default() -> Self {
        Signal(Arc::new(tokio::sync::Semaphore::new(0)))
    }
}

impl Signal {
    pub fn raise(&self) {
        self.0.add_permits(1);
    }

    pub async fn wait(&self) {
        self.0
            .acquire()
            .await
            .expect("the semaphore is never closed")
            .forget();
    }
}

/// The server-side service of most tests.
#[derive(Default)]
pub struct TestService {
    pub connects: Arc<AtomicUsize>,
    pub disconnects: Arc<AtomicUsize>,
    pub volume: std::sync::atomic::AtomicU8,
    pub ticks: Arc<AtomicUsize>,
    /// Raised by `gated` when it starts.
    pub started: Signal,
    /// Each raise lets one `gated` call finish.
    pub release: Signal,
}

#[service]
impl TestService {
    fn exposed_test(&self, num: i64) -> i64 {
        1 + num
    }

    #[exposed]
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    /// Requests of this connection running as tasks on this side (a quick call like this one,
    /// answered inline by the reader, is not among them).
    fn exposed_running(&self, conn: &Connection) -> usize {
        conn.stats().running_requests
    }

    async fn exposed_slow(&self, ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        format!("slept {ms}")
    }

    fn exposed_fail(&self) -> Result<(), Failure> {
        Err(Failure(std::io::Error::other("disk on fire")))
    }

    fn exposed_boom(&self) -> i64 {
        panic!("boom")
    }

    async fn exposed_async_boom(&self) -> i64 {
        tokio::task::yield_now().await;
        panic!("async boom")
    }

    #[blocking]
    fn exposed_block(&self, ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }

    fn exposed_echo_record(&self, r: Record) -> Record {
        r
    }

    fn exposed_len(&self, data: &[u8]) -> usize {
        data.len()
    }

    fn exposed_echo_parts(&self, parts: Parts) -> Parts {
        parts
    }

    fn exposed_make_bytes(&self, n: usize) -> Vec<u8> {
        vec![7; n]
    }

    fn exposed_greet(&self, name: &str) -> String {
        format!("hello {name}")
    }

    /// Calls the caller's root back while the caller still waits.
    async fn exposed_ask_back(&self, conn: Connection, x: i64) -> Result<i64, rpc::Error> {
        conn.root().call("double", (x,)).await
    }

    async fn exposed_forever(&self) {
        futures::future::pending::<()>().await
    }

    /// Holds its argument until cancelled.
    async fn exposed_hold(&self, data: Vec<u8>) -> usize {
        futures::future::pending::<()>().await;
        data.len()
    }

    /// Sleeps, then counts one more tick.
    async fn exposed_tick(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.ticks.fetch_add(1, Ordering::SeqCst);
    }

    /// Raises `started`, then waits for `release` and returns `n`: a call that is certainly
    /// running on the server for as long as the test wants.
    async fn exposed_gated(&self, n: i64) -> i64 {
        self.started.raise();
        self.release.wait().await;
        n
    }

    /// `n` units: a small frame that decodes to a large value.
    fn exposed_units(&self, n: usize) -> Vec<()> {
        vec![(); n]
    }

    #[attribute]
    fn exposed_the_real_answer_though(&self) -> i64 {
        43
    }

    #[attribute]
    fn exposed_volume(&self) -> u8 {
        self.volume.load(Ordering::SeqCst)
    }

    #[setter]
    fn exposed_set_volume(&self, v: u8) {
        self.volume.store(v, Ordering::SeqCst);
    }

    #[attribute]
    fn version(&self) -> String {
        "1.0".into()
    }

    #[allow(dead_code)]
    fn get_question(&self) -> &'static str {
        "not exposed"
    }

    fn on_connect(&self, _conn: &Connection) {
        self.connects.fetch_add(1, Ordering::SeqCst);
    }

    fn on_disconnect(&self, _conn: &Connection) {
        self.disconnects.fetch_add(1, Ordering::SeqCst);
    }
}

/// The client-side service: what the server may call back.
pub struct ClientService;

#[service]
impl ClientService {
    fn exposed_double(&self, x: i64) -> i64 {
        2 * x
    }
}

/// Counts live instances: one more while it exists.
pub struct Live(Arc<AtomicUsize>);

impl Live {
    pub fn new(count: &Arc<AtomicUsize>) -> Live {
        count.fetch_add(1, Ordering::SeqCst);
        Live(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How a pair of peers is connected.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    Memory,
    Tcp,
}

pub const TRANSPORTS: [Transport; 2] = [Transport::Memory, Transport::Tcp];

/// A connected client and whatever keeps the server side alive.
pub struct Pair {
    pub client: Connection,
    _server: Option<Connection>,
    _stop: Option<rpc::server::ShutdownHandle>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        if let Some(stop) = &self._stop {
            stop.shutdown();
        }
    }
}

/// Connects a client serving `client_service` to a server serving `server_service`.
pub async fn pair_with<C: Service, S: Service>(
    transport: Transport,
    client_service: C,
    server_service: S,
    config: ConnectionConfig,
) -> Pair {
    match transport {
        Transport::Memory => {
            let (client, server) = rpc::memory_pair_with(
                rpc::ConnectOptions::new()
                    .service(client_service)
                    .config(config.clone()),
                rpc::ConnectOptions::new().service(server_service).config(config),
            )
            .await
            .expect("memory pair");
            Pair {
                client,
                _server: Some(server),
                _stop: None,
            }
        }
        Transport::Tcp => {
            let bound = Server::shared(Arc::new(server_service))
                .connection_config(config.clone())
                .bind("127.0.0.1:0")
                .await
                .expect("bind");
            let port = bound.local_addr().expect("addr").port();
            let stop = bound.shutdown_handle();
            tokio::spawn(bound.serve());
            let client = rpc::connect_with(
                "127.0.0.1",
                port,
                rpc::ConnectOptions::new().service(client_service).config(config),
            )
            .await
            .expect("connect");
            Pair {
                client,
                _server: None,
                _stop: Some(stop),
            }
        }
    }
}

/// The usual pair: a [`ClientService`] client and a [`TestService`] server.
pub async fn pair(transport: Transport) -> Pair {
    pair_with(
        transport,
        ClientService,
        TestService::default(),
        ConnectionConfig::default(),
    )
    .await
}

/// A client that serves nothing.
pub async fn void_pair(transport: Transport) -> Pair {
    void_pair_with(transport, ConnectionConfig::default()).await
}

/// A client that serves nothing, both sides with `config`.
pub async fn void_pair_with(transport: Transport, config: ConnectionConfig) -> Pair {
    pair_with(transport, VoidService, TestService::default(), config).await
}

/// Polls `done` until it holds, for at most about 5 s; releases and other background effects
/// arrive asynchronously.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..2_500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("{what} did not happen within 5 s");
}
