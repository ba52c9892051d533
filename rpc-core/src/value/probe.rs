//! Telling a sequence of `u8` apart cheaply: a serializer that accepts only a `u8`, so that
//! `Vec<u8>` and `&[u8]` become [`Value::Bytes`](super::Value::Bytes) at a cost of a few
//! instructions per byte instead of a full value per element.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

/// The element was not a `u8`.
#[derive(Debug)]
pub(super) struct NotAByte;

impl fmt::Display for NotAByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a byte")
    }
}

impl std::error::Error for NotAByte {}

impl ser::Error for NotAByte {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        NotAByte
    }
}

/// Serializes a `u8` to itself and refuses everything else.
pub(super) struct ByteProbe;

macro_rules! refuse {
    ($($name:ident($($arg:ty),*);)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<u8, NotAByte> {
            Err(NotAByte)
        })*
    };
}

impl ser::Serializer for ByteProbe {
    type Ok = u8;
    type Error = NotAByte;
    type SerializeSeq = Impossible<u8, NotAByte>;
    type SerializeTuple = Impossible<u8, NotAByte>;
    type SerializeTupleStruct = Impossible<u8, NotAByte>;
    type SerializeTupleVariant = Impossible<u8, NotAByte>;
    type SerializeMap = Impossible<u8, NotAByte>;
    type SerializeStruct = Impossible<u8, NotAByte>;
    type SerializeStructVariant = Impossible<u8, NotAByte>;

    fn serialize_u8(self, v: u8) -> Result<u8, NotAByte> {
        Ok(v)
    }

    refuse! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<u8, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotAByte> {
        Err(NotAByte)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAByte> {
        Err(NotAByte)
    }
}
