//! The wire form of [`Value`]: a tagged encoding for postcard (which is not self-describing),
//! decoded with a nesting-depth limit so a hostile peer cannot overflow the stack.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::{Arc, Weak};

use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserializer, Serialize, Serializer};

use super::{ObjectRef, Value};
use crate::protocol::ObjectId;

/// Default limit on how deeply values may nest when decoded from the wire.
pub const DEFAULT_MAX_DEPTH: usize = 128;

thread_local! {
    static DEPTH_LIMIT: Cell<usize> = const { Cell::new(DEFAULT_MAX_DEPTH) };
    static DEPTH_EXCEEDED: Cell<bool> = const { Cell::new(false) };
    /// The connection this thread encoded or decoded for last. Kept between messages (as a
    /// `Weak`, which keeps nothing of the connection alive but its memory block), so that a
    /// run of messages for one connection costs no reference counting.
    static CONTEXT: RefCell<Option<Weak<dyn WireContext>>> = const { RefCell::new(None) };
    /// Whether an encode or decode under [`with_context`] is running.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static FORGED: Cell<Option<ObjectId>> = const { Cell::new(None) };
    static ENCODE_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// How an object reference appears on the wire: which side's table it lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireRef {
    /// An object of the sender (the receiver makes a proxy).
    Sender(ObjectId),
    /// An object of the receiver, going home (the receiver unboxes its original).
    Receiver(ObjectId),
}

/// What the wire form needs from a connection to encode and decode object references.
pub(crate) trait WireContext: Send + Sync {
    /// Records that `object` is being sent and says how to refer to it.
    fn export(&self, object: &ObjectRef) -> Result<WireRef, String>;
    /// Resolves a received reference; `None` if it names nothing this side gave out.
    fn import(&self, reference: WireRef) -> Option<ObjectRef>;
}

/// Runs `f` (an encode or decode) with `ctx` resolving object references.
pub(crate) fn with_context<C: WireContext + 'static, R>(ctx: &Arc<C>, f: impl FnOnce() -> R) -> R {
    let same = CONTEXT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|w| std::ptr::addr_eq(w.as_ptr(), Arc::as_ptr(ctx)))
    });
    let previous = if same {
        None
    } else {
        let weak: Weak<dyn WireContext> = Arc::downgrade(ctx) as Weak<dyn WireContext>;
        Some(CONTEXT.with(|c| c.borrow_mut().replace(weak)))
    };
    let _restore = Restore {
        was_active: ACTIVE.with(|a| a.replace(true)),
        previous,
    };
    f()
}

/// Ends a [`with_context`], even if it unwinds.
struct Restore {
    was_active: bool,
    /// The context replaced, if another one was.
    previous: Option<Option<Weak<dyn WireContext>>>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.was_active));
        if self.was_active {
            if let Some(previous) = self.previous.take() {
                // Nested in another connection's encode or decode: that one goes on with its own.
                CONTEXT.with(|c| *c.borrow_mut() = previous);
            }
        }
    }
}

/// The connection resolving object references, while [`with_context`] runs.
fn context() -> Option<Arc<dyn WireContext>> {
    if !ACTIVE.with(Cell::get) {
        return None;
    }
    CONTEXT.with(|c| c.borrow().as_ref().and_then(Weak::upgrade))
}

/// The first forged reference met by a decode on this thread since the last call, if any.
pub(crate) fn take_forged() -> Option<ObjectId> {
    FORGED.with(Cell::take)
}

/// Why the last encode on this thread failed on an object, if it did.
pub(crate) fn take_encode_error() -> Option<String> {
    ENCODE_ERROR.with(|e| e.borrow_mut().take())
}

/// Whether a decode on this thread hit the depth limit since the last call; resets the flag.
pub(crate) fn take_depth_exceeded() -> bool {
    DEPTH_EXCEEDED.with(|d| d.replace(false))
}

/// Sets, for the current thread, the nesting-depth limit applied when values are decoded from
/// the wire. Connections set it from their configuration before decoding each frame.
pub fn set_depth_limit(limit: usize) {
    DEPTH_LIMIT.with(|d| d.set(limit));
}

const VARIANTS: &[&str] = &[
    "Unit",
    "Bool",
    "Int",
    "UInt",
    "Float",
    "Str",
    "Bytes",
    "Seq",
    "Map",
    "SenderRef",
    "ReceiverRef",
];

/// Serializes a value in its wire form.
pub(crate) struct Wire<'a>(pub &'a Value);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Unit => s.serialize_unit_variant("Value", 0, "Unit"),
            Value::Bool(b) => s.serialize_newtype_variant("Value", 1, "Bool", b),
            Value::Int(i) => s.serialize_newtype_variant("Value", 2, "Int", i),
            Value::UInt(u) => s.serialize_newtype_variant("Value", 3, "UInt", u),
            Value::Float(f) => s.serialize_newtype_variant("Value", 4, "Float", f),
            Value::Str(v) => s.serialize_newtype_variant("Value", 5, "Str", v),
            Value::Bytes(b) => {
                // The sender may move a large buffer into the frame rather than copy it.
                crate::spill::offering(b, || {
                    s.serialize_newtype_variant("Value", 6, "Bytes", serde_bytes::Bytes::new(b))
                })
            }
            Value::Seq(items) => s.serialize_newtype_variant("Value", 7, "Seq", &WireSeq(items)),
            Value::Map(entries) => s.serialize_newtype_variant("Value", 8, "Map", &WireMap(entries)),
            Value::Object(object) => {
                let exported = match context() {
                    Some(ctx) => ctx.export(object),
                    None => Err("object references can only be sent over a connection".to_owned()),
                };
                match exported {
                    Ok(WireRef::Sender(id)) => s.serialize_newtype_variant("Value", 9, "SenderRef", &id),
                    Ok(WireRef::Receiver(id)) => s.serialize_newtype_variant("Value", 10, "ReceiverRef", &id),
                    Err(e) => {
                        ENCODE_ERROR.with(|slot| *slot.borrow_mut() = Some(e.clone()));
                        Err(serde::ser::Error::custom(e))
                    }
                }
            }
        }
    }
}

/// Serializes a slice of values in their wire form.
pub(crate) struct WireSeq<'a>(pub &'a [Value]);

impl Serialize for WireSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&Wire(v))?;
        }
        seq.end()
    }
}

struct WireMap<'a>(&'a [(Value, Value)]);

impl Serialize for WireMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (k, v) in self.0 {
            seq.serialize_element(&(Wire(k), Wire(v)))?;
        }
        seq.end()
    }
}

/// `serialize_with` helper for a `Value` field.
pub(crate) fn serialize_value<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
    Wire(v).serialize(s)
}

/// `deserialize_with` helper for a `Value` field.
pub(crate) fn deserialize_value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    ValueSeed {
        depth: 0,
        limit: DEPTH_LIMIT.with(Cell::get),
    }
    .deserialize(d)
}

/// `serialize_with` helper for a `Vec<Value>` field.
pub(crate) fn serialize_values<S: Serializer>(v: &[Value], s: S) -> Result<S::Ok, S::Error> {
    WireSeq(v).serialize(s)
}

/// `deserialize_with` helper for a `Vec<Value>` field.
pub(crate) fn deserialize_values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    d.deserialize_seq(SeqSeed {
        depth: 0,
        limit: DEPTH_LIMIT.with(Cell::get),
        pooled: true,
    })
}

#[derive(Clone, Copy)]
struct ValueSeed {
    depth: usize,
    limit: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.depth > self.limit {
            DEPTH_EXCEEDED.with(|d| d.set(true));
            return Err(de::Error::custom(format_args!(
                "value nested deeper than the limit of {}",
                self.limit
            )));
        }
        d.deserialize_enum("Value", VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tagged value")
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant): (u32, _) = data.variant()?;
        let inner = ValueSeed {
            depth: self.depth + 1,
            limit: self.limit,
        };
        Ok(match tag {
            0 => {
                variant.unit_variant()?;
                Value::Unit
            }
            1 => Value::Bool(variant.newtype_variant()?),
            2 => Value::Int(variant.newtype_variant()?),
            3 => Value::UInt(variant.newtype_variant()?),
            4 => Value::Float(variant.newtype_variant()?),
            5 => Value::Str(variant.newtype_variant()?),
            6 => Value::Bytes(variant.newtype_variant::<serde_bytes::ByteBuf>()?.into_vec()),
            7 => Value::Seq(variant.newtype_variant_seed(SeqSeed {
                depth: inner.depth,
                limit: inner.limit,
                pooled: false,
            })?),
            8 => Value::Map(variant.newtype_variant_seed(MapSeed(inner))?),
            9 | 10 => {
                let id: ObjectId = variant.newtype_variant()?;
                let reference = if tag == 9 {
                    WireRef::Sender(id)
                } else {
                    WireRef::Receiver(id)
                };
                match context().and_then(|ctx| ctx.import(reference)) {
                    Some(object) => Value::Object(object),
                    None => {
                        // Remember it and go on: the message is answered with an error.
                        FORGED.with(|f| {
                            if f.get().is_none() {
                                f.set(Some(id))
                            }
                        });
                        Value::Unit
                    }
                }
            }
            other => {
                return Err(de::Error::invalid_value(
                    de::Unexpected::Unsigned(other.into()),
                    &"a value tag from 0 to 10",
                ))
            }
        })
    }
}

/// Never reserve more than this many elements on the word of the peer.
const CAUTIOUS_CAPACITY: usize = 1024;

#[derive(Clone, Copy)]
struct SeqSeed {
    /// Whether this is a call's argument list, decoded into a pooled vector.
    pooled: bool,
    depth: usize,
    limit: usize,
}

impl<'de> DeserializeSeed<'de> for SeqSeed {
    type Value = Vec<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SeqSeed {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of values")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let capacity = seq.size_hint().unwrap_or(0).min(CAUTIOUS_CAPACITY);
        let mut out = if self.pooled {
            super::pool::arg_vec(capacity)
        } else {
            Vec::with_capacity(capacity)
        };
        let item = ValueSeed {
            depth: self.depth,
            limit: self.limit,
        };
        while let Some(v) = seq.next_element_seed(item)? {
            out.push(v);
        }
        Ok(out)
    }
}

struct MapSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for MapSeed {
    type Value = Vec<(Value, Value)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MapSeed {
    type Value = Vec<(Value, Value)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of key-value pairs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(CAUTIOUS_CAPACITY));
        while let Some(pair) = seq.next_element_seed(PairSeed(self.0))? {
            out.push(pair);
        }
        Ok(out)
    }
}

struct PairSeed(ValueSeed);

impl<'de> DeserializeSeed<'de> for PairSeed {
    type Value = (Value, Value);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for PairSeed {
    type Value = (Value, Value);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key-value pair")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let k = seq
            .next_element_seed(self.0)?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let v = seq
            .next_element_seed(self.0)?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((k, v))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::protocol::Message;
    use crate::value::Object;
    use crate::VoidService;

    /// Gives every exported object the next id of its own counter.
    struct Numbering(AtomicU64);

    impl WireContext for Numbering {
        fn export(&self, _: &ObjectRef) -> Result<WireRef, String> {
            Ok(WireRef::Sender(self.0.fetch_add(1, Ordering::SeqCst)))
        }
        fn import(&self, _: WireRef) -> Option<ObjectRef> {
            None
        }
    }

    fn encode_object() -> Result<(), crate::protocol::EncodeError> {
        let msg = Message::Reply {
            seq: 1,
            value: Value::Object(ObjectRef::Local(Object::new(VoidService))),
        };
        msg.encode_into(&mut Vec::new())
    }

    #[test]
    fn object_references_resolve_only_inside_with_context_and_with_the_right_one() {
        let a = Arc::new(Numbering(AtomicU64::new(100)));
        let b = Arc::new(Numbering(AtomicU64::new(200)));
        with_context(&a, || encode_object().expect("inside a context"));
        assert_eq!(a.0.load(Ordering::SeqCst), 101);
        // The last context is remembered between messages, but not used outside of one.
        assert!(encode_object().is_err(), "outside any context");
        with_context(&a, || {
            // Nested for another connection, then back to the outer one.
            with_context(&b, || encode_object().expect("inner"));
            encode_object().expect("outer again");
        });
        assert_eq!(
            (a.0.load(Ordering::SeqCst), b.0.load(Ordering::SeqCst)),
            (102, 201)
        );
        drop(a);
        with_context(&b, || {
            encode_object().expect("a dropped connection is no obstacle")
        });
        assert_eq!(b.0.load(Ordering::SeqCst), 202);
    }
}
