//! `Value` -> `Deserialize` data.

use serde::de::{
    self, DeserializeSeed, EnumAccess, Expected, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::{slot, Value, ValueError, OBJECT_TOKEN};

impl Value {
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Unit => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Int(i) => Unexpected::Signed(*i),
            Value::UInt(u) => Unexpected::Unsigned(*u),
            Value::Float(f) => Unexpected::Float(*f),
            Value::Str(s) => Unexpected::Str(s),
            Value::Bytes(b) => Unexpected::Bytes(b),
            Value::Seq(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
            Value::Object(_) => Unexpected::Other("object reference"),
        }
    }

    fn invalid_type(&self, exp: &dyn Expected) -> ValueError {
        de::Error::invalid_type(self.unexpected(), exp)
    }
}

impl<'de> IntoDeserializer<'de, ValueError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Unit => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::UInt(u) => visitor.visit_u64(u),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Seq(items) => visit_seq(items, visitor),
            Value::Map(entries) => visit_map(entries, visitor),
            Value::Object(o) => {
                // Only an object-aware visitor (`Value`, `ObjectRef`) takes it out of the slot.
                slot::put(o);
                let out = visitor.visit_newtype_struct(Value::Unit);
                slot::take();
                out
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Unit => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Unit => visitor.visit_unit(),
            Value::Seq(ref s) if s.is_empty() => visitor.visit_unit(),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        if name == OBJECT_TOKEN {
            return match self {
                Value::Object(_) => self.deserialize_any(visitor),
                other => Err(other.invalid_type(&"an object reference")),
            };
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Seq(items) => visit_seq(items, visitor),
            Value::Bytes(bytes) => visitor.visit_seq(ByteSeq {
                iter: bytes.into_iter(),
            }),
            Value::Unit => visit_seq(Vec::new(), visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Str(s) => visitor.visit_string(s),
            Value::Seq(items) => {
                let bytes = items
                    .iter()
                    .map(|v| match v {
                        Value::Int(i) => u8::try_from(*i).ok(),
                        _ => None,
                    })
                    .collect::<Option<Vec<u8>>>();
                match bytes {
                    Some(b) => visitor.visit_byte_buf(b),
                    None => visit_seq(items, visitor),
                }
            }
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Map(entries) => visit_map(entries, visitor),
            Value::Seq(items) => visit_seq(items, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Str(variant) => visitor.visit_enum(Enum {
                variant: Value::Str(variant),
                content: None,
            }),
            Value::Map(mut entries) if entries.len() == 1 => {
                let (variant, content) = entries.remove(0);
                visitor.visit_enum(Enum {
                    variant,
                    content: Some(content),
                })
            }
            other => Err(other.invalid_type(&"an enum variant name or a one-entry map")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string map identifier
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, ValueError> {
    let len = items.len();
    let mut seq = Seq {
        iter: items.into_iter(),
    };
    let out = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements"))
    }
}

fn visit_map<'de, V: Visitor<'de>>(entries: Vec<(Value, Value)>, visitor: V) -> Result<V::Value, ValueError> {
    let mut map = Map {
        iter: entries.into_iter(),
        value: None,
    };
    visitor.visit_map(&mut map)
}

struct Seq {
    iter: std::vec::IntoIter<Value>,
}

impl<'de> SeqAccess<'de> for Seq {
    type Error = ValueError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.iter.next().map(|v| seed.deserialize(v)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct ByteSeq {
    iter: std::vec::IntoIter<u8>,
}

impl<'de> SeqAccess<'de> for ByteSeq {
    type Error = ValueError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.iter
            .next()
            .map(|b| seed.deserialize(de::value::U8Deserializer::<ValueError>::new(b)))
            .transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Map {
    iter: std::vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for Map {
    type Error = ValueError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, ValueError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ValueError> {
        match self.value.take() {
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::custom("map value requested before its key")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Enum {
    variant: Value,
    content: Option<Value>,
}

impl<'de> EnumAccess<'de> for Enum {
    type Error = ValueError;
    type Variant = Variant;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Variant), ValueError> {
        let v = seed.deserialize(self.variant)?;
        Ok((
            v,
            Variant {
                content: self.content,
            },
        ))
    }
}

struct Variant {
    content: Option<Value>,
}

impl<'de> VariantAccess<'de> for Variant {
    type Error = ValueError;
    fn unit_variant(self) -> Result<(), ValueError> {
        match self.content {
            None | Some(Value::Unit) => Ok(()),
            Some(other) => Err(other.invalid_type(&"a unit variant")),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, ValueError> {
        seed.deserialize(self.content.unwrap_or(Value::Unit))
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_seq(self.content.unwrap_or(Value::Unit), visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(Value::Map(entries)) => visit_map(entries, visitor),
            Some(Value::Seq(items)) => visit_seq(items, visitor),
            Some(other) => Err(other.invalid_type(&visitor)),
            None => Err(Value::Unit.invalid_type(&visitor)),
        }
    }
}
