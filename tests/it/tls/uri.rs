//! `rpc+tls://` URIs: a TLS server names itself so, and a client with TLS settings reaches its
//! root and its published objects through them.

use rpc::server::Server;
use rpc::transport::lookup_direct;
use rpc::{ConnectOptions, Object, Scheme};

use super::{guard, setup, trusting, Setup, Whoami};

#[tokio::test]
async fn rpc_tls_uris_reach_the_root_and_published_objects() {
    let Setup { ca, server_tls } = setup();
    let bound = Server::new(|| Whoami)
        .tls(server_tls)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    bound.publish("adder", Object::new(Whoami)).expect("publish");
    let uri = bound.uri();
    let port = bound.local_addr().expect("addr").port();
    assert_eq!(uri.scheme(), Scheme::RpcTls);
    assert_eq!(uri.to_string(), format!("rpc+tls://127.0.0.1:{port}"));
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());

    let options = || ConnectOptions::new().tls(trusting(&ca));
    let root = guard("root over TLS", lookup_direct(&uri, options()))
        .await
        .expect("root");
    assert_eq!(root.call::<i64>("add", (1, 2)).await.expect("call"), 3);
    let named = uri.with_object("adder").expect("name");
    let adder = guard("lookup over TLS", lookup_direct(&named, options()))
        .await
        .expect("lookup");
    assert_eq!(adder.call::<i64>("add", (20, 22)).await.expect("call"), 42);
    assert!(adder
        .connection()
        .credentials()
        .is_some_and(|c| c.certificate.is_some()));

    let err = lookup_direct(&named, ConnectOptions::new())
        .await
        .expect_err("no TLS settings");
    assert!(err.to_string().contains("ConnectOptions::tls"), "{err}");
    stop.shutdown();
}
