//! Lookup latency: `Registry::lookup(name)`, the typed client's lookup of the same name and of
//! an unknown one, beside `null()`, `null_async()` and the raw TCP ping-pongs of lookup's and
//! of `null()`'s frame sizes; and the store's own lookup with no rpc.

use std::time::Instant;

use rpc::naming::{Entry, Registry, RegistryServiceClient};
use rpc::NetRef;

use crate::common::{median, Latency, RawClient};
use crate::sides::{null, null_async, null_frames, registry_frames, Servers, NAME, UNKNOWN};
use crate::timing::{raw_samples, rotation, run_selected, time_each};
use crate::{Goal, Plan};

/// The scenario's name, for filters.
const SCENARIO: &str = "lookup latency";

/// The sides, in the order [`measure`] returns their samples.
const SIDES: [&str; 7] = [
    "Registry::lookup(name)",
    "typed client lookup(name)",
    "typed client lookup(unknown) → None",
    "null()",
    "null_async() (runs as a task)",
    "raw TCP, lookup's frames",
    "raw TCP, null()'s frames",
];

/// Indexes into [`SIDES`].
const LOOKUP: usize = 0;
const TYPED: usize = 1;
const MISS: usize = 2;
const NULL: usize = 3;
const ASYNC: usize = 4;
const RAW_LOOKUP: usize = 5;
const RAW_NULL: usize = 6;

/// The goal: lookup p50 at most this many times null's.
const GOAL: f64 = 1.2;

/// One `Registry::lookup` of [`NAME`], checking the answer.
async fn lookup(reg: &Registry, want: &Entry) {
    let got = reg.lookup(NAME).await.expect("lookup");
    assert_eq!(&got, want, "the registered entry");
}

/// One lookup of `name` through the typed client, checking the answer.
async fn typed(client: &RegistryServiceClient, name: &str, want: Option<&Entry>) {
    let got = client.lookup(name.to_owned()).await.expect("typed lookup");
    assert_eq!(got.as_ref(), want, "the lookup of {name:?}");
}

/// `rounds` rounds of each side in turn, the order rotating; in each round a side connects
/// afresh, makes `warm` untimed runs, then `per_round` timed ones. Nanoseconds per side.
async fn measure(plan: &Plan, servers: &Servers) -> [Vec<u64>; 7] {
    let (warm, per_round) = (plan.warmup / plan.rounds, plan.samples / plan.rounds);
    let want = servers.entry();
    let want = &want;
    let lookup_request = registry_frames("lookup", NAME, Some(want)).0;
    let mut ns: [Vec<u64>; 7] = Default::default();
    let mut untimed = Vec::new();
    for round in 0..plan.rounds {
        for side in rotation(round, SIDES.len()) {
            let out = &mut ns[side];
            match side {
                LOOKUP => {
                    let reg = servers.registry().await;
                    time_each(warm, &mut untimed, |_| lookup(&reg, want)).await;
                    time_each(per_round, out, |_| lookup(&reg, want)).await;
                }
                TYPED | MISS => {
                    let reg = servers.registry().await;
                    let client = reg.client().await.expect("typed client");
                    let (name, want) = if side == TYPED {
                        (NAME, Some(want))
                    } else {
                        (UNKNOWN, None)
                    };
                    time_each(warm, &mut untimed, |_| typed(&client, name, want)).await;
                    time_each(per_round, out, |_| typed(&client, name, want)).await;
                }
                NULL | ASYNC => {
                    let conn = rpc::connect("127.0.0.1", servers.nulls_port())
                        .await
                        .expect("connect to the null server");
                    let root = conn.root();
                    let call = |root: &NetRef| {
                        let root = root.clone();
                        async move {
                            if side == NULL {
                                null(&root).await;
                            } else {
                                null_async(&root).await;
                            }
                        }
                    };
                    time_each(warm, &mut untimed, |_| call(&root)).await;
                    time_each(per_round, out, |_| call(&root)).await;
                    conn.close().await;
                }
                _ => {
                    let (addr, request) = if side == RAW_LOOKUP {
                        (servers.raw_lookup, lookup_request)
                    } else {
                        (servers.raw_null, null_frames().0)
                    };
                    let mut raw = RawClient::connect(addr, request).await;
                    raw_samples(warm, 1, &mut raw, &mut untimed).await;
                    raw_samples(per_round, 1, &mut raw, out).await;
                }
            }
        }
    }
    ns
}

/// The store's own `lookup` of [`NAME`], `n` times in this task, no rpc: p50 in µs.
async fn store_alone(servers: &Servers, n: usize) -> f64 {
    let want = servers.entry();
    let mut ns = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let got = servers.store.lookup(NAME.to_owned()).await;
        ns.push(start.elapsed().as_nanos() as u64);
        assert_eq!(got.expect("store lookup"), Some(want.clone()));
    }
    Latency::of(&mut ns).p50
}

/// Measures the latencies if the plan selects them, prints their rows and adds the goal;
/// returns `Registry::lookup`'s p50 in µs (for the connect scenario's breakdown).
pub async fn report(plan: &Plan, servers: &Servers, goals: &mut Vec<Goal>) -> Option<f64> {
    let scenario = async {
        let mut ns = measure(plan, servers).await;
        let per_round = plan.samples / plan.rounds;
        let p50 = |round: &[u64]| Latency::of(&mut round.to_vec()).p50;
        let mut paired: Vec<f64> = ns[LOOKUP]
            .chunks(per_round)
            .zip(ns[NULL].chunks(per_round))
            .map(|(l, n)| p50(l) / p50(n))
            .collect();
        let paired = median(&mut paired);
        // After the rounds: CPU only, it gains nothing from alternating.
        let alone = store_alone(servers, plan.samples / 10).await;
        (ns.each_mut().map(|ns| Latency::of(ns)), paired, alone)
    };
    let (l, paired, alone) = run_selected(plan, SCENARIO, scenario).await?;
    let entry = servers.entry();
    let (lookup_req, lookup_rep) = registry_frames("lookup", NAME, Some(&entry));
    let (miss_req, miss_rep) = registry_frames("lookup", UNKNOWN, None::<Entry>);
    let (null_req, null_rep) = null_frames();
    println!();
    println!(
        "{SCENARIO}: {} warm-up + {} samples per side in {} rounds, a fresh connection each; \
         frames (request/reply bytes): lookup of {NAME:?} {lookup_req}/{lookup_rep}, of {UNKNOWN:?} \
         {miss_req}/{miss_rep}, null() {null_req}/{null_rep}",
        plan.warmup, plan.samples, plan.rounds
    );
    println!(
        "{:<38} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "latency (µs)", "p50", "p99", "mean", "÷ null p50", "÷ raw p50"
    );
    for (side, (name, lat)) in SIDES.iter().zip(&l).enumerate() {
        // Each side beside the raw ping-pong of its own frames (the unknown name's are
        // null()'s reply and a request 2 bytes longer).
        let raw = if side <= TYPED || side == RAW_LOOKUP {
            l[RAW_LOOKUP].p50
        } else {
            l[RAW_NULL].p50
        };
        println!(
            "{name:<38} {:>9.1} {:>9.1} {:>9.1} {:>9.2}x {:>9.2}x",
            lat.p50,
            lat.p99,
            lat.mean,
            lat.p50 / l[NULL].p50,
            lat.p50 / raw
        );
    }
    println!("(÷ raw p50: beside the raw ping-pong of lookup's frames for the lookups of {NAME:?}, of null()'s for the others)");
    println!("(median of the rounds' own Registry::lookup p50 ÷ null() p50: {paired:.2}x)");
    let p = |side: usize| l[side].p50;
    println!(
        "where lookup's p50 goes beyond null()'s {:.1} µs (differences of p50s): running as a task \
         {:.1} µs (null_async − null), the name argument, the access check and the store {:.1} µs \
         (unknown − null_async; the store's own lookup alone, no rpc: p50 {alone:.2} µs), the entry \
         in the reply {:.1} µs (typed lookup − unknown; of which the raw wire's share for its larger \
         frames {:.1} µs), the Registry wrapper {:.1} µs (Registry::lookup − typed)",
        p(NULL),
        p(ASYNC) - p(NULL),
        p(MISS) - p(ASYNC),
        p(TYPED) - p(MISS),
        p(RAW_LOOKUP) - p(RAW_NULL),
        p(LOOKUP) - p(TYPED)
    );
    let ratio = p(LOOKUP) / p(NULL);
    goals.push(Goal {
        what: "Registry::lookup p50 ÷ null() p50".to_owned(),
        figure: format!("{ratio:.2}x"),
        target: "≤ 1.2x",
        met: ratio <= GOAL,
    });
    Some(p(LOOKUP))
}
