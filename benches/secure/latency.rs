//! TLS null-call latency: sequential `null()` calls over TLS and over plain TCP beside the raw
//! TCP ping-pong of the same frame sizes and the same ping-pong inside TLS.

use crate::common::{median, Latency};
use crate::sides::{null, null_frames, FourSides, Pki};
use crate::timing::run_selected;
use crate::{four_heading, four_row, Goal, Plan};

/// The scenario's name, for filters.
const NAME: &str = "TLS null() latency";

/// The goal: TLS p50 at most this many times plain TCP's.
const GOAL: f64 = 1.3;

/// p50/p99/mean of each side (in `SIDES` order), and the median of the rounds' own ratios of
/// the rpc TLS p50 to the rpc TCP p50.
async fn measure(plan: &Plan, pki: &Pki) -> ([Latency; 4], f64) {
    let sides = FourSides::start(pki, null_frames()).await;
    let (warm, per_round) = (plan.warmup / plan.rounds, plan.samples / plan.rounds);
    let mut ns = sides
        .time(
            plan.rounds,
            warm,
            per_round,
            |root| async move { null(&root).await },
        )
        .await;
    sides.stop().await;
    let p50 = |round: &[u64]| Latency::of(&mut round.to_vec()).p50;
    let mut paired: Vec<f64> = ns[0]
        .chunks(per_round)
        .zip(ns[1].chunks(per_round))
        .map(|(tls, tcp)| p50(tls) / p50(tcp))
        .collect();
    (ns.each_mut().map(|ns| Latency::of(ns)), median(&mut paired))
}

/// Measures the latencies if the plan selects them, prints their rows and adds the goal.
pub async fn report(plan: &Plan, pki: &Pki, goals: &mut Vec<Goal>) {
    let Some((l, paired)) = run_selected(plan, NAME, measure(plan, pki)).await else {
        return;
    };
    let (req, rep) = null_frames();
    println!();
    println!(
        "{NAME}: request frame {req} bytes, reply frame {rep} bytes; {} warm-up + {} samples per side \
         in {} rounds, a fresh connection each",
        plan.warmup, plan.samples, plan.rounds
    );
    four_heading("null() latency (µs)");
    four_row("p50", l.map(|l| l.p50));
    four_row("p99", l.map(|l| l.p99));
    four_row("mean", l.map(|l| l.mean));
    println!("(rpc T/T: rpc TLS ÷ rpc TCP; raw T/T: raw TLS ÷ raw TCP; rpc/raw: rpc TCP ÷ raw TCP)");
    println!("(median of the rounds' own rpc TLS p50 ÷ rpc TCP p50: {paired:.2}x)");
    let ratio = l[0].p50 / l[1].p50;
    goals.push(Goal {
        what: "TLS null() p50 ÷ plain TCP null() p50".to_owned(),
        figure: format!("{ratio:.2}x"),
        target: "≤ 1.3x",
        met: ratio <= GOAL,
    });
}
