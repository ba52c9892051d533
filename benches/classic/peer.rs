//! The servers' process: this binary started again with `--classic-peer DIR`. It serves a
//! classic server confined to `DIR`, a plain `#[service]` server ([`Hops`]) and two raw TCP
//! echo servers, prints their ports on one line, and serves until its stdin closes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rpc::classic::engine::MAX_NESTED;
use rpc::classic::{ClassicConfig, ClassicService, ScriptLimits};
use rpc::server::Server;
use rpc::service;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::servers::start_raw_server;
use crate::transfer::{bulk_frames, null_frames};

/// The plain service: a null call, and null calls that make the hops a script call makes.
pub struct Hops;

/// The stack of the thread every evaluation runs on, as `rpc_classic::engine` sizes it for
/// the default limits in a release build (16 KiB per script call level at each nesting level,
/// plus 4 MiB, at least 8 MiB): about 9.6 MiB.
fn script_stack() -> usize {
    let levels = (ScriptLimits::default().max_call_levels + 8) * (MAX_NESTED + 1);
    (levels * (16 << 10) + (4 << 20)).max(8 << 20)
}

#[service]
impl Hops {
    /// Does nothing.
    fn exposed_null(&self) {}

    /// Does nothing on the blocking pool: the `spawn_blocking` hop and nothing else.
    #[blocking]
    fn exposed_null_blocking(&self) {}

    /// On the blocking pool, starts a thread with a script's stack and joins it: the two hops
    /// every `eval`, `execute` and teleported call makes before the script runs.
    #[blocking]
    fn exposed_null_thread(&self) {
        std::thread::scope(|threads| {
            std::thread::Builder::new()
                .name("bench-script".to_owned())
                .stack_size(script_stack())
                .spawn_scoped(threads, || ())
                .expect("script-sized thread")
                .join()
                .expect("script-sized thread ran");
        });
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
    let hops = Server::new(|| Hops)
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
