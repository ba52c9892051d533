//! Python's own rpyc client against the Rust service served by `Server::rpyc()` and against the
//! same service on rpyc's ThreadedServer (issue 15), beside the raw tokio TCP ping-pong
//! measured in the same run.
//!
//! Run: `cargo bench --bench rpyc` (about two minutes on an idle machine). It needs `python3`
//! with its `venv` module and PyPI the first time: it makes the interop tests' virtual
//! environment (`tests/python/requirements.txt`, rpyc 6.0.2 pinned) under the target
//! directory if it is not there yet; without them it prints `skipped: <why>` and exits 0.
//!
//! The client is `benches/python/rpyc_client.py`, one process per run (a fresh connection
//! each); it times its own loops with `time.perf_counter()` and its own CPU time with
//! `time.process_time()`. The servers: the Rust `BenchService` (`rpyc/service.rs`) served by
//! `Server::rpyc()` in this process on a 2-worker tokio runtime, and the same three methods in
//! Python (`benches/python/rpyc_server.py`) on rpyc's ThreadedServer in a child process. Around
//! each timed loop the bench samples the server process's CPU time (`/proc/PID/stat`, 10 ms
//! ticks), so each row splits into the client's CPU, the server's CPU and the rest (waiting on
//! each other and the kernel's loopback).
//!
//! Rows (each: a warm-up, then a timed loop; the figure is the median over rounds of each
//! round's p50):
//!
//! * `c.root.null()`: a call by name, which rpyc makes as GETATTR + CALL (+ a DEL of the
//!   method's netref that needs no reply), and `m = c.root.null; m()`: the CALL alone.
//! * 64 calls in flight: `rpyc.async_(m)` called 64 times, then every result waited; the time
//!   of such a batch, and 64 / that as calls per second.
//! * A 1 MiB bytes argument, `c.root.echo_len(data)` answering its length: `b"x" * 2**20` as the
//!   issue says (rpyc zlib-compresses frames over 3000 bytes, at level 1, so this one travels
//!   as about 4 KiB), and 1 MiB of `os.urandom` (which does not compress: all of it travels).
//! * A callback round trip: `c.root.call_back(f)`, the server calling the client's `f` once.
//!
//! The client's own cost: its CPU time over each loop as a share of the loop's wall time,
//! against either server; against the Rust server (the faster one) it is the floor any server
//! leaves. The raw baseline: a tokio TCP ping-pong in this process (the other benches' helper,
//! `common::raw_ping_pong`) with frames of the sizes a pre-fetched `null()` call's request and
//! reply take on the wire (counted by the client's probe), p50.
//!
//! Sides are taken in alternating rounds (Rust server, Python server, raw; the order rotating
//! each round). The goal (the Rust server faster on every row) is reported, not enforced: a
//! missed goal prints MISSED, and the run fails only on wrong behaviour.
//!
//! Without `--bench` (as `cargo test --release --bench rpyc` runs it in CI) it does a quick
//! smoke run: one short round that checks correctness only: the probe checks every method's
//! answer on both servers (`null()` gives `None`, `echo_len` the length, `call_back` calls `f`
//! exactly once and answers its result, 64 async calls all answer), every timed call is
//! checked by the client as well, and every figure must be positive and finite.

#[allow(dead_code, unused_imports)] // shared with the `calls` bench, which uses all of it
mod common;
#[path = "scenarios/goals.rs"]
mod goals;
#[allow(dead_code)] // `calls`' timing helpers; this bench uses part of them
#[path = "scenarios/timing.rs"]
mod timing;

#[path = "rpyc/client.rs"]
mod client;
/// The interop tests' virtual environment (the same directory, so either reuses the other's).
#[path = "../tests/python/make_venv.rs"]
mod make_venv;
/// The interop tests' start of a Python server that announces its port.
#[path = "../tests/python/port_child.rs"]
mod port_child;
#[allow(dead_code)] // the `classic` bench's /proc readers; this bench uses the CPU time
#[path = "classic/rss.rs"]
mod rss;
#[path = "rpyc/service.rs"]
mod service;

use std::collections::BTreeMap;
use std::path::PathBuf;

use client::Timed;
use common::{median, raw_ping_pong, Latency};
use goals::Goal;
use service::PythonServer;
use timing::{raw_samples, rotation};

/// How much to measure.
pub struct Plan {
    /// Untimed calls before each row's loop (a tenth for the 1 MiB and callback rows, batches
    /// of 64 for the async row).
    warmup: usize,
    /// Timed `null()` calls per run, of each kind; also the raw ping-pongs per round.
    nulls: usize,
    /// Timed batches of 64 async calls per run.
    batches: usize,
    /// Timed 1 MiB calls per run, of each kind.
    bulks: usize,
    /// Timed callback round trips per run.
    callbacks: usize,
    /// Alternating rounds.
    rounds: usize,
    /// The quick run without `--bench`: correctness only, its figures mean nothing.
    smoke: bool,
    /// Unused: the timing helpers' plan fields (this bench's client times itself).
    samples: usize,
}

impl Plan {
    /// The real run, or a quick smoke run when not invoked by `cargo bench`.
    fn from_args() -> Plan {
        if std::env::args().any(|a| a == "--bench") {
            Plan {
                warmup: 300,
                nulls: 3_000,
                batches: 60,
                bulks: 30,
                callbacks: 200,
                rounds: 7,
                smoke: false,
                samples: 0,
            }
        } else {
            Plan {
                warmup: 20,
                nulls: 200,
                batches: 4,
                bulks: 3,
                callbacks: 100,
                rounds: 1,
                smoke: true,
                samples: 0,
            }
        }
    }

    /// Every scenario runs (the timing helpers ask).
    fn selects(&self, _name: &str) -> bool {
        true
    }
}

/// The rows, in table order: the client's name for it and its label.
const ROWS: [(&str, &str); 8] = [
    ("null_by_name", "c.root.null() (GETATTR+CALL+DEL)"),
    ("null_prefetched", "m = c.root.null; m() (CALL)"),
    ("async64", "64 async_(m)() in flight, then wait all"),
    ("bulk_repeated", "echo_len(b'x'*2**20) (zlib: ~4 KiB)"),
    ("bulk_random", "echo_len(os.urandom(2**20))"),
    ("callback", "call_back(f), f called once"),
    ("bulk_random_nodelay", "echo_len(urandom), client TCP_NODELAY"),
    ("callback_nodelay", "call_back(f), client TCP_NODELAY"),
];

/// Rows that diagnose (the client with TCP_NODELAY, which `rpyc.connect` does not set): not
/// among the goals.
const DIAGNOSIS: [&str; 2] = ["bulk_random_nodelay", "callback_nodelay"];

/// What one server's runs gave, per row.
#[derive(Default)]
struct Side {
    runs: BTreeMap<&'static str, Vec<Timed>>,
}

impl Side {
    fn add(&mut self, run: BTreeMap<String, Timed>) {
        for (key, _) in ROWS {
            let timed = *run
                .get(key)
                .unwrap_or_else(|| panic!("the client timed no {key}"));
            self.runs.entry(key).or_default().push(timed);
        }
    }

    /// The median over runs of `f` of row `key`.
    fn median(&self, key: &str, f: impl Fn(&Timed) -> f64) -> f64 {
        let mut values: Vec<f64> = self.runs[key].iter().map(f).collect();
        median(&mut values)
    }
}

/// Microseconds, or milliseconds from 10 ms on.
fn shown(seconds: f64) -> String {
    if seconds >= 0.01 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{:.1} µs", seconds * 1e6)
    }
}

/// The machine's load averages, as `/proc/loadavg` gives them.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Measures everything and prints the table.
async fn run(plan: Plan, python: PathBuf) {
    let load_before = load();
    let rust = service::rust_server().await;
    let rust_addr = rust.local_addr().expect("the Rust server's address");
    let stop = rust.shutdown_handle();
    let serving = tokio::spawn(rust.serve());
    let mut py = PythonServer::start(&python).await;
    let py_pid = py.pid();

    // Both servers answer right; the frames of a pre-fetched null() call size the raw baseline.
    let (request, reply) = client::probe(&python, rust_addr).await;
    let py_frames = client::probe(&python, py.addr).await;
    println!(
        "loopback 127.0.0.1; Python {} client (rpyc 6.0.2, one process per run, a fresh connection \
         each); the Rust server in this process on a 2-worker tokio runtime, rpyc's ThreadedServer \
         in a child process; {} cores; load average before: {load_before}",
        python_version(&python),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "a pre-fetched null() call on the wire: request {request} bytes, reply {reply} bytes \
         (Python server: {} and {})",
        py_frames.0, py_frames.1
    );
    let mut raw = raw_ping_pong(request, reply).await;

    let (mut rust_side, mut py_side) = (Side::default(), Side::default());
    let mut raw_p50s = Vec::new();
    let mut warm = Vec::new();
    raw_samples(plan.warmup, 1, &mut raw, &mut warm).await;
    for round in 0..plan.rounds {
        for side in rotation(round, 3) {
            match side {
                0 => rust_side.add(client::measure(&python, rust_addr, &plan, "self").await),
                1 => py_side.add(client::measure(&python, py.addr, &plan, &py_pid).await),
                _ => {
                    let mut ns = Vec::with_capacity(plan.nulls);
                    raw_samples(plan.nulls, 1, &mut raw, &mut ns).await;
                    raw_p50s.push(Latency::of(&mut ns).p50 / 1e6);
                }
            }
        }
    }
    let raw_p50 = median(&mut raw_p50s);
    stop.shutdown();
    serving
        .await
        .expect("the Rust server task")
        .expect("the Rust server");
    py.child.kill().await.expect("stop the Python server");

    println!(
        "{} rounds; per run: {} null() calls of each kind, {} batches of 64 async calls, {} \
         calls of each 1 MiB kind, {} callbacks; medians over rounds of each round's p50",
        plan.rounds, plan.nulls, plan.batches, plan.bulks, plan.callbacks
    );
    println!();
    println!(
        "{:<42} {:>11} {:>11} {:>7}  {:>15}  {:>17}",
        "p50 (python rpyc client)", "Rust srv", "Python srv", "R/Py", "client CPU R|Py", "srv CPU/op R|Py"
    );
    let mut goals = Vec::new();
    for (key, label) in ROWS {
        let (r, p) = (rust_side.median(key, |t| t.p50), py_side.median(key, |t| t.p50));
        let share = |s: &Side| s.median(key, |t| t.cpu / t.wall) * 100.0;
        let server = |s: &Side| s.median(key, |t| t.server_cpu / t.n);
        println!(
            "{label:<42} {:>11} {:>11} {:>6.2}x  {:>6.0}%|{:>3.0}%  {:>8}|{:>8}",
            shown(r),
            shown(p),
            r / p,
            share(&rust_side),
            share(&py_side),
            shown(server(&rust_side)),
            shown(server(&py_side)),
        );
        if plan.smoke {
            check(&rust_side, key, &plan);
            check(&py_side, key, &plan);
        }
        if !DIAGNOSIS.contains(&key) {
            goals.push(Goal {
                what: format!("Rust server faster: {key}"),
                figure: format!("{:.2}x", r / p),
                target: "< 1x",
                met: r < p,
            });
        }
    }
    let rate = |s: &Side| 64.0 / s.median("async64", |t| t.p50);
    println!(
        "64 in flight as throughput: Rust server {:.0} calls/s, Python server {:.0} calls/s",
        rate(&rust_side),
        rate(&py_side)
    );
    let prefetched = |s: &Side| s.median("null_prefetched", |t| t.p50);
    println!(
        "raw tokio TCP ping-pong ({request}/{reply}-byte frames, in this process), p50 {}; \
         pre-fetched null() / raw: Rust server {:.1}x, Python server {:.1}x",
        shown(raw_p50),
        prefetched(&rust_side) / raw_p50,
        prefetched(&py_side) / raw_p50
    );
    println!(
        "(client CPU: the Python client's process_time over its loop's wall time; srv CPU/op: \
         the server process's CPU time over the loop per operation, 10 ms ticks; the TCP_NODELAY \
         rows are the client's socket with Nagle's algorithm off, which rpyc.connect leaves on: \
         not among the goals)"
    );
    println!("load average after: {}", load());
    assert!(raw_p50 > 0.0, "the raw ping-pong timed nothing");
    goals::summary("issue 15", &goals, plan.smoke);
    if plan.smoke {
        println!("(smoke run: small counts, checks correctness only; its figures mean nothing, run `cargo bench --bench rpyc`)");
    }
}

/// The smoke run's sanity checks of a row: as many operations as asked, figures positive and
/// finite.
fn check(side: &Side, key: &str, plan: &Plan) {
    let want = match key {
        "null_by_name" | "null_prefetched" => plan.nulls,
        "async64" => plan.batches,
        "bulk_repeated" | "bulk_random" | "bulk_random_nodelay" => plan.bulks,
        _ => plan.callbacks,
    };
    for t in &side.runs[key] {
        assert_eq!(t.n as usize, want, "{key}: timed operations");
        for (what, v) in [("wall", t.wall), ("p50", t.p50), ("p99", t.p99)] {
            assert!(v.is_finite() && v > 0.0, "{key}: {what} = {v}");
        }
        assert!(t.p50 <= t.p99 && t.p50 <= t.wall, "{key}: p50 within the loop");
        assert!(t.cpu.is_finite() && t.cpu >= 0.0, "{key}: cpu = {}", t.cpu);
        assert!(t.server_cpu >= 0.0, "{key}: server cpu");
    }
}

/// `python --version` of the environment.
fn python_version(python: &std::path::Path) -> String {
    std::process::Command::new(python)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The argument that only serves the Rust service (printing `PORT <n>`) until killed: a server
/// to point `benches/python/rpyc_client.py` (or `strace`, or `perf`) at by hand.
const SERVE: &str = "--serve";

/// Runs the benchmark (or its smoke run) on a 2-worker runtime, or says why it is skipped; or
/// with `--serve` only serves the Rust service.
fn main() {
    let runtime = common::harness_runtime(false, false);
    if std::env::args().any(|a| a == SERVE) {
        runtime.block_on(async {
            let server = service::rust_server().await;
            println!("PORT {}", server.local_addr().expect("address").port());
            server.serve().await.expect("serve");
        });
        return;
    }
    let plan = Plan::from_args();
    let python = match make_venv::make() {
        Ok(python) => python,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    // Inside a spawned task, so that the server runs on the runtime's workers.
    let bench = runtime.spawn(run(plan, python));
    runtime.block_on(bench).expect("benchmark task");
}
