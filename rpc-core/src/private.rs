//! Support for the code `#[service]` generates. Not a public API.

use std::error::Error as StdError;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use futures::future::BoxFuture;
pub use std::sync::Arc;
pub use std::vec::Vec;

pub use serde;

pub use crate::args::Args;
pub use crate::connection::Connection;
pub use crate::error::{Error, Result};
pub use crate::error::{RemoteError, RemoteErrorKind};
pub use crate::netref::NetRef;
pub use crate::reply::{by_reference, FromReply, IntoReply};
pub use crate::service::{not_exposed, AttributeInfo, CallResult, Description, MethodInfo, Outcome, Service};
pub use crate::value::{Value, ValueError};

use crate::value::{from_value, to_value};

fn bad_arguments(message: String) -> RemoteError {
    RemoteError::new(RemoteErrorKind::BadArguments, "rpc::BadArguments", message)
}

/// Checks the argument count of `method`.
pub fn take_args(
    method: &str,
    expected: usize,
    args: Vec<Value>,
) -> Result<crate::value::ArgIter, RemoteError> {
    if args.len() == expected {
        return Ok(crate::value::ArgIter::new(args));
    }
    let plural = if expected == 1 { "" } else { "s" };
    Err(bad_arguments(format!(
        "{method}() takes {expected} argument{plural} but {} were given",
        args.len()
    )))
}

/// Converts argument `index` (0-based) named `name` of `method`.
pub fn arg<T: DeserializeOwned>(
    method: &str,
    index: usize,
    name: &str,
    value: Option<Value>,
) -> Result<T, RemoteError> {
    let value = value.unwrap_or_default();
    let kind = value.kind();
    from_value(value).map_err(|e| {
        bad_arguments(format!(
            "{method}(): argument {} `{name}` (got {kind}): {e}",
            index + 1
        ))
    })
}

/// Converts a `Vec<u8>` (or `&[u8]`) argument as bytes, not element by element.
pub fn arg_bytes(
    method: &str,
    index: usize,
    name: &str,
    value: Option<Value>,
) -> Result<Vec<u8>, RemoteError> {
    arg::<serde_bytes::ByteBuf>(method, index, name, value).map(serde_bytes::ByteBuf::into_vec)
}

/// Converts argument `index` (0-based) named `name` of `method` with `decode` (the byte-run
/// dispatch below), reporting a failure as [`arg`] does.
pub fn arg_with<T>(
    method: &str,
    index: usize,
    name: &str,
    value: Option<Value>,
    decode: impl FnOnce(Value) -> Result<T, ValueError>,
) -> Result<T, RemoteError> {
    let value = value.unwrap_or_default();
    let kind = value.kind();
    decode(value).map_err(|e| {
        bad_arguments(format!(
            "{method}(): argument {} `{name}` (got {kind}): {e}",
            index + 1
        ))
    })
}

// Byte runs where the types are visible.
//
// `#[service]` and its typed client see the types of parameters and results as written, but a
// macro cannot resolve them, and stable Rust has no specialization. So for a type that looks
// like a byte container (`Vec<u8>`, `&[u8]`, `[u8; N]`, `Box<[u8]>`, `Bytes`), the generated
// code asks the compiler through method resolution ("autoref specialization"):
// `(&Enc::new(x)).encode_arg()` finds the byte impl on `Enc<Vec<u8>>` before the serde impl on
// `&Enc<T>`. A type that only looks like one (a user's own `Bytes`) falls through to serde.

/// A value to encode, for the byte-run dispatch: `(&Enc::new(x)).encode_arg()`.
pub struct Enc<T>(std::cell::Cell<Option<T>>);

impl<T> Enc<T> {
    /// Wraps the value.
    pub fn new(value: T) -> Self {
        Enc(std::cell::Cell::new(Some(value)))
    }

    fn take(&self) -> T {
        // Each dispatch method takes the value exactly once.
        self.0.take().expect("an Enc is encoded once")
    }
}

/// A type to decode into, for the byte-run dispatch: `(&Dec::<T>::new()).decode(value)`.
pub struct Dec<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Dec<T> {
    /// The dispatcher for `T`.
    pub fn new() -> Self {
        Dec(std::marker::PhantomData)
    }
}

impl<T> Default for Dec<T> {
    fn default() -> Self {
        Dec::new()
    }
}

/// A byte container encoded as one [`Value::Bytes`]: moved when owned, copied once when
/// borrowed.
pub trait ArgBytes {
    /// The value as [`Value::Bytes`].
    fn encode_arg(&self) -> Result<Value, ValueError>;
}

/// Any other argument: through serde.
pub trait ArgSerde {
    /// The value through [`to_value`].
    fn encode_arg(&self) -> Result<Value, ValueError>;
}

impl<T: Serialize> ArgSerde for &Enc<T> {
    fn encode_arg(&self) -> Result<Value, ValueError> {
        to_value(&self.take())
    }
}

/// A byte-container result sent as one [`Value::Bytes`].
pub trait ReplyBytes {
    /// The answer.
    fn encode_reply(&self) -> CallResult;
}

/// Any other result: [`IntoReply`].
pub trait ReplyOther {
    /// The answer.
    fn encode_reply(&self) -> CallResult;
}

impl<T: IntoReply> ReplyOther for &Enc<T> {
    fn encode_reply(&self) -> CallResult {
        self.take().into_reply()
    }
}

/// A byte container decoded from one [`Value::Bytes`] (its buffer moved where the type allows;
/// a sequence of small integers is accepted too, as serde would).
pub trait DecodeBytes<T> {
    /// The value.
    fn decode(&self, value: Value) -> Result<T, ValueError>;
}

/// Any other type: through serde.
pub trait DecodeSerde<T> {
    /// The value through [`from_value`].
    fn decode(&self, value: Value) -> Result<T, ValueError>;
}

impl<T: DeserializeOwned> DecodeSerde<T> for &Dec<T> {
    fn decode(&self, value: Value) -> Result<T, ValueError> {
        from_value(value)
    }
}

/// The byte vector a value holds: its own buffer for `Value::Bytes`.
fn byte_vec(value: Value) -> Result<Vec<u8>, ValueError> {
    match value {
        Value::Bytes(b) => Ok(b),
        other => from_value::<serde_bytes::ByteBuf>(other).map(serde_bytes::ByteBuf::into_vec),
    }
}

macro_rules! byte_args {
    ($([$($gen:tt)*] $ty:ty => |$v:ident| $conv:expr;)*) => {$(
        impl<$($gen)*> ArgBytes for Enc<$ty> {
            fn encode_arg(&self) -> Result<Value, ValueError> {
                let $v = self.take();
                Ok(Value::Bytes($conv))
            }
        }
        impl<$($gen)*> ReplyBytes for Enc<$ty> {
            fn encode_reply(&self) -> CallResult {
                let $v = self.take();
                Ok(Value::Bytes($conv))
            }
        }
    )*};
}

byte_args! {
    [] Vec<u8> => |v| v;
    ['a] &'a Vec<u8> => |v| v.clone();
    ['a] &'a [u8] => |v| v.to_vec();
    [const N: usize] [u8; N] => |v| v.to_vec();
    ['a, const N: usize] &'a [u8; N] => |v| v.to_vec();
    [] Box<[u8]> => |v| v.into_vec();
    ['a] &'a Box<[u8]> => |v| v.to_vec();
    // Moves the buffer when the `Bytes` is its only handle; copies once otherwise.
    [] bytes::Bytes => |v| Vec::from(v);
    ['a] &'a bytes::Bytes => |v| v.to_vec();
}

impl DecodeBytes<Vec<u8>> for Dec<Vec<u8>> {
    fn decode(&self, value: Value) -> Result<Vec<u8>, ValueError> {
        byte_vec(value)
    }
}

impl DecodeBytes<Box<[u8]>> for Dec<Box<[u8]>> {
    fn decode(&self, value: Value) -> Result<Box<[u8]>, ValueError> {
        // The wire decoder sizes a byte value exactly, so this keeps the buffer.
        byte_vec(value).map(Vec::into_boxed_slice)
    }
}

impl DecodeBytes<bytes::Bytes> for Dec<bytes::Bytes> {
    fn decode(&self, value: Value) -> Result<bytes::Bytes, ValueError> {
        byte_vec(value).map(bytes::Bytes::from)
    }
}

impl<const N: usize> DecodeBytes<[u8; N]> for Dec<[u8; N]> {
    fn decode(&self, value: Value) -> Result<[u8; N], ValueError> {
        let v = byte_vec(value)?;
        <[u8; N]>::try_from(v.as_slice())
            .map_err(|_| ValueError::new(format!("expected {N} bytes, got {}", v.len())))
    }
}

/// Converts a callback's argument: as [`arg`], except that a parameter declared `Vec<u8>` or
/// `Box<[u8]>` takes the received byte run as is (found by `TypeId`: a callback's argument
/// types are generic, so the compile-time dispatch above cannot see them).
pub fn typed_arg<T: DeserializeOwned + 'static>(
    method: &str,
    index: usize,
    name: &str,
    value: Option<Value>,
) -> Result<T, RemoteError> {
    use std::any::{Any, TypeId};
    let id = TypeId::of::<T>();
    if id == TypeId::of::<Vec<u8>>() {
        let mut slot = Some(arg_with(method, index, name, value, byte_vec)?);
        if let Some(v) = (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<T>>()
            .and_then(Option::take)
        {
            return Ok(v);
        }
        unreachable!("TypeId matched Vec<u8>");
    }
    if id == TypeId::of::<Box<[u8]>>() {
        let mut slot = Some(arg_with(method, index, name, value, byte_vec)?.into_boxed_slice());
        if let Some(v) = (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<T>>()
            .and_then(Option::take)
        {
            return Ok(v);
        }
        unreachable!("TypeId matched Box<[u8]>");
    }
    arg(method, index, name, value)
}

/// The answer of a method that returns `Vec<u8>`: sent as bytes, not element by element.
pub fn reply_bytes(bytes: Vec<u8>) -> CallResult {
    Ok(Value::Bytes(bytes))
}

/// The answer of a method that returns `Result<Vec<u8>, E>`.
pub fn fallible_bytes<E>(result: Result<Vec<u8>, E>) -> CallResult
where
    E: Into<Box<dyn StdError + Send + Sync + 'static>>,
{
    match result {
        Ok(bytes) => reply_bytes(bytes),
        Err(e) => Err(error_to_remote(std::any::type_name::<E>(), e.into())),
    }
}

/// The answer of a method that returns a plain value.
pub fn ok<T: Serialize + ?Sized>(value: &T) -> CallResult {
    to_value(value).map_err(|e| {
        RemoteError::new(
            RemoteErrorKind::Application,
            "rpc::EncodeError",
            format!("cannot encode the result: {e}"),
        )
    })
}

/// The answer of a method that returns a `Result`.
pub fn fallible<T, E>(result: Result<T, E>) -> CallResult
where
    T: crate::reply::IntoReply,
    E: Into<Box<dyn StdError + Send + Sync + 'static>>,
{
    match result {
        Ok(v) => v.into_reply(),
        Err(e) => Err(error_to_remote(std::any::type_name::<E>(), e.into())),
    }
}

/// The answer of a failed call of a method that returns `Result<_, E>`.
pub fn error_reply<E>(e: E) -> RemoteError
where
    E: Into<Box<dyn StdError + Send + Sync + 'static>>,
{
    error_to_remote(std::any::type_name::<E>(), e.into())
}

/// A vector for a call's arguments (from the connection's pool).
pub fn arg_values(capacity: usize) -> Vec<Value> {
    crate::value::arg_vec(capacity)
}

fn error_to_remote(type_name: &str, err: Box<dyn StdError + Send + Sync + 'static>) -> RemoteError {
    // An error that came from the peer in the first place travels back unchanged.
    if let Some(crate::error::Error::Remote(remote)) = err.downcast_ref::<crate::error::Error>() {
        return remote.clone();
    }
    if let Some(remote) = err.downcast_ref::<RemoteError>() {
        return remote.clone();
    }
    RemoteError::from_error(type_name, &*err)
}

/// Runs a blocking method on tokio's blocking pool.
pub fn blocking<F>(f: F) -> Outcome
where
    F: FnOnce() -> CallResult + Send + 'static,
{
    Outcome::pending(async move {
        match tokio::task::spawn_blocking(f).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(crate::connection::panic_error(e.into_panic())),
            Err(_) => Err(RemoteError::new(
                RemoteErrorKind::Cancelled,
                "rpc::Cancelled",
                "the call was cancelled",
            )),
        }
    })
}

/// The error for setting an attribute that has no setter.
pub fn not_settable(service: &str, name: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::NotFound,
        "rpc::NotExposed",
        format!("attribute '{name}' of {service} cannot be set"),
    )
}

/// The error for calling an attribute or reading a method.
pub fn wrong_member_kind(service: &str, member: &str, is_attribute: bool) -> RemoteError {
    let message = if is_attribute {
        format!("'{member}' of {service} is an attribute: read it with getattr")
    } else {
        format!("'{member}' of {service} is a method: call it")
    };
    RemoteError::new(RemoteErrorKind::NotFound, "rpc::WrongMemberKind", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_byte_arguments_take_the_received_buffer() {
        let data: Vec<u8> = (0..=255).collect();
        let sent = data.clone();
        let at = sent.as_ptr();
        let got: Vec<u8> = typed_arg("cb", 0, "data", Some(Value::Bytes(sent))).expect("Vec<u8>");
        assert_eq!(got, data);
        assert_eq!(got.as_ptr(), at, "the buffer is moved, not copied");
        let got: Box<[u8]> = typed_arg("cb", 0, "data", Some(Value::Bytes(data.clone()))).expect("Box<[u8]>");
        assert_eq!(&*got, &data[..]);
        let ints = Value::Seq(vec![Value::Int(1), Value::Int(2)]);
        let got: Vec<u8> = typed_arg("cb", 0, "data", Some(ints)).expect("from integers");
        assert_eq!(got, vec![1, 2]);
        let words = Value::Seq(vec![Value::Int(300)]);
        let got: Vec<u16> = typed_arg("cb", 0, "data", Some(words)).expect("Vec<u16>");
        assert_eq!(got, vec![300]);
        let err = typed_arg::<Vec<u8>>("cb", 1, "data", Some(Value::Float(1.0))).expect_err("a float");
        assert!(err.to_string().contains("cb(): argument 2 `data`"), "{err}");
    }
}
