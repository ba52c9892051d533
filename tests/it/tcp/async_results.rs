//! Asynchronous results over loopback TCP with the real clock: pending then ready, callbacks
//! added before and after arrival, errors with their type, expiry (which cancels the request
//! on the server), a late reply after expiry dropped, expiry removed, and a dropped result
//! that detaches its request: it runs on to its end (or the connection's) on the server, and
//! its reply is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpc::server::Server;
use rpc::{async_, timed, AsyncResult, ConnectionConfig, Error, RemoteErrorKind, VoidService};

use super::{connect, nothing_left_running, settles, ServerThread, Stall};
use crate::harness::{eventually, TestService};
use crate::raw::{guard, start, start_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_result_is_pending_then_ready_with_its_callbacks_run() {
    let server = start_server(ConnectionConfig::default()).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let started = Instant::now();
    let res = async_(&conn.root(), "slow").call::<String>((300,)).expect("sent");
    assert!(!res.ready() && !res.expired() && res.error().is_none());
    assert!(res.value().is_none());
    assert_eq!(res.to_string(), "<AsyncResult pending>");
    assert_eq!(conn.stats().pending_calls, 1);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let seen = res.clone();
    res.add_callback(move |outcome| {
        let _ = tx.send((seen.ready(), seen.error().is_none(), seen.to_string(), outcome));
    });
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let ran = ran.clone();
        res.add_callback(move |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        });
    }
    let (ready, no_error, shown, value) = guard("the callback", rx).await.expect("the callback ran");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(ready && no_error);
    assert_eq!(shown, "<AsyncResult ready>");
    assert_eq!(value.expect("a value"), "slept 300");
    eventually("every callback ran", || ran.load(Ordering::SeqCst) == 2).await;
    let typed = res.clone();
    assert_eq!(typed.value().expect("settled").expect("ok"), "slept 300");
    assert_eq!(guard("wait", typed.wait()).await.expect("ok"), "slept 300");
    assert_eq!(guard("await", typed).await.expect("ok"), "slept 300");
    // A callback added after arrival runs at once, on this thread.
    let here = std::thread::current().id();
    let ran_here = Arc::new(AtomicUsize::new(0));
    let counter = ran_here.clone();
    res.add_callback(move |outcome| {
        if std::thread::current().id() == here && outcome.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    assert_eq!(ran_here.load(Ordering::SeqCst), 1);
    assert_eq!(conn.stats().pending_calls, 0);
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_their_type_and_a_wrong_type_is_a_decode_error() {
    let server = start_server(ConnectionConfig::default()).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let root = conn.root();
    let failed = async_(&root, "fail").call::<()>(()).expect("sent");
    let e = guard("the failure", failed.wait()).await.expect_err("fails");
    match &e {
        Error::Remote(r) => {
            assert_eq!(r.kind, RemoteErrorKind::Application);
            assert_eq!(r.type_name, "it::harness::Failure");
            assert_eq!(r.causes, ["disk on fire"]);
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    assert!(failed.ready() && !failed.expired());
    assert!(matches!(failed.error(), Some(Error::Remote(_))));
    assert_eq!(failed.to_string(), "<AsyncResult error>");
    let wrong: AsyncResult<String> = async_(&root, "test").call((1,)).expect("sent");
    let e = guard("the result", wrong.wait())
        .await
        .expect_err("an i64 is no String");
    assert!(
        matches!(e, Error::Decode(ref m) if m.contains("the asynchronous result")),
        "{e:?}"
    );
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_result_cancels_its_request_on_the_server() {
    let service = Arc::new(Stall::default());
    let server = start(Server::shared(service.clone())).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let root = conn.root();
    let started = Instant::now();
    let res = async_(&root, "forever").call::<()>(()).expect("sent");
    res.set_expiry(Some(Duration::from_millis(200)));
    let e = guard("the expiry", res.wait()).await.expect_err("expires");
    let waited = started.elapsed();
    assert!(matches!(e, Error::Expired), "{e:?}");
    assert!(
        waited >= Duration::from_millis(200),
        "expired early, after {waited:?}"
    );
    assert!(res.expired() && !res.ready());
    assert!(matches!(res.error(), Some(Error::Expired)));
    assert!(matches!(res.value(), Some(Err(Error::Expired))));
    assert_eq!(res.to_string(), "<AsyncResult expired>");
    assert_eq!(conn.stats().pending_calls, 0);
    // The server was told to stop.
    assert_eq!(service.started.load(Ordering::SeqCst), 1);
    eventually("the server's request ended", || {
        service.waiting.load(Ordering::SeqCst) == 0
    })
    .await;
    assert_eq!(
        guard("running", root.call::<usize>("running", ()))
            .await
            .expect("running"),
        0
    );

    // `timed` gives every call an expiry.
    let t = timed(&root, Duration::from_millis(100));
    let late = t.call::<String>("slow", (2_000,)).expect("sent");
    assert!(matches!(guard("expiry", late.wait()).await, Err(Error::Expired)));
    let in_time = t.call::<String>("slow", (1,)).expect("sent");
    assert_eq!(guard("in time", in_time).await.expect("in time"), "slept 1");

    // `set_expiry(None)` removes an expiry set before.
    let res = async_(&root, "slow")
        .with_expiry(Some(Duration::from_millis(50)))
        .call::<String>((300,))
        .expect("sent");
    res.set_expiry(None);
    assert_eq!(guard("no expiry", res).await.expect("no expiry"), "slept 300");
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_the_expiry_is_dropped() {
    let service = Arc::new(Stall::default());
    // `stall` blocks a thread of the server's own runtime, not one of this test's.
    let server = ServerThread::start(Server::shared(service.clone()));
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let root = conn.root();
    let res = async_(&root, "stall")
        .with_expiry(Some(Duration::from_millis(200)))
        .call::<String>((700,))
        .expect("sent");
    assert!(matches!(guard("expiry", res.wait()).await, Err(Error::Expired)));
    // The server reads the next call once `stall` has returned: its reply follows the late
    // one on the socket.
    assert_eq!(
        guard("the next call", root.call::<i64>("test", (1,)))
            .await
            .expect("the next call gets its own reply"),
        2
    );
    assert_eq!(
        service.stalled.load(Ordering::SeqCst),
        1,
        "the late reply was sent"
    );
    assert!(res.expired() && !res.ready(), "the late reply changed nothing");
    assert!(matches!(res.value(), Some(Err(Error::Expired))));
    assert_eq!(conn.stats().pending_calls, 0);
    assert!(!conn.is_closed());
    conn.close().await;
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("the server stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_result_detaches_and_its_request_still_runs() {
    let service = TestService::default();
    let ticks = service.ticks.clone();
    let server = start(Server::shared(Arc::new(service))).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let root = conn.root();
    let res = async_(&root, "tick").call::<()>((500,)).expect("sent");
    assert_eq!(conn.stats().pending_calls, 1);
    drop(res);
    eventually("the pending entry gone", || conn.stats().pending_calls == 0).await;
    assert_eq!(ticks.load(Ordering::SeqCst), 0, "still running on the server");
    settles("the detached call ran to its end on the server", || async {
        ticks.load(Ordering::SeqCst) == 1
    })
    .await;
    // Its reply came and was dropped; the connection goes on.
    nothing_left_running(&root, 1).await;
    assert_eq!(conn.stats().pending_calls, 0);
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_request_runs_until_the_connection_closes() {
    let service = Arc::new(Stall::default());
    let server = start(Server::shared(service.clone())).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let root = conn.root();
    let res = async_(&root, "forever").call::<()>(()).expect("sent");
    eventually("the request running on the server", || {
        service.waiting.load(Ordering::SeqCst) == 1
    })
    .await;
    drop(res);
    eventually("the pending entry gone", || conn.stats().pending_calls == 0).await;
    // Not cancelled: it still runs, a while later.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(service.waiting.load(Ordering::SeqCst), 1);
    assert_eq!(
        guard("running", root.call::<usize>("running", ()))
            .await
            .expect("running"),
        1
    );
    conn.close().await;
    eventually("the server's request ended with the connection", || {
        service.waiting.load(Ordering::SeqCst) == 0
    })
    .await;
}
