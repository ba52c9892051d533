//! Call timeouts over loopback TCP with the real clock: the connection's `call_timeout` and a
//! reference's `with_timeout` fail the call after the timeout (and well before the guard),
//! the `Cancel` stops the request on the server, a reply that comes after the timeout is
//! dropped, and the next call succeeds. (The exact `[t, t + t/8]` window of the connection
//! timeout is checked on the paused clock in `timeouts.rs`.)

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpc::server::Server;
use rpc::{ConnectionConfig, Error, NetRef, VoidService};

use super::{connect, nothing_left_running, settles, ServerThread, Stall};
use crate::raw::{guard, start};

const LIMIT: Duration = Duration::from_secs(1);
/// "Well before the 5 s guard": the connection timeout fires at most an eighth late, and a
/// busy machine adds at most a fraction of a second to that.
const WELL_BEFORE: Duration = Duration::from_secs(4);

/// Calls `forever` through `root`, expecting a timeout of [`LIMIT`] within the bounds.
async fn times_out(root: &NetRef) {
    let started = Instant::now();
    let e = guard("the timeout", root.call::<()>("forever", ()))
        .await
        .expect_err("the call times out");
    let waited = started.elapsed();
    assert!(matches!(e, Error::Timeout(d) if d == LIMIT), "{e:?}");
    assert!(waited >= LIMIT, "timed out early, after {waited:?}");
    assert!(waited < WELL_BEFORE, "timed out late, after {waited:?}");
}

/// After a timeout: the request was cancelled on the server, and the connection goes on.
async fn cancelled_and_still_serving(root: &NetRef, service: &Stall) {
    assert_eq!(service.started.load(Ordering::SeqCst), 1, "the method ran");
    settles("the server's request ended", || async {
        service.waiting.load(Ordering::SeqCst) == 0
    })
    .await;
    // Nothing runs on the server any more.
    nothing_left_running(root, 41).await;
    assert_eq!(root.connection().stats().pending_calls, 0);
    assert!(!root.connection().is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_call_timeout_fails_the_call_and_cancels_it_on_the_server() {
    let service = Arc::new(Stall::default());
    let server = start(Server::shared(service.clone())).await;
    let config = ConnectionConfig::default().call_timeout(Some(LIMIT));
    let conn = connect(server.port, VoidService, config).await;
    let root = conn.root();
    times_out(&root).await;
    cancelled_and_still_serving(&root, &service).await;
    // Calls that answer in time never time out, though the reaper ticks across them.
    for _ in 0..3 {
        assert_eq!(
            guard("a call in time", root.call::<String>("slow", (400,)))
                .await
                .expect("in time"),
            "slept 400"
        );
    }
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_timeout_fails_the_call_and_cancels_it_on_the_server() {
    let service = Arc::new(Stall::default());
    let server = start(Server::shared(service.clone())).await;
    // No connection timeout: only the reference's applies.
    let config = ConnectionConfig::default().call_timeout(None);
    let conn = connect(server.port, VoidService, config).await;
    let root = conn.root().with_timeout(Some(LIMIT));
    times_out(&root).await;
    cancelled_and_still_serving(&root, &service).await;
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_the_timeout_is_dropped() {
    let service = Arc::new(Stall::default());
    // `stall` blocks a thread of the server's own runtime, not one of this test's.
    let server = ServerThread::start(Server::shared(service.clone()));
    let config = ConnectionConfig::default().call_timeout(Some(LIMIT));
    let conn = connect(server.port, VoidService, config).await;
    let root = conn.root();
    let started = Instant::now();
    let e = guard("the timeout", root.call::<String>("stall", (1_600,)))
        .await
        .expect_err("the call times out");
    let waited = started.elapsed();
    assert!(matches!(e, Error::Timeout(d) if d == LIMIT), "{e:?}");
    assert!(waited >= LIMIT && waited < WELL_BEFORE, "after {waited:?}");
    assert_eq!(conn.stats().pending_calls, 0);
    // The server reads this call only once `stall` has returned and its reply is queued: this
    // reply follows the late one on the socket. Had the late reply been taken for this call,
    // the `String` would not decode as an `i64`.
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
    assert_eq!(conn.stats().pending_calls, 0);
    assert!(!conn.is_closed(), "a late reply does not break the connection");
    assert_eq!(
        guard("another call", root.call::<String>("slow", (1,)))
            .await
            .expect("still serving"),
        "slept 1"
    );
    conn.close().await;
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("the server stopped");
}
