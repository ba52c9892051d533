//! Callback round trip: `call_back(f, x)` makes the server call the client's closure `f` once
//! during the call (2 round trips in all). The same `Callback` is passed on every call, and in
//! a second variant the server keeps it between calls. The raw side makes 2 round trips with
//! the 4 frames' sizes; the callback's own cost is reported as (outer call - null call).

use rpc::core::protocol::{Op, ROOT_ID};
use rpc::{Callback, Connection, NetRef, Value};

use super::frames::{reply_len, request_len, REF_ID};
use super::latency::Call;
use super::timing::{raw_samples, run_selected, settles_to_zero, time_each};
use crate::common::{raw_two_trips, Latency};
use crate::{latency_rows, row, Plan};

/// The 4 frames of `call_back(f, 1000)`, in the order they travel: the outer request
/// (client to server), the callback request (server to client), the callback's reply (client
/// to server), the outer reply (server to client).
fn callback_frame_sizes() -> [usize; 4] {
    [
        request_len(
            ROOT_ID,
            Op::Call("call_back".into()),
            vec![Value::UInt(REF_ID), Value::Int(1_000)],
        ),
        request_len(REF_ID, Op::CallSelf, vec![Value::Int(1_000)]),
        reply_len(Value::Int(1_000)),
        reply_len(Value::Int(1_000)),
    ]
}

/// Prints the frame sizes of `call_back`.
pub fn describe() {
    let [a, b, c, d] = callback_frame_sizes();
    println!("call_back(f, i64): frames {a} -> {b} <- {c} -> {d} bytes (raw: 2 round trips of these)");
}

/// Calls `call_back(f, i)` and checks the answer.
async fn call_back(root: &NetRef, f: &Callback, i: i64) {
    let back: i64 = root.call("call_back", (f.clone(), i)).await.expect("call_back");
    assert_eq!(back, i);
}

/// Calls `call_kept(i)` and checks the answer.
async fn call_kept(root: &NetRef, i: i64) {
    let back: i64 = root.call("call_kept", (i,)).await.expect("call_kept");
    assert_eq!(back, i);
}

/// What the callback scenario measured.
struct CallbackFigures {
    /// `call_back(f, x)` with the same `f` passed every time.
    passed: Latency,
    /// `call_kept(x)`: the server calls the `f` it kept.
    kept: Latency,
    /// `null()`, in the same rounds.
    null: Latency,
    /// Raw: 2 round trips of the callback's frame sizes.
    raw_two: Latency,
    /// Raw: 1 round trip of the null call's frame sizes.
    raw_one: Latency,
    /// Export ids the server saw for the same `f` on 3 sequential calls, passed each time.
    ids_passed: Vec<u64>,
    /// The same while the server kept `f`.
    ids_kept: Vec<u64>,
    /// Objects the client exported after the scenario (0: the server released `f`).
    client_exports_after: usize,
}

/// The export ids under which the server receives `f` on 3 sequential calls.
async fn ids_seen(root: &NetRef, f: &Callback) -> Vec<u64> {
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            root.call::<u64>("callback_id", (f.clone(),))
                .await
                .expect("callback_id"),
        );
    }
    ids
}

/// Callback round trips: the same client closure called back by the server, passed on every
/// call and kept on the server, beside null calls and raw ping-pongs, in alternating rounds.
async fn callback_latency(plan: &Plan, conn: &Connection) -> CallbackFigures {
    let root = conn.root();
    // One closure for the whole run: passing it again sends the same object.
    let f = Callback::new(|x: i64| x);
    let mut raw_one = Call::Null.raw().await;
    let mut raw_two = raw_two_trips(callback_frame_sizes()).await;
    let n = plan.samples;
    let (mut passed, mut kept, mut null) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut two, mut one) = (Vec::with_capacity(n), Vec::with_capacity(n));

    let mut warm = Vec::new();
    time_each(plan.warmup, &mut warm, |i| call_back(&root, &f, i as i64)).await;
    root.call::<()>("keep", (f.clone(),)).await.expect("keep");
    time_each(plan.warmup, &mut warm, |i| call_kept(&root, i as i64)).await;
    root.call::<()>("forget", ()).await.expect("forget");
    time_each(plan.warmup, &mut warm, |i| Call::Null.run(&root, i as i64)).await;
    raw_samples(plan.warmup, 2, &mut raw_two, &mut warm).await;
    raw_samples(plan.warmup, 1, &mut raw_one, &mut warm).await;

    let per_round = n / plan.rounds;
    for _ in 0..plan.rounds {
        // Kept first, then forgotten, so that the passed calls find no proxy left on the server.
        root.call::<()>("keep", (f.clone(),)).await.expect("keep");
        time_each(per_round, &mut kept, |i| call_kept(&root, i as i64)).await;
        root.call::<()>("forget", ()).await.expect("forget");
        settles_to_zero(|| async { conn.stats().exported_objects }).await;
        time_each(per_round, &mut passed, |i| call_back(&root, &f, i as i64)).await;
        time_each(per_round, &mut null, |i| Call::Null.run(&root, i as i64)).await;
        raw_samples(per_round, 2, &mut raw_two, &mut two).await;
        raw_samples(per_round, 1, &mut raw_one, &mut one).await;
    }

    let ids_passed = ids_seen(&root, &f).await;
    root.call::<()>("keep", (f.clone(),)).await.expect("keep");
    let ids_kept = ids_seen(&root, &f).await;
    root.call::<()>("forget", ()).await.expect("forget");
    let client_exports_after = settles_to_zero(|| async { conn.stats().exported_objects }).await;
    CallbackFigures {
        passed: Latency::of(&mut passed),
        kept: Latency::of(&mut kept),
        null: Latency::of(&mut null),
        raw_two: Latency::of(&mut two),
        raw_one: Latency::of(&mut one),
        ids_passed,
        ids_kept,
        client_exports_after,
    }
}

/// Measures the callbacks if the plan selects them and prints their rows; fails unless the
/// server released the callback in the end.
pub async fn report(plan: &Plan, conn: &Connection) {
    let Some(cb) = run_selected(plan, "callback latency", callback_latency(plan, conn)).await else {
        return;
    };
    let one = cb.raw_one.p50;
    for (variant, rpc) in [("passed", cb.passed), ("kept", cb.kept)] {
        latency_rows(&format!("callback {variant}"), "µs", rpc, cb.raw_two);
    }
    row(
        "null() p50, same rounds (µs)",
        cb.null.p50,
        one,
        cb.null.p50 / one,
    );
    let passed_rt = cb.passed.p50 - cb.null.p50;
    let kept_rt = cb.kept.p50 - cb.null.p50;
    row(
        "callback rt passed p50-null (µs)",
        passed_rt,
        one,
        passed_rt / one,
    );
    row("callback rt kept p50-null (µs)", kept_rt, one, kept_rt / one);
    println!(
        "  callback round trip ÷ null call (p50): passed {:.2}x, kept {:.2}x (goal: at most 2x)",
        passed_rt / cb.null.p50,
        kept_rt / cb.null.p50
    );
    println!(
        "  the server saw the same Callback under export ids {:?} when passed on 3 calls, \
         {:?} while it kept it; client exports afterwards: {}",
        cb.ids_passed, cb.ids_kept, cb.client_exports_after
    );
    assert_eq!(cb.client_exports_after, 0, "the server released the callback");
}
