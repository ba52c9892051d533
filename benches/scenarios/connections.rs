//! Several connections at once: 4 clients, each making sequential null calls on its own
//! connection, beside 4 raw ping-pong connections of the same frame sizes.

use std::time::Instant;

use rpc::NetRef;

use super::latency::Call;
use super::timing::run_selected;
use crate::common::{median, RawClient};
use crate::{row, Plan, Rate};

/// Clients measured at once.
const CLIENTS: usize = 4;

/// `calls` sequential null calls on each of the `roots` at once; returns calls per second.
async fn rpc_parallel(roots: &[NetRef], calls: usize) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = roots
        .iter()
        .cloned()
        .map(|root| {
            tokio::spawn(async move {
                for i in 0..calls {
                    Call::Null.run(&root, i as i64).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("client task");
    }
    (calls * roots.len()) as f64 / started.elapsed().as_secs_f64()
}

/// `trips` ping-pongs on each raw client at once; returns exchanges per second.
async fn raw_parallel(clients: Vec<RawClient>, trips: usize) -> (Vec<RawClient>, f64) {
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut raw| {
            tokio::spawn(async move {
                for _ in 0..trips {
                    raw.round_trip().await;
                }
                raw
            })
        })
        .collect();
    let mut back = Vec::with_capacity(tasks.len());
    for t in tasks {
        back.push(t.await.expect("raw task"));
    }
    let rate = (trips * back.len()) as f64 / started.elapsed().as_secs_f64();
    (back, rate)
}

/// Throughput of the parallel clients and of the raw baseline (median of 10 alternating
/// rounds).
async fn throughput(plan: &Plan, port: u16) -> (f64, f64) {
    let mut conns = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        conns.push(rpc::connect("127.0.0.1", port).await.expect("connect"));
    }
    let roots: Vec<NetRef> = conns.iter().map(|c| c.root()).collect();
    let mut raws = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        raws.push(Call::Null.raw().await);
    }
    // Many short alternating rounds: a slow stretch of the machine hits both sides alike.
    let calls = plan.samples / CLIENTS / 2;
    rpc_parallel(&roots, plan.warmup).await;
    let (mut raws, _) = raw_parallel(raws, plan.warmup).await;
    let (mut rpc_rates, mut raw_rates) = (Vec::new(), Vec::new());
    for _ in 0..2 * plan.rounds {
        rpc_rates.push(rpc_parallel(&roots, calls).await);
        let (back, rate) = raw_parallel(raws, calls).await;
        raws = back;
        raw_rates.push(rate);
    }
    for conn in conns {
        conn.close().await;
    }
    (median(&mut rpc_rates), median(&mut raw_rates))
}

/// Measures the parallel clients if the plan selects them, prints their row and adds their
/// rate to `rates`.
pub async fn report(plan: &Plan, port: u16, rates: &mut Vec<Rate>) {
    let name = format!("null() on {CLIENTS} connections");
    if let Some((rpc, raw)) = run_selected(plan, &name, throughput(plan, port)).await {
        row(&format!("{name} (k calls/s)"), rpc / 1e3, raw / 1e3, raw / rpc);
        rates.push(Rate {
            label: format!("{CLIENTS} connections x sequential null()"),
            rpc,
            raw,
        });
    }
}
