//! RPyC's wire inside TLS (Python's `rpyc.ssl_connect`): an rpyc server with a certificate,
//! and the Rust rpyc client trusting its CA.

use rpc::server::Server;
use rpc::ConnectOptions;

use super::{serve, setup, trusting, Whoami};

#[tokio::test]
async fn rpyc_runs_inside_tls() {
    let super::Setup { ca, server_tls } = setup();
    let server = serve(Server::new(|| Whoami).tls(server_tls).rpyc()).await;
    let py = rpc::rpyc::connect_with("127.0.0.1", server.port, ConnectOptions::new().tls(trusting(&ca)))
        .await
        .expect("TLS rpyc connect");
    assert_eq!(py.root().call::<i64>("add", (20, 22)).await.expect("call"), 42);
    py.close().await;
    // Without TLS the server's TLS handshake fails; no call gets through.
    let plain = rpc::rpyc::connect_with(
        "127.0.0.1",
        server.port,
        ConnectOptions::new().configure(|c| c.handshake_timeout = std::time::Duration::from_secs(2)),
    );
    let plain = tokio::time::timeout(std::time::Duration::from_secs(20), plain).await;
    assert!(
        matches!(plain, Ok(Err(_)) | Err(_)),
        "a plain client gets nothing"
    );
    server.stop.shutdown();
}
