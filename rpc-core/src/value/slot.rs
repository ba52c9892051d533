//! The slots where a reference crosses: an [`ObjectRef`] inside a [`Value`](super::Value).
//!
//! The value layer does not know what a reference refers to. It holds a [`Capability`], an
//! object the layer above made (a local object, a proxy for the peer's), and leaves it to that
//! layer to resolve: on the wire through [`WireContext`](super::WireContext), which the
//! connection implements, and in Rust through [`Capability::provide`]. Cap'n Proto's messages
//! carry capability indices into a table the RPC layer owns in the same way.
//!
//! Typed data carries references through serde: serializing one with
//! [`to_value`](super::to_value) yields [`Value::Object`](super::Value::Object), and
//! [`from_value`](super::from_value) gives it back. The hand-over goes through a one-slot
//! thread-local under a reserved newtype name, so other serde formats refuse them cleanly.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};

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

/// What an [`ObjectRef`] holds: an object that crosses by reference, as the layer that made it
/// knows it. Every service object is one (through its `Service` implementation), and so is a
/// reference to an object of the peer.
pub trait Capability: Any + Send + Sync {
    /// Writes how a [`Value`](super::Value) shows the reference in its debug form, e.g.
    /// `local CALCULATOR` or `remote object 3`.
    fn fmt_reference(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// Hands the object over as the type the caller asks for: if `out` is an `Option<T>` of a
    /// type this capability can be seen as, stores it there; otherwise leaves `out` alone.
    fn provide(self: Arc<Self>, out: &mut dyn Any);

    /// Whether `other` refers to the same object (by default: whether it is this very one).
    fn same_object(&self, other: &dyn Capability) -> bool {
        std::ptr::addr_eq(self as *const Self, other as *const dyn Capability)
    }
}

/// An object inside a [`Value`](super::Value), passed by reference: one of this side's, or one
/// of the peer's. Cheap to clone; equal when both refer to the same object.
#[derive(Clone)]
pub struct ObjectRef(Arc<dyn Capability>);

impl ObjectRef {
    /// A slot holding `capability`.
    pub(crate) fn new(capability: Arc<dyn Capability>) -> Self {
        ObjectRef(capability)
    }

    /// The referenced object as a `T`, if its capability offers one (see
    /// [`Capability::provide`]).
    pub(crate) fn provided<T: 'static>(&self) -> Option<T> {
        self.clone().into_provided()
    }

    /// [`provided`](ObjectRef::provided), without a new reference count.
    pub(crate) fn into_provided<T: 'static>(self) -> Option<T> {
        let mut out = None::<T>;
        self.0.provide(&mut out);
        out
    }

    /// Writes the reference as [`Capability::fmt_reference`] does.
    pub(crate) fn fmt_reference(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_reference(f)
    }
}

impl PartialEq for ObjectRef {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_object(&*other.0)
    }
}

impl Eq for ObjectRef {}

impl fmt::Debug for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectRef(")?;
        self.fmt_reference(f)?;
        f.write_str(")")
    }
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
