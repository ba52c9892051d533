//! Bulk data: a 1 MiB bytes argument whose length comes back, one call at a time, beside a raw
//! ping-pong of a 1 MiB frame and a small reply. Rates are taken at the median call time.

use rpc::core::protocol::{Op, ROOT_ID};
use rpc::{NetRef, Value};

use super::frames::{reply_len, request_len};
use super::service::BenchServiceClient;
use super::timing::{raw_samples, run_selected, time_each};
use crate::common::{raw_ping_pong, Latency};
use crate::{row, Plan};

/// The argument's size.
const SIZE: usize = 1 << 20;

/// Request and reply frame sizes of `size(data)` with `SIZE` bytes of data.
fn frame_sizes() -> (usize, usize) {
    let request = request_len(
        ROOT_ID,
        Op::Call("size".into()),
        vec![Value::Bytes(vec![0; SIZE])],
    );
    (request, reply_len(Value::Int(SIZE as i64)))
}

/// Prints the frame sizes.
pub fn describe() {
    let (req, rep) = frame_sizes();
    println!("bulk: size(1 MiB of bytes): request frame {req} bytes, reply frame {rep} bytes");
}

/// How the caller passes the bytes.
#[derive(Clone, Copy)]
enum Pass {
    /// A plain `&[u8]` (serde sees a sequence of `u8`).
    Slice,
    /// `serde_bytes::Bytes` (serde sees bytes).
    SerdeBytes,
    /// The typed client's `size(Vec<u8>)`, the caller's `to_vec()` included (no serde).
    Typed,
}

/// One call of `size(data)`.
async fn rpc_call(root: &NetRef, data: &[u8], pass: Pass) {
    let n: usize = match pass {
        Pass::Slice => root.call("size", (data,)).await,
        Pass::SerdeBytes => root.call("size", (rpc::serde_bytes::Bytes::new(data),)).await,
        Pass::Typed => BenchServiceClient::new(root.clone()).size(data.to_vec()).await,
    }
    .expect("size call");
    assert_eq!(n, SIZE);
}

/// Payload bytes per second of the bulk calls and of the raw baseline, each at its median
/// call time: sequential calls timed one by one in 25 alternating rounds, so that a slow
/// stretch of the machine hits both sides and single slow calls do not count.
async fn throughput(plan: &Plan, root: &NetRef, pass: Pass) -> (f64, f64) {
    let (request, reply) = frame_sizes();
    let mut raw = raw_ping_pong(request, reply).await;
    let data = vec![7u8; SIZE];
    let per_round = (plan.samples / 1_000).max(1);
    for _ in 0..per_round {
        rpc_call(root, &data, pass).await;
        raw.round_trip().await;
    }
    let (mut rpc_ns, mut raw_ns) = (Vec::new(), Vec::new());
    for _ in 0..25 {
        time_each(per_round, &mut rpc_ns, |_| rpc_call(root, &data, pass)).await;
        raw_samples(per_round, 1, &mut raw, &mut raw_ns).await;
    }
    let rate = |ns: &mut Vec<u64>| SIZE as f64 / (Latency::of(ns).p50 / 1e6);
    (rate(&mut rpc_ns), rate(&mut raw_ns))
}

/// Measures the bulk calls if the plan selects them and prints their row (GB/s).
pub async fn report(plan: &Plan, root: &NetRef) {
    for (name, pass) in [
        ("1 MiB bytes argument, &[u8]", Pass::Slice),
        ("1 MiB bytes argument, serde_bytes", Pass::SerdeBytes),
        ("1 MiB bytes argument, typed client Vec<u8>", Pass::Typed),
    ] {
        if let Some((rpc, raw)) = run_selected(plan, name, throughput(plan, root, pass)).await {
            row(&format!("{name} (GB/s)"), rpc / 1e9, raw / 1e9, raw / rpc);
        }
    }
}
