//! A reference to the peer's object in a value's slot: its shared proxy, or (for a [`NetRef`]
//! with a timeout of its own, which the proxy does not hold) the `NetRef` itself.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::{NetRef, Proxy};
use crate::object::Referent;
use crate::protocol::ObjectId;
use crate::value::{Capability, ObjectRef};

impl From<NetRef> for ObjectRef {
    fn from(netref: NetRef) -> Self {
        match netref.timeout {
            // The common case: the proxy is the capability, so a reference costs no allocation.
            None => ObjectRef::new(netref.proxy),
            Some(_) => ObjectRef::new(Arc::new(netref)),
        }
    }
}

impl Proxy {
    /// What tells remote objects apart: the connection and the id (as `NetRef`'s `Eq` does).
    fn key(&self) -> (u64, ObjectId) {
        (self.conn.id(), self.id)
    }
}

/// The key of `capability` if it is a reference to a peer's object.
fn remote_key(capability: &dyn Capability) -> Option<(u64, ObjectId)> {
    let any: &dyn Any = capability;
    if let Some(proxy) = any.downcast_ref::<Proxy>() {
        return Some(proxy.key());
    }
    any.downcast_ref::<NetRef>().map(|r| r.proxy.key())
}

fn fmt_proxy(proxy: &Proxy, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "remote object {}", proxy.id)
}

/// Offers `netref` to `out` if it asks what the reference refers to.
fn provide(netref: impl FnOnce() -> NetRef, out: &mut dyn Any) {
    if let Some(out) = out.downcast_mut::<Option<Referent>>() {
        *out = Some(Referent::Remote(netref()));
    }
}

impl Capability for Proxy {
    fn fmt_reference(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_proxy(self, f)
    }

    fn provide(self: Arc<Self>, out: &mut dyn Any) {
        provide(|| NetRef::from_proxy(self), out);
    }

    fn same_object(&self, other: &dyn Capability) -> bool {
        remote_key(other) == Some(self.key())
    }
}

impl Capability for NetRef {
    fn fmt_reference(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_proxy(&self.proxy, f)
    }

    fn provide(self: Arc<Self>, out: &mut dyn Any) {
        provide(|| Arc::unwrap_or_clone(self), out);
    }

    fn same_object(&self, other: &dyn Capability) -> bool {
        remote_key(other) == Some(self.proxy.key())
    }
}
