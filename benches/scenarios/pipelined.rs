//! Pipelined throughput: null calls from 64 tasks sharing one connection, beside a raw client
//! keeping 64 frames of the same sizes outstanding on one connection to an echo server.

use rpc::NetRef;

use super::latency::Call;
use super::timing::{null_calls_in_tasks, run_selected};
use crate::common::median;
use crate::common::servers::start_raw_server;
use crate::common::tasks::pipelined_in_tasks;
use crate::{row, Plan, Rate};

/// Pipelined throughput of null calls, of the raw bulk echo and of the raw baseline with a task
/// per caller (`common::tasks`), medians of the rounds.
async fn throughput(plan: &Plan, root: &NetRef) -> (f64, f64, f64) {
    let mut raw = Call::Null.raw().await;
    let (request_len, reply_len) = Call::Null.frame_sizes();
    let echo = start_raw_server(reply_len).await;
    let total = plan.pipelined_calls;
    null_calls_in_tasks(root, plan.window, total / 10, "pipelined task").await;
    raw.pipelined(plan.window, total / 10).await;
    pipelined_in_tasks(echo, request_len, plan.window, total / 10).await;
    let (mut rpc_rates, mut raw_rates, mut task_rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.rounds.min(3) {
        rpc_rates.push(null_calls_in_tasks(root, plan.window, total, "pipelined task").await);
        raw_rates.push(total as f64 / raw.pipelined(plan.window, total).await.as_secs_f64());
        let in_tasks = pipelined_in_tasks(echo, request_len, plan.window, total).await;
        task_rates.push(total as f64 / in_tasks.as_secs_f64());
    }
    (
        median(&mut rpc_rates),
        median(&mut raw_rates),
        median(&mut task_rates),
    )
}

/// Measures the pipelined calls if the plan selects them, prints their row and adds their rate
/// to `rates`.
pub async fn report(plan: &Plan, root: &NetRef, rates: &mut Vec<Rate>) {
    let name = format!("null() x{} in flight", plan.window);
    if let Some((rpc, raw, in_tasks)) = run_selected(plan, &name, throughput(plan, root)).await {
        row(&format!("{name} (k calls/s)"), rpc / 1e3, raw / 1e3, raw / rpc);
        row(
            &format!("{name}, raw with a task per caller"),
            rpc / 1e3,
            in_tasks / 1e3,
            in_tasks / rpc,
        );
        rates.push(Rate {
            label: format!("pipelined null() x{}", plan.window),
            rpc,
            raw,
        });
        rates.push(Rate {
            label: format!("pipelined null() x{} vs raw tasks", plan.window),
            rpc,
            raw: in_tasks,
        });
    }
}
