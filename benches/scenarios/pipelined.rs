//! Pipelined throughput: null calls from 64 tasks sharing one connection, beside a raw client
//! keeping 64 frames of the same sizes outstanding on one connection to an echo server.

use rpc::NetRef;

use super::latency::Call;
use super::timing::{null_calls_in_tasks, run_selected};
use crate::common::median;
use crate::{row, Plan, Rate};

/// Pipelined throughput of null calls and of the raw baseline (median of the rounds).
async fn throughput(plan: &Plan, root: &NetRef) -> (f64, f64) {
    let mut raw = Call::Null.raw().await;
    let total = plan.pipelined_calls;
    null_calls_in_tasks(root, plan.window, total / 10, "pipelined task").await;
    raw.pipelined(plan.window, total / 10).await;
    let (mut rpc_rates, mut raw_rates) = (Vec::new(), Vec::new());
    for _ in 0..plan.rounds.min(3) {
        rpc_rates.push(null_calls_in_tasks(root, plan.window, total, "pipelined task").await);
        raw_rates.push(total as f64 / raw.pipelined(plan.window, total).await.as_secs_f64());
    }
    (median(&mut rpc_rates), median(&mut raw_rates))
}

/// Measures the pipelined calls if the plan selects them, prints their row and adds their rate
/// to `rates`.
pub async fn report(plan: &Plan, root: &NetRef, rates: &mut Vec<Rate>) {
    let name = format!("null() x{} in flight", plan.window);
    if let Some((rpc, raw)) = run_selected(plan, &name, throughput(plan, root)).await {
        row(&format!("{name} (k calls/s)"), rpc / 1e3, raw / 1e3, raw / rpc);
        rates.push(Rate {
            label: format!("pipelined null() x{}", plan.window),
            rpc,
            raw,
        });
    }
}
