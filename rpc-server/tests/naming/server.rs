//! A registry server on loopback, for the registry tests (`tests/naming.rs`, `tests/etcd.rs`).

use std::sync::Arc;

use rpc_core::SharedSecret;
use rpc_server::auth::OptionalSecret;
use rpc_server::naming::RegistryService;
use rpc_server::{Server, ShutdownHandle};

/// A registry server on 127.0.0.1 (on `port`, or a free one); its port and its stop handle.
pub async fn start(
    service: RegistryService,
    port: u16,
    secret: Option<SharedSecret>,
) -> (u16, ShutdownHandle) {
    let mut server = Server::shared(Arc::new(service));
    if let Some(secret) = secret {
        server = server.authenticator(OptionalSecret(secret));
    }
    let bound = server.bind(("127.0.0.1", port)).await.expect("bind");
    let port = bound.local_addr().expect("addr").port();
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());
    (port, stop)
}
