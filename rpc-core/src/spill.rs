//! Large byte values leave a message's encoding without being copied into the frame.
//!
//! A `Value::Bytes` of at least [`SPILL_MIN`] bytes is encoded as its length prefix only; the
//! encoder records where its content belongs (a [`Spill`]), and the sender moves the value's
//! own buffer into the outgoing queue right there. The bytes on the wire are exactly those of
//! an ordinary encoding: the receiving side does not know.
//!
//! How the encoder tells the content of that value from any other slice: the wire form of
//! `Value::Bytes` [offers](offering) its buffer right before serde writes it, and the
//! [`SpillSink`] spills only a write of exactly that buffer (same address, same length).

use std::cell::Cell;

use postcard::ser_flavors::Flavor;

use crate::protocol::{EncodeError, Message};
use crate::value::Value;

/// Byte values at least this long are spilled rather than copied.
pub(crate) const SPILL_MIN: usize = 32 * 1024;

thread_local! {
    /// The byte value about to be written (address, length), or `(0, 0)`.
    static OFFERED: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Runs `write`, which writes `bytes`, letting the encoder spill them instead of copying them.
pub(crate) fn offering<R>(bytes: &[u8], write: impl FnOnce() -> R) -> R {
    if bytes.len() < SPILL_MIN {
        return write();
    }
    OFFERED.with(|o| o.set((bytes.as_ptr() as usize, bytes.len())));
    let written = write();
    withdraw();
    written
}

/// Forgets the offered value.
fn withdraw() {
    OFFERED.with(|o| o.set((0, 0)));
}

/// The content of a byte value left out of an encoded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spill {
    /// Offset in the encoded output where the content belongs.
    pub(crate) at: usize,
    /// Address of the value's buffer (identifies it among the message's values).
    addr: usize,
    /// Length of the content.
    pub(crate) len: usize,
}

/// A postcard output appending to a borrowed buffer (so a failed encode does not lose what it
/// already held) that spills offered byte values when given a list to record them in.
pub(crate) struct SpillSink<'a> {
    out: &'a mut Vec<u8>,
    spills: Option<&'a mut Vec<Spill>>,
}

impl<'a> SpillSink<'a> {
    /// Appends to `out`; spills into `spills` when given.
    pub(crate) fn new(out: &'a mut Vec<u8>, spills: Option<&'a mut Vec<Spill>>) -> Self {
        if spills.is_some() {
            withdraw();
        }
        SpillSink { out, spills }
    }
}

impl Flavor for SpillSink<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.out.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if let Some(spills) = self.spills.as_deref_mut() {
            if data.len() >= SPILL_MIN && OFFERED.with(Cell::get) == (data.as_ptr() as usize, data.len()) {
                withdraw();
                spills.push(Spill {
                    at: self.out.len(),
                    addr: data.as_ptr() as usize,
                    len: data.len(),
                });
                return Ok(());
            }
        }
        self.out.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// A message the sender owns, so that its large byte values can be moved into the frame.
pub(crate) trait Outgoing {
    /// Encodes the message, appending to `out`, spilling into `spills` when given.
    fn encode(&self, out: &mut Vec<u8>, spills: Option<&mut Vec<Spill>>) -> Result<(), EncodeError>;

    /// The values of the message (where spilled byte values come from).
    fn values(&mut self) -> Vec<&mut Value>;

    /// The message itself, for a wire that encodes it its own way (RPyC's).
    fn view(&self) -> View<'_>;
}

/// An outgoing message as another wire sees it.
pub(crate) enum View<'a> {
    /// A request made of borrowed parts.
    Request(crate::protocol::RequestRef<'a>),
    /// Any message.
    Message(&'a Message),
}

impl Outgoing for Message {
    fn encode(&self, out: &mut Vec<u8>, spills: Option<&mut Vec<Spill>>) -> Result<(), EncodeError> {
        self.encode_with(out, spills)
    }

    fn values(&mut self) -> Vec<&mut Value> {
        match self {
            Message::Request(r) => r.args.iter_mut().collect(),
            Message::Batch(requests) => requests.iter_mut().flat_map(|r| r.args.iter_mut()).collect(),
            Message::Reply { value, .. } => vec![value],
            _ => Vec::new(),
        }
    }

    fn view(&self) -> View<'_> {
        View::Message(self)
    }
}

/// Takes the buffers of the spilled byte values out of `message` (leaving them empty), each
/// with the offset where it belongs, in the order of `spills`. `None` if one is missing (the
/// message is not the one encoded).
pub(crate) fn take_spilled(message: &mut impl Outgoing, spills: &[Spill]) -> Option<Vec<(usize, Vec<u8>)>> {
    let mut values = message.values();
    let mut found = Vec::with_capacity(spills.len());
    for spill in spills {
        let bytes = find(values.iter_mut().map(|v| &mut **v), spill)?;
        found.push((spill.at, bytes));
    }
    Some(found)
}

/// Takes the spilled buffer out of the first of `values` that holds it.
fn find<'v>(values: impl IntoIterator<Item = &'v mut Value>, spill: &Spill) -> Option<Vec<u8>> {
    values.into_iter().find_map(|v| find_in(v, spill))
}

fn find_in(value: &mut Value, spill: &Spill) -> Option<Vec<u8>> {
    match value {
        Value::Bytes(b) if b.as_ptr() as usize == spill.addr && b.len() == spill.len => {
            Some(std::mem::take(b))
        }
        Value::Seq(items) => find(items.iter_mut(), spill),
        Value::Map(entries) => entries
            .iter_mut()
            .find_map(|(k, v)| find_in(k, spill).or_else(|| find_in(v, spill))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Op, Request};

    #[test]
    fn a_large_byte_value_is_spilled_and_taken_whole() {
        let big = vec![7u8; SPILL_MIN];
        let addr = big.as_ptr();
        let mut msg = Message::Request(Request {
            seq: 9,
            target: 0,
            op: Op::Call("put".into()),
            args: vec![
                Value::Int(1),
                Value::Seq(vec![Value::Bytes(big), Value::Bytes(vec![1; 10])]),
            ],
            flags: 0,
        });
        let mut plain = Vec::new();
        msg.encode_into(&mut plain).expect("encode");
        let mut head = Vec::new();
        let mut spills = Vec::new();
        msg.encode_with(&mut head, Some(&mut spills)).expect("encode");
        assert_eq!(spills.len(), 1, "only the large value spills");
        assert_eq!(head.len() + SPILL_MIN, plain.len());
        let taken = take_spilled(&mut msg, &spills).expect("the spilled value is there");
        let (at, bytes) = &taken[0];
        assert_eq!(bytes.as_ptr(), addr, "moved, not copied");
        let mut rebuilt = head[..*at].to_vec();
        rebuilt.extend_from_slice(bytes);
        rebuilt.extend_from_slice(&head[*at..]);
        assert_eq!(rebuilt, plain, "the wire bytes are those of the plain encoding");
    }

    #[test]
    fn without_a_spill_list_nothing_spills() {
        let msg = Message::Reply {
            seq: 1,
            value: Value::Bytes(vec![1; SPILL_MIN * 2]),
        };
        let mut out = Vec::new();
        msg.encode_into(&mut out).expect("encode");
        assert!(out.len() > SPILL_MIN * 2);
    }
}
