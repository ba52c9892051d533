//! The raw baseline of every benchmark: plain tokio TCP over loopback (`TCP_NODELAY` on),
//! length-prefixed frames of exactly the sizes the rpc frames have, and no rpc code at all.
//! Also the small statistics the table needs.
//!
//! * `frames`: the frames and how a reader splits a stream into them.
//! * `servers`: the raw servers (echo, cycle, fan-out, sink).
//! * `client`: the raw client and its ways of sending.
//! * `stats`: latency percentiles and medians.
//! * `placement`: where servers run (the benchmark's runtime, or one of their own).
//! * `tasks`: the pipelined baseline with a task per caller (a writer and a reader task between).
//!
//! The raw client and the raw servers' answering loop (`servers::answer_frames`) work on any
//! stream, so that the `secure` bench runs the same ping-pong inside TLS.

mod client;
pub mod frames;
mod placement;
pub mod servers;
mod stats;
pub mod tasks;

pub use client::RawClient;
pub use frames::ping_frame_of;
pub use placement::{harness_runtime, on_server_side};
pub use servers::{start_raw_fanout_server, start_raw_sink_server};
pub use stats::{median, Latency};

use servers::{start_raw_cycle_server, start_raw_server};

/// A raw server answering every request frame with one of `reply_len` bytes, and a client of
/// it sending request frames of `request_len` bytes: the ping-pong of one call.
pub async fn raw_ping_pong(request_len: usize, reply_len: usize) -> RawClient {
    RawClient::connect(start_raw_server(reply_len).await, request_len).await
}

/// A raw client and server making the 2 round trips of `frames` (in the order they travel:
/// out, back, out, back) per 2 calls of [`RawClient::round_trip`].
pub async fn raw_two_trips(frames: [usize; 4]) -> RawClient {
    let [out1, back1, out2, back2] = frames;
    let addr = start_raw_cycle_server(vec![back1, back2]).await;
    RawClient::connect_cycle(addr, &[out1, out2]).await
}
