//! Script latency: `eval("1")` and a teleported `|x| x` called through `call_self`, beside
//! `null()` on a plain server, an async method's path (`null_async()`), the same plus a
//! hand-off to a long-lived thread and back with the task sleeping (`null_handoff()`), and the
//! raw TCP ping-pong of `null()`'s frame sizes.

use std::time::Instant;

use rpc::classic::engine::Session;
use rpc::classic::{Classic, ScriptLimits};
use rpc::{Connection, NetRef};

use crate::common::{median, Latency, RawClient};
use crate::frames::null_frames;
use crate::peer::Peer;
use crate::timing::rotation;
use crate::timing::{raw_samples, run_selected, time_each};
use crate::{Goal, Plan};

/// The scenario's name, for filters.
const NAME: &str = "script latency";

/// The sides, in the order [`measure`] returns their samples.
const SIDES: [&str; 6] = [
    "eval(\"1\")",
    "teleported |x| x, call_self(i)",
    "null()",
    "null_async() (async method)",
    "null_handoff() (+ thread hand-off)",
    "raw TCP ping-pong",
];

/// Indexes into [`SIDES`].
const EVAL: usize = 0;
const TELEPORT: usize = 1;
const NULL: usize = 2;
const ASYNC: usize = 3;
const HANDOFF: usize = 4;
const RAW: usize = 5;

/// The goals: eval p50 at most this many times null's, a teleported call at most ...
const EVAL_GOAL: f64 = 2.0;
const TELEPORT_GOAL: f64 = 1.5;

/// A classic session on the peer.
async fn classic(peer: &Peer) -> Classic {
    rpc::classic::connect("127.0.0.1", peer.classic)
        .await
        .expect("connect to the classic server")
}

/// One `eval("1")`, checking the answer.
async fn eval(c: &Classic) {
    assert_eq!(c.eval::<i64>("1").await.expect("eval"), 1);
}

/// One call of the teleported identity, checking the answer.
async fn call(f: &NetRef, x: i64) {
    assert_eq!(f.call_self::<i64>((x,)).await.expect("teleported call"), x);
}

/// One call of a method of the plain server that takes nothing and answers nothing.
async fn nothing(root: &NetRef, method: &str) {
    root.call::<()>(method, ()).await.expect("plain call");
}

/// `rounds` rounds of each side in turn, the order rotating; in each round a side connects
/// afresh, makes `warm` untimed calls, then `per_round` timed ones. Nanoseconds per side.
async fn measure(plan: &Plan, peer: &Peer) -> [Vec<u64>; 6] {
    let (warm, per_round) = (plan.warmup / plan.rounds, plan.samples / plan.rounds);
    let mut ns: [Vec<u64>; 6] = Default::default();
    let mut untimed = Vec::new();
    for round in 0..plan.rounds {
        for side in rotation(round, SIDES.len()) {
            let out = &mut ns[side];
            match side {
                EVAL => {
                    let c = classic(peer).await;
                    time_each(warm, &mut untimed, |_| eval(&c)).await;
                    time_each(per_round, out, |_| eval(&c)).await;
                    c.close().await;
                }
                TELEPORT => {
                    let c = classic(peer).await;
                    let f = c.teleport("|x| x").await.expect("teleport");
                    time_each(warm, &mut untimed, |i| call(&f, i as i64)).await;
                    time_each(per_round, out, |i| call(&f, i as i64)).await;
                    drop(f);
                    c.close().await;
                }
                NULL | ASYNC | HANDOFF => {
                    let method = ["null", "null_async", "null_handoff"][side - NULL];
                    let conn: Connection = rpc::connect("127.0.0.1", peer.plain)
                        .await
                        .expect("connect to the plain server");
                    let root = conn.root();
                    time_each(warm, &mut untimed, |_| nothing(&root, method)).await;
                    time_each(per_round, out, |_| nothing(&root, method)).await;
                    conn.close().await;
                }
                _ => {
                    let addr = ([127, 0, 0, 1], peer.raw_null).into();
                    let mut raw = RawClient::connect(addr, null_frames().0).await;
                    raw_samples(warm, 1, &mut raw, &mut untimed).await;
                    raw_samples(per_round, 1, &mut raw, out).await;
                }
            }
        }
    }
    ns
}

/// `Session::eval("1")` alone, in this process, no rpc: `n` evaluations awaited one after
/// another (each a hand-off to the session's thread and back, as the server makes), each
/// timed; their p50 in µs.
async fn engine_alone(n: usize) -> f64 {
    let session = Session::new(&ScriptLimits::default());
    let mut ns = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let value = session.eval("1").await.expect("eval alone");
        ns.push(start.elapsed().as_nanos() as u64);
        assert_eq!(value, rpc::Value::Int(1));
    }
    Latency::of(&mut ns).p50
}

/// Measures the latencies if the plan selects them, prints their rows and adds the goals.
pub async fn report(plan: &Plan, peer: &Peer, goals: &mut Vec<Goal>) {
    let scenario = async {
        let mut ns = measure(plan, peer).await;
        let per_round = plan.samples / plan.rounds;
        // The median of the rounds' own ratios of a side's p50 to null()'s p50.
        let paired = |side: usize| {
            let p50 = |round: &[u64]| Latency::of(&mut round.to_vec()).p50;
            let mut ratios: Vec<f64> = ns[side]
                .chunks(per_round)
                .zip(ns[NULL].chunks(per_round))
                .map(|(s, n)| p50(s) / p50(n))
                .collect();
            median(&mut ratios)
        };
        let paired = [paired(EVAL), paired(TELEPORT)];
        // After the rounds: CPU only, it gains nothing from alternating.
        let alone = engine_alone(plan.samples / 10).await;
        (ns.each_mut().map(|ns| Latency::of(ns)), paired, alone)
    };
    let Some((l, [eval_paired, teleport_paired], alone)) = run_selected(plan, NAME, scenario).await else {
        return;
    };
    let (req, rep) = null_frames();
    println!();
    println!(
        "{NAME}: {} warm-up + {} samples per side in {} rounds, a fresh connection each; raw \
         frames of null()'s sizes ({req} and {rep} bytes)",
        plan.warmup, plan.samples, plan.rounds
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "latency (µs)", "p50", "p99", "mean", "÷ null p50", "÷ raw p50"
    );
    for (name, side) in SIDES.iter().zip(&l) {
        println!(
            "{name:<34} {:>9.1} {:>9.1} {:>9.1} {:>9.2}x {:>9.2}x",
            side.p50,
            side.p99,
            side.mean,
            side.p50 / l[NULL].p50,
            side.p50 / l[RAW].p50
        );
    }
    println!(
        "(median of the rounds' own p50 ÷ null() p50: eval {eval_paired:.2}x, teleported call {teleport_paired:.2}x)"
    );
    let e = l[EVAL].p50;
    let share = |part: f64| part / e * 100.0;
    let null = l[NULL].p50;
    let task = l[ASYNC].p50 - null;
    let session = e - l[ASYNC].p50;
    println!(
        "where eval(\"1\")'s p50 of {e:.1} µs goes (differences of p50s): the rpc call {null:.1} µs \
         ({:.0}%), an async method's own task and reply {task:.1} µs ({:.0}%), the session's \
         thread (the hand-off there and back, compiling and running the script, converting its \
         value; \"eval\" and its text on the wire) {session:.1} µs ({:.0}%)",
        share(null),
        share(task),
        share(session),
    );
    println!(
        "(a teleported call answers without an async task: its p50 is null()'s + {:.1} µs; a hand-off \
         whose task sleeps, null_handoff(), costs {:.1} µs over null_async(); Session::eval(\"1\") \
         alone in this process, no rpc: p50 {alone:.1} µs, the hand-off to its thread and back \
         included)",
        l[TELEPORT].p50 - null,
        l[HANDOFF].p50 - l[ASYNC].p50,
    );
    let (eval_ratio, teleport_ratio) = (e / null, l[TELEPORT].p50 / null);
    goals.push(Goal {
        what: "eval(\"1\") p50 ÷ null() p50".to_owned(),
        figure: format!("{eval_ratio:.2}x"),
        target: "≤ 2x",
        met: eval_ratio <= EVAL_GOAL,
    });
    goals.push(Goal {
        what: "teleported call p50 ÷ null() p50".to_owned(),
        figure: format!("{teleport_ratio:.2}x"),
        target: "≤ 1.5x",
        met: teleport_ratio <= TELEPORT_GOAL,
    });
}
