//! Security benchmarks (issue 12): what TLS, the shared secret and keepalive cost, each beside
//! rpc over plain TCP and the raw tokio TCP baseline measured in the same run.
//!
//! Run: `cargo bench --bench secure` (well under a minute on an idle machine). Other arguments
//! filter the scenarios by name, e.g. `cargo bench --bench secure -- accept`; with
//! `--current-thread` clients and servers share one current-thread runtime instead of a
//! 2-worker one (no cross-worker placement: on 2 workers each connection's tasks land where
//! they land, and rpc over TLS shows two latency modes by connection).
//!
//! * TLS null-call latency: sequential `null()` calls over TLS and over plain TCP, beside the
//!   raw TCP ping-pong of the same frame sizes and the same ping-pong inside TLS (tokio-rustls
//!   with rpc's own rustls configurations); p50/p99. Goal: TLS p50 ≤ 1.3x plain.
//! * TLS bulk: a 1 MiB bytes argument (`serde_bytes`) whose length comes back, one call at a
//!   time, over TLS and plain TCP, beside raw 1 MiB ping-pongs over TCP and TLS; MiB/s at the
//!   median call time. Goal: TLS ≥ 60% of plain.
//! * Accept rate: connect + handshake + close, one connection after another and from 4 tasks at
//!   once, against a raw tokio accept loop (accept + a 1-byte echo), the same inside TLS, and
//!   rpc servers with plain TCP, the shared secret, TLS (full handshakes, and resumed sessions),
//!   and TLS with the secret; connections per second and the ratio to the raw TCP loop.
//! * Keepalive on a busy connection: pipelined `null()` calls with keepalive on (server and
//!   client, a 10 ms interval so that its timer fires several times in every round) and off,
//!   on a fresh connection each round, beside a control (off, on a second server: the noise
//!   floor) and the raw pipelined baseline. Goal: on within 3% of off.
//!
//! Every scenario takes its sides in alternating rounds (the order rotating each round) so
//! that drift of the machine hits all of them; figures are medians. The goals are reported, not
//! enforced: a missed goal prints MISSED, and the run fails only on wrong behaviour.
//!
//! Without `--bench` (as `cargo test --release --bench secure` runs it in CI) it does a quick
//! smoke run with small counts that checks correctness only: every call answers, the TLS
//! handshake verified the server's certificate, the secret is proven on secret servers and a
//! client without it (or with a wrong one) is refused, keepalive connections survive an idle
//! stretch and answer pings.

#[allow(dead_code, unused_imports)] // shared with the `calls` bench, which uses all of it
mod common;
#[allow(dead_code)] // `calls`' frame sizes; this bench uses part of them
#[path = "scenarios/frames.rs"]
mod frames;
#[path = "scenarios/goals.rs"]
mod goals;
#[allow(dead_code)] // the throwaway PKI of the TLS tests; this bench uses part of it
#[path = "../tests/it/tls/pki.rs"]
mod pki;
#[allow(dead_code)] // `calls`' service and server; this bench uses part of them
#[path = "scenarios/service.rs"]
mod service;
#[allow(dead_code)] // `calls`' timing helpers; this bench uses part of them
#[path = "scenarios/timing.rs"]
mod timing;

#[path = "secure/accept.rs"]
mod accept;
#[path = "secure/bulk.rs"]
mod bulk;
#[path = "secure/keepalive.rs"]
mod keepalive;
#[path = "secure/latency.rs"]
mod latency;
#[path = "secure/sides.rs"]
mod sides;

use std::time::Duration;

pub use goals::Goal;
use sides::Pki;

/// How much to measure.
pub struct Plan {
    /// Untimed calls of each side in the latency scenario, split over `rounds`.
    warmup: usize,
    /// Timed latency samples of each side, split over `rounds`.
    samples: usize,
    /// Alternating latency rounds.
    rounds: usize,
    /// Timed 1 MiB calls of each side per bulk round.
    bulk_calls: usize,
    /// Alternating bulk rounds.
    bulk_rounds: usize,
    /// Connections per accept round, of each kind and each way (sequential, concurrent).
    accepts: usize,
    /// Alternating accept rounds.
    accept_rounds: usize,
    /// Tasks connecting at once in the concurrent accept rows.
    accept_tasks: usize,
    /// Calls per keepalive round.
    keepalive_calls: usize,
    /// Alternating keepalive rounds.
    keepalive_rounds: usize,
    /// Calls in flight in the keepalive scenario.
    window: usize,
    /// Keepalive interval (the deadline is 10 times it): short, so that the timer fires
    /// several times within every round.
    keepalive_interval: Duration,
    /// Run only the scenarios whose names contain one of these (all when empty).
    filters: Vec<String>,
    /// Everything on one current-thread runtime (`--current-thread`) instead of 2 workers.
    one_thread: bool,
    /// The quick run without `--bench`: correctness only, its figures mean nothing.
    smoke: bool,
}

impl Plan {
    /// The real run, or a quick smoke run when not invoked by `cargo bench`.
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let filters = args.iter().filter(|a| !a.starts_with('-')).cloned().collect();
        let one_thread = args.iter().any(|a| a == "--current-thread");
        if args.iter().any(|a| a == "--bench") {
            Plan {
                warmup: 2_000,
                samples: 20_000,
                rounds: 100,
                bulk_calls: 2,
                bulk_rounds: 60,
                accepts: 200,
                accept_rounds: 5,
                accept_tasks: 4,
                keepalive_calls: 5_000,
                keepalive_rounds: 200,
                window: 16,
                keepalive_interval: Duration::from_millis(10),
                filters,
                one_thread,
                smoke: false,
            }
        } else {
            Plan {
                warmup: 20,
                samples: 200,
                rounds: 4,
                bulk_calls: 1,
                bulk_rounds: 3,
                accepts: 8,
                accept_rounds: 2,
                accept_tasks: 4,
                keepalive_calls: 400,
                keepalive_rounds: 3,
                window: 16,
                keepalive_interval: Duration::from_millis(10),
                filters,
                one_thread,
                smoke: true,
            }
        }
    }

    /// Whether the scenario named `name` is to run.
    fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// Prints a row of figures of the four sides (rpc TLS, rpc TCP, raw TLS, raw TCP) and their
/// ratios: TLS ÷ TCP for rpc and for raw, and rpc TCP ÷ raw TCP.
pub fn four_row(label: &str, [rpc_tls, rpc_tcp, raw_tls, raw_tcp]: [f64; 4]) {
    println!(
        "{label:<30} {rpc_tls:>9.1} {rpc_tcp:>9.1} {raw_tls:>9.1} {raw_tcp:>9.1} {:>9.2}x {:>9.2}x {:>9.2}x",
        rpc_tls / rpc_tcp,
        raw_tls / raw_tcp,
        rpc_tcp / raw_tcp
    );
}

/// The heading of [`four_row`]s.
pub fn four_heading(title: &str) {
    println!();
    println!(
        "{title:<30} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}",
        "rpc TLS", "rpc TCP", "raw TLS", "raw TCP", "rpc T/T", "raw T/T", "rpc/raw"
    );
}

/// Measures everything and prints the tables.
async fn run(plan: Plan) {
    let pki = Pki::new();
    let runtime = if plan.one_thread {
        "one tokio current-thread runtime"
    } else {
        "one tokio multi-thread runtime with 2 workers"
    };
    println!(
        "loopback 127.0.0.1, clients and servers on {runtime}; TLS: rustls (ring provider), the \
         configurations rpc builds, an ECDSA P-256 certificate made at run time; sides taken in \
         alternating rounds, order rotating"
    );
    let mut goals = Vec::new();
    latency::report(&plan, &pki, &mut goals).await;
    bulk::report(&plan, &pki, &mut goals).await;
    accept::report(&plan, &pki).await;
    keepalive::report(&plan, &pki, &mut goals).await;
    goals::summary("issue 12", &goals, plan.smoke);
    if plan.smoke {
        println!("(smoke run: small counts, checks correctness only; its figures mean nothing, run `cargo bench --bench secure`)");
    }
}

/// Runs the benchmark (or its smoke run) on a 2-worker runtime, or a current-thread one with
/// `--current-thread`.
fn main() {
    let plan = Plan::from_args();
    let runtime = common::harness_runtime(plan.one_thread, false);
    // Inside a spawned task, so that the callers run on the runtime's workers like the servers.
    let bench = runtime.spawn(run(plan));
    runtime.block_on(bench).expect("benchmark task");
}
