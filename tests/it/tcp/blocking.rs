//! The blocking facade over loopback TCP, used from plain threads against a server on a tokio
//! runtime of its own: calls, attributes, one-way calls, remote errors, a call the server
//! answers by calling us back, asynchronous results (blocking waits, expiry), a `Dispatcher`
//! that runs the peer's callbacks and result arrivals on the draining thread (and holds the
//! peer's call until it has), and a server that goes away.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rpc::blocking::{self, Dispatcher};
use rpc::server::Server;
use rpc::{service, Callback, Error, RemoteErrorKind, Value};

use super::{run_bounded, ServerThread};
use crate::harness::{ClientService, TestService};

/// Enough for every blocking test body here; a hang fails the test instead.
const BOUND: Duration = Duration::from_secs(20);

#[test]
fn blocking_calls_over_tcp() {
    let service = TestService::default();
    let ticks = service.ticks.clone();
    let server = ServerThread::start(Server::shared(Arc::new(service)));
    let port = server.port;
    run_bounded("the blocking client", BOUND, move || {
        let conn = blocking::connect_with(
            "127.0.0.1",
            port,
            rpc::ConnectOptions::new().service(ClientService),
        )
        .expect("connect");
        assert_eq!(conn.peer_service_name(), "TEST");
        let root = conn.root();
        assert_eq!(root.call::<i64>("test", (11,)).expect("call"), 12);
        assert_eq!(root.call::<String>("greet", ("ada",)).expect("&str"), "hello ada");
        assert_eq!(root.getattr::<i64>("the_real_answer_though").expect("attr"), 43);
        root.setattr("volume", 9u8).expect("set");
        assert_eq!(root.getattr::<u8>("volume").expect("get"), 9);
        assert_eq!(root.describe().expect("describe").name, "TEST");
        // The server calls our service back while this thread blocks in the call.
        assert_eq!(root.call::<i64>("ask_back", (21,)).expect("called back"), 42);
        let e = root.call::<()>("fail", ()).expect_err("fails");
        let r = e.as_remote().expect("a remote error");
        assert_eq!(r.kind, RemoteErrorKind::Application);
        assert_eq!(r.type_name, "it::harness::Failure");
        assert_eq!(r.causes, ["disk on fire"]);
        // One-way: returns at once, runs on the server.
        root.call_oneway("tick", (1,)).expect("queued");
        let mut ticked = false;
        for _ in 0..500 {
            if ticks.load(Ordering::SeqCst) == 1 {
                ticked = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(ticked, "the one-way call ran on the server");

        // Asynchronous results, waited on by blocking this thread.
        let started = Instant::now();
        let res = root.async_::<String>("slow", (300,)).expect("sent");
        assert!(!res.ready());
        assert!(
            res.wait_timeout_blocking(Duration::from_millis(50)).is_none(),
            "still pending after 50 ms"
        );
        assert_eq!(res.wait_blocking().expect("value"), "slept 300");
        assert!(started.elapsed() >= Duration::from_millis(300));
        let res = root
            .async_with_expiry::<String>("slow", (5_000,), Duration::from_millis(100))
            .expect("sent");
        assert!(matches!(res.wait_blocking(), Err(Error::Expired)));
        assert!(res.expired());
        let res = root.async_("test", (1,)).expect("sent");
        let got = res
            .wait_timeout_blocking(Duration::from_secs(5))
            .expect("in time");
        assert!(matches!(got, Ok(Value::Int(2))), "{got:?}");
        assert_eq!(conn.stats().pending_calls, 0);

        conn.close();
        assert!(conn.is_closed());
        let e = root.call::<i64>("test", (1,)).expect_err("closed");
        assert!(e.is_connection_closed(), "{e:?}");
    });
    server.stop();
}

/// Calls the callbacks it is given.
struct Notifier;

#[service]
impl Notifier {
    /// Calls `f` with one tuple argument (a struct-like argument; dispatcher callbacks also take
    /// several, see `blocking::dispatcher_callbacks_take_what_connection_callbacks_take`).
    async fn exposed_notify(&self, f: Callback, name: String, n: i64, urgent: bool) -> Result<String, Error> {
        f.call(((name, n, urgent),)).await
    }

    fn exposed_test(&self, x: i64) -> i64 {
        x + 1
    }
}

#[test]
fn a_dispatcher_runs_callbacks_and_arrivals_on_the_draining_thread() {
    let server = ServerThread::start(Server::new(|| Notifier));
    let port = server.port;
    run_bounded("the dispatching client", BOUND, move || {
        let conn = blocking::connect("127.0.0.1", port).expect("connect");
        let root = conn.root();
        let dispatcher = Dispatcher::new();
        let me = std::thread::current().id();
        let ran_here = Arc::new(AtomicUsize::new(0));
        let counter = ran_here.clone();
        let on_ui = dispatcher.callback(move |(name, n, urgent): (String, i64, bool)| {
            if std::thread::current().id() == me {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            format!("{name} {n} {urgent}")
        });
        let pending = root
            .async_::<String>("notify", (on_ui, "job", 7, true))
            .expect("sent");
        // The server's call to our callback waits until this thread runs the dispatcher (by
        // draining it, or by a blocking wait of its own: not a plain sleep).
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !pending.ready(),
            "the callback did not run before the dispatcher was drained"
        );
        assert_eq!(ran_here.load(Ordering::SeqCst), 0);
        let (tx, rx) = mpsc::channel();
        pending.add_callback(dispatcher.deliver(move |outcome| {
            let _ = tx.send((std::thread::current().id(), outcome));
        }));
        let mut delivered = None;
        for _ in 0..500 {
            dispatcher.run_for(Duration::from_millis(10));
            if let Ok(d) = rx.try_recv() {
                delivered = Some(d);
                break;
            }
        }
        let (thread, value) = delivered.expect("delivered within the bound");
        assert_eq!(thread, me, "the arrival ran on this thread");
        assert!(matches!(value, Ok(ref s) if s == "job 7 true"), "{value:?}");
        assert_eq!(
            ran_here.load(Ordering::SeqCst),
            1,
            "the peer's callback ran on this thread"
        );
        // Nothing else is queued.
        assert_eq!(dispatcher.run_pending(), 0);
        conn.close();
    });
    server.stop();
}

#[test]
fn a_server_that_goes_away_fails_blocking_calls() {
    // A call that never ends is cut when the drain timeout runs out.
    let server =
        ServerThread::start(Server::new(TestService::default).drain_timeout(Duration::from_millis(200)));
    let port = server.port;
    let conn = run_bounded("connecting", BOUND, move || {
        blocking::connect("127.0.0.1", port).expect("connect")
    });
    let pending = run_bounded("a call", BOUND, {
        let conn = conn.clone();
        move || {
            assert_eq!(conn.root().call::<i64>("test", (1,)).expect("call"), 2);
            conn.root().async_::<()>("forever", ()).expect("sent")
        }
    });
    server.stop();
    run_bounded("the failures", BOUND, move || {
        let e = pending
            .wait_timeout_blocking(Duration::from_secs(5))
            .expect("failed promptly")
            .expect_err("the server went away");
        assert!(e.is_connection_closed(), "{e:?}");
        let mut closed = false;
        for _ in 0..500 {
            if conn.is_closed() {
                closed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(closed, "the connection saw the server go");
        let e = conn.root().call::<i64>("test", (1,)).expect_err("closed");
        assert!(e.is_connection_closed(), "{e:?}");
    });
}
