//! Objects inside values: a local object to be sent by reference ([`Object`]), or a reference
//! to an object of the peer ([`NetRef`]).
//!
//! Typed data carries them through serde: serializing an `Object`, `NetRef` or `Callback` with
//! [`to_value`](super::to_value) yields [`Value::Object`](super::Value::Object), and
//! [`from_value`](super::from_value) gives them back. The hand-over goes through a one-slot
//! thread-local under a reserved newtype name, so other serde formats refuse them cleanly.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};

use crate::netref::NetRef;
use crate::service::Service;

/// The reserved newtype name under which objects cross serde.
pub(crate) const OBJECT_TOKEN: &str = "\0rpc::object";

thread_local! {
    static SLOT: RefCell<Option<ObjectRef>> = const { RefCell::new(None) };
}

pub(crate) fn put(object: ObjectRef) {
    SLOT.with(|s| *s.borrow_mut() = Some(object));
}

pub(crate) fn take() -> Option<ObjectRef> {
    SLOT.with(|s| s.borrow_mut().take())
}

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
        std::ptr::eq(
            Arc::as_ptr(&self.0) as *const (),
            Arc::as_ptr(&other.0) as *const (),
        )
    }
}

impl Eq for Object {}

/// An object inside a [`Value`](super::Value): ours, or the peer's.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ObjectRef {
    /// An object of this side.
    Local(Object),
    /// An object of the peer.
    Remote(NetRef),
}

impl Serialize for ObjectRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        put(self.clone());
        let out = s.serialize_newtype_struct(OBJECT_TOKEN, &());
        if take().is_some() {
            // Not our serializer: nothing took the object.
            return Err(ser::Error::custom(
                "object references can only be serialized into rpc values (rpc::to_value)",
            ));
        }
        out
    }
}

impl<'de> Deserialize<'de> for ObjectRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ObjectRef, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = ObjectRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object reference")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, _d: D) -> Result<ObjectRef, D::Error> {
                take().ok_or_else(|| de::Error::custom("expected an object reference"))
            }
        }
        d.deserialize_newtype_struct(OBJECT_TOKEN, ObjectVisitor)
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ObjectRef::Local(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        match ObjectRef::deserialize(d)? {
            ObjectRef::Local(o) => Ok(o),
            ObjectRef::Remote(r) => Err(de::Error::custom(format_args!(
                "expected an object of this side, got a reference to the peer's object {}",
                r.id()
            ))),
        }
    }
}

impl Serialize for NetRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ObjectRef::Remote(self.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for NetRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NetRef, D::Error> {
        match ObjectRef::deserialize(d)? {
            ObjectRef::Remote(r) => Ok(r),
            ObjectRef::Local(o) => Err(de::Error::custom(format_args!(
                "expected a reference to a remote object, got this side's own {} object",
                o.service().name()
            ))),
        }
    }
}
