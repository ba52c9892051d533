//! Asynchronous results, cancellation, one-way and batched calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rpc::core::protocol::{Message, Op, FLAG_ONEWAY, ROOT_ID};
use rpc::{
    async_, service, timed, AsyncResult, Batch, ConnectionConfig, Error, RemoteErrorKind, VoidService,
};
use tokio::io::AsyncWriteExt;

use crate::harness::{eventually, void_pair, Signal, TestService, Transport, TRANSPORTS};
use crate::raw::{frame_of, guard, hand_driven, hand_driven_with, int_arg, read_message, request};

#[tokio::test(start_paused = true)]
async fn an_async_result_is_pending_then_ready() {
    let p = void_pair(Transport::Memory).await;
    let slow = async_(&p.client.root(), "slow");
    // The result type is named once, at the call; callbacks get the typed outcome.
    let res = slow.call::<String>((2_000,)).expect("sent");
    assert!(!res.ready() && !res.expired() && res.error().is_none());
    assert!(res.value().is_none());
    assert_eq!(res.to_string(), "<AsyncResult pending>");
    let (tx, rx) = tokio::sync::oneshot::channel();
    res.add_callback(move |outcome: rpc::Result<String>| {
        let _ = tx.send(outcome.expect("a value"));
    });
    assert_eq!(rx.await.expect("callback ran"), "slept 2000");
    assert!(res.ready() && res.error().is_none());
    assert_eq!(res.to_string(), "<AsyncResult ready>");
    assert_eq!(res.value().expect("settled").expect("ok"), "slept 2000");
    assert_eq!(res.wait().await.expect("ok"), "slept 2000");
    // The dynamic form is one `typed` away, and a future too.
    let dynamic: AsyncResult<rpc::Value> = res.clone().typed();
    assert_eq!(
        dynamic.value().expect("settled").expect("ok"),
        rpc::Value::Str("slept 2000".into())
    );
    assert_eq!(res.await.expect("a future too"), "slept 2000");
    // A callback added after arrival runs at once.
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    dynamic.add_callback(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn typed_callbacks_get_errors_and_decode_failures() {
    let p = void_pair(Transport::Memory).await;
    let root = p.client.root();
    // A reply of another type settles the typed result with a decode error, for every reader.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let wrong = async_(&root, "test").call::<String>((1,)).expect("sent");
    wrong.add_callback(move |outcome| {
        let _ = tx.send(outcome);
    });
    let e = rx.await.expect("callback ran").expect_err("2 is not a string");
    assert!(matches!(e, Error::Decode(_)), "{e:?}");
    assert!(matches!(wrong.await, Err(Error::Decode(_))));
    // An expiry reaches a callback as `Error::Expired`; each callback gets its own clone.
    let res = async_(&root, "slow")
        .with_expiry(Some(Duration::from_millis(100)))
        .call::<String>((10_000,))
        .expect("sent");
    let seen = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        let seen = seen.clone();
        res.add_callback(move |outcome| seen.lock().push(outcome));
    }
    assert!(matches!(res.wait().await, Err(Error::Expired)));
    let seen = std::mem::take(&mut *seen.lock());
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|o| matches!(o, Err(Error::Expired))), "{seen:?}");
    // The type can also come from how the result is used.
    let n: i64 = async_(&root, "test")
        .call((41,))
        .expect("sent")
        .await
        .expect("inferred");
    assert_eq!(n, 42);
}

#[tokio::test(start_paused = true)]
async fn errors_and_expiry() {
    let p = void_pair(Transport::Memory).await;
    let root = p.client.root();
    let failed = async_(&root, "fail").call::<()>(()).expect("sent");
    let e = failed.wait().await.expect_err("fails");
    assert!(
        matches!(e, Error::Remote(ref r) if r.kind == RemoteErrorKind::Application),
        "{e:?}"
    );
    assert!(failed.ready() && failed.error().is_some());
    assert_eq!(failed.to_string(), "<AsyncResult error>");

    let res = async_(&root, "slow").call::<String>((10_000,)).expect("sent");
    res.set_expiry(Some(Duration::from_millis(500)));
    let e = res.wait().await.expect_err("expires");
    assert!(matches!(e, Error::Expired), "{e:?}");
    assert!(res.expired() && !res.ready());
    assert_eq!(res.to_string(), "<AsyncResult expired>");
    // The late reply is dropped without a trace.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(res.expired());
    assert_eq!(p.client.stats().pending_calls, 0);

    // `set_expiry(None)` removes an expiry; `timed` sets one for every call.
    let res = async_(&root, "slow")
        .with_expiry(Some(Duration::from_millis(10)))
        .call::<String>((100,))
        .expect("sent");
    res.set_expiry(None);
    assert_eq!(res.await.expect("no expiry"), "slept 100");
    let t = timed(&root, Duration::from_millis(50));
    assert!(matches!(
        t.call::<String>("slow", (1_000,)).expect("sent").wait().await,
        Err(Error::Expired)
    ));
    assert_eq!(
        t.call::<String>("slow", (10,))
            .expect("sent")
            .await
            .expect("in time"),
        "slept 10"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_async_results_all_resolve() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let test = async_(&p.client.root(), "test");
        let results: Vec<AsyncResult<i64>> = (0..10_000i64).map(|i| test.call((i,)).expect("sent")).collect();
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.await.expect("resolved"), i as i64 + 1, "{t:?}");
        }
        assert_eq!(p.client.stats().pending_calls, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_async_result_leaves_no_entry() {
    let service = TestService::default();
    let ticks = service.ticks.clone();
    let (client, server) = rpc::memory_pair(VoidService, service).await.expect("pair");
    let res = async_(&client.root(), "tick").call::<()>((50,)).expect("sent");
    assert_eq!(client.stats().pending_calls, 1);
    drop(res);
    eventually("the entry of the dropped result going", || {
        client.stats().pending_calls == 0
    })
    .await;
    // Dropping the result detaches the call; it is not cancelled: it ticks when it ends.
    eventually("the detached call running to its end", || {
        ticks.load(Ordering::SeqCst) == 1
    })
    .await;
    eventually("the server done with it", || server.stats().running_requests == 0).await;
    // ... and with nothing left behind for a `Cancel` to find.
    assert_eq!(server.stats().cancellable_requests, 0);
    assert_eq!(client.root().call::<i64>("test", (1,)).await.expect("alive"), 2);
    assert_eq!(client.stats().pending_calls, 0);
}

/// Counts how many of its calls were dropped (cancelled) before finishing.
#[derive(Default)]
struct Cancellable {
    dropped: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<u32>>>,
    /// Raised by `forever` once it runs.
    started: Signal,
}

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[service]
impl Cancellable {
    async fn exposed_forever(&self) {
        let _guard = CountDrop(self.dropped.clone());
        self.started.raise();
        futures::future::pending::<()>().await
    }

    /// Appends to the log after a delay that makes later calls finish first if they could.
    #[oneway]
    async fn exposed_record(&self, n: u32) {
        tokio::time::sleep(Duration::from_micros(u64::from(100 - n % 100))).await;
        self.log.lock().push(n);
    }

    #[oneway]
    fn exposed_record_sync(&self, n: u32) {
        self.log.lock().push(n);
    }

    fn exposed_log(&self) -> Vec<u32> {
        self.log.lock().clone()
    }

    fn exposed_fail(&self) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("nope"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_pending_call_cancels_it_on_the_server() {
    for t in TRANSPORTS {
        let dropped = Arc::new(AtomicUsize::new(0));
        let started = Signal::default();
        let service = Cancellable {
            dropped: dropped.clone(),
            started: started.clone(),
            ..Default::default()
        };
        let p = crate::harness::pair_with(t, VoidService, service, ConnectionConfig::default()).await;
        let root = p.client.root();
        let call = tokio::spawn(async move { root.call::<()>("forever", ()).await });
        // The method runs on the server before the call is dropped.
        guard("the method starting", started.wait()).await;
        assert_eq!(dropped.load(Ordering::SeqCst), 0);
        call.abort();
        eventually("the server aborting the method", || {
            dropped.load(Ordering::SeqCst) == 1
        })
        .await;
        assert_eq!(p.client.stats().pending_calls, 0, "{t:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_is_cancelled_too() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let service = Cancellable {
        dropped: dropped.clone(),
        ..Default::default()
    };
    let (client, server) = rpc::memory_pair(VoidService, service).await.expect("pair");
    let e = client
        .root()
        .with_timeout(Some(Duration::from_secs(1)))
        .call::<()>("forever", ())
        .await;
    assert!(matches!(e, Err(Error::Timeout(_))), "{e:?}");
    for _ in 0..100 {
        if dropped.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(server.stats().running_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_calls_run_in_send_order() {
    for t in TRANSPORTS {
        let p = crate::harness::pair_with(
            t,
            VoidService,
            Cancellable::default(),
            ConnectionConfig::default(),
        )
        .await;
        let root = p.client.root();
        let typed = CancellableClient::new(root.clone());
        for n in 0..200u32 {
            if n % 2 == 0 {
                root.call_oneway("record", (n,)).expect("queued");
            } else {
                typed.record(n).expect("queued");
            }
        }
        // A one-way failure is only logged on the server; nothing comes back (on the wire:
        // `one_way_requests_get_no_reply_on_the_wire`), and the calls after it still run.
        root.call_oneway("fail", ()).expect("queued");
        root.call_oneway("no_such_method", ()).expect("queued");
        let mut log = Vec::new();
        for _ in 0..500 {
            log = root.call::<Vec<u32>>("log", ()).await.expect("log");
            if log.len() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(log, (0..200).collect::<Vec<_>>(), "{t:?}");
        // A plain call of a #[oneway] method is acknowledged at once.
        root.call::<()>("record_sync", (7u32,))
            .await
            .expect("acknowledged");
    }
}

/// On the wire: the server answers no one-way request (succeeding, failing, panicking, or of an
/// unknown method), even one that shares its sequence number 0 with a plain call running at the
/// same time, as a client's first call does: that call is completed by its own reply only.
#[tokio::test]
async fn one_way_requests_get_no_reply_on_the_wire() {
    let service = TestService::default();
    let (ticks, started, release) = (
        service.ticks.clone(),
        service.started.clone(),
        service.release.clone(),
    );
    let (conn, mut raw) = hand_driven_with(Arc::new(service), ConnectionConfig::default()).await;
    // A plain call with seq 0, held running on the server while the one-way traffic goes by.
    raw.write_all(&request(0, "gated", 0, 1, |o| int_arg(o, 5)))
        .await
        .expect("send");
    guard("the plain call starting", started.wait()).await;
    let one_way = |method: &str, args: &[i64]| {
        request(0, method, FLAG_ONEWAY, args.len() as u64, |o| {
            args.iter().for_each(|&a| int_arg(o, a))
        })
    };
    for frame in [
        one_way("tick", &[0]), // succeeds, in a task
        one_way("test", &[1]), // succeeds at once
        one_way("fail", &[]),
        one_way("boom", &[]),
        one_way("no_such_method", &[]),
    ] {
        raw.write_all(&frame).await.expect("send");
    }
    // A plain call sent after them: the next frame back is its reply, nothing for them.
    raw.write_all(&request(1, "test", 0, 1, |o| int_arg(o, 11)))
        .await
        .expect("send");
    match guard("the reply to call 1", read_message(&mut raw)).await {
        Message::Reply { seq: 1, value } => assert_eq!(value, rpc::Value::Int(12)),
        other => panic!("expected the reply to call 1, got {other:?}"),
    }
    // The one-way call in a task has ended too, without a word; call 0 runs on.
    eventually("the one-way tick ending", || ticks.load(Ordering::SeqCst) == 1).await;
    eventually("only call 0 running", || conn.stats().running_requests == 1).await;
    release.raise();
    match guard("the reply to call 0", read_message(&mut raw)).await {
        Message::Reply { seq: 0, value } => assert_eq!(value, rpc::Value::Int(5)),
        other => panic!("expected the reply to call 0, got {other:?}"),
    }
    raw.write_all(&request(2, "test", 0, 1, |o| int_arg(o, 20)))
        .await
        .expect("send");
    match guard("the reply to call 2", read_message(&mut raw)).await {
        Message::Reply { seq: 2, value } => assert_eq!(value, rpc::Value::Int(21)),
        other => panic!("expected the reply to call 2, got {other:?}"),
    }
    assert!(!conn.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_calls_return_in_order_with_per_call_errors() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let root = p.client.root();
        let mut batch = Batch::new(&p.client);
        for i in 0..100i64 {
            if i == 50 {
                batch.call(&root, "fail", ());
            } else {
                batch.call(&root, "test", (i,));
            }
        }
        assert_eq!(batch.len(), 100);
        let results = batch.send().await.expect("sent");
        assert_eq!(results.len(), 100);
        for i in 0..100i64 {
            if i == 50 {
                assert!(matches!(results.get::<()>(50), Err(Error::Remote(_))), "{t:?}");
            } else {
                assert_eq!(results.get::<i64>(i as usize).expect("ok"), i + 1);
            }
        }
        assert!(results.get::<i64>(100).is_err());
    }
}

#[tokio::test]
async fn a_batch_travels_in_one_frame() {
    // `conn` is a real connection; the raw side sees exactly what it sends.
    let (conn, mut raw) = hand_driven(ConnectionConfig::default()).await;
    let root = conn.root();
    let mut batch = Batch::new(&conn);
    batch
        .call(&root, "a", (1,))
        .call(&root, "b", ())
        .call(&root, "c", ("x",));
    let sending = tokio::spawn(batch.send());
    let Message::Batch(requests) = read_message(&mut raw).await else {
        panic!("expected one batch frame")
    };
    let ops: Vec<_> = requests.iter().map(|r| (r.target, r.op.clone())).collect();
    assert_eq!(
        ops,
        vec![
            (ROOT_ID, Op::Call("a".into())),
            (ROOT_ID, Op::Call("b".into())),
            (ROOT_ID, Op::Call("c".into()))
        ]
    );
    // Answer out of order; the results still come back in call order.
    for (i, r) in requests.iter().enumerate().rev() {
        let reply = Message::Reply {
            seq: r.seq,
            value: rpc::Value::Int(i as i64),
        };
        raw.write_all(&frame_of(&reply)).await.expect("reply");
    }
    let results = sending.await.expect("task").expect("sent");
    let got: Vec<i64> = (0..3).map(|i| results.get(i).expect("ok")).collect();
    assert_eq!(got, vec![0, 1, 2]);
}

/// An async call is a request like any other: it has the connection's call timeout, unless
/// its reference says otherwise.
#[tokio::test(start_paused = true)]
async fn an_async_call_has_the_connections_timeout_unless_its_reference_says_otherwise() {
    let config = ConnectionConfig::default().call_timeout(Some(Duration::from_secs(2)));
    let p = crate::harness::void_pair_with(Transport::Memory, config).await;
    let root = p.client.root();
    let started = tokio::time::Instant::now();
    let res = async_(&root, "forever").call(()).expect("sent");
    // Bounded on the test's own (paused) clock: a broken timeout fails here, not hangs.
    let bounded = |res: AsyncResult| async move {
        tokio::time::timeout(Duration::from_secs(60), res.wait())
            .await
            .expect("settled within a minute")
    };
    let e = bounded(res).await.expect_err("times out");
    assert!(
        matches!(e, Error::Timeout(d) if d == Duration::from_secs(2)),
        "{e:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited <= Duration::from_millis(2_250),
        "{waited:?}"
    );
    // A reference with its own timeout: that is the result's expiry.
    let res = async_(&root.with_timeout(Some(Duration::from_secs(5))), "forever")
        .call(())
        .expect("sent");
    let e = bounded(res).await.expect_err("expires");
    assert!(matches!(e, Error::Expired), "{e:?}");
    // A reference that waits forever: still pending after a minute.
    let res = async_(&root.with_timeout(None), "forever")
        .call::<()>(())
        .expect("sent");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!res.ready() && !res.expired() && res.error().is_none());
}
