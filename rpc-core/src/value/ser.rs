//! `Serialize` data -> `Value`.

use serde::ser::{self, Serialize};

use super::probe::{ByteProbe, NotAByte};
use super::{slot, Value, ValueError, OBJECT_TOKEN};

/// Serializes into a [`Value`].
#[derive(Default)]
pub(super) struct ValueSerializer;

fn int(v: i64) -> Result<Value, ValueError> {
    Ok(Value::Int(v))
}

fn uint(v: u64) -> Result<Value, ValueError> {
    Ok(match i64::try_from(v) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::UInt(v),
    })
}

fn tagged(variant: &'static str, value: Value) -> Value {
    Value::Map(vec![(Value::Str(variant.to_owned()), value)])
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = Tagged<SeqSer>;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = Tagged<MapSer>;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        int(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        int(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        int(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        int(v)
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        if let Ok(i) = i64::try_from(v) {
            int(i)
        } else if let Ok(u) = u64::try_from(v) {
            uint(u)
        } else {
            Err(ValueError::new(format!("integer {v} does not fit in 64 bits")))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        int(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        int(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        int(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        uint(v)
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        match u64::try_from(v) {
            Ok(u) => uint(u),
            Err(_) => Err(ValueError::new(format!("integer {v} does not fit in 64 bits"))),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Unit)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(ValueSerializer)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Unit)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Unit)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::Str(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        if name == OBJECT_TOKEN {
            if let Some(object) = slot::take() {
                return Ok(Value::Object(object));
            }
        }
        value.serialize(ValueSerializer)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(tagged(variant, value.serialize(ValueSerializer)?))
    }
    /// `Vec<T>`, `[T]` and the other sequences of serde arrive here with their iterator: the
    /// elements are probed in one tight loop straight into a byte buffer sized up front, so a
    /// `Vec<u8>` or `&[u8]` costs a probe and a store per byte (see [`collect_bytes`]).
    fn collect_seq<I>(self, iter: I) -> Result<Value, ValueError>
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        collect_bytes(iter.into_iter())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, ValueError> {
        Ok(SeqSer::new(len, true))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, ValueError> {
        Ok(SeqSer::new(Some(len), false))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer, ValueError> {
        Ok(SeqSer::new(Some(len), false))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Tagged<SeqSer>, ValueError> {
        Ok(Tagged {
            variant,
            inner: SeqSer::new(Some(len), false),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSer, ValueError> {
        Ok(MapSer::new(len))
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapSer, ValueError> {
        Ok(MapSer::new(Some(len)))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Tagged<MapSer>, ValueError> {
        Ok(Tagged {
            variant,
            inner: MapSer::new(Some(len)),
        })
    }
}

/// A sequence from its iterator: [`Value::Bytes`] while every element is a `u8`.
///
/// Stable Rust cannot ask whether `Item` is `u8`, so each element is still serialized through
/// [`ByteProbe`] (for a `u8`, inlined to the byte itself). What this saves over
/// [`ser::SerializeSeq`] is everything around it: the buffer is zero-filled to the iterator's
/// size once and written by index (no capacity check per byte), and there is no per-element
/// branch on the state of a half-built sequence.
fn collect_bytes<I>(mut iter: I) -> Result<Value, ValueError>
where
    I: Iterator,
    I::Item: Serialize,
{
    // The first element decides whether a buffer is worth sizing.
    let Some(first) = iter.next() else {
        return Ok(Value::Seq(Vec::new()));
    };
    let first = match first.serialize(ByteProbe) {
        Ok(b) => b,
        Err(NotAByte) => return collect_values(Vec::new(), first, iter),
    };
    let (lower, _) = iter.size_hint();
    let mut bytes = vec![0u8; 1 + lower];
    bytes[0] = first;
    let mut filled = 1;
    for slot in bytes[1..].iter_mut() {
        let Some(item) = iter.next() else { break };
        match item.serialize(ByteProbe) {
            Ok(b) => *slot = b,
            Err(NotAByte) => {
                bytes.truncate(filled);
                return collect_values(bytes, item, iter);
            }
        }
        filled += 1;
    }
    bytes.truncate(filled);
    // An iterator that said less than it had: the rest one by one.
    while let Some(item) = iter.next() {
        match item.serialize(ByteProbe) {
            Ok(b) => bytes.push(b),
            Err(NotAByte) => return collect_values(bytes, item, iter),
        }
    }
    Ok(Value::Bytes(bytes))
}

/// The rest of [`collect_bytes`] once an element is not a byte: the bytes so far become
/// integers, then `first` and the remaining elements follow as values.
fn collect_values<I>(bytes: Vec<u8>, first: I::Item, iter: I) -> Result<Value, ValueError>
where
    I: Iterator,
    I::Item: Serialize,
{
    let mut items = Vec::with_capacity((bytes.len() + 1 + iter.size_hint().0).min(4096));
    items.extend(bytes.into_iter().map(|b| Value::Int(b.into())));
    items.push(first.serialize(ValueSerializer)?);
    for item in iter {
        items.push(item.serialize(ValueSerializer)?);
    }
    Ok(Value::Seq(items))
}

/// Collects a sequence; while every element is a `u8`, collects raw bytes instead.
pub(super) struct SeqSer {
    items: Vec<Value>,
    bytes: Option<Vec<u8>>,
}

impl SeqSer {
    fn new(len: Option<usize>, may_be_bytes: bool) -> Self {
        let cap = len.unwrap_or(0).min(4096);
        if may_be_bytes {
            SeqSer {
                items: Vec::new(),
                bytes: Some(Vec::with_capacity(len.unwrap_or(0))),
            }
        } else {
            SeqSer {
                items: Vec::with_capacity(cap),
                bytes: None,
            }
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        if let Some(bytes) = &mut self.bytes {
            match value.serialize(ByteProbe) {
                Ok(b) => {
                    bytes.push(b);
                    return Ok(());
                }
                Err(NotAByte) => {
                    // Not a byte sequence after all: what was collected becomes integers.
                    let collected = self.bytes.take().unwrap_or_default();
                    self.items = collected.into_iter().map(|b| Value::Int(b.into())).collect();
                }
            }
        }
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn finish(self) -> Value {
        match self.bytes {
            Some(bytes) if !bytes.is_empty() => Value::Bytes(bytes),
            _ => Value::Seq(self.items),
        }
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.finish())
    }
}

/// Collects a map or the fields of a struct.
pub(super) struct MapSer {
    entries: Vec<(Value, Value)>,
    key: Option<Value>,
}

impl MapSer {
    fn new(len: Option<usize>) -> Self {
        MapSer {
            entries: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
        }
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(key.serialize(ValueSerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ValueError::new("map value serialized before its key"))?;
        self.entries.push((key, value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(self.entries))
    }
}

impl ser::SerializeStruct for MapSer {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        let v = value.serialize(ValueSerializer)?;
        self.entries.push((Value::Str(key.to_owned()), v));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Map(self.entries))
    }
}

/// An enum variant with content: `{variant: content}`.
pub(super) struct Tagged<S> {
    variant: &'static str,
    inner: S,
}

impl ser::SerializeTupleVariant for Tagged<SeqSer> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.inner.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, self.inner.finish()))
    }
}

impl ser::SerializeStructVariant for Tagged<MapSer> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, Value::Map(self.inner.entries)))
    }
}
