//! The message layer: what one frame holds, and the handshake that opens a connection.
//!
//! A connection starts with a fixed [`Preamble`] from each side (magic bytes and
//! [`PROTOCOL_VERSION`]), so a peer that speaks something else, or another version, is told
//! apart before any message is decoded. Then each side sends one [`Message::Hello`]; after that
//! either side may send requests at any time. Every [`Message`] is encoded with postcard.

use serde::{Deserialize, Serialize};

mod borrowed;
mod hello;

pub(crate) use borrowed::{decode_in, MessageIn, MessageRef, OpRef, RequestIn, RequestRef};
pub use hello::{
    feature, Hello, Preamble, MAGIC, MAX_ALIASES, MAX_NAME_LEN, PREAMBLE_LEN, PRE_HANDSHAKE_MAX_FRAME,
    PROTOCOL_VERSION,
};

use crate::error::RemoteError;
use crate::spill::{Spill, SpillSink};
use crate::value::budget::{self, LimitHit, Scope};
pub use crate::value::DecodeLimits;
use crate::value::{self, Value};

/// Request flag: the caller wants no reply (a one-way call).
pub const FLAG_ONEWAY: u8 = 1;

/// Identifies an object in the receiver's export table. `0` is the root service.
pub type ObjectId = u64;

/// The root service's object id.
pub const ROOT_ID: ObjectId = 0;

/// What a request asks of its target object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Call a method by name.
    Call(String),
    /// Call the object itself.
    CallSelf,
    /// Read an attribute.
    GetAttr(String),
    /// Write an attribute (the new value is the one argument).
    SetAttr(String),
    /// Describe the object's exposed methods and attributes.
    Describe,
    /// The object's display text.
    Display,
    /// The object's debugging text (RPyC's `repr`).
    Repr,
    /// The object the receiver publishes under this name (asked of the root, target
    /// [`ROOT_ID`]); the reply carries it by reference. Since protocol version 3.
    Lookup(String),
    /// The target itself, by reference (RPyC's `GETROOT` asks it of the root). Only on the
    /// RPyC wire: this protocol's encoder refuses it.
    #[serde(skip)]
    Identity,
    /// An attribute, or a method bound to the target as a callable object (RPyC's
    /// `GETATTR`; `exposed_` prefix optional). Only on the RPyC wire.
    #[serde(skip)]
    Member(String),
    /// Calls the target itself with keyword arguments: the last `names.len()` arguments are
    /// the named ones (RPyC's `CALL` with kwargs). Only on the RPyC wire.
    #[serde(skip)]
    CallNamed(Vec<String>),
    /// One of Python's implicit protocols the target declares (`__len__`, `__iter__`,
    /// `__next__`, `__getitem__`, `__contains__`, ...; RPyC's `CALLATTR`). Only on the RPyC
    /// wire.
    #[serde(skip)]
    Special(String),
    /// The Python protocols the target's class declares, as `(name, doc)` pairs (RPyC's
    /// `INSPECT`). Only on the RPyC wire.
    #[serde(skip)]
    Inspect,
    /// The target's identity hash (RPyC's `HASH`). Only on the RPyC wire.
    #[serde(skip)]
    Hash,
    /// The names of the target's exposed members (RPyC's `DIR`). Only on the RPyC wire.
    #[serde(skip)]
    Dir,
    /// Compares the target with the one argument: `__eq__`, `__ne__`, `__lt__`, ... (RPyC's
    /// `CMP`). Only on the RPyC wire.
    #[serde(skip)]
    Compare(String),
    /// A Python container's items, fetched in one round trip (RPyC's `BUFFITER`); sent to a
    /// Python peer only.
    #[serde(skip)]
    Items,
}

impl Op {
    /// The member name the op targets, if any.
    pub fn member(&self) -> Option<&str> {
        match self {
            Op::Call(n) | Op::GetAttr(n) | Op::SetAttr(n) | Op::Member(n) | Op::Special(n) => Some(n),
            _ => None,
        }
    }
}

/// A call from one peer to an object of the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Correlates the reply; allocated by the sender.
    pub seq: u64,
    /// The object in the receiver's export table.
    pub target: ObjectId,
    /// What to do.
    pub op: Op,
    /// Positional arguments.
    #[serde(
        serialize_with = "value::serialize_values",
        deserialize_with = "value::deserialize_values"
    )]
    pub args: Vec<Value>,
    /// Request flags: [`FLAG_ONEWAY`].
    pub flags: u8,
}

/// Why a frame's payload is not a valid message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not a postcard-encoded message.
    #[error("malformed message: {0}")]
    Malformed(#[source] postcard::Error),
    /// A value nests deeper than the configured limit.
    #[error("value nested deeper than the configured limit")]
    TooDeep,
    /// The message would take more memory than the decode budget allows.
    #[error("message decodes to more than the budget of {limit} bytes")]
    OverBudget {
        /// The budget, in bytes.
        limit: usize,
    },
    /// A bounded field is over its bound (a name too long, too many aliases).
    #[error("{0}")]
    Limit(String),
    /// The frame holds more than one message.
    #[error("{0} unexpected bytes after the message")]
    TrailingBytes(usize),
}

/// One frame's content.
///
/// `R` is how a request is held: an owned [`Request`] (the default, and all a user meets);
/// the connection's reader decodes requests that borrow the member name from the frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message<R = Request> {
    /// The opening message of each side.
    Hello(Hello),
    /// A call.
    Request(R),
    /// Several requests in one frame (a batch); each is answered on its own.
    Batch(#[serde(deserialize_with = "budget::deserialize_vec")] Vec<R>),
    /// The result of the request `seq`.
    Reply {
        /// The request's sequence number.
        seq: u64,
        /// The result.
        #[serde(
            serialize_with = "value::serialize_value",
            deserialize_with = "value::deserialize_value"
        )]
        value: Value,
    },
    /// The failure of the request `seq`.
    Error {
        /// The request's sequence number.
        seq: u64,
        /// What went wrong.
        error: RemoteError,
    },
    /// The sender drops references it held: `(object id, count)` pairs.
    Release {
        /// The references released.
        #[serde(deserialize_with = "budget::deserialize_vec")]
        refs: Vec<(ObjectId, u64)>,
    },
    /// The sender no longer wants the result of request `seq`.
    Cancel {
        /// The request's sequence number.
        seq: u64,
    },
    /// The sender closes the connection, saying why if it is because of an error.
    Close {
        /// What went wrong, if anything.
        #[serde(deserialize_with = "budget::deserialize_opt_string")]
        reason: Option<String>,
    },
    /// Are you there? The receiver answers [`Message::Pong`] with the same nonce at once. Sent
    /// only to a peer whose hello has [`feature::KEEPALIVE`].
    Ping {
        /// Chosen by the sender; echoed back.
        nonce: u64,
    },
    /// The answer to [`Message::Ping`].
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
    /// The sender is shutting down: it takes no new calls from the receiver (they fail at once
    /// on the receiver's side), finishes the calls it is running, then closes. Sent only to a
    /// peer whose hello has [`feature::CLOSING`].
    Closing {
        /// Why, for the receiver's errors and logs.
        #[serde(deserialize_with = "budget::deserialize_opt_string")]
        reason: Option<String>,
    },
}

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// postcard failed.
    #[error("cannot encode message: {0}")]
    Postcard(#[source] postcard::Error),
    /// An object reference could not be sent.
    #[error("{0}")]
    Object(String),
}

/// Encodes `msg` with postcard, appending to `out`; an object that could not be exported is
/// reported as such rather than as a bare postcard error. With `spills`, large byte values are
/// left out and recorded there (see [`crate::spill`]).
fn encode<T: Serialize + ?Sized>(
    msg: &T,
    out: &mut Vec<u8>,
    spills: Option<&mut Vec<Spill>>,
) -> Result<(), EncodeError> {
    value::take_encode_error();
    match postcard::serialize_with_flavor(msg, SpillSink::new(out, spills)) {
        Ok(()) => Ok(()),
        Err(e) => Err(match value::take_encode_error() {
            Some(msg) => EncodeError::Object(msg),
            None => EncodeError::Postcard(e),
        }),
    }
}

impl Message {
    /// Encodes the message, appending it to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode(self, out, None)
    }

    /// Like [`encode_into`](Message::encode_into); with `spills`, large byte values are left out
    /// and recorded there for the caller to send in place.
    pub(crate) fn encode_with(
        &self,
        out: &mut Vec<u8>,
        spills: Option<&mut Vec<Spill>>,
    ) -> Result<(), EncodeError> {
        encode(self, out, spills)
    }

    /// Decodes one message from a frame's payload under the default [`DecodeLimits`];
    /// trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        Self::decode_with(bytes, DecodeLimits::default())
    }

    /// Decodes one message from a frame's payload under `limits`: a value nested deeper than
    /// allowed, or a message that would take more memory than its budget, is an error found
    /// before that memory is spent.
    pub fn decode_with(bytes: &[u8], limits: DecodeLimits) -> Result<Message, DecodeError> {
        let decoded = decode_as(bytes, limits)?;
        if decoded.over {
            return Err(DecodeError::OverBudget {
                limit: limits.max_decoded_size,
            });
        }
        Ok(decoded.msg)
    }

    /// The name of the message's kind, for logs (never the content, which a peer controls).
    pub fn kind(&self) -> &'static str {
        kind_name(self)
    }
}

/// The first byte of each message kind on the wire (postcard's variant index of [`Message`]),
/// for the places that must tell a kind apart before decoding it.
pub(crate) mod tag {
    pub(crate) const HELLO: u8 = 0;
    pub(crate) const REQUEST: u8 = 1;
    pub(crate) const BATCH: u8 = 2;
    pub(crate) const CLOSE: u8 = 7;
}

/// See [`Message::kind`].
pub(crate) fn kind_name<R>(msg: &Message<R>) -> &'static str {
    match msg {
        Message::Hello(_) => "hello",
        Message::Request(_) => "request",
        Message::Batch(_) => "batch",
        Message::Reply { .. } => "reply",
        Message::Error { .. } => "error",
        Message::Release { .. } => "release",
        Message::Cancel { .. } => "cancel",
        Message::Close { .. } => "close",
        Message::Ping { .. } => "ping",
        Message::Pong { .. } => "pong",
        Message::Closing { .. } => "closing",
    }
}

/// A decoded message, and whether its budget ran out inside a value: the message was read to
/// its end, but the values past that point were not kept (see [`crate::value::budget`]).
pub(crate) struct Decoded<T> {
    pub(crate) msg: T,
    pub(crate) over: bool,
}

/// Decodes one `T` from a frame's payload under `limits`; trailing bytes are an error.
fn decode_as<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    limits: DecodeLimits,
) -> Result<Decoded<T>, DecodeError> {
    let scope = Scope::enter(limits);
    match postcard::take_from_bytes(bytes) {
        Ok((msg, [])) => Ok(Decoded {
            msg,
            over: scope.over(),
        }),
        Ok((_, rest)) => Err(DecodeError::TrailingBytes(rest.len())),
        Err(e) => Err(match scope.take_hit() {
            Some(LimitHit::TooDeep(_)) => DecodeError::TooDeep,
            Some(LimitHit::OverBudget(limit)) => DecodeError::OverBudget { limit },
            Some(LimitHit::Field(what)) => DecodeError::Limit(what),
            None => DecodeError::Malformed(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let msgs = vec![
            Message::Hello(Hello {
                service: "TEST".into(),
                aliases: vec!["T".into()],
                features: 3,
            }),
            Message::Request(Request {
                seq: 7,
                target: ROOT_ID,
                op: Op::Call("test".into()),
                args: vec![
                    Value::Int(11),
                    Value::Seq(vec![Value::Str("x".into()), Value::Unit]),
                ],
                flags: 0,
            }),
            Message::Reply {
                seq: 7,
                value: Value::Map(vec![(Value::Bytes(vec![1, 2]), Value::Float(1.5))]),
            },
            Message::Batch(vec![
                Request {
                    seq: 8,
                    target: 4,
                    op: Op::GetAttr("volume".into()),
                    args: vec![],
                    flags: 0,
                },
                Request {
                    seq: 9,
                    target: 4,
                    op: Op::SetAttr("volume".into()),
                    args: vec![Value::UInt(3)],
                    flags: FLAG_ONEWAY,
                },
            ]),
            Message::Request(Request {
                seq: 10,
                target: 2,
                op: Op::CallSelf,
                args: vec![],
                flags: 0,
            }),
            Message::Error {
                seq: 7,
                error: RemoteError::new(crate::RemoteErrorKind::Application, "E", "failed"),
            },
            Message::Release { refs: vec![(1, 2)] },
            Message::Cancel { seq: 9 },
            Message::Close { reason: None },
            Message::Close {
                reason: Some("bye".into()),
            },
        ];
        for m in msgs {
            let mut buf = Vec::new();
            m.encode_into(&mut buf).expect("encode");
            assert_eq!(Message::decode(&buf).expect("decode"), m);
            // The reader's borrowing form reads the same bytes as the same message.
            let borrowed = borrowed::decode_in(&buf, DecodeLimits::default())
                .expect("decode borrowed")
                .msg;
            assert_eq!(Message::from(borrowed), m);
        }
        for op in [
            Op::Describe,
            Op::Display,
            Op::Repr,
            Op::Lookup("sensor.kitchen".into()),
        ] {
            let m = Message::Request(Request {
                seq: 1,
                target: 0,
                op,
                args: vec![],
                flags: 0,
            });
            let mut buf = Vec::new();
            m.encode_into(&mut buf).expect("encode");
            assert_eq!(
                Message::from(
                    borrowed::decode_in(&buf, DecodeLimits::default())
                        .expect("decode")
                        .msg
                ),
                m
            );
        }
    }

    #[test]
    fn garbage_and_trailing_bytes_are_errors() {
        assert!(Message::decode(&[0xff, 0xff, 0xff]).is_err());
        assert!(Message::decode(&[]).is_err());
        let mut buf = Vec::new();
        Message::Close { reason: None }
            .encode_into(&mut buf)
            .expect("encode");
        buf.push(0);
        assert!(matches!(
            Message::decode(&buf),
            Err(DecodeError::TrailingBytes(1))
        ));
    }

    #[test]
    fn borrowed_requests_encode_like_owned_ones() {
        let args = vec![Value::Int(1), Value::Str("x".into())];
        let ops = [
            (OpRef::Call("m"), Op::Call("m".into())),
            (OpRef::CallSelf, Op::CallSelf),
            (OpRef::GetAttr("a"), Op::GetAttr("a".into())),
            (OpRef::SetAttr("a"), Op::SetAttr("a".into())),
            (OpRef::Describe, Op::Describe),
            (OpRef::Display, Op::Display),
            (OpRef::Repr, Op::Repr),
            (OpRef::Lookup("n"), Op::Lookup("n".into())),
        ];
        for (borrowed, owned) in ops {
            let mut buf = Vec::new();
            MessageRef::Request(RequestRef {
                seq: 9,
                target: 3,
                op: borrowed,
                args: &args,
                flags: 1,
            })
            .encode_with(&mut buf, None)
            .expect("encode");
            let expected = Message::Request(Request {
                seq: 9,
                target: 3,
                op: owned,
                args: args.clone(),
                flags: 1,
            });
            assert_eq!(Message::decode(&buf).expect("decode"), expected);
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        // By hand, as a peer with a higher limit would send it: a reply (tag 3) to call 1 of
        // a unit in 200 sequences (tag 7) of one value each.
        let mut buf = vec![3, 1];
        for _ in 0..200 {
            buf.extend([7, 1]);
        }
        buf.push(0);
        let err = Message::decode(&buf).expect_err("too deep");
        assert!(matches!(err, DecodeError::TooDeep), "{err}");
        // A malformed frame after it is not mistaken for a deep one.
        assert!(matches!(
            Message::decode(&[99, 9]),
            Err(DecodeError::Malformed(_))
        ));
    }
}
