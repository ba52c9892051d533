//! rpc beside tarpc, each beside raw tokio TCP, in one process and one run.
//!
//! Run from this directory: `cargo run --release` (`-- --quick` for a smoke run with small
//! counts; `-- --tarpc-inline` to have the tarpc server run requests in its connection task
//! instead of spawning a task per request; `-- --split` to run the servers on a current-thread
//! runtime of their own thread and the clients on another, the shape of two processes). This crate is a workspace of its own, so the root
//! workspace and CI never build it. Figures and findings: "rpc vs tarpc" in `BENCHMARKS.md`.
//!
//! Scenarios, all over loopback `127.0.0.1` with `TCP_NODELAY`, on a 2-worker multi-thread tokio
//! runtime, the harness itself in a spawned task (so callers run on the workers like servers):
//!
//! 1. sequential `null()` calls, one at a time: p50 and p99 latency (µs); the raw side writes a
//!    16-byte frame and waits for an 8-byte one (the sizes of rpc's `null()` frames);
//! 2. 64 `null()` calls in flight on one connection (64 tasks sharing one client): calls/s; the
//!    raw side keeps 64 16-byte frames outstanding on one connection;
//! 3. a 1 MiB bytes argument, the call returning its length, one call at a time: GB/s of
//!    argument bytes (10^9 bytes/s); the raw side writes a 1 MiB frame and waits for an 8-byte
//!    reply.
//!
//! rpc, tarpc and raw take turns round by round, so drift of the machine hits all three. Every
//! count is bounded and the whole run fails if it takes more than 180 s.
//! How each side is configured: see `rpc_side.rs`, `tarpc_side.rs` and `raw.rs`.

// The same placement helper as `benches/calls` (one file, compiled into both).
#[path = "../../common/placement.rs"]
mod placement;
mod raw;
mod rpc_side;
mod tarpc_side;

use std::time::{Duration, Instant};

use bytes::Bytes;
use raw::{RawClient, RawServer};
use rpc_side::RpcPeer;
use tarpc_side::TarpcPeer;

/// How much to measure.
struct Plan {
    /// Untimed sequential calls per side before the latency samples.
    warmup: usize,
    /// Timed latency samples per side, split over `rounds`.
    samples: usize,
    /// Alternating rounds of latency samples.
    rounds: usize,
    /// Calls in flight in the throughput scenario.
    window: usize,
    /// Calls per throughput round (and, once, as warm-up, a tenth of it).
    pipelined_calls: usize,
    /// Bytes of the bulk argument.
    bulk_size: usize,
    /// Bulk calls per round (and, once, as warm-up, a tenth of it).
    bulk_calls: usize,
    /// Alternating rounds of the throughput and bulk scenarios (the median is reported).
    rate_rounds: usize,
    /// The tarpc server runs requests in its connection task instead of a task per request.
    tarpc_inline: bool,
    /// Servers on a current-thread runtime of their own thread, clients on the main thread's
    /// (`--split`), instead of everything on one 2-worker runtime.
    split: bool,
}

impl Plan {
    /// The real run, or a smoke run with `--quick`.
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().skip(1).collect();
        for arg in &args {
            assert!(
                arg == "--quick" || arg == "--tarpc-inline" || arg == "--split",
                "unknown argument {arg:?} (known: --quick, --tarpc-inline, --split)"
            );
        }
        let quick = args.iter().any(|a| a == "--quick");
        Plan {
            warmup: if quick { 50 } else { 2_000 },
            samples: if quick { 500 } else { 20_000 },
            rounds: 5,
            window: 64,
            pipelined_calls: if quick { 6_400 } else { 192_000 },
            bulk_size: 1 << 20,
            bulk_calls: if quick { 20 } else { 400 },
            rate_rounds: 5,
            tarpc_inline: args.iter().any(|a| a == "--tarpc-inline"),
            split: args.iter().any(|a| a == "--split"),
        }
    }
}

/// p50 and p99 of latency samples, in µs.
struct Latency {
    /// Median.
    p50: f64,
    /// 99th percentile.
    p99: f64,
}

impl Latency {
    /// The percentiles of `samples` (sorted here).
    fn of(mut samples: Vec<Duration>) -> Latency {
        samples.sort_unstable();
        let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
        Latency {
            p50: at(50).as_secs_f64() * 1e6,
            p99: at(99).as_secs_f64() * 1e6,
        }
    }
}

/// The median of a few rates (sorted here).
fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Formats rates for the per-round line.
fn rounds_of(rates: &[f64], scale: f64, unit: &str) -> String {
    let shown: Vec<String> = rates.iter().map(|r| format!("{:.2}", r / scale)).collect();
    format!("{} {unit}", shown.join(" / "))
}

/// The three servers and a client of each.
struct Peers {
    /// rpc server and connection.
    rpc: RpcPeer,
    /// tarpc server and client.
    tarpc: TarpcPeer,
    /// Raw server.
    raw_server: RawServer,
    /// Raw client connection.
    raw: RawClient,
}

/// Scenario 1: sequential `null()` latency of rpc, tarpc and raw: over all samples, and the p50
/// of each round (in µs).
async fn latency(plan: &Plan, p: &mut Peers) -> [(Latency, Vec<f64>); 3] {
    let request = raw::frame(raw::REQUEST);
    for _ in 0..plan.warmup {
        p.rpc.null().await;
    }
    for _ in 0..plan.warmup {
        p.tarpc.null().await;
    }
    for _ in 0..plan.warmup {
        p.raw.round_trip(&request).await;
    }
    let per_round = plan.samples / plan.rounds;
    let mut rounds: [Vec<Vec<Duration>>; 3] = Default::default();
    for _ in 0..plan.rounds {
        let mut samples: [Vec<Duration>; 3] = Default::default();
        for _ in 0..per_round {
            let t = Instant::now();
            p.rpc.null().await;
            samples[0].push(t.elapsed());
        }
        for _ in 0..per_round {
            let t = Instant::now();
            p.tarpc.null().await;
            samples[1].push(t.elapsed());
        }
        for _ in 0..per_round {
            let t = Instant::now();
            let n = p.raw.round_trip(&request).await;
            samples[2].push(t.elapsed());
            assert_eq!(n as usize, raw::REQUEST - 4, "raw reply");
        }
        for (side, samples) in rounds.iter_mut().zip(samples) {
            side.push(samples);
        }
    }
    rounds.map(|side| {
        let p50s = side.iter().map(|r| Latency::of(r.clone()).p50).collect();
        (Latency::of(side.concat()), p50s)
    })
}

/// Scenario 2: calls (raw: round trips) per second with `window` in flight; per-round rates.
async fn pipelined(plan: &Plan, p: &mut Peers) -> [Vec<f64>; 3] {
    let (calls, window) = (plan.pipelined_calls, plan.window);
    p.rpc.pipelined(calls / 10, window).await;
    p.tarpc.pipelined(calls / 10, window).await;
    p.raw.pipelined(calls / 10, window).await;
    let rate = |d: Duration| calls as f64 / d.as_secs_f64();
    let (mut rpc, mut tarpc, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.rate_rounds {
        rpc.push(rate(p.rpc.pipelined(calls, window).await));
        tarpc.push(rate(p.tarpc.pipelined(calls, window).await));
        raw.push(rate(p.raw.pipelined(calls, window).await));
    }
    [rpc, tarpc, raw]
}

/// Scenario 3: argument bytes per second (GB/s) of sequential 1 MiB calls; per-round rates.
async fn bulk(plan: &Plan, p: &mut Peers) -> [Vec<f64>; 3] {
    let payload = Bytes::from(vec![0x5Au8; plan.bulk_size]);
    let frame = raw::frame(plan.bulk_size + 4);
    let size = plan.bulk_size as u64;
    async fn rpc_round(calls: usize, peer: &RpcPeer, payload: &[u8], size: u64) -> Duration {
        let t = Instant::now();
        for _ in 0..calls {
            assert_eq!(peer.len(payload).await, size, "rpc len()");
        }
        t.elapsed()
    }
    async fn tarpc_round(calls: usize, peer: &TarpcPeer, payload: &Bytes, size: u64) -> Duration {
        let t = Instant::now();
        for _ in 0..calls {
            assert_eq!(peer.len(payload).await, size, "tarpc len()");
        }
        t.elapsed()
    }
    async fn raw_round(calls: usize, client: &mut RawClient, frame: &[u8], size: u64) -> Duration {
        let t = Instant::now();
        for _ in 0..calls {
            assert_eq!(u64::from(client.round_trip(frame).await), size, "raw reply");
        }
        t.elapsed()
    }
    let calls = plan.bulk_calls;
    rpc_round(calls / 10, &p.rpc, &payload, size).await;
    tarpc_round(calls / 10, &p.tarpc, &payload, size).await;
    raw_round(calls / 10, &mut p.raw, &frame, size).await;
    let rate = |d: Duration| (calls * plan.bulk_size) as f64 / d.as_secs_f64() / 1e9;
    let (mut rpc, mut tarpc, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.rate_rounds {
        rpc.push(rate(rpc_round(calls, &p.rpc, &payload, size).await));
        tarpc.push(rate(tarpc_round(calls, &p.tarpc, &payload, size).await));
        raw.push(rate(raw_round(calls, &mut p.raw, &frame, size).await));
    }
    [rpc, tarpc, raw]
}

/// One table row. `cost` turns a figure into "times the raw cost" (bigger is worse): the
/// figure ÷ raw for latencies, raw ÷ the figure for rates.
fn row(label: &str, [rpc, tarpc, raw]: [f64; 3], latency: bool) {
    let cost = |x: f64| if latency { x / raw } else { raw / x };
    println!(
        "{label:<34} {rpc:>10.2} {tarpc:>10.2} {raw:>10.2} {:>9.2}x {:>9.2}x {:>9.2}x",
        cost(rpc),
        cost(tarpc),
        cost(rpc) / cost(tarpc),
    );
}

/// Measures everything and prints the table.
async fn run(plan: Plan) {
    let raw_server = RawServer::start().await;
    let mut peers = Peers {
        rpc: RpcPeer::start().await,
        tarpc: TarpcPeer::start(plan.tarpc_inline).await,
        raw: RawClient::connect(raw_server.port).await,
        raw_server,
    };
    println!(
        "rpc vs tarpc 0.38 vs raw tokio TCP: loopback 127.0.0.1, TCP_NODELAY everywhere, one process, {}",
        if plan.split {
            "servers on a current-thread runtime of their own thread, clients on another (--split)"
        } else {
            "one tokio multi-thread runtime with 2 workers"
        }
    );
    println!(
        "rpc: defaults (postcard frames); tarpc: serde transport, bincode codec, \
         LengthDelimitedCodec, default configs, {} on the server",
        if plan.tarpc_inline {
            "requests run inline in the connection task (--tarpc-inline)"
        } else {
            "a task per request"
        }
    );
    println!(
        "latency: {} warm-up + {} samples per side in {} alternating rounds; throughput: {} in \
         flight, {} calls per round; bulk: {} KiB argument, {} calls per round; rates are the \
         median of {} alternating rounds after a warm-up of a tenth of a round",
        plan.warmup,
        plan.samples,
        plan.rounds,
        plan.window,
        plan.pipelined_calls,
        plan.bulk_size >> 10,
        plan.bulk_calls,
        plan.rate_rounds
    );

    let [(rpc_lat, rpc_p50s), (tarpc_lat, tarpc_p50s), (raw_lat, raw_p50s)] =
        latency(&plan, &mut peers).await;
    let flight = pipelined(&plan, &mut peers).await;
    let bulk = bulk(&plan, &mut peers).await;

    println!();
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "scenario", "rpc", "tarpc", "raw tcp", "rpc/raw", "tarpc/raw", "rpc/tarpc"
    );
    row("null() p50 (µs)", [rpc_lat.p50, tarpc_lat.p50, raw_lat.p50], true);
    row("null() p99 (µs)", [rpc_lat.p99, tarpc_lat.p99, raw_lat.p99], true);
    let [f_rpc, f_tarpc, f_raw] = &flight;
    row(
        &format!("null() x{} in flight (k calls/s)", plan.window),
        [
            median(f_rpc.clone()) / 1e3,
            median(f_tarpc.clone()) / 1e3,
            median(f_raw.clone()) / 1e3,
        ],
        false,
    );
    let [b_rpc, b_tarpc, b_raw] = &bulk;
    row(
        &format!("len({} KiB bytes) (GB/s)", plan.bulk_size >> 10),
        [
            median(b_rpc.clone()),
            median(b_tarpc.clone()),
            median(b_raw.clone()),
        ],
        false,
    );
    println!(
        "(x/raw: times the raw cost, latency x÷raw, rates raw÷x; 1.00x = as fast as raw TCP, \
         bigger is worse; rpc/tarpc: rpc's cost ÷ tarpc's, below 1.00x rpc is faster)"
    );
    println!();
    println!("rounds, in order:");
    println!(
        "  null() p50 rpc {}; tarpc {}; raw {}",
        rounds_of(&rpc_p50s, 1.0, "µs"),
        rounds_of(&tarpc_p50s, 1.0, "µs"),
        rounds_of(&raw_p50s, 1.0, "µs")
    );
    println!(
        "  in flight   rpc {}; tarpc {}; raw {}",
        rounds_of(f_rpc, 1e3, "k/s"),
        rounds_of(f_tarpc, 1e3, "k/s"),
        rounds_of(f_raw, 1e3, "k/s")
    );
    println!(
        "  bulk        rpc {}; tarpc {}; raw {}",
        rounds_of(b_rpc, 1.0, "GB/s"),
        rounds_of(b_tarpc, 1.0, "GB/s"),
        rounds_of(b_raw, 1.0, "GB/s")
    );

    peers.rpc.stop().await;
    peers.tarpc.stop();
    peers.raw_server.stop();
}

/// Runs the comparison on a 2-worker runtime (or placed as `--split` asks); fails after 180 s.
fn main() {
    let plan = Plan::from_args();
    let runtime = placement::harness_runtime(plan.split, plan.split);
    runtime.block_on(async {
        let harness = tokio::spawn(run(plan));
        tokio::time::timeout(Duration::from_secs(180), harness)
            .await
            .expect("the comparison took more than 180 s")
            .expect("the comparison panicked");
    });
}
