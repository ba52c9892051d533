//! Bulk data: a 1 MiB bytes argument whose length comes back, one call at a time, beside a raw
//! ping-pong of a 1 MiB frame and a small reply.

use std::time::Instant;

use rpc::core::protocol::{Op, ROOT_ID};
use rpc::{NetRef, Value};

use super::frames::{reply_len, request_len};
use super::timing::run_selected;
use crate::common::{median, raw_ping_pong, RawClient};
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
}

/// `calls` sequential calls; returns payload bytes per second.
async fn rpc_bulk(root: &NetRef, data: &[u8], calls: usize, pass: Pass) -> f64 {
    let started = Instant::now();
    for _ in 0..calls {
        let n: usize = match pass {
            Pass::Slice => root.call("size", (data,)).await,
            Pass::SerdeBytes => root.call("size", (rpc::serde_bytes::Bytes::new(data),)).await,
        }
        .expect("size call");
        assert_eq!(n, SIZE);
    }
    (calls * SIZE) as f64 / started.elapsed().as_secs_f64()
}

/// `calls` raw round trips of the same frame sizes; returns payload bytes per second.
async fn raw_bulk(raw: &mut RawClient, calls: usize) -> f64 {
    let started = Instant::now();
    for _ in 0..calls {
        raw.round_trip().await;
    }
    (calls * SIZE) as f64 / started.elapsed().as_secs_f64()
}

/// Throughput of the bulk calls and of the raw baseline (median of the rounds).
async fn throughput(plan: &Plan, root: &NetRef, pass: Pass) -> (f64, f64) {
    let (request, reply) = frame_sizes();
    let mut raw = raw_ping_pong(request, reply).await;
    let data = vec![7u8; SIZE];
    let calls = (plan.samples / 100).max(5);
    rpc_bulk(root, &data, calls / 5 + 1, pass).await;
    raw_bulk(&mut raw, calls / 5 + 1).await;
    let (mut rpc_rates, mut raw_rates) = (Vec::new(), Vec::new());
    for _ in 0..plan.rounds {
        rpc_rates.push(rpc_bulk(root, &data, calls, pass).await);
        raw_rates.push(raw_bulk(&mut raw, calls).await);
    }
    (median(&mut rpc_rates), median(&mut raw_rates))
}

/// Measures the bulk calls if the plan selects them and prints their row (GB/s).
pub async fn report(plan: &Plan, root: &NetRef) {
    for (name, pass) in [
        ("1 MiB bytes argument, &[u8]", Pass::Slice),
        ("1 MiB bytes argument, serde_bytes", Pass::SerdeBytes),
    ] {
        if let Some((rpc, raw)) = run_selected(plan, name, throughput(plan, root, pass)).await {
            row(&format!("{name} (GB/s)"), rpc / 1e9, raw / 1e9, raw / rpc);
        }
    }
}
