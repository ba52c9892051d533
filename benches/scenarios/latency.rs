//! Sequential latency: one call at a time (`null()`, `echo(i64)`), p50/p99/mean, beside a raw
//! ping-pong with a request frame of the rpc request's size and a reply of the rpc reply's size.

use rpc::{Args, NetRef, Value};

use super::frames::call_frames;
use super::timing::{alternating, run_selected};
use crate::common::{raw_ping_pong, Latency, RawClient};
use crate::{latency_rows, Plan};

/// A call the latency scenarios make.
#[derive(Clone, Copy)]
pub enum Call {
    /// `root.null()`.
    Null,
    /// `root.echo(x)`.
    Echo,
}

impl Call {
    /// Every call, in table order.
    const ALL: [Call; 2] = [Call::Null, Call::Echo];

    /// The row label.
    fn label(self) -> &'static str {
        match self {
            Call::Null => "null()",
            Call::Echo => "echo(i64)",
        }
    }

    /// Makes the call once.
    pub async fn run(self, root: &NetRef, i: i64) {
        match self {
            Call::Null => root.call::<()>("null", ()).await.expect("null call"),
            Call::Echo => {
                let back: i64 = root.call("echo", (i,)).await.expect("echo call");
                assert_eq!(back, i);
            }
        }
    }

    /// Bytes on the wire (length prefix included) of this call's request and reply, with a
    /// sequence number of the magnitude the run uses.
    pub fn frame_sizes(self) -> (usize, usize) {
        let (method, args, value) = match self {
            Call::Null => ("null", ().into_args(), Value::Unit),
            Call::Echo => ("echo", (1_000i64,).into_args(), Value::Int(1_000)),
        };
        call_frames(method, args.expect("encode arguments"), value)
    }

    /// A raw client and server exchanging frames of this call's sizes.
    pub async fn raw(self) -> RawClient {
        let (request_len, reply_len) = self.frame_sizes();
        raw_ping_pong(request_len, reply_len).await
    }
}

/// Prints the frame sizes of the calls.
pub fn describe() {
    for call in Call::ALL {
        let (req, rep) = call.frame_sizes();
        println!(
            "{}: request frame {req} bytes, reply frame {rep} bytes (4-byte prefix included)",
            call.label()
        );
    }
}

/// Sequential latency of `call` and of the raw ping-pong of the same sizes.
async fn latency(plan: &Plan, root: &NetRef, call: Call) -> (Latency, Latency) {
    let mut raw = call.raw().await;
    let (mut rpc_ns, mut raw_ns) = alternating(plan, &mut raw, 1, |i| call.run(root, i as i64)).await;
    (Latency::of(&mut rpc_ns), Latency::of(&mut raw_ns))
}

/// Measures each call the plan selects and prints its rows.
pub async fn report(plan: &Plan, root: &NetRef) {
    for call in Call::ALL {
        let name = format!("{} latency", call.label());
        if let Some((rpc, raw)) = run_selected(plan, &name, latency(plan, root, call)).await {
            latency_rows(&name, "µs", rpc, raw);
        }
    }
}
