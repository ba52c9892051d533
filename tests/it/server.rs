//! `rpc::server` over loopback TCP and a Unix socket: service instances, hooks, the connection
//! limit, graceful shutdown and one-shot serving.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpc::server::{BoundServer, Server, ShutdownHandle};
use rpc::{service, Connection, ConnectionConfig, Error};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::{Signal, TestService};

/// Safety net only: a bug fails the test after this long instead of hanging it.
const GUARD: Duration = Duration::from_secs(5);

async fn guard<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not happen within {GUARD:?}"),
    }
}

/// Polls `cond` until it holds (bounded: about five seconds), for effects that happen on the
/// server's tasks after the client has already moved on.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen within five seconds");
}

/// Counts calls; a fresh instance starts at zero.
#[derive(Default)]
struct Counter {
    count: AtomicU64,
}

#[service]
impl Counter {
    fn exposed_incr(&self) -> u64 {
        self.count.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// Binds `server` on loopback and serves it in a task.
async fn serve(
    server: Server,
) -> (
    u16,
    ShutdownHandle,
    tokio::task::JoinHandle<rpc::server::Result<()>>,
) {
    let bound: BoundServer = server.bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let port = bound.local_addr().expect("local addr").port();
    let stop = bound.shutdown_handle();
    (port, stop, tokio::spawn(bound.serve()))
}

async fn connect(port: u16) -> Connection {
    guard("connect", rpc::connect("127.0.0.1", port))
        .await
        .expect("connect")
}

async fn incr(conn: &Connection) -> u64 {
    guard("incr", conn.root().call("incr", ())).await.expect("incr")
}

async fn test_call(conn: &Connection) -> rpc::Result<i64> {
    guard("call", conn.root().call("test", (11,))).await
}

/// Counts the instances dropped; raises `started` when `wait` runs.
struct Tracked {
    drops: Arc<AtomicUsize>,
    started: Signal,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[service]
impl Tracked {
    async fn exposed_wait(&self, ms: u64) -> u64 {
        self.started.raise();
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }

    fn exposed_ping(&self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_connection_lets_go_of_its_service_instances_on_both_sides() {
    let server_drops = Arc::new(AtomicUsize::new(0));
    let started = Signal::default();
    let (drops, s) = (server_drops.clone(), started.clone());
    let (port, stop, serving) = serve(Server::new(move || Tracked {
        drops: drops.clone(),
        started: s.clone(),
    }))
    .await;
    let client_drops = Arc::new(AtomicUsize::new(0));
    for round in 1..=3 {
        let service = Tracked {
            drops: client_drops.clone(),
            started: Signal::default(),
        };
        let conn = guard(
            "connect",
            rpc::connect_with("127.0.0.1", port, rpc::ConnectOptions::new().service(service)),
        )
        .await
        .expect("connect");
        // Calls under the connection's timeout (its reaper runs), written directly and by the
        // writer, and one still running when the connection closes.
        guard("ping", conn.root().call::<()>("ping", ()))
            .await
            .expect("ping");
        let root = conn.root();
        let calls = (0..8).map(|_| root.call::<u64>("wait", (5,)));
        for r in guard("waits", futures::future::join_all(calls)).await {
            assert_eq!(r.expect("wait"), 5);
        }
        // Each finished wait raised `started` once: take those, to wait for the next one.
        guard("the finished waits' signals", async {
            for _ in 0..8 {
                started.wait().await;
            }
        })
        .await;
        let hanging = tokio::spawn(async move { root.call::<u64>("wait", (60_000,)).await });
        guard("the hanging call starting", started.wait()).await;
        conn.close().await;
        drop(conn);
        assert!(matches!(
            guard("the hanging call", hanging).await.expect("task"),
            Err(Error::ConnectionClosed(_))
        ));
        eventually("the server instance dropped", || {
            server_drops.load(Ordering::SeqCst) == round
        })
        .await;
        eventually("the client instance dropped", || {
            client_drops.load(Ordering::SeqCst) == round
        })
        .await;
    }
    stop.shutdown();
    guard("server stop", serving).await.expect("join").expect("serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factory_server_gives_each_connection_its_own_instance() {
    let (port, stop, serving) = serve(Server::new(Counter::default)).await;
    let a = connect(port).await;
    let b = connect(port).await;
    assert_eq!(a.peer_service_name(), "COUNTER");
    assert_eq!(incr(&a).await, 1);
    assert_eq!(incr(&a).await, 2);
    assert_eq!(incr(&b).await, 1);
    assert_eq!(incr(&a).await, 3);
    assert_eq!(incr(&b).await, 2);
    // A later connection starts from scratch too.
    let c = connect(port).await;
    assert_eq!(incr(&c).await, 1);
    stop.shutdown();
    guard("serve returning", serving)
        .await
        .expect("join")
        .expect("serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_server_gives_every_connection_the_same_instance() {
    let counter = Arc::new(Counter::default());
    let (port, stop, serving) = serve(Server::shared(counter.clone())).await;
    let a = connect(port).await;
    let b = connect(port).await;
    assert_eq!(incr(&a).await, 1);
    assert_eq!(incr(&b).await, 2);
    assert_eq!(incr(&a).await, 3);
    a.close().await;
    // The instance outlives any one connection.
    let c = connect(port).await;
    assert_eq!(incr(&c).await, 4);
    assert_eq!(counter.count.load(Ordering::SeqCst), 4);
    stop.shutdown();
    guard("serve returning", serving)
        .await
        .expect("join")
        .expect("serve");
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_disconnect_hooks_run_once_per_connection() {
    let connects = Arc::new(AtomicUsize::new(0));
    let disconnects = Arc::new(AtomicUsize::new(0));
    let (c, d) = (connects.clone(), disconnects.clone());
    let server = Server::new(move || TestService {
        connects: c.clone(),
        disconnects: d.clone(),
        ..TestService::default()
    });
    let (port, stop, serving) = serve(server).await;

    let a = connect(port).await;
    let b = connect(port).await;
    assert_eq!(test_call(&a).await.expect("a"), 12);
    assert_eq!(test_call(&b).await.expect("b"), 12);
    eventually("two on_connect calls", || connects.load(Ordering::SeqCst) == 2).await;
    assert_eq!(disconnects.load(Ordering::SeqCst), 0);

    // A clean close.
    a.close().await;
    eventually("the first on_disconnect", || {
        disconnects.load(Ordering::SeqCst) == 1
    })
    .await;
    // Dropping the last handle closes the connection too.
    drop(b);
    eventually("the second on_disconnect", || {
        disconnects.load(Ordering::SeqCst) == 2
    })
    .await;

    // A connection the server closes at shutdown gets its hook as well.
    let c3 = connect(port).await;
    assert_eq!(test_call(&c3).await.expect("c3"), 12);
    eventually("the third on_connect", || connects.load(Ordering::SeqCst) == 3).await;
    stop.shutdown();
    guard("serve returning", serving)
        .await
        .expect("join")
        .expect("serve");
    guard("the client seeing the close", c3.closed()).await;
    eventually("the third on_disconnect", || {
        disconnects.load(Ordering::SeqCst) == 3
    })
    .await;
    assert_eq!(connects.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_refuses_extra_clients_until_a_slot_frees() {
    let (port, stop, serving) = serve(Server::new(TestService::default).max_connections(1)).await;
    let first = connect(port).await;
    assert_eq!(test_call(&first).await.expect("first"), 12);

    // The second is refused with the reason, instead of a reset.
    let refused = guard("the refused connect", rpc::connect("127.0.0.1", port)).await;
    match refused {
        Err(Error::PeerClosed(msg)) => assert!(msg.contains("server full"), "{msg}"),
        other => panic!("expected a 'server full' refusal, got {other:?}"),
    }
    // The first is unaffected.
    assert_eq!(test_call(&first).await.expect("first still served"), 12);

    // Once the first goes, a new client gets in (the slot frees asynchronously: retry a bit).
    first.close().await;
    let mut served = false;
    for _ in 0..100 {
        if let Ok(Ok(conn)) = tokio::time::timeout(GUARD, rpc::connect("127.0.0.1", port)).await {
            if test_call(&conn).await.ok() == Some(12) {
                served = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "a client gets in after the first one left");
    stop.shutdown();
    guard("serve returning", serving)
        .await
        .expect("join")
        .expect("serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_closes_connections_and_stops_accepting() {
    let (port, stop, serving) =
        serve(Server::new(TestService::default).drain_timeout(Duration::from_millis(300))).await;
    let conn = connect(port).await;
    let other = connect(port).await;
    assert_eq!(test_call(&conn).await.expect("served"), 12);

    let forever = conn.root().with_timeout(None);
    let pending = tokio::spawn(async move { forever.call::<()>("forever", ()).await });
    eventually("the call being pending", || conn.stats().pending_calls == 1).await;
    // The server is running it: a round trip after it on the same connection has come back.
    assert_eq!(test_call(&conn).await.expect("served"), 12);

    stop.shutdown();
    guard("serve returning", serving)
        .await
        .expect("join")
        .expect("serve returns Ok");
    guard("the client seeing the close", conn.closed()).await;
    guard("the other client seeing the close", other.closed()).await;
    assert!(
        conn.close_reason().is_none(),
        "a clean close: {:?}",
        conn.close_reason()
    );

    let err = guard("the pending call", pending)
        .await
        .expect("join")
        .expect_err("cannot complete");
    assert!(matches!(err, Error::ConnectionClosed(_)), "{err:?}");
    assert!(err.is_connection_closed());

    let refused = guard("connect after shutdown", rpc::connect("127.0.0.1", port)).await;
    assert!(refused.is_err(), "the listener is gone after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_a_stalled_handshake() {
    // A peer that connects and never says anything must not hold shutdown up for the whole
    // handshake timeout.
    let config = ConnectionConfig::default().handshake_timeout(Duration::from_secs(60));
    let (port, stop, serving) = serve(Server::new(TestService::default).connection_config(config)).await;
    let served = connect(port).await;
    let mut silent = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("raw connect");
    // The server has accepted the silent peer once a later client is through.
    let later = connect(port).await;
    assert_eq!(test_call(&later).await.expect("served"), 12);

    stop.shutdown();
    guard("serve returning despite a silent peer", serving)
        .await
        .expect("join")
        .expect("serve");
    guard("the client seeing the close", served.closed()).await;
    silent.shutdown().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_one_serves_one_client_to_the_end_and_returns() {
    let bound = Server::new(Counter::default)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = bound.local_addr().expect("addr").port();
    let serving = tokio::spawn(bound.serve_one());

    let conn = connect(port).await;
    assert_eq!(incr(&conn).await, 1);
    assert_eq!(incr(&conn).await, 2);
    assert!(!serving.is_finished(), "still serving its one client");

    conn.close().await;
    guard("serve_one returning", serving)
        .await
        .expect("join")
        .expect("serve_one returns Ok");
    let after = guard("connect after serve_one", rpc::connect("127.0.0.1", port)).await;
    assert!(after.is_err(), "a one-shot server takes nobody else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_one_stops_on_shutdown() {
    let bound = Server::new(TestService::default)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = bound.local_addr().expect("addr").port();
    let stop = bound.shutdown_handle();
    let serving = tokio::spawn(bound.serve_one());
    let conn = connect(port).await;
    assert_eq!(test_call(&conn).await.expect("served"), 12);
    stop.shutdown();
    guard("serve_one returning", serving)
        .await
        .expect("join")
        .expect("serve_one");
    guard("the client seeing the close", conn.closed()).await;
}

/// A fresh directory under the system temp dir, removed when dropped.
#[cfg(unix)]
struct TempDir(std::path::PathBuf);

#[cfg(unix)]
impl TempDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "rpc-it-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).expect("create temp dir");
        TempDir(path)
    }
}

#[cfg(unix)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_server_serves_calls() {
    let dir = TempDir::new();
    let path = dir.0.join("rpc.sock");
    let bound = Server::new(TestService::default)
        .bind_unix(&path)
        .expect("bind unix socket");
    assert!(
        bound.local_addr().is_err(),
        "a Unix socket server has no TCP address"
    );
    assert!(path.exists(), "binding made the socket file");
    let stop = bound.shutdown_handle();
    let serving = tokio::spawn(bound.serve());

    let conn = guard(
        "connect over the Unix socket",
        rpc::transport::connect_unix(&path, rpc::ConnectOptions::new()),
    )
    .await
    .expect("connect_unix");
    assert_eq!(conn.peer_service_name(), "TEST");
    assert_eq!(test_call(&conn).await.expect("call over the Unix socket"), 12);
    let greeting: String = guard("greet", conn.root().call("greet", ("unix",)))
        .await
        .expect("greet");
    assert_eq!(greeting, "hello unix");

    stop.shutdown();
    guard("serve returning", serving)
        .await
        .expect("join")
        .expect("serve");
    guard("the client seeing the close", conn.closed()).await;
    // The server cleans up after itself: its socket file is gone (the directory stays).
    assert!(dir.0.exists());
    assert!(
        !path.exists(),
        "the server removed its socket file {} when it stopped",
        path.display()
    );
}
