//! The blocking facade, the dispatcher, and the child-process transport.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rpc::blocking::{self, Dispatcher};
use rpc::{service, Callback, Error};

use crate::harness::{ClientService, TestService};

/// Starts a server sharing `service` on its own runtime thread; returns its port and a stopper.
fn server_thread(
    service: Arc<TestService>,
) -> (u16, rpc::server::ShutdownHandle, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let bound = rpc::server::Server::shared(service)
                .bind("127.0.0.1:0")
                .await
                .expect("bind");
            let port = bound.local_addr().expect("addr").port();
            tx.send((port, bound.shutdown_handle())).expect("report");
            bound.serve().await.expect("serve");
        });
    });
    let (port, stop) = rx.recv().expect("server started");
    (port, stop, thread)
}

#[test]
fn blocking_calls_attributes_and_async_results() {
    let service = Arc::new(TestService::default());
    let (port, stop, thread) = server_thread(service.clone());
    let conn = blocking::connect_with(
        "127.0.0.1",
        port,
        rpc::ConnectOptions::new().service(ClientService),
    )
    .expect("connect");
    let root = conn.root();
    assert_eq!(root.call::<i64>("test", (11,)).expect("call"), 12);
    assert_eq!(root.getattr::<i64>("the_real_answer_though").expect("attr"), 43);
    root.setattr("volume", 3u8).expect("set");
    assert_eq!(root.getattr::<u8>("volume").expect("get"), 3);
    // The server calls our service back while we block: served in the background at once.
    assert_eq!(root.call::<i64>("ask_back", (21,)).expect("callback"), 42);
    // Held on the server until released: not ready before, ready after.
    let res = root.async_::<i64>("gated", (50,)).expect("sent");
    assert!(!res.ready());
    assert!(res.wait_timeout_blocking(Duration::from_millis(20)).is_none());
    assert!(!res.ready());
    service.release.raise();
    let value = res
        .wait_timeout_blocking(Duration::from_secs(5))
        .expect("the released call answers");
    assert_eq!(value.expect("value"), 50);
    let res = root
        .async_with_expiry::<String>("slow", (10_000,), Duration::from_millis(50))
        .expect("sent");
    assert!(matches!(res.wait_blocking(), Err(Error::Expired)));
    let e = root.call::<String>("get_question", ()).expect_err("not exposed");
    assert!(e.to_string().contains("not exposed"), "{e}");
    conn.close();
    assert!(conn.is_closed());
    stop.shutdown();
    thread.join().expect("server thread");
}

/// A server that calls the callback it is given.
struct Caller;

#[service]
impl Caller {
    async fn exposed_call_it(&self, f: Callback, x: i64) -> Result<i64, Error> {
        f.call((x,)).await
    }

    /// Calls `f` with three arguments, then `g` with none.
    async fn exposed_call_three(&self, f: Callback, g: Callback) -> Result<String, Error> {
        let sum: i64 = f.call((1, 2, "three")).await?;
        let tail: String = g.call(()).await?;
        Ok(format!("{sum} {tail}"))
    }
}

/// Drains `dispatcher` on this thread until `rx` has something, within a bound.
fn drain_until<T>(dispatcher: &Dispatcher, rx: &mpsc::Receiver<T>) -> T {
    for _ in 0..500 {
        dispatcher.run_for(Duration::from_millis(10));
        if let Ok(v) = rx.try_recv() {
            return v;
        }
    }
    panic!("nothing arrived within 5 s");
}

#[test]
fn dispatcher_callbacks_take_what_connection_callbacks_take() {
    let (client, _server) = blocking::memory_pair(rpc::VoidService, Caller).expect("pair");
    let dispatcher = Dispatcher::new();
    let me = std::thread::current().id();
    // Any arity, no Clone needed, a value or a Result.
    let label = String::from("here");
    let three = dispatcher.callback(move |a: i64, b: i64, c: String| -> Result<i64, std::io::Error> {
        assert_eq!(std::thread::current().id(), me, "runs on the draining thread");
        Ok(a + b + c.len() as i64)
    });
    let none = dispatcher.callback(move || label.clone());
    let res = client
        .root()
        .async_::<String>("call_three", (three, none))
        .expect("sent");
    let (tx, rx) = mpsc::channel();
    res.add_callback(dispatcher.deliver(move |outcome| {
        let _ = tx.send(outcome);
    }));
    let value = drain_until(&dispatcher, &rx);
    assert!(matches!(&value, Ok(s) if s == "8 here"), "{value:?}");
    // A panic answers the peer with a panic error; the draining thread goes on.
    let boom = dispatcher.callback(|x: i64| -> i64 { panic!("boom {x}") });
    let res = client.root().async_::<i64>("call_it", (boom, 1)).expect("sent");
    let (tx, rx) = mpsc::channel();
    res.add_callback(dispatcher.deliver(move |outcome| {
        let _ = tx.send(outcome);
    }));
    match drain_until(&dispatcher, &rx) {
        Err(Error::Remote(e)) => assert!(e.message.contains("boom 1"), "{}", e.message),
        other => panic!("expected the callback's panic as a remote error, got {other:?}"),
    }
}

#[test]
fn callbacks_can_be_delivered_to_a_chosen_thread() {
    let (client, _server) = blocking::memory_pair(rpc::VoidService, Caller).expect("pair");
    let root = client.root();
    // A plain callback runs on the background runtime.
    let plain = client.callback(|x: i64| x + 1);
    assert_eq!(root.call::<i64>("call_it", (plain, 1)).expect("plain"), 2);

    // A dispatcher callback runs on the thread that drains the dispatcher: this one.
    let dispatcher = Dispatcher::new();
    let me = std::thread::current().id();
    let ran_here = Arc::new(AtomicUsize::new(0));
    let counter = ran_here.clone();
    let on_ui = dispatcher.callback(move |x: i64| {
        if std::thread::current().id() == me {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        x * 10
    });
    let pending = root.async_::<i64>("call_it", (on_ui, 4)).expect("sent");
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
    assert_eq!(thread, me, "the arrival callback ran on this thread");
    assert!(matches!(value, Ok(40)), "{value:?}");
    assert_eq!(
        ran_here.load(Ordering::SeqCst),
        1,
        "the peer's callback ran on this thread"
    );
}

/// Through `cat`, a connection talks to itself: our requests come back as requests to our own
/// service, and our replies come back as replies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_process_carries_a_connection() {
    let cat = tokio::process::Command::new("cat");
    let conn = rpc::connect_subproc(cat, rpc::ConnectOptions::new().service(TestService::default()))
        .await
        .expect("spawn");
    assert_eq!(conn.peer_service_name(), "TEST");
    assert_eq!(
        conn.root()
            .call::<i64>("test", (1,))
            .await
            .expect("round trip through cat"),
        2
    );
    let data = vec![9u8; 1 << 20];
    assert_eq!(
        conn.root()
            .call::<usize>("len", (data,))
            .await
            .expect("1 MiB through a pipe"),
        1 << 20
    );
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_exits_fails_pending_calls_and_closing_ends_the_child() {
    let mut short_lived = tokio::process::Command::new("timeout");
    short_lived.args(["1", "cat"]);
    let conn = rpc::connect_subproc(
        short_lived,
        rpc::ConnectOptions::new().service(TestService::default()),
    )
    .await
    .expect("spawn");
    let e = tokio::time::timeout(Duration::from_secs(10), conn.root().call::<()>("forever", ()))
        .await
        .expect("failed promptly once the child was gone")
        .expect_err("the child exited");
    assert!(e.is_connection_closed(), "{e:?}");

    let marker = std::env::temp_dir().join(format!("rpc-subproc-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let mut sh = tokio::process::Command::new("sh");
    sh.arg("-c").arg(format!("cat; touch '{}'", marker.display()));
    let conn = rpc::connect_subproc(sh, rpc::ConnectOptions::new().service(TestService::default()))
        .await
        .expect("spawn");
    assert_eq!(conn.root().call::<i64>("test", (1,)).await.expect("call"), 2);
    conn.close().await;
    let mut ended = false;
    for _ in 0..500 {
        if marker.exists() {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = std::fs::remove_file(&marker);
    assert!(
        ended,
        "closing the connection ended the child's input, and it finished"
    );
}

/// Hands out a callable object.
struct Adders;

#[service]
impl Adders {
    fn exposed_adder(&self, n: i64) -> Callback {
        Callback::new(move |x: i64| x + n)
    }
}

#[test]
fn a_blocking_reference_presents_its_object_calls_it_and_takes_its_own_timeout() {
    let (client, _server) = blocking::memory_pair(rpc::VoidService, TestService::default()).expect("pair");
    let root = client.root();
    assert_eq!(root.display().expect("display"), "<TEST service>");
    assert_eq!(root.repr().expect("repr"), "<TEST object>");
    // A reference with its own timeout, shorter than the connection's.
    let e = root
        .with_timeout(Some(Duration::from_millis(50)))
        .call::<String>("slow", (5_000,))
        .expect_err("times out");
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(
        root.call::<String>("slow", (1,)).expect("the plain reference"),
        "slept 1"
    );
    // A callable object of the peer, called itself.
    let (client, _server) = blocking::memory_pair(rpc::VoidService, Adders).expect("pair");
    let add_two = client.root().call::<rpc::NetRef>("adder", (2,)).expect("adder");
    let add_two = client.root().from_async(add_two);
    assert_eq!(add_two.call_self::<i64>((40,)).expect("called"), 42);
}
