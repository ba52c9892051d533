//! RPyC's message layer: a request, reply or exception with its sequence number, in the
//! layout of rpyc 6 (`kind byte || brine((seq, body))`) or of rpyc 5 and older
//! (`brine((kind, seq, body))`).

use std::fmt;

use super::brine::{Brine, BrineError};
use super::frame::Generation;

/// The three kinds of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `MSG_REQUEST`: body `(handler, boxed args)`.
    Request = 1,
    /// `MSG_REPLY`: body the boxed result.
    Reply = 2,
    /// `MSG_EXCEPTION`: body a vinegar value, not boxed.
    Exception = 3,
}

impl Kind {
    fn from_int(i: i64) -> Option<Kind> {
        match i {
            1 => Some(Kind::Request),
            2 => Some(Kind::Reply),
            3 => Some(Kind::Exception),
            _ => None,
        }
    }
}

/// Brine's tags of a 2-tuple and a 3-tuple, which frame every message.
const TUP2: u8 = 0x11;
const TUP3: u8 = 0x12;

/// Request handler numbers (PROTOCOL.md §5).
pub mod handler {
    /// `PING(data)`: echoes `data`.
    pub const PING: i64 = 1;
    /// `CLOSE()`.
    pub const CLOSE: i64 = 2;
    /// `GETROOT()`: a reference to the root service.
    pub const GETROOT: i64 = 3;
    /// `GETATTR(obj, name)`.
    pub const GETATTR: i64 = 4;
    /// `DELATTR(obj, name)`.
    pub const DELATTR: i64 = 5;
    /// `SETATTR(obj, name, value)`.
    pub const SETATTR: i64 = 6;
    /// `CALL(obj, args, kwargs)`.
    pub const CALL: i64 = 7;
    /// `CALLATTR(obj, name, args, kwargs)`: Python sends it for the implicit protocols.
    pub const CALLATTR: i64 = 8;
    /// `REPR(obj)`.
    pub const REPR: i64 = 9;
    /// `STR(obj)`.
    pub const STR: i64 = 10;
    /// `CMP(obj, other, op)`.
    pub const CMP: i64 = 11;
    /// `HASH(obj)`.
    pub const HASH: i64 = 12;
    /// `DIR(obj)`.
    pub const DIR: i64 = 13;
    /// `PICKLE(obj, proto)`.
    pub const PICKLE: i64 = 14;
    /// `DEL(obj, count)`.
    pub const DEL: i64 = 15;
    /// `INSPECT(id_pack)`.
    pub const INSPECT: i64 = 16;
    /// `BUFFITER(obj, count)`: up to `count` items of an iterable, in one reply.
    pub const BUFFITER: i64 = 17;
    /// `OLDSLICING(obj, attempt, fallback, start, stop, args)`.
    pub const OLDSLICING: i64 = 18;
    /// `CTXEXIT(obj, exc)`.
    pub const CTXEXIT: i64 = 19;
    /// `INSTANCECHECK(obj, other_id_pack)`.
    pub const INSTANCECHECK: i64 = 20;
}

/// Box labels (PROTOCOL.md §4), named from the sender's side.
pub mod label {
    /// A brine value.
    pub const VALUE: i64 = 1;
    /// A tuple with at least one reference, boxed item by item.
    pub const TUPLE: i64 = 2;
    /// The receiver's own object.
    pub const LOCAL_REF: i64 = 3;
    /// The sender's object: the receiver makes a proxy.
    pub const REMOTE_REF: i64 = 4;
}

/// One message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its kind.
    pub kind: Kind,
    /// The sender's sequence number (a reply or exception: that of the request it answers).
    pub seq: i64,
    /// What it carries.
    pub body: Brine,
}

/// Why a payload is not a message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageError {
    /// The payload is not brine.
    Brine(BrineError),
    /// Brine, but not the shape of a message; says what was found.
    Shape(String),
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::Brine(e) => write!(f, "an rpyc message that is not brine: {e}"),
            MessageError::Shape(what) => write!(f, "not an rpyc message: {what}"),
        }
    }
}

impl std::error::Error for MessageError {}

impl Message {
    /// The payload of this message in `generation`'s layout.
    pub fn encode(&self, generation: Generation) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(generation, &mut out);
        out
    }

    /// Appends the payload of this message in `generation`'s layout to `out` (the body is
    /// written in place, not copied into a tuple first).
    pub fn encode_into(&self, generation: Generation, out: &mut Vec<u8>) {
        let kind = self.kind as i64;
        match generation {
            Generation::V6 => {
                out.push(kind as u8);
                out.push(TUP2);
            }
            Generation::V5 => {
                out.push(TUP3);
                Brine::Int(kind).encode_into(out);
            }
        }
        Brine::Int(self.seq).encode_into(out);
        self.body.encode_into(out);
    }

    /// The message in `payload`, written in `generation`'s layout.
    pub fn decode(payload: &[u8], generation: Generation) -> Result<Message, MessageError> {
        let (kind, rest) = match generation {
            Generation::V6 => {
                let (&kind, rest) = payload
                    .split_first()
                    .ok_or_else(|| MessageError::Shape("an empty payload".into()))?;
                let rest = Brine::decode(rest).map_err(MessageError::Brine)?;
                (i64::from(kind), rest)
            }
            Generation::V5 => match Brine::decode(payload).map_err(MessageError::Brine)? {
                Brine::Tuple(mut items) if items.len() == 3 => {
                    let body = items.pop().unwrap_or(Brine::None);
                    let seq = items.pop().unwrap_or(Brine::None);
                    let kind = items.pop().and_then(|k| k.as_int()).unwrap_or(0);
                    (kind, Brine::Tuple(vec![seq, body]))
                }
                other => return Err(MessageError::Shape(format!("a {}", other.type_name()))),
            },
        };
        let kind = Kind::from_int(kind).ok_or_else(|| MessageError::Shape(format!("message kind {kind}")))?;
        match rest {
            Brine::Tuple(mut items) if items.len() == 2 => {
                let body = items.pop().unwrap_or(Brine::None);
                let seq = items
                    .pop()
                    .and_then(|s| s.as_int())
                    .ok_or_else(|| MessageError::Shape("a sequence number that is not an int".into()))?;
                Ok(Message { kind, seq, body })
            }
            other => Err(MessageError::Shape(format!(
                "a body of type {} instead of (seq, body)",
                other.type_name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getroot_request_of_trace_01() {
        let payload = [0x01, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02];
        let m = Message::decode(&payload, Generation::V6).expect("decodes");
        assert_eq!(m.kind, Kind::Request);
        assert_eq!(m.seq, 0);
        let expected = Brine::Tuple(vec![
            Brine::Int(handler::GETROOT),
            Brine::Tuple(vec![Brine::Int(label::VALUE), Brine::Tuple(vec![])]),
        ]);
        assert_eq!(m.body, expected);
        assert_eq!(m.encode(Generation::V6), payload);
    }

    #[test]
    fn the_old_layout_round_trips_and_bad_shapes_are_named() {
        let m = Message {
            kind: Kind::Exception,
            seq: 7,
            body: Brine::str("x"),
        };
        let old = m.encode(Generation::V5);
        assert_eq!(old[0], 0x12);
        assert_eq!(Message::decode(&old, Generation::V5), Ok(m));
        assert!(matches!(
            Message::decode(&[0x09, 0x02], Generation::V6),
            Err(MessageError::Shape(_))
        ));
        assert!(matches!(
            Message::decode(&[], Generation::V6),
            Err(MessageError::Shape(_))
        ));
        assert!(matches!(
            Message::decode(&[0x01, 0x11, 0x08, 0x01, 0x00], Generation::V6),
            Err(MessageError::Shape(_))
        ));
        assert!(matches!(
            Message::decode(&[0x01, 0xf5], Generation::V6),
            Err(MessageError::Brine(_))
        ));
    }
}
