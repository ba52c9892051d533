//! NetRef churn: per iteration `open()` returns a fresh object by reference, one method is
//! called on it, and it is dropped (a batched `Release`); the raw side makes 2 round trips. At
//! the end the server's export table must be empty again.

use rpc::core::protocol::{Op, ROOT_ID};
use rpc::{Connection, NetRef, Value};

use super::frames::{reply_len, request_len, REF_ID};
use super::timing::{alternating, run_selected, settles_to_zero};
use crate::common::{raw_two_trips, Latency};
use crate::{latency_rows, row, Plan};

/// The 4 frames of one NetRef churn iteration: `open()` and its reply (a reference),
/// `incr()` on the new object and its reply. The one-way `Release` is not counted.
fn churn_frame_sizes() -> [usize; 4] {
    [
        request_len(ROOT_ID, Op::Call("open".into()), Vec::new()),
        reply_len(Value::UInt(REF_ID)),
        request_len(REF_ID, Op::Call("incr".into()), Vec::new()),
        reply_len(Value::Int(1)),
    ]
}

/// Prints the frame sizes of a churn iteration.
pub fn describe() {
    let [a, b, c, d] = churn_frame_sizes();
    println!("netref churn: open() {a}/{b} bytes, incr() {c}/{d} bytes, plus a one-way Release (rpc only)");
}

/// One NetRef churn iteration: open a fresh counter, call it once, drop it.
async fn churn_once(root: &NetRef) {
    let counter: NetRef = root.call("open", ()).await.expect("open");
    let n: i64 = counter.call("incr", ()).await.expect("incr");
    assert_eq!(n, 1);
    // Dropping the last clone queues a Release, batched by the writer with whatever follows.
    drop(counter);
}

/// What the NetRef churn scenario measured.
struct ChurnFigures {
    /// Per iteration (2 calls and a drop).
    rpc: Latency,
    /// Per raw iteration (2 round trips).
    raw: Latency,
    /// Iterations per second, over the timed samples.
    rpc_rate: f64,
    /// Raw iterations per second.
    raw_rate: f64,
    /// Objects the server still exported at the end (after a bounded wait for the releases).
    server_exports_after: usize,
    /// Proxies the client still held at the end.
    client_imports_after: usize,
    /// Objects the server exported right after the last timed iteration (releases in flight).
    server_exports_at_end: usize,
}

/// NetRef churn beside 2 raw round trips per iteration, in alternating rounds.
async fn netref_churn(plan: &Plan, conn: &Connection) -> ChurnFigures {
    let root = conn.root();
    let mut raw = raw_two_trips(churn_frame_sizes()).await;
    let (mut rpc_ns, mut raw_ns) = alternating(plan, &mut raw, 2, |_| churn_once(&root)).await;
    let rate = |ns: &[u64]| ns.len() as f64 / (ns.iter().sum::<u64>() as f64 / 1e9);
    let (rpc_rate, raw_rate) = (rate(&rpc_ns), rate(&raw_ns));
    let server_exports = || async { root.call::<usize>("exported", ()).await.expect("exported") };
    let server_exports_at_end = server_exports().await;
    let server_exports_after = settles_to_zero(server_exports).await;
    ChurnFigures {
        rpc: Latency::of(&mut rpc_ns),
        raw: Latency::of(&mut raw_ns),
        rpc_rate,
        raw_rate,
        server_exports_after,
        client_imports_after: conn.stats().imported_objects,
        server_exports_at_end,
    }
}

/// Measures the churn if the plan selects it and prints its rows; fails unless every churned
/// object was released on both sides.
pub async fn report(plan: &Plan, conn: &Connection) {
    let name = "netref churn";
    let Some(ch) = run_selected(plan, name, netref_churn(plan, conn)).await else {
        return;
    };
    latency_rows(name, "µs/iter", ch.rpc, ch.raw);
    row(
        "netref churn (k iter/s)",
        ch.rpc_rate / 1e3,
        ch.raw_rate / 1e3,
        ch.raw_rate / ch.rpc_rate,
    );
    println!(
        "  server export table: {} right after the last iteration, {} after the releases \
         landed; client proxies: {}",
        ch.server_exports_at_end, ch.server_exports_after, ch.client_imports_after
    );
    assert_eq!(ch.server_exports_after, 0, "every churned object was released");
    assert_eq!(ch.client_imports_after, 0, "no proxy left on the client");
}
