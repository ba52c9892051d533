//! The engine's outgoing messages as RPyC frames: requests to Python objects (what each op
//! becomes), replies (boxed), errors (exceptions), releases (`DEL`s) and the close.

use crate::connection::inner::Inner;
use crate::error::{Error, Result};
use crate::protocol::{Message, OpRef, RequestRef, FLAG_ONEWAY, ROOT_ID};
use crate::rpyc::frame::{HEADER_LEN, TRAILER};
use crate::rpyc::message::{handler, Kind, Message as RpycMessage};
use crate::rpyc::{Boxed, Brine, Generation};
use crate::spill::View;
use crate::value::Value;

use super::errors::vinegar;
use super::values::{boxed, tuple, Refusal};

/// How many items one `BUFFITER` asks of a Python container: all of them (the frame and
/// decode limits bound what arrives).
const ALL_ITEMS: i64 = 1 << 30;

/// Appends the frames of `view` to `out` (none for what the RPyC wire has no word for: a
/// cancel, keepalive pings, the graceful-close notice).
pub(crate) fn encode(inner: &Inner, view: View<'_>, out: &mut Vec<u8>) -> Result<()> {
    match view {
        View::Request(r) => request(inner, r, out),
        View::Message(msg) => match msg {
            Message::Request(r) => request(inner, borrowed(r), out),
            Message::Batch(requests) => requests.iter().try_for_each(|r| request(inner, borrowed(r), out)),
            Message::Reply { seq, value } => {
                let body = boxed(inner, value).map_err(refused)?.to_brine();
                frame(inner, Kind::Reply, *seq as i64, body, out)
            }
            Message::Error { seq, error } => frame(
                inner,
                Kind::Exception,
                *seq as i64,
                vinegar(error).to_brine(),
                out,
            ),
            Message::Release { refs } => refs
                .iter()
                .try_for_each(|&(id, count)| release(inner, id, count, out)),
            Message::Close { .. } => {
                let seq = inner.unanswered_seq();
                let body = request_body(handler::CLOSE, Boxed::Value(Brine::Tuple(Vec::new())));
                frame(inner, Kind::Request, seq, body, out)
            }
            Message::Hello(_)
            | Message::Cancel { .. }
            | Message::Ping { .. }
            | Message::Pong { .. }
            | Message::Closing { .. } => Ok(()),
        },
    }
}

fn borrowed(r: &crate::protocol::Request) -> RequestRef<'_> {
    RequestRef {
        seq: r.seq,
        target: r.target,
        op: r.op.as_op_ref(),
        args: &r.args,
        flags: r.flags,
    }
}

/// `DEL(obj, count)` of a Python object this side no longer holds.
pub(super) fn release(inner: &Inner, id: u64, count: u64, out: &mut Vec<u8>) -> Result<()> {
    let pack = python_object(inner, id)?;
    let seq = inner.unanswered_seq();
    let args = tuple(vec![Boxed::Local(pack), Boxed::Value(Brine::Int(count as i64))]);
    frame(inner, Kind::Request, seq, request_body(handler::DEL, args), out)
}

fn request(inner: &Inner, r: RequestRef<'_>, out: &mut Vec<u8>) -> Result<()> {
    let seq = if r.flags & FLAG_ONEWAY != 0 {
        // RPyC has no one-way call: a request whose reply nobody waits for.
        inner.unanswered_seq()
    } else {
        r.seq as i64
    };
    let (handler, args) = request_args(inner, &r)?;
    frame(inner, Kind::Request, seq, request_body(handler, args), out)
}

fn request_body(handler: i64, args: Boxed) -> Brine {
    Brine::Tuple(vec![Brine::Int(handler), args.to_brine()])
}

/// The handler and boxed arguments of a request to a Python object.
fn request_args(inner: &Inner, r: &RequestRef<'_>) -> Result<(i64, Boxed)> {
    if r.target == ROOT_ID {
        return match r.op {
            OpRef::Identity => Ok((handler::GETROOT, Boxed::Value(Brine::Tuple(Vec::new())))),
            _ => Err(Error::Unsupported(
                "a Python peer's root is reached through its GETROOT reference (rpc::rpyc::Client::root)"
                    .into(),
            )),
        };
    }
    let pack = python_object(inner, r.target)?;
    if let OpRef::Inspect = r.op {
        return Ok((
            handler::INSPECT,
            Boxed::Value(Brine::Tuple(vec![pack.to_brine()])),
        ));
    }
    let obj = Boxed::Local(pack);
    let name = |n: &str| Boxed::Value(Brine::str(n));
    let no_kwargs = || Boxed::Value(Brine::Tuple(Vec::new()));
    let values = |values: &[Value]| -> Result<Boxed> {
        let items = values
            .iter()
            .map(|v| boxed(inner, v))
            .collect::<std::result::Result<_, _>>();
        Ok(tuple(items.map_err(refused)?))
    };
    let one = |values: &[Value]| -> Result<Boxed> {
        match values {
            [v] => boxed(inner, v).map_err(refused),
            _ => Err(Error::Encode("this operation takes exactly one argument".into())),
        }
    };
    Ok(match r.op {
        OpRef::Call(n) | OpRef::Special(n) => (
            handler::CALLATTR,
            tuple(vec![obj, name(n), values(r.args)?, no_kwargs()]),
        ),
        OpRef::CallSelf => (handler::CALL, tuple(vec![obj, values(r.args)?, no_kwargs()])),
        OpRef::CallNamed(names) => {
            let split = r.args.len().saturating_sub(names.len());
            let (positional, named) = r.args.split_at(split);
            let kwargs = names
                .iter()
                .zip(named)
                .map(|(n, v)| Ok(tuple(vec![name(n), boxed(inner, v).map_err(refused)?])))
                .collect::<Result<Vec<_>>>()?;
            (
                handler::CALL,
                tuple(vec![obj, values(positional)?, tuple(kwargs)]),
            )
        }
        OpRef::GetAttr(n) | OpRef::Member(n) => (handler::GETATTR, tuple(vec![obj, name(n)])),
        OpRef::SetAttr(n) => (handler::SETATTR, tuple(vec![obj, name(n), one(r.args)?])),
        OpRef::Repr => (handler::REPR, tuple(vec![obj])),
        OpRef::Display => (handler::STR, tuple(vec![obj])),
        OpRef::Hash => (handler::HASH, tuple(vec![obj])),
        OpRef::Dir => (handler::DIR, tuple(vec![obj])),
        OpRef::Compare(op) => (handler::CMP, tuple(vec![obj, one(r.args)?, name(op)])),
        OpRef::Items => (
            handler::BUFFITER,
            tuple(vec![obj, Boxed::Value(Brine::Int(ALL_ITEMS))]),
        ),
        OpRef::Describe | OpRef::Lookup(_) | OpRef::Identity | OpRef::Inspect => {
            return Err(Error::Unsupported(format!(
                "{:?} of a Python object (an rpyc peer has no such request; use dir() or getattr)",
                r.op
            )))
        }
    })
}

/// The id pack of the Python object this side knows as `id`.
fn python_object(inner: &Inner, id: u64) -> Result<crate::rpyc::IdPack> {
    inner
        .rpyc_state()
        .and_then(|s| s.idpack(id))
        .ok_or_else(|| Error::Protocol(format!("no Python object {id} is held on this connection")))
}

fn refused((_, message): Refusal) -> Error {
    Error::Limit(message)
}

/// Appends one frame: never compressed (what loopback and LAN links carry faster than zlib
/// packs it; Python accepts either).
fn frame(inner: &Inner, kind: Kind, seq: i64, body: Brine, out: &mut Vec<u8>) -> Result<()> {
    // The payload is written in place behind a header patched afterwards.
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    RpycMessage { kind, seq, body }.encode_into(Generation::V6, out);
    let len = out.len() - start - HEADER_LEN;
    let max = inner.config.max_frame_size;
    let Some(wire_len) = u32::try_from(len).ok().filter(|_| len <= max) else {
        out.truncate(start);
        return Err(Error::Limit(format!(
            "a message of {len} bytes is over the frame limit of {max} bytes"
        )));
    };
    out[start..start + 4].copy_from_slice(&wire_len.to_be_bytes());
    out.push(TRAILER);
    Ok(())
}
