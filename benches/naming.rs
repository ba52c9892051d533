//! Naming and discovery benchmarks (issue 14): what a registry lookup, connecting by name and
//! a large listing cost, beside a null call, a direct connect and the raw tokio TCP baseline
//! measured in the same run.
//!
//! Run: `cargo bench --bench naming` (about 25 s). Other arguments filter the scenarios by
//! name, e.g. `cargo bench --bench naming -- lookup`; with `--current-thread` clients and
//! servers share one current-thread runtime instead of a 2-worker one (no cross-worker
//! placement: on 2 workers where the long-lived tasks, such as the servers' accept loops, land
//! is drawn anew every run, and the connect figures show two modes from run to run).
//!
//! Every server runs in this process, on the benchmark's runtime, as in the `calls` and
//! `secure` benches: the registry (`RegistryService::new(MemoryStore::new())` served by
//! `Server::shared`, the embedded store) and the server whose null call the lookup is compared
//! with (`Nulls`, in `naming/sides.rs`, served by `Server::new`) are placed the same way, and
//! the clients run on the same runtime. The store holds `2 × entries` entries all along (half of
//! them carry the tag the listing asks for), so lookups run against a populated map, and its
//! pruning task walks them every 100 ms as it does in a real registry.
//!
//! * Lookup latency: sequential `Registry::lookup(name)` of a registered name, the same
//!   through the typed client (`Registry::client()`, without the `Registry` wrapper), the
//!   typed client's lookup of a name nobody registered (a `None` reply: the frame of `null()`'s
//!   reply), beside `null()` and `null_async()` (an `async` method answering nothing: the task
//!   every registry method runs as) on the `Nulls` server, and raw TCP ping-pongs of lookup's
//!   and of `null()`'s frame sizes; p50/p99. Also the store's own `lookup` with no rpc. Goal:
//!   lookup p50 ≤ 1.2x null's.
//! * Connecting by name: `rpc::connect(host, port)`, `rpc::connect_uri("rpc://host:port")` and
//!   `Registry::connect_uri("rpcname:NAME", ..)` on a registry the client holds (a lookup, then
//!   the same connect), each timed until the connection is up (its close is not timed). And
//!   once the path a user without a registry at hand takes, `rpc::connect_uri("rpcname:NAME")`
//!   with `RPC_REGISTRY` set (a connection to the registry, the lookup, the connect), beside
//!   `rpc::connect` from the same process: a child process (this binary started again with
//!   `--naming-env-client`, its servers still this process's) with the variable in its
//!   environment from the start, so no `set_var` races the runtime's threads. No goal figure:
//!   both are reported with the ratio.
//! * Listing: `Registry::list(Filter::everything().with_all([TAG]))` answering `entries`
//!   entries in one call, beside a raw TCP ping-pong of the same frame sizes; the reply's
//!   frame size (computed by encoding the same `Vec<Entry>` as the connection does, and checked
//!   against the bytes a counting relay in front of the registry saw the reply take). Also,
//!   with no rpc, the store's own `list` and the reply's encoding and decoding alone.
//!
//! Every scenario takes its sides in alternating rounds (the order rotating each round), a
//! fresh connection each; figures are medians. The goal is reported, not enforced: a missed
//! goal prints MISSED, and the run fails only on wrong behaviour.
//!
//! Without `--bench` (as `cargo test --release --bench naming` runs it in CI) it does a quick
//! smoke run with small counts that checks correctness only: every lookup answers the entry
//! registered (and `None` for the unknown name), every connection made by name reaches the
//! named server, the listing holds exactly the tagged entries in name order, and the frames the
//! relay saw are the sizes computed (but for the sequence number, a 1-byte varint on a
//! connection's first call where the computed frames, as in every bench, carry a 2-byte one).

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

#[path = "naming/connect.rs"]
mod connect;
#[path = "naming/list.rs"]
mod list;
#[path = "naming/lookup.rs"]
mod lookup;
#[path = "naming/sides.rs"]
mod sides;

pub use goals::Goal;

/// How much to measure.
pub struct Plan {
    /// Untimed lookups (and calls) of each side, split over `rounds`.
    warmup: usize,
    /// Timed lookup latency samples of each side, split over `rounds`.
    samples: usize,
    /// Alternating lookup rounds.
    rounds: usize,
    /// Timed connects of each side, split over `connect_rounds`.
    connects: usize,
    /// Alternating connect rounds.
    connect_rounds: usize,
    /// Entries the listing answers (the store holds as many more without its tag).
    entries: usize,
    /// Timed listings of each side per round.
    list_calls: usize,
    /// Alternating listing rounds.
    list_rounds: usize,
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
        let one_thread = args.iter().any(|a| a == ONE_THREAD);
        if args.iter().any(|a| a == "--bench") {
            Plan {
                warmup: 2_000,
                samples: 20_000,
                rounds: 100,
                connects: 2_000,
                connect_rounds: 20,
                entries: 10_000,
                list_calls: 5,
                list_rounds: 30,
                filters,
                one_thread,
                smoke: false,
            }
        } else {
            Plan {
                warmup: 30,
                samples: 300,
                rounds: 3,
                connects: 30,
                connect_rounds: 3,
                entries: 10_000,
                list_calls: 1,
                list_rounds: 2,
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

/// Measures everything and prints the tables.
async fn run(plan: Plan) {
    let servers = sides::Servers::start(plan.entries).await;
    let runtime = if plan.one_thread {
        "one tokio current-thread runtime"
    } else {
        "one tokio multi-thread runtime with 2 workers"
    };
    println!(
        "loopback 127.0.0.1; the registry (embedded MemoryStore, {} entries), the null server \
         and the raw servers in this process, clients too, on {runtime}; sides taken in \
         alternating rounds, order rotating, a fresh connection each",
        servers.store_len()
    );
    let mut goals = Vec::new();
    let lookup_p50 = lookup::report(&plan, &servers, &mut goals).await;
    connect::report(&plan, &servers, lookup_p50).await;
    list::report(&plan, &servers).await;
    servers.stop().await;
    goals::summary("issue 14", &goals, plan.smoke);
    if plan.smoke {
        println!("(smoke run: small counts, checks correctness only; its figures mean nothing, run `cargo bench --bench naming`)");
    }
}

/// The argument that puts everything on one current-thread runtime.
const ONE_THREAD: &str = "--current-thread";

/// Runs the benchmark (or its smoke run) on a 2-worker runtime, or a current-thread one with
/// `--current-thread`; or with `--naming-env-client` the child that connects by name through
/// `RPC_REGISTRY` (on the same kind of runtime as its parent).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = common::harness_runtime(args.iter().any(|a| a == ONE_THREAD), false);
    if let Some(at) = args.iter().position(|a| a == connect::ENV_CLIENT) {
        runtime.block_on(connect::env_client(&args[at + 1..]));
        return;
    }
    let plan = Plan::from_args();
    // Inside a spawned task, so that the callers run on the runtime's workers like the servers.
    let bench = runtime.spawn(run(plan));
    runtime.block_on(bench).expect("benchmark task");
}
