//! Classic-mode benchmarks (issue 13): what a script call, a teleported function and a file
//! transfer cost, each beside a plain `#[service]` call and the raw tokio TCP baseline measured
//! in the same run.
//!
//! Run: `cargo bench --bench classic` (about a minute and a half on an idle machine; it needs
//! about 800 MiB of free disk in the temporary directory). Other arguments filter the
//! scenarios by name, e.g. `cargo bench --bench classic -- transfer`.
//!
//! Every server runs in a child process (this binary started again with `--classic-peer DIR`,
//! on a 2-worker runtime like the client's): a classic server confined to `DIR`, a plain
//! `#[service]` server (`Hops`, below), and the raw TCP echo servers. So the client's and the
//! server's memory are each their own, and every side of every scenario crosses the same
//! process boundary.
//!
//! * Script latency: sequential `eval("1")`, and calls of a teleported `|x| x` through
//!   `call_self`, beside `null()` on the plain server and the raw TCP ping-pong of `null()`'s
//!   frame sizes; p50/p99. Goals: eval p50 ≤ 2x null's, the teleported call ≤ 1.5x. Scripts
//!   run on their session's own long-lived thread (see `rpc_classic::engine`), `eval` from an
//!   async method, so two more sides isolate those costs: `null_async()` (an async method
//!   that does nothing: a task of its own, the reply through the connection's writer) and
//!   `null_handoff()` (the same, handing nothing to a long-lived thread parked on a condition
//!   variable and awaiting its answer with the task asleep: the two wake-ups a request makes
//!   when the engine's short poll for its answer is not enough). `null_async()`'s difference
//!   from `null()` is the async method's share of eval's time, eval's from `null_async()` the
//!   session thread's; `Session::eval("1")` alone, in this process with no rpc, gives the
//!   engine's own.
//! * Transfers: `upload` and `download` of a 256 MiB file with the default options (1 MiB
//!   chunks, one call each, up to `IN_FLIGHT` = 4 on the way at once; no sync of the written
//!   file), MiB/s beside 256 sequential calls with a 1 MiB `serde_bytes` argument on the plain
//!   server, 256 raw 1 MiB ping-pongs, and a local copy of the file with no network
//!   (`tokio::fs`, 1 MiB chunks, `sync_all` at the end, and once more without the `sync_all`:
//!   the disk's share of a transfer).
//!   During each transfer (and the 1 MiB calls), each process's CPU time (`/proc/PID/stat`);
//!   during each transfer, each process's peak resident memory above its idle baseline (its
//!   `VmRSS` just before): the peak is `VmHWM` after resetting it (`clear_refs`), or `VmRSS`
//!   sampled every 2 ms where the reset is refused, whichever is higher. Goals: ≥ 70% of the
//!   1 MiB-argument rate, ≤ 64 MiB above idle in each process.
//!
//! Sides are taken in alternating rounds, the order rotating each round, a fresh connection
//! each time; figures are medians. The goals are reported, not enforced: a missed goal prints
//! MISSED, and the run fails only on wrong behaviour.
//!
//! Without `--bench` (as `cargo test --release --bench classic` runs it in CI) it does a quick
//! smoke run with small counts and an 8 MiB file that checks correctness only: every call
//! answers right, uploaded and downloaded files match the original byte for byte.

#[allow(dead_code, unused_imports)] // shared with the `calls` bench, which uses all of it
mod common;
#[allow(dead_code)] // `calls`' frame sizes; this bench uses part of them
#[path = "scenarios/frames.rs"]
mod frames;
#[path = "scenarios/goals.rs"]
mod goals;
#[allow(dead_code)] // `calls`' timing helpers; this bench uses part of them
#[path = "scenarios/timing.rs"]
mod timing;

#[path = "classic/latency.rs"]
mod latency;
#[path = "classic/peer.rs"]
mod peer;
#[path = "classic/rss.rs"]
mod rss;
#[path = "classic/transfer.rs"]
mod transfer;

use std::path::PathBuf;

pub use goals::Goal;

/// How much to measure.
pub struct Plan {
    /// Untimed calls of each side in the latency scenario, split over `rounds`.
    warmup: usize,
    /// Timed latency samples of each side, split over `rounds`.
    samples: usize,
    /// Alternating latency rounds.
    rounds: usize,
    /// Bytes of the transferred file (a whole number of MiB).
    file_size: usize,
    /// Alternating transfer rounds.
    transfer_rounds: usize,
    /// Run only the scenarios whose names contain one of these (all when empty).
    filters: Vec<String>,
    /// The quick run without `--bench`: correctness only, its figures mean nothing.
    smoke: bool,
}

impl Plan {
    /// The real run, or a quick smoke run when not invoked by `cargo bench`.
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let filters = args.iter().filter(|a| !a.starts_with('-')).cloned().collect();
        if args.iter().any(|a| a == "--bench") {
            Plan {
                warmup: 2_000,
                samples: 20_000,
                rounds: 100,
                file_size: 256 << 20,
                transfer_rounds: 5,
                filters,
                smoke: false,
            }
        } else {
            Plan {
                warmup: 30,
                samples: 300,
                rounds: 3,
                file_size: 8 << 20,
                transfer_rounds: 2,
                filters,
                smoke: true,
            }
        }
    }

    /// Whether the scenario named `name` is to run.
    fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// A directory of this run's own under the temporary directory, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Creates it, with `server` (the classic server's root) and `client` inside.
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("rpc-classic-bench-{}", std::process::id()));
        for sub in ["server", "client"] {
            std::fs::create_dir_all(dir.join(sub)).expect("scratch directory");
        }
        Scratch(dir)
    }

    /// The classic server's root.
    pub fn server(&self) -> PathBuf {
        self.0.join("server")
    }

    /// Where the client's files go.
    pub fn client(&self) -> PathBuf {
        self.0.join("client")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Measures everything and prints the tables.
async fn run(plan: Plan) {
    let scratch = Scratch::new();
    let peer = peer::Peer::start(&scratch.server()).await;
    println!(
        "loopback 127.0.0.1; servers in a child process (pid {}), clients in this one, each on a \
         tokio multi-thread runtime with 2 workers; sides taken in alternating rounds, order \
         rotating, a fresh connection each",
        peer.pid
    );
    let mut goals = Vec::new();
    latency::report(&plan, &peer, &mut goals).await;
    transfer::report(&plan, &peer, &scratch, &mut goals).await;
    peer.stop().await;
    drop(scratch);
    goals::summary("issue 13", &goals, plan.smoke);
    if plan.smoke {
        println!("(smoke run: small counts, checks correctness only; its figures mean nothing, run `cargo bench --bench classic`)");
    }
}

/// Runs the benchmark (or its smoke run), or with `--classic-peer DIR` the servers' process.
fn main() {
    let runtime = common::harness_runtime(false, false);
    if let Some(root) = std::env::args().skip_while(|a| a != "--classic-peer").nth(1) {
        runtime.block_on(peer::serve(PathBuf::from(root)));
        return;
    }
    let plan = Plan::from_args();
    // Inside a spawned task, so that the callers run on the runtime's workers.
    let bench = runtime.spawn(run(plan));
    runtime.block_on(bench).expect("benchmark task");
}
