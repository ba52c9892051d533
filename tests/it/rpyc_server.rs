//! A server on RPyC's wire over loopback TCP, with the Rust rpyc client: the server's limits
//! speak rpyc too (a full server refuses with a Python exception), an authenticator (of this
//! protocol) cannot be combined with it, and a panic is a Python `RuntimeError` that leaves
//! the server serving.

use std::time::Duration;

use rpc::server::Server;
use rpc::{service, SharedSecret};

struct Svc;

#[service]
impl Svc {
    fn exposed_add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    fn exposed_boom(&self) -> i64 {
        panic!("boom")
    }
}

#[tokio::test]
async fn a_full_rpyc_server_refuses_with_a_python_exception() {
    let bound = Server::new(|| Svc)
        .rpyc()
        .max_connections(1)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = bound.local_addr().expect("addr").port();
    let stop = bound.shutdown_handle();
    let serving = tokio::spawn(bound.serve());
    let first = rpc::rpyc::connect("127.0.0.1", port).await.expect("first client");
    assert_eq!(first.root().call::<i64>("add", (1, 2)).await.expect("add"), 3);
    let second = tokio::time::timeout(Duration::from_secs(10), rpc::rpyc::connect("127.0.0.1", port))
        .await
        .expect("refused in time")
        .expect_err("the server is full");
    let remote = second.as_remote().expect("a Python exception");
    assert_eq!(remote.type_name, "builtins.ConnectionRefusedError", "{remote:?}");
    assert!(remote.message.contains("1"), "names the limit: {remote:?}");
    // A panic is a RuntimeError; the connection and the server go on.
    let boom = first.root().call::<i64>("boom", ()).await.expect_err("panics");
    let boom = boom.as_remote().expect("a Python exception");
    assert_eq!(boom.type_name, "builtins.RuntimeError", "{boom:?}");
    assert!(boom.message.contains("boom"), "{boom:?}");
    assert_eq!(
        first
            .root()
            .call::<i64>("add", (2, 2))
            .await
            .expect("still serving"),
        4
    );
    first.close().await;
    stop.shutdown();
    serving.await.expect("join").expect("served");
}

#[tokio::test]
async fn an_rpyc_server_cannot_take_an_authenticator() {
    let secret = SharedSecret::new(b"0123456789abcdef0123456789abcdef");
    let err = Server::new(|| Svc)
        .rpyc()
        .authenticator(secret)
        .bind("127.0.0.1:0")
        .await
        .err()
        .expect("refused");
    assert!(rpc::error_chain(&err).contains("authenticator"), "{err}");
}
