//! Runs the Python client (`benches/python/rpyc_client.py`) against one server: its probe,
//! or one measuring run (a fresh connection), sampling the server's CPU time around each
//! timed loop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::rss::cpu_ms;
use crate::Plan;

/// The client script.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/rpyc_client.py");

/// No client run may take longer; a hang fails the bench instead of stalling it.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// One row of one run, as the client timed it (seconds) and the server's CPU time over it.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// Timed operations (calls; batches of 64 for `async64`).
    pub n: f64,
    /// Wall time of the timed loop.
    pub wall: f64,
    /// The client's own CPU time over the loop (`time.process_time()`).
    pub cpu: f64,
    /// Median of one operation.
    pub p50: f64,
    /// 99th percentile of one operation.
    pub p99: f64,
    /// The server process's CPU time over the loop (`/proc/PID/stat`, 10 ms ticks), seconds.
    pub server_cpu: f64,
}

/// Runs the probe against `addr`: every method answers right (the script exits non-zero
/// otherwise); returns the bytes of a pre-fetched `null()` call's request and reply.
pub async fn probe(python: &Path, addr: SocketAddr) -> (usize, usize) {
    let out = Command::new(python)
        .arg(SCRIPT)
        .arg(addr.port().to_string())
        .arg("probe")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(RUN_LIMIT, out)
        .await
        .expect("the probe hung")
        .expect("run the probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the probe against {addr} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let frames = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FRAMES "))
        .expect("the probe printed its frame sizes");
    let sizes: Vec<usize> = frames
        .split_whitespace()
        .map(|s| s.parse().expect("a size"))
        .collect();
    assert_eq!(sizes.len(), 2, "two sizes: {frames}");
    (sizes[0], sizes[1])
}

/// One measuring run against `addr` (server process `server_pid`, `"self"` for this one):
/// each row's figures by name.
pub async fn measure(
    python: &Path,
    addr: SocketAddr,
    plan: &Plan,
    server_pid: &str,
) -> BTreeMap<String, Timed> {
    tokio::time::timeout(RUN_LIMIT, measure_unbounded(python, addr, plan, server_pid))
        .await
        .unwrap_or_else(|_| panic!("a client run against {addr} took over {RUN_LIMIT:?}"))
}

async fn measure_unbounded(
    python: &Path,
    addr: SocketAddr,
    plan: &Plan,
    server_pid: &str,
) -> BTreeMap<String, Timed> {
    let counts = [plan.nulls, plan.batches, plan.bulks, plan.callbacks, plan.warmup];
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .arg(addr.port().to_string())
        .arg("measure")
        .args(counts.iter().map(|c| c.to_string()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python client");
    let mut stdin = child.stdin.take().expect("its stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
    let mut rows = BTreeMap::new();
    let mut cpu_before = 0;
    while let Some(line) = lines.next_line().await.expect("read the client") {
        if line.starts_with("ROW ") {
            cpu_before = cpu_ms(server_pid);
            stdin.write_all(b"go\n").await.expect("tell the client to go");
            stdin.flush().await.expect("flush");
        } else if let Some(done) = line.strip_prefix("DONE ") {
            let server_cpu = (cpu_ms(server_pid) - cpu_before) as f64 / 1e3;
            let (name, timed) = parse_done(done, server_cpu);
            rows.insert(name, timed);
        } else {
            panic!("the client said {line:?}");
        }
    }
    let status = child.wait().await.expect("wait for the client");
    assert!(status.success(), "the client against {addr} failed ({status})");
    rows
}

/// `NAME n=.. wall=.. cpu=.. p50=.. p99=..`.
fn parse_done(done: &str, server_cpu: f64) -> (String, Timed) {
    let mut words = done.split_whitespace();
    let name = words.next().expect("a row name").to_owned();
    let fields: BTreeMap<&str, f64> = words
        .map(|w| {
            let (k, v) = w.split_once('=').expect("key=value");
            (k, v.parse().expect("a number"))
        })
        .collect();
    let field = |k: &str| *fields.get(k).unwrap_or_else(|| panic!("{k} in {done:?}"));
    let timed = Timed {
        n: field("n"),
        wall: field("wall"),
        cpu: field("cpu"),
        p50: field("p50"),
        p99: field("p99"),
        server_cpu,
    };
    (name, timed)
}
