//! The servers' process: this binary started again with `--classic-peer DIR`. It serves a
//! classic server confined to `DIR`, a plain `#[service]` server ([`Hops`]) and two raw TCP
//! echo servers, prints their ports on one line, and serves until its stdin closes.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rpc::classic::{ClassicConfig, ClassicService};
use rpc::server::Server;
use rpc::service;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::common::servers::start_raw_server;
use crate::frames::null_frames;
use crate::transfer::bulk_frames;

/// The plain service: a null call, and null calls that take the paths a script call takes.
pub struct Hops {
    handoff: Arc<Handoff>,
}

/// A long-lived thread that answers what it is handed, one request at a time, parked on a
/// condition variable between requests: the hand-off a script request makes to its session's
/// thread (`rpc_classic::engine`), without the script and without the engine's short poll for
/// the answer.
#[derive(Default)]
pub struct Handoff {
    queue: Mutex<VecDeque<oneshot::Sender<()>>>,
    wake: Condvar,
}

impl Handoff {
    /// Starts the thread; it lives as long as the process.
    fn start() -> Arc<Handoff> {
        let handoff = Arc::new(Handoff::default());
        let thread = handoff.clone();
        std::thread::Builder::new()
            .name("bench-handoff".to_owned())
            .spawn(move || loop {
                let mut queue = thread.queue.lock();
                while queue.is_empty() {
                    thread.wake.wait(&mut queue);
                }
                let answer = queue.pop_front();
                drop(queue);
                if let Some(answer) = answer {
                    let _ = answer.send(());
                }
            })
            .expect("hand-off thread");
        handoff
    }

    /// Hands the thread a request and waits for its answer.
    async fn round_trip(&self) {
        let (answer, answered) = oneshot::channel();
        self.queue.lock().push_back(answer);
        self.wake.notify_one();
        answered.await.expect("the hand-off thread answers");
    }
}

#[service]
impl Hops {
    /// Does nothing.
    fn exposed_null(&self) {}

    /// Does nothing, asynchronously: the path of an async method (the request runs as a task
    /// of its own and its reply goes through the connection's writer), as a script call's.
    async fn exposed_null_async(&self) {}

    /// Hands nothing to a long-lived thread and waits for its answer, the task sleeping
    /// meanwhile: the async path plus the two thread wake-ups a script request makes when its
    /// answer does not come within the engine's short poll.
    async fn exposed_null_handoff(&self) {
        self.handoff.round_trip().await;
    }

    /// The length of a (large) byte argument (`Vec<u8>` parameters are taken as bytes).
    fn exposed_size(&self, data: Vec<u8>) -> usize {
        data.len()
    }
}

/// Serves until stdin closes (the child's side).
pub async fn serve(root: PathBuf) {
    let config = ClassicConfig::default().root(root);
    let classic = ClassicService::server(&config)
        .expect("classic server")
        .bind("127.0.0.1:0")
        .await
        .expect("bind classic server");
    let handoff = Handoff::start();
    let hops = Server::new(move || Hops {
        handoff: handoff.clone(),
    })
    .bind("127.0.0.1:0")
    .await
    .expect("bind plain server");
    let raw_null = start_raw_server(null_frames().1).await;
    let raw_bulk = start_raw_server(bulk_frames().1).await;
    println!(
        "{} {} {} {}",
        classic.local_addr().expect("classic address").port(),
        hops.local_addr().expect("plain address").port(),
        raw_null.port(),
        raw_bulk.port()
    );
    let stops = [classic.shutdown_handle(), hops.shutdown_handle()];
    let serving = [tokio::spawn(classic.serve()), tokio::spawn(hops.serve())];
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    for stop in stops {
        stop.shutdown();
    }
    for task in serving {
        task.await.expect("server task").expect("server");
    }
}

/// The servers' process, seen from the client's.
pub struct Peer {
    /// Its process id.
    pub pid: u32,
    /// The classic server's port.
    pub classic: u16,
    /// The plain server's port.
    pub plain: u16,
    /// The raw echo server answering like `null()`.
    pub raw_null: u16,
    /// The raw echo server answering like `size(1 MiB)`.
    pub raw_bulk: u16,
    child: Child,
}

impl Peer {
    /// Starts the servers' process with the classic server confined to `root`.
    pub async fn start(root: &Path) -> Peer {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .arg("--classic-peer")
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the servers' process");
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(30), out.read_line(&mut line))
            .await
            .expect("the servers' process printed its ports within 30 s")
            .expect("ports line");
        let ports: Vec<u16> = line
            .split_whitespace()
            .map(|p| p.parse().expect("a port"))
            .collect();
        let [classic, plain, raw_null, raw_bulk] = ports[..] else {
            panic!("the servers' process printed {line:?}, not 4 ports");
        };
        Peer {
            pid: child.id().expect("running"),
            classic,
            plain,
            raw_null,
            raw_bulk,
            child,
        }
    }

    /// Closes its stdin and waits (bounded) for it to shut its servers down and exit cleanly.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        assert!(
            matches!(status, Ok(Ok(s)) if s.success()),
            "the servers' process ended cleanly: {status:?}"
        );
    }
}
