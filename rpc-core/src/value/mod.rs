//! The value layer: what crosses the wire by value, and the slots where a reference crosses
//! ([`ObjectRef`]), which the layers above fill and resolve.
//!
//! [`Value`] is the dynamic, self-describing form of any serde type. [`to_value`] and
//! [`from_value`] convert typed Rust data to and from it, so users write typed calls and never
//! build a `Value` by hand. Structs become maps keyed by field name, tuples and sequences become
//! [`Value::Seq`], enums are externally tagged (a unit variant is its name, other variants a
//! one-entry map), `None` and `()` are [`Value::Unit`], and `Some(x)` is `x` itself.
//! A sequence of `u8` (a `Vec<u8>`, `&[u8]`, `serde_bytes`) travels as [`Value::Bytes`]. Through
//! serde a plain `Vec<u8>` is still seen byte by byte (probed in one tight loop on encode, about
//! 1.5x a copy's cost; decoded into `Vec<u8>` element by element): `serde_bytes` skips both,
//! and `#[service]` signatures, typed clients and callback closures' `Vec<u8>`/`Box<[u8]>`
//! parameters take the byte path on their own.

pub(crate) mod budget;
mod de;
mod natural;
mod pool;
mod probe;
mod ser;
mod slot;
mod wire;

use std::fmt;

pub use budget::{DecodeLimits, DEFAULT_MAX_DECODED_SIZE, DEFAULT_MAX_DEPTH};
pub use pool::ArgIter;
pub(crate) use pool::{arg_vec, recycle as recycle_args};
pub(crate) use slot::OBJECT_TOKEN;
pub use slot::{Capability, ObjectRef};
pub(crate) use wire::{
    deserialize_args, deserialize_value, deserialize_values, serialize_value, serialize_values, ArgsIn,
};
pub(crate) use wire::{take_encode_error, take_forged, with_context, WireContext, WireRef};

/// A dynamically typed value.
#[derive(Clone, PartialEq, Default)]
pub enum Value {
    /// `()`, `None`, a unit struct.
    #[default]
    Unit,
    /// A boolean.
    Bool(bool),
    /// A signed integer (also every unsigned integer up to `i64::MAX`).
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A string (also a `char`).
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A sequence or tuple.
    Seq(Vec<Value>),
    /// A map or struct, in order.
    Map(Vec<(Value, Value)>),
    /// An object passed by reference: one of ours, or a reference to one of the peer's.
    Object(ObjectRef),
}

impl Value {
    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Unit => "unit",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::UInt(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => f.write_str("()"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) if b.len() > 32 => write!(f, "b[{} bytes]", b.len()),
            Value::Bytes(b) => write!(f, "b{:?}", String::from_utf8_lossy(b)),
            Value::Seq(items) => f.debug_list().entries(items).finish(),
            Value::Map(entries) => f
                .debug_map()
                .entries(entries.iter().map(|(k, v)| (k, v)))
                .finish(),
            Value::Object(o) => {
                f.write_str("<")?;
                o.fmt_reference(f)?;
                f.write_str(">")
            }
        }
    }
}

/// A failure to convert between a Rust type and a [`Value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl ValueError {
    /// A new error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        ValueError(msg.into())
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl serde::ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// Converts any serde type to a [`Value`].
pub fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ser::ValueSerializer)
}

/// Converts a [`Value`] to any serde type.
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

#[cfg(test)]
mod tests;
