//! Sizes of the rpc frames, for the raw side to send frames of exactly those sizes.

use rpc::core::frame::encode_frame;
use rpc::core::protocol::{Message, ObjectId, Op, Request, ROOT_ID};
use rpc::Value;

/// Sequence number in the frames sized for the raw side (a 2-byte varint, as for `null()`).
const SEQ: u64 = 10_000;

/// Object id in those frames. A full run exports tens of thousands of objects (a fresh id per
/// `call_back` and per churn iteration), so ids there are 3-byte varints.
pub const REF_ID: ObjectId = 20_000;

/// Frame length of a request to `target`. An object reference among `args` is given as
/// `Value::UInt(id)`: a 1-byte tag and the id as a varint, exactly the size of the `SenderRef`
/// the connection writes (which can only be encoded on a live connection).
pub fn request_len(target: ObjectId, op: Op, args: Vec<Value>) -> usize {
    wire_len(&Message::Request(Request {
        seq: SEQ,
        target,
        op,
        args,
        flags: 0,
    }))
}

/// Frame length of a reply carrying `value`.
pub fn reply_len(value: Value) -> usize {
    reply_frame(value).len()
}

/// The frame of a reply carrying `value`.
pub fn reply_frame(value: Value) -> Vec<u8> {
    frame_bytes(&Message::Reply { seq: SEQ, value })
}

/// Bytes on the wire of the request of `method(args)` on the root object and of a reply
/// carrying `value` (length prefix included).
pub fn call_frames(method: &str, args: Vec<Value>, value: Value) -> (usize, usize) {
    (
        request_len(ROOT_ID, Op::Call(method.into()), args),
        reply_len(value),
    )
}

/// Bytes on the wire of `null()`'s request and reply (the baseline call of every bench).
#[allow(dead_code)] // not every bench including this file has a null call
pub fn null_frames() -> (usize, usize) {
    call_frames("null", Vec::new(), Value::Unit)
}

/// Length of a message's frame on the wire, as the connection encodes it.
pub fn wire_len(msg: &Message) -> usize {
    frame_bytes(msg).len()
}

/// A message's frame on the wire (length prefix included), as the connection encodes it.
pub fn frame_bytes(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, usize::MAX, |o| msg.encode_into(o))
        .expect("encode")
        .expect("frame size");
    out
}
