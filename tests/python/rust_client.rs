//! Rust calls a Python rpyc server (rpyc's own ThreadedServer with `scripts/service.py`):
//! `rpc::rpyc::connect`, calls by name, a Rust closure Python calls back, netrefs to Python
//! objects, errors as Python raised them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rpc::NetRef;

use super::baseline::python_server;

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn rust_calls_a_python_rpyc_server() {
    let (_server, port) = python_server().await;
    let py = rpc::rpyc::connect("127.0.0.1", port).await.expect("connect");
    let n: i64 = py.root().call("test", (11,)).await.expect("test");
    assert_eq!(n, 12);
    let answer: i64 = py
        .root()
        .getattr("the_real_answer_though")
        .await
        .expect("attribute");
    assert_eq!(answer, 43);

    let cube = py.callback(|x: i64| x * x * x);
    let cubes: Vec<i64> = py.root().call("map", (cube, (1, 2, 3))).await.expect("map");
    assert_eq!(cubes, [1, 8, 27]);

    let notes: NetRef = py.root().call("open", ("notes",)).await.expect("open");
    let written: i64 = notes.call("write", ("hi",)).await.expect("write");
    assert_eq!(written, 2);
    assert!(notes.display().await.expect("str").contains("notes"));

    let err = py.root().call::<()>("fail", ()).await.expect_err("fail raises");
    let remote = err.as_remote().expect("a remote error");
    assert_eq!(remote.type_name, "builtins.ValueError");
    assert_eq!(remote.message, "bad value");

    let slow = rpc::async_(py.root(), "slow");
    let (a, b) = (
        slow.call::<String>((200,)).expect("sent"),
        slow.call::<String>((200,)).expect("sent"),
    );
    let both = tokio::time::timeout(Duration::from_secs(10), futures::future::join(a, b)).await;
    let (a, b) = both.expect("in time");
    assert_eq!(a.expect("slow"), "slept 200 ms");
    assert_eq!(b.expect("slow"), "slept 200 ms");

    drop(notes);
    py.close().await;
}

/// Polls the Python server's count of live `Notes` objects until it is `want`, for at most
/// 10 s (the release of a dropped netref travels in the background).
async fn alive_notes_reach(root: &NetRef, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: i64 = root.call("alive_notes", ()).await.expect("alive_notes");
        if alive == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{alive} Notes alive in Python, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (at most 10 s) until the Rust side holds `want` proxies of Python objects: a
/// transient one (a bound method fetched for a call) is released in the background.
async fn imports_reach(py: &rpc::rpyc::Client, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = py.connection().stats();
        if stats.imported_objects == want {
            return;
        }
        assert!(Instant::now() < deadline, "expected {want} imports: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn a_netref_dropped_in_rust_frees_the_python_object() {
    let (_server, port) = python_server().await;
    let py = rpc::rpyc::connect("127.0.0.1", port).await.expect("connect");
    let root = py.root();
    alive_notes_reach(root, 0).await;
    // On this wire the root is a proxy like any other (rpyc's GETROOT), and is counted.
    let base = py.connection().stats().imported_objects;
    let a: NetRef = root.call("open", ("a",)).await.expect("open");
    let b: NetRef = root.call("open", ("b",)).await.expect("open");
    let _: i64 = a.call("write", ("x",)).await.expect("write");
    alive_notes_reach(root, 2).await;
    imports_reach(&py, base + 2).await;
    // A clone is the same proxy: dropping one of two handles releases nothing.
    let a2 = a.clone();
    drop(a);
    let read: String = a2.call("read", ()).await.expect("still usable");
    assert_eq!(read, "x");
    drop(a2);
    alive_notes_reach(root, 1).await;
    drop(b);
    alive_notes_reach(root, 0).await;
    imports_reach(&py, base).await;
    py.close().await;
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn a_python_key_error_arrives_as_builtins_key_error() {
    let (_server, port) = python_server().await;
    let py = rpc::rpyc::connect("127.0.0.1", port).await.expect("connect");
    let found: i64 = py.root().call("lookup", ("known",)).await.expect("lookup");
    assert_eq!(found, 1);
    let err = py
        .root()
        .call::<i64>("lookup", ("missing",))
        .await
        .expect_err("a KeyError");
    let remote = err.as_remote().expect("a remote error");
    assert_eq!(remote.type_name, "builtins.KeyError", "{remote:?}");
    assert!(remote.message.contains("missing"), "{remote:?}");
    // The connection goes on.
    let n: i64 = py.root().call("test", (1,)).await.expect("test");
    assert_eq!(n, 2);
    py.close().await;
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn a_rust_callback_is_called_concurrently_from_python_threads() {
    const THREADS: usize = 6;
    let (_server, port) = python_server().await;
    let py = rpc::rpyc::connect("127.0.0.1", port).await.expect("connect");
    // Each call waits until all THREADS calls are running at once on this side: calls made one
    // after another would time out here and answer -1.
    let barrier = Arc::new(tokio::sync::Barrier::new(THREADS));
    let square = py.callback(move |i: i64| {
        let barrier = barrier.clone();
        async move {
            match tokio::time::timeout(Duration::from_secs(10), barrier.wait()).await {
                Ok(_) => i * i,
                Err(_) => -1,
            }
        }
    });
    let squares: Vec<i64> = tokio::time::timeout(
        Duration::from_secs(30),
        py.root().call("call_from_threads", (square, THREADS)),
    )
    .await
    .expect("in time")
    .expect("call_from_threads");
    let want: Vec<i64> = (0..THREADS as i64).map(|i| i * i).collect();
    assert_eq!(squares, want);
    py.close().await;
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn python_calls_a_stored_rust_callback_later() {
    let (_server, port) = python_server().await;
    let py = rpc::rpyc::connect("127.0.0.1", port).await.expect("connect");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let on_event = py.callback(move |what: String| {
        let _ = tx.send(what);
    });
    let () = py.root().call("store", (on_event,)).await.expect("store");
    // `store` has returned; Python calls the callback from its own thread 100 ms later.
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the stored callback was called in time")
        .expect("a value");
    assert_eq!(got, "event");
    py.close().await;
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn python_containers_returned_by_reference_are_fetched_on_request() {
    let (_server, port) = python_server().await;
    let py = rpc::rpyc::connect("127.0.0.1", port).await.expect("connect");
    // A tuple of a list and a dict: the tuple by value, its items as netrefs.
    let (list, dict): (NetRef, NetRef) = py.root().call("listing", ()).await.expect("listing");
    let items: (String, String, Vec<String>) = rpc::rpyc::fetch(&list).await.expect("the list");
    assert_eq!(items, ("a".into(), "b".into(), vec!["c".to_owned()]));
    let map: std::collections::BTreeMap<String, i64> = rpc::rpyc::fetch(&dict).await.expect("the dict");
    assert_eq!(
        map.into_iter().collect::<Vec<_>>(),
        [("x".to_owned(), 1), ("y".to_owned(), 2)]
    );
    drop((list, dict));
    py.close().await;
}
