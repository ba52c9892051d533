//! Borrowed forms of the messages, for the connection's hot paths: a caller encodes a request
//! without copying the member name or owning the arguments' container, and the reader decodes
//! a request with the member name borrowed from the frame (no allocation for it), inside a
//! [`Message<RequestIn>`](Message). Each type has exactly the wire form of its owned counterpart
//! in the parent module.

use serde::{Deserialize, Serialize};

use super::{
    decode_as, encode, DecodeError, DecodeLimits, Decoded, EncodeError, Hello, Message, ObjectId, Op, Request,
};
use crate::spill::Spill;
use crate::value::{self, Value};

/// What a request asks, borrowed. Same wire form as [`Op`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OpRef<'a> {
    Call(&'a str),
    CallSelf,
    GetAttr(&'a str),
    SetAttr(&'a str),
    Describe,
    Display,
    Repr,
    Lookup(&'a str),
    #[serde(skip)]
    Identity,
    #[serde(skip)]
    Member(&'a str),
    #[serde(skip)]
    CallNamed(&'a [String]),
    #[serde(skip)]
    Special(&'a str),
    #[serde(skip)]
    Inspect,
    #[serde(skip)]
    Hash,
    #[serde(skip)]
    Dir,
    #[serde(skip)]
    Compare(&'a str),
    #[serde(skip)]
    Items,
}

impl OpRef<'_> {
    /// The owned op.
    pub(crate) fn to_op(self) -> Op {
        match self {
            OpRef::Call(n) => Op::Call(n.to_owned()),
            OpRef::CallSelf => Op::CallSelf,
            OpRef::GetAttr(n) => Op::GetAttr(n.to_owned()),
            OpRef::SetAttr(n) => Op::SetAttr(n.to_owned()),
            OpRef::Describe => Op::Describe,
            OpRef::Display => Op::Display,
            OpRef::Repr => Op::Repr,
            OpRef::Lookup(n) => Op::Lookup(n.to_owned()),
            OpRef::Identity => Op::Identity,
            OpRef::Member(n) => Op::Member(n.to_owned()),
            OpRef::CallNamed(names) => Op::CallNamed(names.to_vec()),
            OpRef::Special(n) => Op::Special(n.to_owned()),
            OpRef::Inspect => Op::Inspect,
            OpRef::Hash => Op::Hash,
            OpRef::Dir => Op::Dir,
            OpRef::Compare(n) => Op::Compare(n.to_owned()),
            OpRef::Items => Op::Items,
        }
    }
}

impl Op {
    /// The op, borrowed.
    pub(crate) fn as_op_ref(&self) -> OpRef<'_> {
        match self {
            Op::Call(n) => OpRef::Call(n),
            Op::CallSelf => OpRef::CallSelf,
            Op::GetAttr(n) => OpRef::GetAttr(n),
            Op::SetAttr(n) => OpRef::SetAttr(n),
            Op::Describe => OpRef::Describe,
            Op::Display => OpRef::Display,
            Op::Repr => OpRef::Repr,
            Op::Lookup(n) => OpRef::Lookup(n),
            Op::Identity => OpRef::Identity,
            Op::Member(n) => OpRef::Member(n),
            Op::CallNamed(names) => OpRef::CallNamed(names),
            Op::Special(n) => OpRef::Special(n),
            Op::Inspect => OpRef::Inspect,
            Op::Hash => OpRef::Hash,
            Op::Dir => OpRef::Dir,
            Op::Compare(n) => OpRef::Compare(n),
            Op::Items => OpRef::Items,
        }
    }
}

/// A request to send, borrowed. Same wire form as [`Request`].
#[derive(Debug, Serialize)]
pub(crate) struct RequestRef<'a> {
    pub(crate) seq: u64,
    pub(crate) target: ObjectId,
    pub(crate) op: OpRef<'a>,
    #[serde(serialize_with = "value::serialize_values")]
    pub(crate) args: &'a [Value],
    pub(crate) flags: u8,
}

/// The messages a caller sends without owning their parts. Same wire form as the [`Message`]
/// variants of the same position.
#[derive(Debug, Serialize)]
pub(crate) enum MessageRef<'a> {
    /// [`Message::Hello`] (only here to keep the variant positions).
    #[allow(dead_code)]
    Hello(&'a Hello),
    /// [`Message::Request`].
    Request(RequestRef<'a>),
}

impl MessageRef<'_> {
    /// Encodes the message, appending to `out`; with `spills`, large byte values are left out
    /// and recorded there.
    pub(crate) fn encode_with(
        &self,
        out: &mut Vec<u8>,
        spills: Option<&mut Vec<Spill>>,
    ) -> Result<(), EncodeError> {
        encode(self, out, spills)
    }
}

/// A request as the reader decodes it, the member name borrowed from the frame. Same wire form
/// as [`Request`].
#[derive(Debug, Deserialize)]
pub(crate) struct RequestIn<'a> {
    pub(crate) seq: u64,
    pub(crate) target: ObjectId,
    #[serde(borrow)]
    pub(crate) op: OpRef<'a>,
    #[serde(deserialize_with = "value::deserialize_args")]
    pub(crate) args: value::ArgsIn,
    pub(crate) flags: u8,
}

/// A message as the reader decodes it: requests borrow from the frame.
pub(crate) type MessageIn<'a> = Message<RequestIn<'a>>;

/// Decodes one message from a frame's payload, as [`Message::decode_with`] does, except that a
/// budget running out inside a value is reported (`over`) rather than an error: the requests
/// whose arguments were not all kept say so themselves ([`value::ArgsIn::over`]).
pub(crate) fn decode_in(bytes: &[u8], limits: DecodeLimits) -> Result<Decoded<MessageIn<'_>>, DecodeError> {
    decode_as(bytes, limits)
}

impl From<RequestIn<'_>> for Request {
    fn from(r: RequestIn<'_>) -> Request {
        Request {
            seq: r.seq,
            target: r.target,
            op: r.op.to_op(),
            args: r.args.values,
            flags: r.flags,
        }
    }
}

impl From<MessageIn<'_>> for Message {
    fn from(m: MessageIn<'_>) -> Message {
        match m {
            Message::Hello(h) => Message::Hello(h),
            Message::Request(r) => Message::Request(r.into()),
            Message::Batch(rs) => Message::Batch(rs.into_iter().map(Request::from).collect()),
            Message::Reply { seq, value } => Message::Reply { seq, value },
            Message::Error { seq, error } => Message::Error { seq, error },
            Message::Release { refs } => Message::Release { refs },
            Message::Cancel { seq } => Message::Cancel { seq },
            Message::Close { reason } => Message::Close { reason },
            Message::Ping { nonce } => Message::Ping { nonce },
            Message::Pong { nonce } => Message::Pong { nonce },
            Message::Closing { reason } => Message::Closing { reason },
        }
    }
}
