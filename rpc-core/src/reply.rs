//! How results cross: by value for serde types, by reference for service objects.
//!
//! `#[service]` implements both traits for its type, so a method may return a service object
//! (`fn exposed_open(&self) -> RemoteFile`) and the caller receives a reference to it; the
//! typed client of such a method returns the object's typed client (`RemoteFileClient`).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::service::CallResult;
use crate::value::{from_value, to_value, Value, ValueError};

/// A method's return value, as it is sent to the caller.
pub trait IntoReply {
    /// Converts the value for the wire.
    fn into_reply(self) -> CallResult;
}

impl<T: Serialize> IntoReply for T {
    fn into_reply(self) -> CallResult {
        crate::private::ok(&self)
    }
}

/// How the caller sees a method's result: `T` itself for serde types, the typed client for a
/// service type. Typed clients use it to pick their return types.
pub trait FromReply {
    /// The type the caller gets.
    type Output;
    /// Converts the received value.
    fn from_reply(value: Value) -> Result<Self::Output, ValueError>;
}

impl<T: DeserializeOwned> FromReply for T {
    type Output = T;
    fn from_reply(value: Value) -> Result<T, ValueError> {
        from_value(value)
    }
}

/// Helper for `#[service]`: a service object sent by reference.
pub fn by_reference<S: crate::service::Service>(service: S) -> CallResult {
    to_value(&crate::object::Object::new(service)).map_err(|e| {
        crate::error::RemoteError::new(
            crate::error::RemoteErrorKind::Application,
            "rpc::EncodeError",
            e.to_string(),
        )
    })
}

/// What a call's result can be decoded as: any serde type (`()` for a method with no result,
/// [`Value`] to keep it dynamic). A bound of its own so that a result nobody names gets an
/// error that says what to write.
#[diagnostic::on_unimplemented(
    message = "a call's result decodes into a serde type, and `{Self}` is not one",
    label = "name the result type here; for a method with no result: `call::<()>(..)`",
    note = "a result that is not used and not named is inferred as `!` (Rust 2024), which nothing decodes into"
)]
pub trait Reply: DeserializeOwned {}

impl<T: DeserializeOwned> Reply for T {}
