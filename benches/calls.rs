//! Call benchmarks: rpc calls over loopback TCP, each beside a raw tokio TCP ping-pong of the
//! same frame sizes measured in the same run. The ratio is the figure that counts.
//!
//! Run: `cargo bench --bench calls` (pin to one CPU: `taskset -c 0 cargo bench --bench calls`).
//!
//! * Sequential latency: one call at a time (`null()`, `echo(i64)`), p50/p99/mean; the raw side
//!   sends a request frame of the rpc request's size and gets a reply of the rpc reply's size.
//! * Pipelined throughput: 64 calls in flight on one connection; the raw side keeps 64 frames
//!   outstanding on one connection to an echo server.
//!
//! rpc and raw samples are taken in alternating rounds so that drift of the machine hits both.
//! Without `--bench` (as `cargo test --benches` runs it) it does a quick smoke run instead.
//! Other arguments filter the scenarios by name, e.g. `cargo bench --bench calls -- flight`.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::{median, start_raw_server, Latency, RawClient};
use rpc::core::frame::encode_frame;
use rpc::core::protocol::{Message, Op, Request, ROOT_ID};
use rpc::server::Server;
use rpc::{service, Args, NetRef, Value};

/// The benchmarked service: as little work as a call can do.
struct BenchService;

#[service]
impl BenchService {
    /// Does nothing.
    fn exposed_null(&self) {}

    /// Returns its argument.
    fn exposed_echo(&self, x: i64) -> i64 {
        x
    }
}

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
    /// Run only the scenarios whose row names contain one of these (all when empty).
    filters: Vec<String>,
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
                rounds: 5,
                window: 64,
                pipelined_calls: 200_000,
                filters,
            }
        } else {
            Plan {
                warmup: 50,
                samples: 500,
                rounds: 5,
                window: 64,
                pipelined_calls: 2_000,
                filters,
            }
        }
    }

    /// Whether the scenario named `name` is to run.
    fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// No scenario may run longer than this; a hang fails the benchmark instead of stalling it.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

/// A call the latency scenarios make.
#[derive(Clone, Copy)]
enum Call {
    /// `root.null()`.
    Null,
    /// `root.echo(x)`.
    Echo,
}

impl Call {
    /// The row label.
    fn label(self) -> &'static str {
        match self {
            Call::Null => "null()",
            Call::Echo => "echo(i64)",
        }
    }

    /// Makes the call once.
    async fn run(self, root: &NetRef, i: i64) {
        match self {
            Call::Null => root.call::<()>("null", ()).await.expect("null call"),
            Call::Echo => {
                let back: i64 = root.call("echo", (i,)).await.expect("echo call");
                assert_eq!(back, i);
            }
        }
    }

    /// Bytes on the wire (length prefix included) of this call's request and reply, with a
    /// sequence number of the magnitude the run uses.
    fn frame_sizes(self) -> (usize, usize) {
        let (method, args, value) = match self {
            Call::Null => ("null", ().into_args(), Value::Unit),
            Call::Echo => ("echo", (1_000i64,).into_args(), Value::Int(1_000)),
        };
        let seq = 10_000;
        let args = args.expect("encode arguments");
        let request = Message::Request(Request {
            seq,
            target: ROOT_ID,
            op: Op::Call(method.into()),
            args,
            flags: 0,
        });
        (wire_len(&request), wire_len(&Message::Reply { seq, value }))
    }
}

/// Length of a message's frame on the wire, as the connection encodes it.
fn wire_len(msg: &Message) -> usize {
    let mut out = Vec::new();
    encode_frame(&mut out, usize::MAX, |o| msg.encode_into(o))
        .expect("encode")
        .expect("frame size");
    out.len()
}

/// Times `n` sequential runs of `op`, appending nanoseconds to `out`.
async fn time_each<F, Fut>(n: usize, out: &mut Vec<u64>, mut op: F)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..n {
        let start = Instant::now();
        op(i).await;
        out.push(start.elapsed().as_nanos() as u64);
    }
}

/// Sequential latency of `call` and of the raw ping-pong of the same sizes.
async fn latency(plan: &Plan, root: &NetRef, call: Call) -> (Latency, Latency) {
    let (request_len, reply_len) = call.frame_sizes();
    let mut raw = RawClient::connect(start_raw_server(reply_len).await, request_len).await;
    let (mut rpc_ns, mut raw_ns) = (Vec::with_capacity(plan.samples), Vec::with_capacity(plan.samples));
    let mut warm = Vec::new();
    time_each(plan.warmup, &mut warm, |i| call.run(root, i as i64)).await;
    for _ in 0..plan.warmup {
        raw.round_trip().await;
    }
    let per_round = plan.samples / plan.rounds;
    for _ in 0..plan.rounds {
        time_each(per_round, &mut rpc_ns, |i| call.run(root, i as i64)).await;
        for _ in 0..per_round {
            let start = Instant::now();
            raw.round_trip().await;
            raw_ns.push(start.elapsed().as_nanos() as u64);
        }
    }
    (Latency::of(&mut rpc_ns), Latency::of(&mut raw_ns))
}

/// `total` null calls from `window` tasks sharing one connection; returns calls per second.
async fn rpc_pipelined(root: &NetRef, window: usize, total: usize) -> f64 {
    let per_task = total / window;
    let start = Instant::now();
    let tasks: Vec<_> = (0..window)
        .map(|_| {
            let root = root.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    Call::Null.run(&root, i as i64).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("pipelined task");
    }
    (per_task * window) as f64 / start.elapsed().as_secs_f64()
}

/// Pipelined throughput of null calls and of the raw baseline (median of the rounds).
async fn throughput(plan: &Plan, root: &NetRef) -> (f64, f64) {
    let (request_len, reply_len) = Call::Null.frame_sizes();
    let mut raw = RawClient::connect(start_raw_server(reply_len).await, request_len).await;
    let total = plan.pipelined_calls;
    rpc_pipelined(root, plan.window, total / 10).await;
    raw.pipelined(plan.window, total / 10).await;
    let (mut rpc_rates, mut raw_rates) = (Vec::new(), Vec::new());
    for _ in 0..plan.rounds.min(3) {
        rpc_rates.push(rpc_pipelined(root, plan.window, total).await);
        raw_rates.push(total as f64 / raw.pipelined(plan.window, total).await.as_secs_f64());
    }
    (median(&mut rpc_rates), median(&mut raw_rates))
}

/// Runs a scenario under [`SCENARIO_LIMIT`].
async fn bounded<T>(name: &str, scenario: impl Future<Output = T>) -> T {
    match tokio::time::timeout(SCENARIO_LIMIT, scenario).await {
        Ok(result) => result,
        Err(_) => panic!("scenario {name} did not finish within {SCENARIO_LIMIT:?}"),
    }
}

/// Prints one table row; `ratio` is how many times the raw baseline rpc costs.
fn row(scenario: &str, rpc: f64, raw: f64, ratio: f64) {
    println!("{scenario:<36} {rpc:>12.1} {raw:>12.1} {ratio:>8.2}x");
}

/// Measures everything and prints the table.
async fn run(plan: Plan) {
    let server = Server::new(|| BenchService)
        .bind("127.0.0.1:0")
        .await
        .expect("bind rpc server");
    let port = server.local_addr().expect("rpc server address").port();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let conn = rpc::connect("127.0.0.1", port).await.expect("connect");
    let root = conn.root();

    println!(
        "loopback TCP 127.0.0.1, tokio multi-thread runtime with 2 workers; latency: {} warm-up + {} samples \
         per side in {} alternating rounds; throughput: median of 3 rounds of {} calls, {} in flight",
        plan.warmup, plan.samples, plan.rounds, plan.pipelined_calls, plan.window
    );
    for call in [Call::Null, Call::Echo] {
        let (req, rep) = call.frame_sizes();
        println!(
            "{}: request frame {req} bytes, reply frame {rep} bytes (4-byte prefix included)",
            call.label()
        );
    }
    println!();
    println!(
        "{:<36} {:>12} {:>12} {:>9}",
        "scenario", "rpc", "raw tcp", "rpc/raw"
    );
    for call in [Call::Null, Call::Echo] {
        let name = format!("{} latency", call.label());
        if plan.selects(&name) {
            let (rpc, raw) = bounded(&name, latency(&plan, &root, call)).await;
            row(&format!("{name} p50 (µs)"), rpc.p50, raw.p50, rpc.p50 / raw.p50);
            row(&format!("{name} p99 (µs)"), rpc.p99, raw.p99, rpc.p99 / raw.p99);
            row(
                &format!("{name} mean (µs)"),
                rpc.mean,
                raw.mean,
                rpc.mean / raw.mean,
            );
        }
    }
    let name = format!("null() x{} in flight", plan.window);
    if plan.selects(&name) {
        let (rpc, raw) = bounded(&name, throughput(&plan, &root)).await;
        row(&format!("{name} (k calls/s)"), rpc / 1e3, raw / 1e3, raw / rpc);
    }
    println!("(rpc/raw: latency rpc÷raw; throughput raw÷rpc; 1.00x = as fast as raw TCP)");

    conn.close().await;
    shutdown.shutdown();
    serving.await.expect("server task").expect("server");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Inside a spawned task, so that the callers run on the runtime's workers like the servers
    // do, not on the main thread (which would add a thread hop to every round trip).
    let bench = runtime.spawn(run(Plan::from_args()));
    runtime.block_on(bench).expect("benchmark task");
}
