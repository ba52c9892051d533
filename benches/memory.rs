//! Memory benchmarks: heap allocations per call on the steady-state hot path, and the memory
//! an idle connection costs, with 10,000 idle connections held to one server.
//!
//! Run: `cargo bench --bench memory` (a quick run with small counts without `--bench`, as
//! `cargo test --bench memory` and CI run it). Either way the run fails (exit status 1) if a
//! figure the README promises is not met: a null or echo call allocating, a 1 MiB call copying
//! its argument more than once per side, an idle connection over 32 KiB, a hostile connection
//! making the server hold more than its budgets or keeping anything after it is gone.
//!
//! A counting global allocator (`stats_alloc`) sees every allocation of the process: client and
//! server run in this one process over loopback TCP, so "per call" counts both sides. Raw TCP
//! is measured the same way in the same run, as the baseline.

use std::alloc::System;
use std::time::{Duration, Instant};

use peakmem_alloc::PeakMemAlloc;

use rpc::server::Server;
use rpc::service;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counts every allocation (stats_alloc) and tracks the peak of live bytes (peakmem-alloc).
#[global_allocator]
static GLOBAL: PeakMemAlloc<&StatsAlloc<System>> = PeakMemAlloc::new(&INSTRUMENTED_SYSTEM);

#[path = "memory/attacks.rs"]
mod attacks;

/// Bytes allocated and not yet freed, process-wide (stats_alloc counts a reallocation's growth
/// or shrinkage in these two totals too).
fn live_bytes() -> i64 {
    let s = INSTRUMENTED_SYSTEM.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

/// The service: as little work as a call can do.
struct Null;

#[service]
impl Null {
    /// Does nothing.
    fn exposed_null(&self) {}

    /// Returns its argument.
    fn exposed_echo(&self, x: i64) -> i64 {
        x
    }

    /// Returns the length of its argument.
    fn exposed_size(&self, data: Vec<u8>) -> usize {
        data.len()
    }

    /// The same, borrowed (for the typed client's `&[u8]` parameter).
    fn exposed_size_slice(&self, data: &[u8]) -> usize {
        data.len()
    }
}

/// The bulk call's argument: 1 MiB.
const BULK: usize = 1 << 20;

/// The calls measured.
#[derive(Clone, Copy)]
enum Call {
    Null,
    Echo,
    /// `size(data)` with 1 MiB of `serde_bytes::Bytes`, dynamic call.
    Bulk,
    /// `size(data)` with 1 MiB as a plain `&[u8]`, dynamic call (the serializer's byte probe).
    BulkPlain,
    /// `NullClient::size(Vec<u8>)`: the typed client, the caller's `data.to_vec()` included.
    BulkTypedVec,
    /// `NullClient::size_slice(&[u8])`: the typed client copies the slice once.
    BulkTypedSlice,
}

/// Counts sized by `--bench` (full run) or not (smoke run under `cargo test`).
struct Counts {
    calls: u64,
    idle: usize,
    /// Smaller attacks (the same shapes).
    quick: bool,
}

fn counts() -> Counts {
    if std::env::args().any(|a| a == "--bench") {
        Counts {
            calls: 20_000,
            idle: 10_000,
            quick: false,
        }
    } else {
        Counts {
            calls: 2_000,
            idle: 200,
            quick: true,
        }
    }
}

fn main() {
    let counts = counts();
    let idle_server_of = std::env::args().skip_while(|a| a != "--idle-server").nth(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Some(n) = idle_server_of {
        let n: usize = n.parse().expect("--idle-server N");
        rt.block_on(idle_server(n));
        return;
    }
    let run = async move {
        let limit = tokio::time::timeout(Duration::from_secs(300), async {
            allocations_per_call(counts.calls).await;
            attacks::run(counts.quick).await;
            idle_connections(counts.idle).await;
        });
        limit.await.expect("the memory benchmark finished within 300 s");
    };
    rt.block_on(async { tokio::spawn(run).await.expect("benchmark task") });
    let failed = FAILED.lock().expect("failures");
    if !failed.is_empty() {
        eprintln!("\nthe memory benchmark's checks failed:");
        for f in failed.iter() {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

/// The checks that failed: the figures the README promises that do not depend on timing.
static FAILED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Records `what` as a failed check unless `ok`; the run goes on and fails at its end.
fn check(ok: bool, what: String) {
    if !ok {
        eprintln!("CHECK FAILED: {what}");
        FAILED.lock().expect("failures").push(what);
    }
}

/// Heap allocations of the whole process per sequential call, after a warm-up.
async fn allocations_per_call(calls: u64) {
    let server = Server::new(|| Null)
        .max_connections(100_000)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = server.local_addr().expect("addr").port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let conn = rpc::connect("127.0.0.1", port).await.expect("connect");
    let root = conn.root();

    println!("allocations per call (both sides, steady state, {calls} sequential calls)");
    println!(
        "{:<36}{:>12}{:>14}{:>12}",
        "scenario", "allocs/call", "bytes/call", "us/call"
    );
    let data = vec![1u8; BULK];
    for (name, which, calls) in [
        ("null()", Call::Null, calls),
        ("echo(i64)", Call::Echo, calls),
        ("size(1 MiB serde_bytes) dynamic", Call::Bulk, calls / 100),
        ("size(1 MiB &[u8]) dynamic", Call::BulkPlain, calls / 100),
        (
            "size(1 MiB Vec<u8>) typed client",
            Call::BulkTypedVec,
            calls / 100,
        ),
        ("size_slice(1 MiB &[u8]) typed", Call::BulkTypedSlice, calls / 100),
    ] {
        // Warm-up: pools filled, buffers grown, before anything is counted.
        for i in 0..(calls / 10).max(20) {
            call(&root, which, i as i64, &data).await;
        }
        let region = Region::new(&INSTRUMENTED_SYSTEM);
        let started = Instant::now();
        for i in 0..calls {
            call(&root, which, i as i64, &data).await;
        }
        let micros = started.elapsed().as_secs_f64() * 1e6 / calls as f64;
        let stats = region.change();
        let per = |x: usize| x as f64 / calls as f64;
        let bytes = per(stats.bytes_allocated);
        let allocations = stats.allocations + stats.reallocations;
        print!("{name:<36}{:>12.2}{bytes:>14.1}{micros:>12.1}", per(allocations));
        match which {
            // The README's promise: a null call, and a small echo, allocate nothing. (A
            // worker thread met for the first time may still fill its pools once: a handful
            // in a run, not one per call.)
            Call::Null | Call::Echo => check(
                per(allocations) < 0.01,
                format!("{name}: {allocations} allocations in {calls} calls, none per call expected"),
            ),
            _ => {
                // Each copy of the argument lands in a fresh buffer (the reader's is reused).
                print!("  = {:.2} x the argument", bytes / BULK as f64);
                check(
                    bytes <= 2.1 * BULK as f64,
                    format!("{name}: {bytes:.0} bytes allocated per call, one copy per side expected"),
                );
            }
        }
        println!();
    }
    let (raw_allocs, raw_bytes) = raw_ping_pong_allocations(calls).await;
    println!("{:<36}{raw_allocs:>12.2}{raw_bytes:>14.1}", "raw tcp ping-pong");
    let (raw_allocs, raw_bytes, raw_micros) = raw_bulk_allocations(calls / 100).await;
    println!(
        "{:<36}{raw_allocs:>12.2}{raw_bytes:>14.1}{raw_micros:>12.1}",
        "raw tcp 1 MiB -> 8 bytes"
    );
    encode_costs(&data);
    conn.close().await;
    stop.shutdown();
    serving.await.expect("server task").expect("serve");
}

async fn call(root: &rpc::NetRef, which: Call, i: i64, data: &[u8]) {
    match which {
        Call::Null => root.call::<()>("null", ()).await.expect("null"),
        Call::Echo => {
            let x: i64 = root.call("echo", (i,)).await.expect("echo");
            assert_eq!(x, i);
        }
        Call::Bulk => {
            let n: usize = root
                .call("size", (rpc::serde_bytes::Bytes::new(data),))
                .await
                .expect("size");
            assert_eq!(n, data.len());
        }
        Call::BulkPlain => {
            let n: usize = root.call("size", (data,)).await.expect("size");
            assert_eq!(n, data.len());
        }
        Call::BulkTypedVec => {
            let client = NullClient::new(root.clone());
            let n = client.size(data.to_vec()).await.expect("size");
            assert_eq!(n, data.len());
        }
        Call::BulkTypedSlice => {
            let client = NullClient::new(root.clone());
            let n = client.size_slice(data).await.expect("size_slice");
            assert_eq!(n, data.len());
        }
    }
}

/// What turning 1 MiB into a call argument costs the caller, by form (median of 50, no I/O).
fn encode_costs(data: &[u8]) {
    let median = |f: &dyn Fn() -> rpc::Value| {
        let mut times: Vec<f64> = (0..50)
            .map(|_| {
                let t = Instant::now();
                let v = f();
                let e = t.elapsed().as_secs_f64() * 1e6;
                assert!(matches!(v, rpc::Value::Bytes(ref b) if b.len() == data.len()));
                e
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    println!("encoding 1 MiB into a Value (caller side, median us)");
    let plain = median(&|| rpc::to_value(data).expect("plain"));
    let wrapped = median(&|| rpc::to_value(&rpc::serde_bytes::Bytes::new(data)).expect("serde_bytes"));
    let copy = median(&|| rpc::Value::Bytes(data.to_vec()));
    println!("  &[u8] through serde (byte probe) {plain:>8.1}");
    println!("  serde_bytes::Bytes               {wrapped:>8.1}");
    println!("  typed (one memcpy)               {copy:>8.1}");
}

/// A raw TCP exchange of the bulk call's shape: 1 MiB out, 8 bytes back, buffers reused.
async fn raw_bulk_allocations(rounds: u64) -> (f64, f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind raw");
    let addr = listener.local_addr().expect("addr");
    let echo = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        s.set_nodelay(true).expect("nodelay");
        let mut buf = vec![0u8; BULK];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&(buf.len() as u64).to_le_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut c = TcpStream::connect(addr).await.expect("connect raw");
    c.set_nodelay(true).expect("nodelay");
    let data = vec![7u8; BULK];
    let mut answer = [0u8; 8];
    for _ in 0..20 {
        c.write_all(&data).await.expect("write");
        c.read_exact(&mut answer).await.expect("read");
    }
    let region = Region::new(&INSTRUMENTED_SYSTEM);
    let started = Instant::now();
    for _ in 0..rounds {
        c.write_all(&data).await.expect("write");
        c.read_exact(&mut answer).await.expect("read");
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let stats = region.change();
    drop(c);
    echo.await.expect("echo task");
    let per = |x: usize| x as f64 / rounds as f64;
    (
        per(stats.allocations + stats.reallocations),
        per(stats.bytes_allocated),
        micros,
    )
}

/// The same measurement for a raw tokio TCP ping-pong of small frames.
async fn raw_ping_pong_allocations(rounds: u64) -> (f64, f64) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind raw");
    let addr = listener.local_addr().expect("addr");
    let echo = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        s.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; 16];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&buf).await.is_err() {
                break;
            }
        }
    });
    let mut c = TcpStream::connect(addr).await.expect("connect raw");
    c.set_nodelay(true).expect("nodelay");
    let mut buf = [7u8; 16];
    for _ in 0..2_000 {
        c.write_all(&buf).await.expect("write");
        c.read_exact(&mut buf).await.expect("read");
    }
    let region = Region::new(&INSTRUMENTED_SYSTEM);
    for _ in 0..rounds {
        c.write_all(&buf).await.expect("write");
        c.read_exact(&mut buf).await.expect("read");
    }
    let stats = region.change();
    drop(c);
    echo.await.expect("echo task");
    let per = |x: usize| x as f64 / rounds as f64;
    (
        per(stats.allocations + stats.reallocations),
        per(stats.bytes_allocated),
    )
}

/// Resident set size of a process (`self` or a pid), from /proc (Linux).
fn rss_bytes(pid: &str) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The server half of the idle-connection measurement, in a child process so each side's
/// memory is its own and neither needs more than `n` file descriptors: prints its port, then
/// serves until its stdin closes.
async fn idle_server(n: usize) {
    let _ = rlimit::increase_nofile_limit((n + 1_024) as u64);
    let server = Server::new(|| Null)
        .max_connections(n + 16)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("{}", server.local_addr().expect("addr").port());
    let stop = server.shutdown_handle();
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
        stop.shutdown();
    });
    server.serve().await.expect("serve");
}

/// Opens `n` idle connections to one server in a child process and reports what each costs on
/// both sides: heap still allocated (client) and resident memory (client and server).
async fn idle_connections(n: usize) {
    let wanted = (n + 1_024) as u64;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got >= wanted => {}
        Ok(got) => println!("note: file-descriptor limit is {got}, below the {wanted} wanted"),
        Err(e) => println!("note: could not raise the file-descriptor limit: {e}"),
    }
    let exe = std::env::current_exe().expect("own path");
    let mut child = tokio::process::Command::new(exe)
        .arg("--idle-server")
        .arg(n.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server process");
    let mut out = tokio::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line)
        .await
        .expect("port line");
    let port: u16 = line.trim().parse().expect("the server printed its port");
    let server_pid = child.id().expect("running").to_string();

    tokio::time::sleep(Duration::from_millis(100)).await;
    let (client_rss_before, server_rss_before) = (rss_bytes("self"), rss_bytes(&server_pid));
    let region = Region::new(&INSTRUMENTED_SYSTEM);
    let started = Instant::now();
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let conn = rpc::connect("127.0.0.1", port).await.expect("connect");
        conns.push(conn);
    }
    // Every connection is used once, so both ends have run their tasks and filled their buffers.
    for conn in &conns {
        conn.root().call::<()>("null", ()).await.expect("call");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = region.change();
    let heap = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
    let (client_rss_after, server_rss_after) = (rss_bytes("self"), rss_bytes(&server_pid));
    println!();
    println!(
        "{n} idle connections to one server process (opened and used once in {:.2} s)",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  client heap still allocated: {:.1} KiB per connection",
        heap as f64 / n as f64 / 1024.0
    );
    let per = |before: Option<u64>, after: Option<u64>| {
        before
            .zip(after)
            .map(|(b, a)| a.saturating_sub(b) as f64 / n as f64 / 1024.0)
    };
    for (side, before, after) in [
        ("client", client_rss_before, client_rss_after),
        ("server", server_rss_before, server_rss_after),
    ] {
        if let Some(kib) = per(before, after) {
            println!("  {side} resident memory: {kib:.1} KiB per connection (goal: at most 32 KiB)");
            check(
                kib <= 32.0,
                format!("an idle connection costs the {side} {kib:.1} KiB, over 32 KiB"),
            );
        }
    }
    for conn in &conns {
        assert!(!conn.is_closed(), "every idle connection is still open");
    }
    drop(conns);
    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    assert!(
        matches!(status, Ok(Ok(s)) if s.success()),
        "the server process ended cleanly: {status:?}"
    );
}
