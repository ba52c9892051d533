//! The wire form of [`Value`]: a tagged encoding for postcard (which is not self-describing),
//! encoded and decoded with a nesting-depth limit so that neither side overflows its stack, and
//! decoded under the [budget](super::budget) so a hostile peer cannot make us hold more than it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::{Arc, Weak};

use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserializer, Serialize, Serializer};

use super::budget::{
    self, charge_value, room_for_one, skipping, LimitHit, DEFAULT_MAX_DEPTH, REFERENCE_COST,
};
use super::{ObjectRef, Value};
use crate::protocol::ObjectId;

/// Room of one value in a vector.
const VALUE_SIZE: usize = size_of::<Value>();

thread_local! {
    /// The nesting limit of encodes on this thread: the connection's, inside [`with_context`].
    static ENCODE_DEPTH_LIMIT: Cell<usize> = const { Cell::new(DEFAULT_MAX_DEPTH) };
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
    /// The deepest nesting of a value this side sends (the limit it also decodes with).
    fn max_depth(&self) -> usize {
        DEFAULT_MAX_DEPTH
    }
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
        depth_limit: ENCODE_DEPTH_LIMIT.with(|d| d.replace(ctx.max_depth())),
        previous,
    };
    f()
}

/// Ends a [`with_context`], even if it unwinds.
struct Restore {
    was_active: bool,
    depth_limit: usize,
    /// The context replaced, if another one was.
    previous: Option<Option<Weak<dyn WireContext>>>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.was_active));
        ENCODE_DEPTH_LIMIT.with(|d| d.set(self.depth_limit));
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

/// Where a value sits: how deep, and how deep it may go.
#[derive(Clone, Copy)]
struct Level {
    depth: usize,
    limit: usize,
}

impl Level {
    /// The top level of a message's values, under this thread's encode limit.
    fn top() -> Level {
        Level {
            depth: 0,
            limit: ENCODE_DEPTH_LIMIT.with(Cell::get),
        }
    }

    fn inner(self) -> Level {
        Level {
            depth: self.depth + 1,
            ..self
        }
    }
}

/// Refuses to encode `e` with its reason recorded for the caller.
fn encode_refused<E: serde::ser::Error>(e: String) -> E {
    let error = E::custom(&e);
    ENCODE_ERROR.with(|slot| *slot.borrow_mut() = Some(e));
    error
}

/// Serializes a value in its wire form.
struct Wire<'a>(&'a Value, Level);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Wire(value, level) = *self;
        if level.depth > level.limit {
            // The peer would refuse it; and a deep enough value would overflow our own stack.
            return Err(encode_refused(format!(
                "value nested deeper than the limit of {}",
                level.limit
            )));
        }
        match value {
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
            Value::Seq(items) => {
                s.serialize_newtype_variant("Value", 7, "Seq", &WireSeq(items, level.inner()))
            }
            Value::Map(entries) => {
                s.serialize_newtype_variant("Value", 8, "Map", &WireMap(entries, level.inner()))
            }
            Value::Object(object) => {
                let exported = match context() {
                    Some(ctx) => ctx.export(object),
                    None => Err("object references can only be sent over a connection".to_owned()),
                };
                match exported {
                    Ok(WireRef::Sender(id)) => s.serialize_newtype_variant("Value", 9, "SenderRef", &id),
                    Ok(WireRef::Receiver(id)) => s.serialize_newtype_variant("Value", 10, "ReceiverRef", &id),
                    Err(e) => Err(encode_refused(e)),
                }
            }
        }
    }
}

/// Serializes a slice of values in their wire form.
struct WireSeq<'a>(&'a [Value], Level);

impl Serialize for WireSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&Wire(v, self.1))?;
        }
        seq.end()
    }
}

struct WireMap<'a>(&'a [(Value, Value)], Level);

impl Serialize for WireMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (k, v) in self.0 {
            seq.serialize_element(&(Wire(k, self.1), Wire(v, self.1)))?;
        }
        seq.end()
    }
}

/// `serialize_with` helper for a `Value` field.
pub(crate) fn serialize_value<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
    Wire(v, Level::top()).serialize(s)
}

/// `deserialize_with` helper for a `Value` field.
pub(crate) fn deserialize_value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    ValueSeed(Level::decoding()).deserialize(d)
}

/// `serialize_with` helper for a `Vec<Value>` field.
pub(crate) fn serialize_values<S: Serializer>(v: &[Value], s: S) -> Result<S::Ok, S::Error> {
    WireSeq(v, Level::top()).serialize(s)
}

/// `deserialize_with` helper for a `Vec<Value>` field.
pub(crate) fn deserialize_values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    d.deserialize_seq(SeqSeed {
        level: Level::decoding(),
        pooled: true,
    })
}

/// A call's arguments as the connection's reader decodes them, weighed.
#[derive(Debug, Default)]
pub(crate) struct ArgsIn {
    /// The arguments (incomplete if `over`).
    pub(crate) values: Vec<Value>,
    /// Bytes the arguments occupy in memory, as charged to the decode budget.
    pub(crate) weight: usize,
    /// The decode budget ran out before the arguments were all kept: they must not be used.
    pub(crate) over: bool,
}

/// `deserialize_with` helper for a call's arguments, weighed (see [`ArgsIn`]).
pub(crate) fn deserialize_args<'de, D: Deserializer<'de>>(d: D) -> Result<ArgsIn, D::Error> {
    let before = budget::used();
    let values = deserialize_values(d)?;
    Ok(ArgsIn {
        values,
        weight: budget::used() - before,
        over: skipping(),
    })
}

impl Level {
    /// The top level of a value being decoded, under this thread's decode limit.
    fn decoding() -> Level {
        Level {
            depth: 0,
            limit: budget::depth_limit(),
        }
    }
}

#[derive(Clone, Copy)]
struct ValueSeed(Level);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.depth > self.0.limit {
            return Err(budget::fail(LimitHit::TooDeep(self.0.limit)));
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
        let inner = self.0.inner();
        Ok(match tag {
            0 => {
                variant.unit_variant()?;
                Value::Unit
            }
            1 => Value::Bool(variant.newtype_variant()?),
            2 => Value::Int(variant.newtype_variant()?),
            3 => Value::UInt(variant.newtype_variant()?),
            4 => Value::Float(variant.newtype_variant()?),
            5 => variant.newtype_variant_seed(StrSeed)?,
            6 => variant.newtype_variant_seed(BytesSeed)?,
            7 => Value::Seq(variant.newtype_variant_seed(SeqSeed {
                level: inner,
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
                // Imported even when skipping: a reference received is counted, so that
                // dropping it (right here, then) releases it on the peer.
                match context().and_then(|ctx| ctx.import(reference)) {
                    Some(object) if charge_value(REFERENCE_COST) => Value::Object(object),
                    Some(_) => Value::Unit,
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

/// A string value, paid for before it is copied out of the frame.
struct StrSeed;

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for StrSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(if charge_value(s.len()) {
            Value::Str(s.to_owned())
        } else {
            Value::Unit
        })
    }
}

/// A byte value, paid for before it is copied out of the frame.
struct BytesSeed;

impl<'de> DeserializeSeed<'de> for BytesSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl Visitor<'_> for BytesSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Value, E> {
        Ok(if charge_value(b.len()) {
            Value::Bytes(b.to_vec())
        } else {
            Value::Unit
        })
    }
}

#[derive(Clone, Copy)]
struct SeqSeed {
    /// Whether this is a call's argument list, decoded into a pooled vector.
    pooled: bool,
    level: Level,
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
        let mut out = if self.pooled {
            let n = budget::cautious_len(seq.size_hint());
            if charge_value(n * VALUE_SIZE) {
                // Exactly the room paid for: `reserve` would round a small room up (to 4 values).
                let mut v = super::pool::arg_vec(0);
                v.reserve_exact(n);
                v
            } else {
                Vec::new()
            }
        } else {
            budget::cautious_vec(seq.size_hint(), charge_value)
        };
        let item = ValueSeed(self.level);
        while let Some(v) = seq.next_element_seed(item)? {
            // Past the budget the rest is read (to the end of the message) but not kept.
            if !skipping() && room_for_one(&mut out, charge_value) {
                out.push(v);
            }
        }
        Ok(out)
    }
}

struct MapSeed(Level);

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
        let mut out = budget::cautious_vec(seq.size_hint(), charge_value);
        while let Some(pair) = seq.next_element_seed(PairSeed(self.0))? {
            if !skipping() && room_for_one(&mut out, charge_value) {
                out.push(pair);
            }
        }
        Ok(out)
    }
}

struct PairSeed(Level);

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
            .next_element_seed(ValueSeed(self.0))?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let v = seq
            .next_element_seed(ValueSeed(self.0))?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((k, v))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use std::any::Any;

    use super::*;
    use crate::protocol::Message;
    use crate::value::Capability;

    /// A reference of no layer above: all these tests send.
    struct Token;

    impl Capability for Token {
        fn fmt_reference(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("token")
        }
        fn provide(self: Arc<Self>, _: &mut dyn Any) {}
    }

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
            value: Value::Object(ObjectRef::new(Arc::new(Token))),
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
