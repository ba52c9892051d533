//! Batched calls: `rpc::Batch`es of 100 `null()` calls (one frame each), 1 and 4 batches in
//! flight; the raw side sends a frame of the batch's size and gets 100 reply frames back.

use std::time::Duration;

use rpc::core::protocol::{Message, Op, Request, ROOT_ID};
use rpc::{Batch, Connection, Value};

use super::frames::wire_len;
use super::timing::{in_tasks, run_selected};
use crate::common::{median, start_raw_fanout_server, RawClient};
use crate::{row, Plan, Rate};

/// Sequence number of the magnitude the timed batches' calls have on their connection: a full
/// run makes about 1.2 million batched calls there, so the timed ones have 3-byte varints
/// (16,384 to 2,097,151).
const BATCH_SEQ: u64 = 1_000_000;

/// Bytes on the wire of a batch of `size` `null()` calls (one frame holding every request)
/// and of one of its replies (each call gets a reply frame of its own).
fn batch_frame_sizes(size: usize) -> (usize, usize) {
    let request = Request {
        seq: BATCH_SEQ,
        target: ROOT_ID,
        op: Op::Call("null".into()),
        args: Vec::new(),
        flags: 0,
    };
    (
        wire_len(&Message::Batch(vec![request; size])),
        wire_len(&Message::Reply {
            seq: BATCH_SEQ,
            value: Value::Unit,
        }),
    )
}

/// `batches` batches of `size` `null()` calls over `conn`, from `window` tasks (so up to
/// `window` batches in flight); returns calls per second. Every call must succeed.
async fn rpc_batches(conn: &Connection, window: usize, batches: usize, size: usize) -> f64 {
    let per_task = batches / window;
    let elapsed = in_tasks(window, "batch task", || {
        let conn = conn.clone();
        async move {
            let root = conn.root();
            for _ in 0..per_task {
                let mut batch = Batch::new(&conn);
                for _ in 0..size {
                    batch.call(&root, "null", ());
                }
                let results = batch.send().await.expect("batch sent");
                assert_eq!(results.len(), size, "one result per batched call");
                for result in results.into_values() {
                    result.expect("batched null call");
                }
            }
        }
    })
    .await;
    (per_task * window * size) as f64 / elapsed.as_secs_f64()
}

/// Batched calls per second with 1 and `plan.batch_window` batches in flight, beside the raw
/// exchange of the same frames (a batch-sized frame out, `batch_size` reply frames back), on a
/// connection of its own; (rpc, raw) per window, medians of alternating rounds.
async fn batched(plan: &Plan, port: u16) -> [(f64, f64); 2] {
    let conn = rpc::connect("127.0.0.1", port).await.expect("connect");
    let (size, batches) = (plan.batch_size, plan.batches);
    let (request_len, reply_len) = batch_frame_sizes(size);
    let mut raw = RawClient::connect(start_raw_fanout_server(reply_len, size).await, request_len).await;
    let windows = [1, plan.batch_window];
    let raw_rate = |elapsed: Duration, batches: usize| (batches * size) as f64 / elapsed.as_secs_f64();
    for window in windows {
        rpc_batches(&conn, window, batches / 10, size).await;
        raw.pipelined_fanout(window, batches / 10, size).await;
    }
    let mut rates: [(Vec<f64>, Vec<f64>); 2] = Default::default();
    for _ in 0..plan.rounds.min(3) {
        for (&window, (rpc_rates, raw_rates)) in windows.iter().zip(&mut rates) {
            rpc_rates.push(rpc_batches(&conn, window, batches, size).await);
            let elapsed = raw.pipelined_fanout(window, batches, size).await;
            raw_rates.push(raw_rate(elapsed, batches));
        }
    }
    assert_eq!(conn.stats().pending_calls, 0, "no call left waiting");
    conn.close().await;
    rates.map(|(mut rpc_rates, mut raw_rates)| (median(&mut rpc_rates), median(&mut raw_rates)))
}

/// Prints the frame sizes of a batch.
pub fn describe(plan: &Plan) {
    let (batch_request, batch_reply) = batch_frame_sizes(plan.batch_size);
    println!(
        "batched: {} batches of {} null() calls per round, a {batch_request}-byte frame out and {} \
         {batch_reply}-byte frames back per batch (raw: the same)",
        plan.batches, plan.batch_size, plan.batch_size
    );
}

/// Measures the batches if the plan selects them, prints their rows and adds their rates to
/// `rates`.
pub async fn report(plan: &Plan, port: u16, rates: &mut Vec<Rate>) {
    let Some(figures) = run_selected(plan, "batched calls", batched(plan, port)).await else {
        return;
    };
    for (window, (rpc, raw)) in [1, plan.batch_window].into_iter().zip(figures) {
        let label = format!("batched x{}, {window} in flight", plan.batch_size);
        row(&format!("{label} (k calls/s)"), rpc / 1e3, raw / 1e3, raw / rpc);
        rates.push(Rate { label, rpc, raw });
    }
}
