//! The reader of a connection on the RPyC wire: splits the stream into RPyC frames, routes
//! replies and exceptions to their waiters, and turns each of Python's requests into a request
//! of the engine, dispatched like any other (concurrently, re-entrantly, under the same
//! budgets), or answers it here (`PING`, `DEL`, the refusals).

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::connection::dispatch;
use crate::connection::inner::{Budget, Inner};
use crate::connection::reader::Stop;
use crate::connection::Connection;
use crate::error::{Error, RemoteError, RemoteErrorKind, Result};
use crate::frame::{shrink, MIN_READ_ROOM};
use crate::protocol::{ObjectId, Op, RequestIn, ROOT_ID};
use crate::rpyc::frame::{decode_frame, FrameLimits};
use crate::rpyc::message::handler;
use crate::rpyc::{Boxed, Brine, Generation, IdPack, Kind, Message, Vinegar};
use crate::value::{ArgsIn, Value};

use super::errors::remote_error;
use super::fetch;
use super::values::{export_id, unboxed, Refusal};

pub(crate) async fn run<R: AsyncRead + Unpin>(inner: Arc<Inner>, mut r: R, mut buf: BytesMut) {
    match read_loop(&inner, &mut r, &mut buf).await {
        Ok(stop) => {
            tracing::debug!(?stop, "rpyc connection ended");
            inner.shutdown(None);
        }
        Err(e) => {
            tracing::warn!(error = %e, "closing rpyc connection");
            inner.shutdown(Some(Arc::new(e)));
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(inner: &Arc<Inner>, r: &mut R, buf: &mut BytesMut) -> Result<Stop> {
    let limits = FrameLimits {
        max_frame: inner.config.max_frame_size,
        max_payload: inner.config.decoded_size_limit(),
    };
    let mut first = true;
    loop {
        // A user-level handle for this run of frames, dropped before the next read.
        let mut conn = None;
        let mut frames = 0;
        while let Some(payload) =
            decode_frame(buf, limits).map_err(|e| Error::Protocol(format!("rpyc frame: {e}")))?
        {
            frames += 1;
            if std::mem::take(&mut first) {
                screen(inner, &payload)?;
            }
            let msg = Message::decode(&payload, Generation::V6)
                .map_err(|e| Error::Protocol(format!("rpyc message: {e}")))?;
            let last = buf.is_empty();
            if let Some(stop) = handle(inner, msg, payload.len(), last, &mut conn)? {
                return Ok(stop);
            }
        }
        if frames > 0 {
            inner.liveness.heard();
            inner.touch();
        }
        drop(conn);
        shrink(buf);
        room(buf);
        if r.read_buf(buf).await? == 0 {
            return Ok(Stop::Eof);
        }
    }
}

/// Makes room for the next read: at least [`MIN_READ_ROOM`] bytes, growing with what has
/// arrived (never with what a frame header announces: a peer's claim costs nothing until its
/// bytes come).
fn room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() >= MIN_READ_ROOM || buf.try_reclaim(MIN_READ_ROOM) {
        return;
    }
    buf.reserve(buf.len().max(MIN_READ_ROOM));
}

/// Refuses, clearly and in its own layout, a peer that speaks a variant this side does not:
/// rpyc 5.x's message layout, or the thread-binding prefix (`RPYC_BIND_THREADS`).
fn screen(inner: &Arc<Inner>, payload: &[u8]) -> Result<()> {
    let (generation, why) = match payload {
        [0x12, ..] => (
            Generation::V5,
            "this server speaks the wire of rpyc 6; rpyc 5.x and older use another layout: upgrade the client to rpyc 6",
        ),
        [first, ..] if !(1..=3).contains(first) && payload.get(16).is_some_and(|k| (1..=3).contains(k)) => (
            Generation::V6,
            "this server does not support rpyc's experimental thread binding: unset RPYC_BIND_THREADS (or bind_threads) on the client",
        ),
        _ => return Ok(()),
    };
    let seq = match generation {
        Generation::V5 => Message::decode(payload, Generation::V5)
            .map(|m| m.seq)
            .unwrap_or(0),
        Generation::V6 => 0,
    };
    inner.send_raw(crate::rpyc::refusal(seq, generation, why, "a Rust rpc server"))?;
    Err(Error::Protocol(format!("an rpyc client refused: {why}")))
}

fn handle(
    inner: &Arc<Inner>,
    msg: Message,
    weight: usize,
    last: bool,
    conn: &mut Option<Connection>,
) -> Result<Option<Stop>> {
    let seq = u64::try_from(msg.seq)
        .map_err(|_| Error::Protocol(format!("a negative sequence number {}", msg.seq)))?;
    match msg.kind {
        Kind::Reply => {
            let value = Boxed::from_brine_owned(msg.body)
                .map_err(|e| Error::Protocol(format!("rpyc reply: {e}")))
                .and_then(|b| unboxed(inner, b).map_err(|(ty, m)| Error::Protocol(format!("{ty}: {m}"))));
            inner.complete(seq, value);
        }
        Kind::Exception => {
            let vinegar = Vinegar::from_brine(&msg.body).unwrap_or_else(|| {
                Vinegar::Legacy(format!("an exception record of type {}", msg.body.type_name()))
            });
            inner.complete(seq, Err(Error::Remote(remote_error(vinegar))));
        }
        Kind::Request => return request(inner, seq, msg.body, weight, last, conn),
    }
    Ok(None)
}

/// One request of Python's.
fn request(
    inner: &Arc<Inner>,
    seq: u64,
    body: Brine,
    weight: usize,
    last: bool,
    conn: &mut Option<Connection>,
) -> Result<Option<Stop>> {
    let Brine::Tuple(mut parts) = body else {
        return Err(Error::Protocol(format!(
            "an rpyc request body of type {}",
            body.type_name()
        )));
    };
    let (Some(args), Some(Brine::Int(number)), None) = (parts.pop(), parts.pop(), parts.pop()) else {
        return Err(Error::Protocol(
            "an rpyc request that is not (handler, args)".into(),
        ));
    };
    let args = match Boxed::from_brine_owned(args) {
        Ok(Boxed::Tuple(items)) => items,
        Ok(Boxed::Value(Brine::Tuple(items))) => items.into_iter().map(Boxed::Value).collect(),
        Ok(_) | Err(_) => {
            refuse(
                inner,
                seq,
                (
                    "builtins.TypeError",
                    "request arguments that are not a tuple".into(),
                ),
            );
            return Ok(None);
        }
    };
    let translated = translate(inner, seq, number, args);
    if !matches!(translated, Ok(Some(Translated::Dispatch { .. }))) {
        // The dispatch counts the requests it is handed; these are answered here.
        inner
            .requests_received
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    match translated {
        Ok(Some(Translated::Dispatch { target, op, values })) => {
            if fetch::needed(inner, &values) {
                let inner = inner.clone();
                tokio::spawn(async move {
                    match fetch::all(&inner, values).await {
                        Ok(values) => {
                            let mut conn = None;
                            let _ = dispatch_one(&inner, seq, target, &op, values, weight, false, &mut conn);
                        }
                        Err(e) => inner.reply(seq, Err(e)),
                    }
                });
            } else {
                dispatch_one(inner, seq, target, &op, values, weight, last, conn)?;
            }
        }
        Ok(Some(Translated::Close)) => return Ok(Some(Stop::PeerClosed)),
        Ok(None) => {}
        Err(refusal) => refuse(inner, seq, refusal),
    }
    Ok(None)
}

/// What a request of Python's is to the engine.
enum Translated {
    Dispatch {
        target: ObjectId,
        op: Op,
        values: Vec<Value>,
    },
    Close,
}

/// Turns handler `number` with `args` into an engine request, or answers it at once
/// (`Ok(None)`: answered).
fn translate(
    inner: &Arc<Inner>,
    seq: u64,
    number: i64,
    args: Vec<Boxed>,
) -> Result<Option<Translated>, Refusal> {
    let mut args = args.into_iter();
    let dispatch = |target, op, values| Ok(Some(Translated::Dispatch { target, op, values }));
    match number {
        handler::PING => {
            let data = args
                .next()
                .map(|b| unboxed(inner, b))
                .transpose()?
                .unwrap_or(Value::Unit);
            inner.reply(seq, Ok(data));
            Ok(None)
        }
        handler::CLOSE => Ok(Some(Translated::Close)),
        handler::GETROOT => dispatch(ROOT_ID, Op::Identity, Vec::new()),
        handler::GETATTR => {
            let target = object(args.next())?;
            dispatch(target, Op::Member(text(inner, args.next())?), Vec::new())
        }
        handler::SETATTR => {
            let target = object(args.next())?;
            let name = text(inner, args.next())?;
            let value = unboxed(inner, args.next().ok_or_else(|| missing("a value"))?)?;
            dispatch(target, Op::SetAttr(name), vec![value])
        }
        handler::CALL => {
            let target = object(args.next())?;
            let (values, names) = call_args(inner, args.next(), args.next())?;
            let op = if names.is_empty() {
                Op::CallSelf
            } else {
                Op::CallNamed(names)
            };
            dispatch(target, op, values)
        }
        handler::CALLATTR => {
            let target = object(args.next())?;
            let name = text(inner, args.next())?;
            let (values, names) = call_args(inner, args.next(), args.next())?;
            if !names.is_empty() {
                return Err((
                    "builtins.TypeError",
                    format!("{name} takes no keyword arguments here"),
                ));
            }
            dispatch(target, Op::Special(name), values)
        }
        handler::REPR | handler::STR | handler::HASH | handler::DIR => {
            let target = object(args.next())?;
            let op = match number {
                handler::REPR => Op::Repr,
                handler::STR => Op::Display,
                handler::HASH => Op::Hash,
                _ => Op::Dir,
            };
            dispatch(target, op, Vec::new())
        }
        handler::CMP => {
            let target = object(args.next())?;
            let other = unboxed(inner, args.next().ok_or_else(|| missing("the other object"))?)?;
            dispatch(target, Op::Compare(text(inner, args.next())?), vec![other])
        }
        handler::INSPECT => {
            let pack = match args.next() {
                Some(Boxed::Value(v)) => IdPack::from_brine(&v).map_err(|e| ("builtins.TypeError", e.0))?,
                _ => return Err(missing("an id pack")),
            };
            dispatch(instance(&pack)?, Op::Inspect, Vec::new())
        }
        handler::DEL => {
            let target = object(args.next())?;
            let count = match args.next() {
                Some(Boxed::Value(Brine::Int(n))) if n > 0 => n as u64,
                _ => return Err(missing("a positive count")),
            };
            if let Err(e) = inner.release_exports(&[(target, count)]) {
                tracing::warn!(error = %e, "a Python peer released what it did not hold");
                return Err(("builtins.ReferenceError", e.to_string()));
            }
            inner.reply(seq, Ok(Value::Unit));
            Ok(None)
        }
        handler::DELATTR => Err((
            "builtins.AttributeError",
            "attributes of a Rust object cannot be deleted".into(),
        )),
        handler::PICKLE => Err(("builtins.ValueError", "pickling is disabled".into())),
        handler::BUFFITER => Err((
            "builtins.TypeError",
            "a Rust object is not iterable in bulk; iterate it (its __iter__/__next__)".into(),
        )),
        handler::INSTANCECHECK => Err((
            "builtins.TypeError",
            "isinstance() against the class of a Rust object is not supported".into(),
        )),
        other => Err((
            "builtins.NotImplementedError",
            format!("rpyc request handler {other} is not supported by this Rust server"),
        )),
    }
}

/// The target of a handler: an object of ours, named by the id pack we gave out.
fn object(boxed: Option<Boxed>) -> Result<ObjectId, Refusal> {
    match boxed {
        Some(Boxed::Local(pack)) => instance(&pack),
        Some(_) => Err((
            "builtins.TypeError",
            "the target is not an object of this side".into(),
        )),
        None => Err(missing("the target object")),
    }
}

fn instance(pack: &IdPack) -> Result<ObjectId, Refusal> {
    export_id(pack.instance_id).ok_or_else(|| {
        (
            "builtins.ReferenceError",
            format!(
                "{} (id {}) is not an object of this side",
                pack.name, pack.instance_id
            ),
        )
    })
}

fn text(inner: &Arc<Inner>, boxed: Option<Boxed>) -> Result<String, Refusal> {
    match boxed.map(|b| unboxed(inner, b)).transpose()? {
        Some(Value::Str(s)) => Ok(s),
        _ => Err(missing("a name")),
    }
}

/// Positional arguments, then the keyword ones' values; and the keywords.
fn call_args(
    inner: &Arc<Inner>,
    args: Option<Boxed>,
    kwargs: Option<Boxed>,
) -> Result<(Vec<Value>, Vec<String>), Refusal> {
    let mut values = match args.map(|b| unboxed(inner, b)).transpose()? {
        Some(Value::Seq(items)) => items,
        None | Some(Value::Unit) => Vec::new(),
        Some(other) => {
            return Err((
                "builtins.TypeError",
                format!("arguments that are a {}", other.kind()),
            ))
        }
    };
    let mut names = Vec::new();
    if let Some(Value::Seq(pairs)) = kwargs.map(|b| unboxed(inner, b)).transpose()? {
        for pair in pairs {
            match pair {
                Value::Seq(kv) => match <[Value; 2]>::try_from(kv) {
                    Ok([Value::Str(name), value]) => {
                        names.push(name);
                        values.push(value);
                    }
                    _ => {
                        return Err((
                            "builtins.TypeError",
                            "a keyword argument that is not (name, value)".into(),
                        ))
                    }
                },
                _ => {
                    return Err((
                        "builtins.TypeError",
                        "a keyword argument that is not (name, value)".into(),
                    ))
                }
            }
        }
    }
    Ok((values, names))
}

fn missing(what: &str) -> Refusal {
    ("builtins.TypeError", format!("the request lacks {what}"))
}

/// Answers request `seq` with the Python exception `refusal`.
fn refuse(inner: &Arc<Inner>, seq: u64, (type_name, message): Refusal) {
    let kind = match type_name {
        "builtins.AttributeError" => RemoteErrorKind::NotFound,
        _ => RemoteErrorKind::Refused,
    };
    inner.reply(seq, Err(RemoteError::new(kind, type_name, message)));
}

/// Hands one request to the engine's dispatch, weighed against the pending-work budget.
#[allow(clippy::too_many_arguments)]
fn dispatch_one(
    inner: &Arc<Inner>,
    seq: u64,
    target: ObjectId,
    op: &Op,
    values: Vec<Value>,
    weight: usize,
    last: bool,
    conn: &mut Option<Connection>,
) -> Result<()> {
    let held = inner.pending_bytes.load(std::sync::atomic::Ordering::Relaxed);
    let limit = inner.config.pending_bytes_limit();
    let budget = Budget {
        limits: inner.config.decode_limits(),
        by_pending: true,
    };
    let req = RequestIn {
        seq,
        target,
        op: op.as_op_ref(),
        args: ArgsIn {
            values,
            weight,
            over: held + weight > limit,
        },
        flags: 0,
    };
    dispatch::handle_request(inner, req, &budget, last, conn)
}
