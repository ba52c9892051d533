//! `decode ∘ encode` is the identity, in every way a message is encoded and decoded: plain,
//! borrowed (a request encoded from borrowed parts), and spilled (large byte values left out
//! of the encoding and put back at their offsets, as the writer sends them).

use crate::frame::{encode_frame, seal_frame, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN};
use crate::protocol::{decode_in, DecodeLimits, Message, MessageRef, Request, RequestRef};
use crate::spill::{take_spilled, Outgoing, SPILL_MIN};
use crate::value::Value;

/// Encodes `msg` plainly, from borrowed parts, and with spills; each decodes back to `msg`
/// in both forms. Messages are compared with `==`: a NaN float never equals itself, so a
/// message holding one fails.
pub fn round_trip(msg: &Message) -> Result<(), String> {
    let mut plain = Vec::new();
    encode_frame(&mut plain, DEFAULT_MAX_FRAME_SIZE, |out| msg.encode_into(out))
        .map_err(|e| format!("encode: {e}"))?
        .map_err(|e| format!("frame: {e}"))?;
    let payload = &plain[HEADER_LEN..];
    decodes_to(payload, msg)?;
    if let Message::Request(r) = msg {
        borrowed_encoding(r, payload)?;
    }
    let spilled = spilled_frame(msg)?;
    if spilled != plain {
        return Err(format!("the spilled {} reassembles to other bytes", msg.kind()));
    }
    Ok(())
}

/// Both forms decode `payload` to `msg`.
fn decodes_to(payload: &[u8], msg: &Message) -> Result<(), String> {
    let owned = Message::decode(payload).map_err(|e| format!("{} does not decode: {e}", msg.kind()))?;
    if owned != *msg {
        return Err(format!("{} decodes to another message", msg.kind()));
    }
    let borrowed = decode_in(payload, DecodeLimits::default())
        .map_err(|e| format!("{} does not decode borrowed: {e}", msg.kind()))?;
    if borrowed.over || Message::from(borrowed.msg) != *msg {
        return Err(format!("{} decodes borrowed to another message", msg.kind()));
    }
    Ok(())
}

/// A request encoded from borrowed parts has the bytes of the owned one.
fn borrowed_encoding(r: &Request, payload: &[u8]) -> Result<(), String> {
    let op = r.op.as_op_ref();
    let mut out = Vec::new();
    MessageRef::Request(RequestRef {
        seq: r.seq,
        target: r.target,
        op,
        args: &r.args,
        flags: r.flags,
    })
    .encode_with(&mut out, None)
    .map_err(|e| format!("borrowed encode: {e}"))?;
    if out != payload {
        return Err("a borrowed request encodes to other bytes".into());
    }
    Ok(())
}

/// The frame of `msg` as the writer sends it: the head with spills left out, then each spilled
/// buffer (moved out of a copy of `msg`) put back at its offset.
fn spilled_frame(msg: &Message) -> Result<Vec<u8>, String> {
    let mut sent = msg.clone();
    let mut head = vec![0; HEADER_LEN];
    let mut spills = Vec::new();
    sent.encode(&mut head, Some(&mut spills))
        .map_err(|e| format!("spilled encode: {e}"))?;
    let large = count_large(msg);
    if spills.len() != large {
        return Err(format!("{} spills for {large} large byte values", spills.len()));
    }
    let extra = spills.iter().map(|s| s.len).sum();
    seal_frame(&mut head, 0, extra, DEFAULT_MAX_FRAME_SIZE).map_err(|e| format!("seal: {e}"))?;
    let taken = take_spilled(&mut sent, &spills).ok_or("a spilled value is missing")?;
    let mut frame = Vec::with_capacity(head.len() + extra);
    let mut at = 0;
    for (offset, bytes) in taken {
        if offset < at || offset > head.len() {
            return Err(format!(
                "a spill at {offset}, after {at}, in {} bytes",
                head.len()
            ));
        }
        frame.extend_from_slice(&head[at..offset]);
        frame.extend_from_slice(&bytes);
        at = offset;
    }
    frame.extend_from_slice(&head[at..]);
    Ok(frame)
}

/// How many byte values of `msg` are large enough to spill.
fn count_large(msg: &Message) -> usize {
    fn count(v: &Value) -> usize {
        match v {
            Value::Bytes(b) => usize::from(b.len() >= SPILL_MIN),
            Value::Seq(items) => items.iter().map(count).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
            _ => 0,
        }
    }
    match msg {
        Message::Request(r) => r.args.iter().map(count).sum(),
        Message::Batch(rs) => rs.iter().flat_map(|r| &r.args).map(count).sum(),
        Message::Reply { value, .. } => count(value),
        _ => 0,
    }
}
