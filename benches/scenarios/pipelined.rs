//! Pipelined throughput: null calls from 64 tasks sharing one connection, beside a raw client
//! keeping 64 frames of the same sizes outstanding on one connection to an echo server.

use rpc::NetRef;

use super::latency::Call;
use super::timing::{in_tasks, run_selected};
use crate::common::median;
use crate::{row, Plan, Rate};

/// `total` null calls from `window` tasks sharing one connection; returns calls per second.
async fn rpc_pipelined(root: &NetRef, window: usize, total: usize) -> f64 {
    let per_task = total / window;
    let elapsed = in_tasks(window, "pipelined task", || {
        let root = root.clone();
        async move {
            for i in 0..per_task {
                Call::Null.run(&root, i as i64).await;
            }
        }
    })
    .await;
    (per_task * window) as f64 / elapsed.as_secs_f64()
}

/// Pipelined throughput of null calls and of the raw baseline (median of the rounds).
async fn throughput(plan: &Plan, root: &NetRef) -> (f64, f64) {
    let mut raw = Call::Null.raw().await;
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
