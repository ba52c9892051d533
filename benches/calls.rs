//! Call benchmarks: rpc calls over loopback TCP, each beside a raw tokio TCP ping-pong of the
//! same frame sizes measured in the same run. The ratio is the figure that counts.
//!
//! Run: `cargo bench --bench calls` (pin to one CPU: `taskset -c 0 cargo bench --bench calls`).
//!
//! * Sequential latency: one call at a time (`null()`, `echo(i64)`), p50/p99/mean; the raw side
//!   sends a request frame of the rpc request's size and gets a reply of the rpc reply's size.
//! * Pipelined throughput: 64 calls in flight on one connection; the raw side keeps 64 frames
//!   outstanding on one connection to an echo server.
//! * Bulk data: a 1 MiB bytes argument whose length comes back, one call at a time; the raw
//!   side sends a 1 MiB frame and gets a small reply.
//! * Several connections: 4 clients at once, each making sequential null calls on its own
//!   connection; the raw side runs 4 ping-pong connections of the same frame sizes.
//! * Callback round trip: `call_back(f, x)` makes the server call the client's closure `f` once
//!   during the call (2 round trips in all). The same `Callback` is passed on every call, and in
//!   a second variant the server keeps it between calls. The raw side makes 2 round trips with
//!   the 4 frames' sizes; the callback's own cost is reported as (outer call - null call).
//! * NetRef churn: per iteration `open()` returns a fresh object by reference, one method is
//!   called on it, and it is dropped (a batched `Release`); the raw side makes 2 round trips. At
//!   the end the server's export table must be empty again.
//! * One-way calls: N `tick()` calls sent with `call_oneway` in a plain loop, the same loop
//!   yielding every 256 calls, and N calls through the typed client of a `#[oneway]` method;
//!   the server counts them and a final normal `take_ticks()` call must return N. The raw side
//!   streams 10 N frames of the same size to a server that counts them, then makes one
//!   ping-pong.
//! * Batched calls: `rpc::Batch`es of 100 `null()` calls (one frame each), 1 and 4 batches in
//!   flight; the raw side sends a frame of the batch's size and gets 100 reply frames back.
//!   The pipelined, one-way and batched rates are printed again together at the end.
//!
//! rpc and raw samples are taken in alternating rounds so that drift of the machine hits both.
//! Without `--bench` (as `cargo test --benches` runs it) it does a quick smoke run instead.
//! Other arguments filter the scenarios by name, e.g. `cargo bench --bench calls -- flight`.

mod common;
mod scenarios;

use scenarios::service::BenchServer;
use scenarios::{batched, bulk, callbacks, churn, connections, latency, oneway, pipelined};

use crate::common::Latency;

/// How much to measure.
struct Plan {
    /// Untimed iterations before each latency scenario (each side).
    warmup: usize,
    /// Timed latency samples (each side), split over `rounds`.
    samples: usize,
    /// Alternating rpc/raw rounds.
    rounds: usize,
    /// Calls in flight in the throughput scenario.
    window: usize,
    /// Calls per throughput round.
    pipelined_calls: usize,
    /// One-way calls per round.
    oneway_calls: usize,
    /// Batches per round.
    batches: usize,
    /// Calls per batch.
    batch_size: usize,
    /// Batches in flight in the concurrent batch scenario.
    batch_window: usize,
    /// Run only the scenarios whose row names contain one of these (all when empty).
    filters: Vec<String>,
    /// Where things run: `--current-thread`, `--split`, or a 2-worker runtime.
    placement: Placement,
}

/// Runtimes and threads of a run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Clients and servers share one multi-thread runtime with 2 workers (the default).
    Shared,
    /// Clients and servers share one current-thread runtime (`--current-thread`).
    OneThread,
    /// Servers on a current-thread runtime of their own thread, clients on the main thread's
    /// (`--split`): like two single-threaded processes.
    Split,
}

impl Placement {
    fn from_args(args: &[String]) -> Placement {
        if args.iter().any(|a| a == "--split") {
            Placement::Split
        } else if args.iter().any(|a| a == "--current-thread") {
            Placement::OneThread
        } else {
            Placement::Shared
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Placement::Shared => "clients and servers on one tokio multi-thread runtime with 2 workers",
            Placement::OneThread => "clients and servers on one tokio current-thread runtime",
            Placement::Split => "servers on a current-thread runtime of their own thread, clients on another",
        }
    }
}

impl Plan {
    /// The real run, or a quick smoke run when not invoked by `cargo bench`.
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let filters = args.iter().filter(|a| !a.starts_with('-')).cloned().collect();
        let placement = Placement::from_args(&args);
        if args.iter().any(|a| a == "--bench") {
            Plan {
                warmup: 2_000,
                samples: 20_000,
                rounds: 5,
                window: 64,
                pipelined_calls: 200_000,
                oneway_calls: 200_000,
                batches: 2_000,
                batch_size: 100,
                batch_window: 4,
                filters,
                placement,
            }
        } else {
            Plan {
                warmup: 50,
                samples: 500,
                rounds: 5,
                window: 64,
                pipelined_calls: 2_000,
                oneway_calls: 2_000,
                batches: 20,
                batch_size: 100,
                batch_window: 4,
                filters,
                placement,
            }
        }
    }

    /// Whether the scenario named `name` is to run.
    fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// Calls per second of one scenario beside its raw baseline, a row of the summary.
struct Rate {
    /// The row label.
    label: String,
    /// rpc calls per second.
    rpc: f64,
    /// Raw frames (or exchanges standing for calls) per second.
    raw: f64,
}

/// Prints one table row; `ratio` is how many times the raw baseline rpc costs.
fn row(scenario: &str, rpc: f64, raw: f64, ratio: f64) {
    println!("{scenario:<36} {rpc:>12.1} {raw:>12.1} {ratio:>8.2}x");
}

/// Prints the p50, p99 and mean rows `{label} {stat} ({unit})` of rpc latencies beside raw ones.
fn latency_rows(label: &str, unit: &str, rpc: Latency, raw: Latency) {
    for (stat, rpc, raw) in [
        ("p50", rpc.p50, raw.p50),
        ("p99", rpc.p99, raw.p99),
        ("mean", rpc.mean, raw.mean),
    ] {
        row(&format!("{label} {stat} ({unit})"), rpc, raw, rpc / raw);
    }
}

/// Prints the calls-per-second figures side by side: each against its raw baseline of the same
/// frames, and against the pipelined normal calls when those ran.
fn summary(rates: &[Rate]) {
    if rates.is_empty() {
        return;
    }
    let pipelined = rates
        .iter()
        .find(|r| r.label.starts_with("pipelined"))
        .map(|r| r.rpc);
    println!();
    println!(
        "{:<36} {:>12} {:>12} {:>9} {:>12}",
        "calls per second (k)", "rpc", "raw tcp", "raw/rpc", "vs pipelined"
    );
    for Rate { label, rpc, raw } in rates {
        let speedup = pipelined.map_or_else(|| "-".to_owned(), |p| format!("{:.2}x", rpc / p));
        println!(
            "{label:<36} {:>12.1} {:>12.1} {:>8.2}x {speedup:>12}",
            rpc / 1e3,
            raw / 1e3,
            raw / rpc
        );
    }
    println!(
        "(raw: the same frames over a raw tokio TCP connection; vs pipelined: rpc ÷ rpc pipelined null())"
    );
}

/// Measures everything and prints the table.
async fn run(plan: Plan) {
    let server = BenchServer::start().await;
    let conn = rpc::connect("127.0.0.1", server.port).await.expect("connect");
    let root = conn.root();

    println!(
        "loopback TCP 127.0.0.1, {}; latency: {} warm-up + {} samples \
         per side in {} alternating rounds; throughput: median of 3 rounds of {} calls, {} in flight",
        plan.placement.describe(),
        plan.warmup,
        plan.samples,
        plan.rounds,
        plan.pipelined_calls,
        plan.window
    );
    latency::describe();
    bulk::describe();
    callbacks::describe();
    churn::describe();
    oneway::describe(&plan);
    batched::describe(&plan);
    println!();
    println!(
        "{:<36} {:>12} {:>12} {:>9}",
        "scenario", "rpc", "raw tcp", "rpc/raw"
    );
    latency::report(&plan, &root).await;
    bulk::report(&plan, &root).await;
    // Calls per second of the pipelined, one-way and batched scenarios, for the summary.
    let mut rates = Vec::new();
    pipelined::report(&plan, &root, &mut rates).await;
    connections::report(&plan, server.port, &mut rates).await;
    oneway::report(&plan, &server, &mut rates).await;
    batched::report(&plan, server.port, &mut rates).await;
    callbacks::report(&plan, &conn).await;
    churn::report(&plan, &conn).await;
    println!(
        "(rpc/raw: latency rpc÷raw; throughput raw÷rpc; 1.00x = as fast as raw TCP; \
         raw is 2 round trips for callback and churn rows, 1 for null and the rt rows)"
    );
    summary(&rates);
    if plan.placement != Placement::Split {
        println!(
            "(placement: {}; for a client and a server as separate single-threaded processes, \
             the shape of real deployments, run `cargo bench --bench calls -- --split`)",
            plan.placement.describe()
        );
    }

    conn.close().await;
    server.stop().await;
}

/// Runs the benchmark (or its smoke run) on a 2-worker runtime, or placed as `--split` or
/// `--current-thread` ask.
fn main() {
    let plan = Plan::from_args();
    let runtime = common::harness_runtime(
        plan.placement != Placement::Shared,
        plan.placement == Placement::Split,
    );
    // Inside a spawned task, so that the callers run on the runtime's workers like the servers
    // do, not on the main thread (which would add a thread hop to every round trip).
    let bench = runtime.spawn(run(plan));
    runtime.block_on(bench).expect("benchmark task");
}
