//! Named objects, both halves of [`Op::Lookup`](crate::protocol::Op::Lookup): asking the peer
//! for the object it publishes under a name ([`Connection::lookup`]), and answering such a
//! request from this side's [`Published`](crate::Published) table.

use super::inner::Inner;
use super::Connection;
use crate::error::{Error, RemoteError, RemoteErrorKind, Result};
use crate::name::check_name;
use crate::netref::NetRef;
use crate::protocol::{ObjectId, OpRef, ROOT_ID};
use crate::service::CallResult;
use crate::value::{from_value, ObjectRef, Value};

impl Connection {
    /// The object the peer publishes as `name` (Pyro's `daemon.register`; see
    /// [`Published`](crate::Published)), as a reference that keeps this connection open
    /// while it lives.
    ///
    /// Fails with [`Error::Name`] for a name no object can have, and with a remote error of
    /// kind [`NotFound`](RemoteErrorKind::NotFound) naming `name` when the peer publishes
    /// nothing under it (`rpc::UnknownName`) or publishes nothing at all
    /// (`rpc::NothingPublished`).
    pub async fn lookup(&self, name: &str) -> Result<NetRef> {
        check_name(name)?;
        let value = self
            .request(ROOT_ID, OpRef::Lookup(name), Vec::new(), None)
            .await?;
        from_value(value).map_err(|e| Error::Decode(format!("the object published as {name:?}: {e}")))
    }
}

/// Answers a lookup of `name` sent to `target`.
pub(super) fn answer(inner: &Inner, target: ObjectId, name: &str) -> CallResult {
    if target != ROOT_ID {
        return Err(RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::BadLookup",
            format!("a lookup is asked of the root (object {ROOT_ID}), not of object {target}"),
        ));
    }
    let Some(published) = &inner.published else {
        return Err(RemoteError::new(
            RemoteErrorKind::NotFound,
            "rpc::NothingPublished",
            format!("this peer publishes no named objects (asked for {name:?})"),
        ));
    };
    match published.get(name) {
        Some(object) => Ok(Value::Object(ObjectRef::from(object))),
        None => Err(RemoteError::new(
            RemoteErrorKind::NotFound,
            "rpc::UnknownName",
            format!("no object is published as {name:?}"),
        )),
    }
}
