//! The service both servers serve: in Rust here (`Server::rpyc()`), in Python in
//! `benches/python/rpyc_server.py` (rpyc's ThreadedServer), method for method.

use std::net::SocketAddr;
use std::process::Stdio;

use rpc::serde_bytes::ByteBuf;
use rpc::server::{BoundServer, Server};
use rpc::{service, Callback};
use tokio::process::Child;

/// The bench's service; one per connection.
pub struct BenchService;

#[service]
impl BenchService {
    /// Does nothing: `c.root.null()`.
    fn exposed_null(&self) {}

    /// The length of its bytes argument: `c.root.echo_len(b"x" * 2**20)`.
    fn exposed_echo_len(&self, data: ByteBuf) -> usize {
        data.len()
    }

    /// Calls `f` once with no arguments and answers what it answered: `c.root.call_back(f)`.
    async fn exposed_call_back(&self, f: Callback) -> Result<i64, rpc::Error> {
        f.call(()).await
    }
}

/// Serves `BenchService` to rpyc clients on 127.0.0.1 (a free port), on this process's
/// runtime.
pub async fn rust_server() -> BoundServer {
    Server::new(|| BenchService)
        .rpyc()
        .bind("127.0.0.1:0")
        .await
        .expect("bind the rpyc server")
}

/// The same service on rpyc's ThreadedServer, in a child process (killed when dropped).
pub struct PythonServer {
    /// The process. Its stdin is a pipe held open: the server exits when it closes, so it
    /// does not outlive a bench that is killed.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl PythonServer {
    /// Starts `benches/python/rpyc_server.py` with `python` and waits for its port.
    pub async fn start(python: &std::path::Path) -> PythonServer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/rpyc_server.py");
        let (child, port) = crate::port_child::start(python, script, Stdio::piped(), Stdio::inherit()).await;
        PythonServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Its process id, for `/proc/PID/stat`.
    pub fn pid(&self) -> String {
        self.child.id().expect("the Python server is running").to_string()
    }
}
