//! Connecting by name: `rpc::connect(host, port)`, `rpc::connect_uri("rpc://…")` and
//! `Registry::connect_uri("rpcname:…")` on a registry the client holds; and, in a child process
//! with `RPC_REGISTRY` set, `rpc::connect_uri("rpcname:…")` beside `rpc::connect`.

use std::future::Future;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rpc::naming::{Registry, DISCOVERY_ENV, REGISTRY_ENV};
use rpc::{ConnectOptions, Connection};

use crate::common::Latency;
use crate::sides::{null, nulls_uri, Servers, NAME};
use crate::timing::{rotation, run_selected};
use crate::Plan;

/// The scenario's name, for filters.
const SCENARIO: &str = "connect by name";

/// The argument that makes this binary the child of the `RPC_REGISTRY` rows.
pub const ENV_CLIENT: &str = "--naming-env-client";

/// Untimed connects of each side at the start of each round.
const WARM: usize = 5;

/// The sides in this process, in the order [`measure`] returns their samples.
const SIDES: [&str; 3] = [
    "rpc::connect(host, port)",
    "rpc::connect_uri(\"rpc://host:port\")",
    "Registry::connect_uri(\"rpcname:…\")",
];

/// The sides of the child process.
const ENV_SIDES: [&str; 2] = [
    "rpc::connect(host, port)",
    "rpc::connect_uri(\"rpcname:…\"), RPC_REGISTRY",
];

/// How long the child may take.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// `rounds` rounds of `sides` sides, the order rotating; in each round a side makes
/// [`WARM`] untimed connections, then `per_round` timed ones (`connect(side)`, until the
/// connection is up). Every connection answers a `null()` call (which proves it reached the
/// `Nulls` server: the registry has no such method) and is closed, untimed. Nanoseconds per
/// side.
async fn time_connects<F, Fut>(rounds: usize, per_round: usize, sides: usize, connect: F) -> Vec<Vec<u64>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = rpc::Result<Connection>>,
{
    let mut ns = vec![Vec::with_capacity(rounds * per_round); sides];
    for round in 0..rounds {
        for side in rotation(round, sides) {
            for i in 0..WARM + per_round {
                let start = Instant::now();
                let conn = connect(side).await.expect("connect");
                let elapsed = start.elapsed().as_nanos() as u64;
                if i >= WARM {
                    ns[side].push(elapsed);
                }
                null(&conn.root()).await;
                conn.close().await;
            }
        }
    }
    ns
}

/// Connects to the `Nulls` server on `port` directly.
async fn direct(port: u16) -> rpc::Result<Connection> {
    rpc::connect("127.0.0.1", port).await
}

/// The child: connects to the `Nulls` server on the port in `args[0]` directly and by
/// `rpc::connect_uri("rpcname:NAME")` through the registry of its `RPC_REGISTRY`, in
/// `args[1]` rounds of `args[2]` connects, and prints each side's p50 and p99 (µs).
pub async fn env_client(args: &[String]) {
    let [port, rounds, per_round] = [0, 1, 2].map(|i| {
        args.get(i)
            .and_then(|a| a.parse::<usize>().ok())
            .expect("port, rounds, connects per round")
    });
    let port = u16::try_from(port).expect("a port");
    let by_name = format!("rpcname:{NAME}");
    let by_name = by_name.as_str();
    let mut ns = time_connects(rounds, per_round, ENV_SIDES.len(), |side| async move {
        match side {
            0 => direct(port).await,
            _ => rpc::connect_uri(by_name).await,
        }
    })
    .await;
    let l: Vec<Latency> = ns.iter_mut().map(|ns| Latency::of(ns)).collect();
    println!("{} {} {} {}", l[0].p50, l[0].p99, l[1].p50, l[1].p99);
}

/// Runs the child with `RPC_REGISTRY` naming the registry; each side's p50 and p99 (µs).
async fn env_rows(plan: &Plan, servers: &Servers) -> [(f64, f64); 2] {
    let exe = std::env::current_exe().expect("own path");
    let per_round = plan.connects / plan.connect_rounds;
    let mut child = tokio::process::Command::new(exe);
    if plan.one_thread {
        child.arg(crate::ONE_THREAD);
    }
    let child = child
        .arg(ENV_CLIENT)
        .args([servers.nulls_port() as usize, plan.connect_rounds, per_round].map(|n| n.to_string()))
        .env(
            REGISTRY_ENV,
            format!("rpc://127.0.0.1:{}", servers.registry_port()),
        )
        .env_remove(DISCOVERY_ENV)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(CHILD_LIMIT, child)
        .await
        .expect("the RPC_REGISTRY child finished in time")
        .expect("run the RPC_REGISTRY child");
    assert!(
        out.status.success(),
        "the RPC_REGISTRY child failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).expect("UTF-8");
    let figures: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse().expect("a figure"))
        .collect();
    let [p50, p99, env_p50, env_p99] = figures[..] else {
        panic!("the RPC_REGISTRY child printed {line:?}, not 4 figures");
    };
    [(p50, p99), (env_p50, env_p99)]
}

/// Measures the connects if the plan selects them and prints their rows; `lookup_p50` is
/// `Registry::lookup`'s p50 from the lookup scenario (µs), if it ran.
pub async fn report(plan: &Plan, servers: &Servers, lookup_p50: Option<f64>) {
    let scenario = async {
        let reg: &Registry = &servers.registry().await;
        let port = servers.nulls_port();
        let (uri, by_name) = (nulls_uri(port), format!("rpcname:{NAME}"));
        let (uri, by_name) = (uri.as_str(), by_name.as_str());
        let per_round = plan.connects / plan.connect_rounds;
        let mut ns = time_connects(plan.connect_rounds, per_round, SIDES.len(), |side| async move {
            match side {
                0 => direct(port).await,
                1 => rpc::connect_uri(uri).await,
                _ => reg.connect_uri(by_name, ConnectOptions::new()).await,
            }
        })
        .await;
        let l: Vec<Latency> = ns.iter_mut().map(|ns| Latency::of(ns)).collect();
        (l, env_rows(plan, servers).await)
    };
    let Some((l, env)) = run_selected(plan, SCENARIO, scenario).await else {
        return;
    };
    println!();
    println!(
        "{SCENARIO}: {} connects per side in {} rounds ({WARM} untimed first in each), each timed \
         until the connection is up (TCP connect and the protocol's hello; resolving the name first \
         where there is one); each then answers a null() call and is closed, untimed",
        plan.connects, plan.connect_rounds
    );
    println!(
        "{:<44} {:>9} {:>9} {:>11}",
        "connect (µs)", "p50", "p99", "÷ connect"
    );
    for (name, lat) in SIDES.iter().zip(&l) {
        println!(
            "{name:<44} {:>9.1} {:>9.1} {:>10.2}x",
            lat.p50,
            lat.p99,
            lat.p50 / l[0].p50
        );
    }
    println!("in a child process with RPC_REGISTRY set (a runtime of the same kind, the same servers):");
    for (name, (p50, p99)) in ENV_SIDES.iter().zip(env) {
        println!("{name:<44} {p50:>9.1} {p99:>9.1} {:>10.2}x", p50 / env[0].0);
    }
    let extra = l[2].p50 - l[0].p50;
    match lookup_p50 {
        Some(lookup) => println!(
            "(Registry::connect_uri(\"rpcname:…\") − connect: {extra:.1} µs, beside a lookup's p50 of \
             {lookup:.1} µs; with RPC_REGISTRY, − connect: {:.1} µs, a second connection, to the \
             registry, made and dropped on every call)",
            env[1].0 - env[0].0
        ),
        None => println!("(Registry::connect_uri(\"rpcname:…\") − connect: {extra:.1} µs)"),
    }
}
