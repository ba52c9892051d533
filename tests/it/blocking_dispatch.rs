//! Issue 11, item 1: a blocking wait made on a `Dispatcher`'s thread runs the dispatcher's
//! queue, as RPyC serves callbacks on the waiting thread — the `map` scenario, nesting to any
//! depth (in memory and over loopback TCP), `wait_blocking` — and a wait on another thread
//! that times out says that callbacks for a dispatcher were waiting undelivered.
//!
//! Each test runs on a thread of its own under a bound (`run_bounded`): that thread owns the
//! dispatcher, and a hang fails the test instead of hanging it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rpc::blocking::{self, Dispatcher};
use rpc::server::Server;
use rpc::{Callback, ConnectionConfig, Error, VoidService};

use crate::callbacks::EventHub;
use crate::tcp::{run_bounded, ServerThread};

const BOUND: Duration = Duration::from_secs(20);

/// A blocking client and an `EventHub` server in memory (the connect functions are called
/// only here and in the TCP tests).
fn hub_pair() -> (blocking::Connection, blocking::Connection) {
    blocking::memory_pair(VoidService, EventHub::default()).expect("pair")
}

/// Records the threads a callback ran on.
#[derive(Clone, Default)]
struct Threads(Arc<Mutex<Vec<ThreadId>>>);

impl Threads {
    fn here(&self) {
        self.0.lock().push(std::thread::current().id());
    }

    /// Asserts that `n` callbacks ran, all on this thread.
    fn all_here(&self, n: usize) {
        let me = std::thread::current().id();
        let ran = self.0.lock().clone();
        assert_eq!(ran.len(), n, "{ran:?}");
        assert!(ran.iter().all(|t| *t == me), "ran on {ran:?}, not only on {me:?}");
    }
}

/// A square callback for `dispatcher`, recording its thread.
fn square(dispatcher: &Dispatcher, threads: &Threads) -> Callback {
    let threads = threads.clone();
    dispatcher.callback(move |x: i64| {
        threads.here();
        x * x
    })
}

#[test]
fn a_blocking_call_on_the_dispatchers_thread_runs_its_callbacks() {
    run_bounded("the map scenario", BOUND, || {
        // Made first: connecting is a blocking wait on the dispatcher's thread too.
        let dispatcher = Dispatcher::new();
        let (client, _server) = hub_pair();
        let threads = Threads::default();
        let squares: Vec<i64> = client
            .root()
            .call("map", (square(&dispatcher, &threads), vec![1, 2, 3]))
            .expect("map serves the callbacks while it waits");
        assert_eq!(squares, [1, 4, 9]);
        threads.all_here(3);
        assert_eq!(dispatcher.run_pending(), 0, "nothing was left queued");
    });
}

/// Dispatcher thread → server → dispatcher callback → server → dispatcher callback → … four
/// callbacks deep (the server's `ping(f, n)` calls `f(n - 1)` and adds one; our callback calls
/// `ping` again), each running on the dispatcher's thread inside the blocking call of the one
/// before.
fn nest(root: &blocking::NetRef) {
    const DEPTH: u32 = 4;
    let dispatcher = Dispatcher::new();
    let threads = Threads::default();
    let active = Arc::new(AtomicUsize::new(0));
    let deepest = Arc::new(AtomicUsize::new(0));
    let cb = {
        let (active, deepest, threads, root) =
            (active.clone(), deepest.clone(), threads.clone(), root.clone());
        // The callback gets itself first, and passes itself on at each level.
        dispatcher.recursive_callback(move |me: Callback, n: u32| -> Result<u32, Error> {
            threads.here();
            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
            deepest.fetch_max(now, Ordering::SeqCst);
            let below = root.call("ping", (me, n));
            active.fetch_sub(1, Ordering::SeqCst);
            below
        })
    };
    let levels: u32 = root.call("ping", (cb, DEPTH)).expect("the nested calls answer");
    assert_eq!(levels, DEPTH);
    assert_eq!(
        deepest.load(Ordering::SeqCst),
        DEPTH as usize,
        "each callback ran inside the call of the one before"
    );
    threads.all_here(DEPTH as usize);
}

#[test]
fn callbacks_on_the_dispatchers_thread_nest_blocking_calls_in_memory() {
    run_bounded("nesting in memory", BOUND, || {
        let (client, _server) = hub_pair();
        nest(&client.root());
    });
}

#[test]
fn callbacks_on_the_dispatchers_thread_nest_blocking_calls_over_tcp() {
    let server = ServerThread::start(Server::new(EventHub::default));
    let port = server.port;
    run_bounded("nesting over TCP", BOUND, move || {
        let conn = blocking::connect("127.0.0.1", port).expect("connect over loopback TCP");
        nest(&conn.root());
        conn.close();
    });
    server.stop();
}

#[test]
fn waiting_on_an_async_result_on_the_dispatchers_thread_runs_its_callbacks() {
    run_bounded("wait_blocking", BOUND, || {
        let (client, _server) = hub_pair();
        let dispatcher = Dispatcher::new();
        let threads = Threads::default();
        let root = client.root();
        let res = root
            .async_::<Vec<i64>>("map", (square(&dispatcher, &threads), vec![1, 2, 3]))
            .expect("sent");
        let squares = res.wait_blocking().expect("served while waiting");
        assert_eq!(squares, [1, 4, 9]);
        threads.all_here(3);
        // With a limit too.
        let res = root
            .async_::<Vec<i64>>("map", (square(&dispatcher, &threads), vec![4]))
            .expect("sent");
        let squares = res
            .wait_timeout_blocking(Duration::from_secs(20))
            .expect("settled in time")
            .expect("served while waiting");
        assert_eq!(squares, [16]);
        threads.all_here(4);
    });
}

#[test]
fn a_timeout_on_another_thread_says_that_callbacks_waited_undelivered() {
    const LIMIT: Duration = Duration::from_millis(500);
    let server = ServerThread::start(Server::new(EventHub::default));
    let port = server.port;
    run_bounded("the undelivered callbacks", BOUND, move || {
        let config = ConnectionConfig::default().call_timeout(Some(LIMIT));
        let conn =
            blocking::connect_with("127.0.0.1", port, config.into()).expect("connect over loopback TCP");
        // This thread owns the dispatcher and does not run it: it only joins the caller.
        let dispatcher = Dispatcher::new();
        let threads = Threads::default();
        let cb = square(&dispatcher, &threads);
        let root = conn.root();
        let caller = std::thread::spawn(move || {
            let started = Instant::now();
            let e = root
                .call::<Vec<i64>>("map", (cb, vec![5]))
                .expect_err("nobody runs the dispatcher");
            (e, started.elapsed())
        });
        let (e, waited) = caller.join().expect("the caller ended");
        assert!(waited >= LIMIT, "{waited:?}");
        assert!(e.is_timeout(), "{e:?}");
        match &e {
            Error::TimeoutUndelivered { limit, callbacks, .. } => {
                assert_eq!(*limit, LIMIT);
                assert!(*callbacks >= 1, "{e:?}");
            }
            other => panic!("expected a timeout naming the undelivered callbacks, got {other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains("timed out") && text.contains("undelivered") && text.contains("Dispatcher"),
            "{text}"
        );
        // The callback is still queued; running it now is harmless (its call is gone).
        assert_eq!(dispatcher.run_pending(), 1);
        threads.all_here(1);
        conn.close();
    });
    server.stop();
}
