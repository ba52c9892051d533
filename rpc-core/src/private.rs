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
