//! Rust calls a Python rpyc server (rpyc's own ThreadedServer with `scripts/service.py`):
//! `rpc::rpyc::connect`, calls by name, a Rust closure Python calls back, netrefs to Python
//! objects, errors as Python raised them.

use std::time::Duration;

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
