//! The service both servers serve: in Rust here (`Server::rpyc()`), in Python in
//! `benches/python/rpyc_server.py` (rpyc's ThreadedServer), method for method.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use rpc::serde_bytes::ByteBuf;
use rpc::server::{BoundServer, Server};
use rpc::{service, Callback};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

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
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the Python server");
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the Python server printed no port within 30 s")
            .expect("read its stdout")
            .expect("the Python server exited before listening");
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the Python server said {line:?}, not its port"));
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
