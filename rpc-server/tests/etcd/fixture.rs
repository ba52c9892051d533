//! An etcd of a test's own: Debian's `etcd` on 127.0.0.1 (client and peer URLs), free ports, a
//! data directory in the temp dir; started and waited for until healthy, killed on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// How long etcd may take to become healthy (it elects itself in ~0.1 s with the settings
/// below; the rest is room for a loaded machine).
const START_WITHIN: Duration = Duration::from_secs(30);

/// One single-member etcd cluster.
pub struct Etcd {
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl Etcd {
    /// Starts one, and waits until it is healthy.
    pub async fn start() -> Etcd {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rpc-etcd-test-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the etcd test directory");
        let (client_port, peer_port) = {
            let a = TcpListener::bind("127.0.0.1:0").expect("a free port");
            let b = TcpListener::bind("127.0.0.1:0").expect("a free port");
            (port(&a), port(&b))
        };
        let mut etcd = Etcd {
            dir,
            client_port,
            peer_port,
            child: None,
        };
        etcd.run().await;
        etcd
    }

    /// Where its clients connect: `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Kills it (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL ends a paused process too.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes it (SIGSTOP): it takes connections and answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets it go on after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("etcd runs").id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    /// Starts it again on the same ports and data, and waits until it is healthy.
    pub async fn restart(&mut self) {
        self.stop();
        self.run().await;
    }

    /// Starts it again on the same ports with its data lost (a new cluster).
    pub async fn restart_empty(&mut self) {
        self.stop();
        std::fs::remove_dir_all(self.dir.join("data")).expect("remove the etcd data");
        self.run().await;
    }

    async fn run(&mut self) {
        let log = std::fs::File::create(self.dir.join("etcd.log")).expect("create the etcd log");
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let spawned = Command::new("etcd")
            .arg("--name=rpc-test")
            .arg(format!("--data-dir={}", self.dir.join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=rpc-test={peer}"))
            .arg("--initial-cluster-state=new")
            // A quick election, and leases as short as 1 s (etcd grants at least 1.5
            // election timeouts, rounded up to whole seconds).
            .arg("--heartbeat-interval=10")
            .arg("--election-timeout=100")
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("`etcd` is not installed (the etcd tests start one): apt-get install etcd-server")
            }
            Err(e) => panic!("starting etcd failed: {e}"),
        };
        self.child = Some(child);
        self.wait_healthy().await;
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("etcd exited with {status} as it started:\n{}", self.log());
            }
            if healthy(self.client_port).await {
                return;
            }
            if Instant::now() > deadline {
                panic!("etcd not healthy within {START_WITHIN:?}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        let path = self.dir.join("etcd.log");
        match std::fs::read_to_string(&path) {
            Ok(log) if !log.trim().is_empty() => log,
            _ => format!("(nothing in {}: is the disk full?)", path.display()),
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn port(listener: &TcpListener) -> u16 {
    listener.local_addr().expect("a bound address").port()
}

/// Whether etcd's `/health` says so (it needs a leader).
async fn healthy(port: u16) -> bool {
    let ask = async {
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        socket
            .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).await?;
        std::io::Result::Ok(String::from_utf8_lossy(&answer).contains("\"health\":\"true\""))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), ask).await,
        Ok(Ok(true))
    )
}
