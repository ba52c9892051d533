//! Objects passed by reference: a local object to be sent ([`Object`]), and how the objects
//! layer fills and reads the value layer's reference slots ([`ObjectRef`]).
//!
//! Every service object is a [`Capability`] (the value layer's view of a reference), so an
//! `Object` goes into a slot without an allocation; a reference to the peer's object
//! ([`NetRef`]) is one too (see `netref/slot.rs`). Typed data carries both through serde:
//! serializing an `Object` or `NetRef` with [`to_value`](crate::to_value) yields
//! [`Value::Object`](crate::Value::Object), and [`from_value`](crate::from_value) gives it back.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::netref::NetRef;
use crate::service::Service;
use crate::value::{Capability, ObjectRef};

/// An object of this side, to be passed to the peer by reference.
#[derive(Clone)]
pub struct Object(Arc<dyn Service>);

impl Object {
    /// Wraps a service object.
    pub fn new<S: Service>(service: S) -> Self {
        Object(Arc::new(service))
    }

    /// Wraps a shared service object.
    pub fn from_arc(service: Arc<dyn Service>) -> Self {
        Object(service)
    }

    /// The object.
    pub fn service(&self) -> &Arc<dyn Service> {
        &self.0
    }

    /// The shared service object itself.
    pub(crate) fn into_service(self) -> Arc<dyn Service> {
        self.0
    }

    /// The object as its concrete type, if it is a `T`.
    pub fn downcast<T: Service>(&self) -> Option<Arc<T>> {
        let any: Arc<dyn Any + Send + Sync> = self.0.clone().into_any();
        any.downcast::<T>().ok()
    }
}

impl<S: Service> From<Arc<S>> for Object {
    fn from(s: Arc<S>) -> Self {
        Object(s)
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Object({})", self.0.name())
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl Eq for Object {}

/// A service object in a slot is this side's object.
impl<S: Service> Capability for S {
    fn fmt_reference(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local {}", self.name())
    }

    fn provide(self: Arc<Self>, out: &mut dyn Any) {
        if let Some(out) = out.downcast_mut::<Option<Referent>>() {
            *out = Some(Referent::Local(Object(self)));
        }
    }
}

impl From<Object> for ObjectRef {
    fn from(object: Object) -> Self {
        // The same allocation, seen through the supertrait: no copy, no new reference count.
        ObjectRef::new(object.0)
    }
}

/// What an [`ObjectRef`] refers to, as the objects layer knows it: what every capability this
/// layer puts in a slot provides (see [`Capability::provide`]).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Referent {
    /// An object of this side.
    Local(Object),
    /// An object of the peer.
    Remote(NetRef),
}

impl Referent {
    /// Deserializes a reference and tells what it refers to.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Referent, D::Error> {
        ObjectRef::deserialize(d)?
            .into_provided()
            .ok_or_else(|| de::Error::custom("expected an object reference this side can resolve"))
    }
}

impl ObjectRef {
    /// What this refers to; `None` only for a capability of no kind this layer makes.
    pub(crate) fn referent(&self) -> Option<Referent> {
        self.provided()
    }

    /// The object of this side this refers to, if it is one.
    pub fn local(&self) -> Option<Object> {
        match self.referent()? {
            Referent::Local(o) => Some(o),
            Referent::Remote(_) => None,
        }
    }

    /// The reference to the peer's object this is, if it is one.
    pub fn remote(&self) -> Option<NetRef> {
        match self.referent()? {
            Referent::Remote(r) => Some(r),
            Referent::Local(_) => None,
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ObjectRef::from(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        match Referent::deserialize(d)? {
            Referent::Local(o) => Ok(o),
            Referent::Remote(r) => Err(de::Error::custom(format_args!(
                "expected an object of this side, got a reference to the peer's object {}",
                r.id()
            ))),
        }
    }
}

impl Serialize for NetRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ObjectRef::from(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for NetRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NetRef, D::Error> {
        match Referent::deserialize(d)? {
            Referent::Remote(r) => Ok(r),
            Referent::Local(o) => Err(de::Error::custom(format_args!(
                "expected a reference to a remote object, got this side's own {} object",
                o.service().name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
