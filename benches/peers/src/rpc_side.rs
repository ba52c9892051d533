//! The rpc side: `rpc::server::Server` serving a `#[service]`, and `rpc::connect`.
//!
//! Configuration: everything at its defaults. rpc's wire format is postcard frames with a 4-byte
//! length prefix; `rpc::connect` and the server both set `TCP_NODELAY`. A synchronous method
//! such as `null` runs inline on the server connection's reader task; every call has the default
//! 30 s timeout.

use std::time::{Duration, Instant};

use rpc::server::{Server, ShutdownHandle};
use rpc::{service, Connection, NetRef};
use serde_bytes::ByteBuf;
use tokio::task::JoinHandle;

use crate::placement::on_server_side;

/// The benchmarked service.
pub struct Bench;

#[service]
impl Bench {
    /// Does nothing.
    fn exposed_null(&self) {}

    /// The length of its bytes argument (a `ByteBuf` travels as rpc `Value::Bytes`).
    fn exposed_len(&self, data: ByteBuf) -> u64 {
        data.len() as u64
    }
}

/// An rpc server on `127.0.0.1` and one client connection to it.
pub struct RpcPeer {
    /// The client connection.
    conn: Connection,
    /// Its root object (the server's `Bench`).
    root: NetRef,
    /// Stops the server.
    shutdown: ShutdownHandle,
    /// The serving task.
    serving: JoinHandle<rpc::server::Result<()>>,
}

impl RpcPeer {
    /// Starts the server (where servers run, see `placement`) and connects to it.
    pub async fn start() -> RpcPeer {
        let (port, shutdown, serving) = on_server_side(async {
            let server = Server::new(|| Bench)
                .bind("127.0.0.1:0")
                .await
                .expect("bind rpc server");
            let port = server.local_addr().expect("rpc server address").port();
            (port, server.shutdown_handle(), tokio::spawn(server.serve()))
        })
        .await;
        let conn = rpc::connect("127.0.0.1", port).await.expect("rpc connect");
        let root = conn.root();
        RpcPeer {
            conn,
            root,
            shutdown,
            serving,
        }
    }

    /// One `null()` call.
    pub async fn null(&self) {
        self.root.call::<()>("null", ()).await.expect("rpc null()");
    }

    /// One `len(data)` call. rpc's `call` takes any `Serialize` arguments, so the payload is
    /// passed borrowed (`serde_bytes::Bytes`), with no copy by the caller.
    pub async fn len(&self, data: &[u8]) -> u64 {
        self.root
            .call::<u64>("len", (serde_bytes::Bytes::new(data),))
            .await
            .expect("rpc len()")
    }

    /// `total` `null()` calls from `window` tasks on clones of the root (`total / window` each).
    pub async fn pipelined(&self, total: usize, window: usize) -> Duration {
        let per_task = total / window;
        let start = Instant::now();
        let tasks: Vec<_> = (0..window)
            .map(|_| {
                let root = self.root.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        root.call::<()>("null", ()).await.expect("rpc pipelined null()");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("rpc pipelined task");
        }
        start.elapsed()
    }

    /// Closes the connection and stops the server.
    pub async fn stop(self) {
        drop(self.root);
        self.conn.close().await;
        self.shutdown.shutdown();
        self.serving.await.expect("rpc server task").expect("rpc server");
    }
}
