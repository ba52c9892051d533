//! The peer's side: `PropertyReplica` and `SignalReplica`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Result;
use crate::netref::NetRef;

use super::subscription::*;
use super::*;

/// The peer's [`Property`]: read it, or follow its changes.
pub struct PropertyReplica<T> {
    pub(super) source: NetRef,
    pub(super) _value: PhantomData<fn() -> T>,
}

/// The peer's [`Signal`]: follow its events.
pub struct SignalReplica<T> {
    pub(super) source: NetRef,
    pub(super) _value: PhantomData<fn() -> T>,
}

impl<T> PropertyReplica<T>
where
    T: DeserializeOwned + Send + 'static,
{
    /// Reads the owner's current value.
    pub async fn get(&self) -> Result<T> {
        self.source.call(GET, ()).await
    }

    /// Follows the owner's value: the current value first, then every change.
    pub async fn subscribe(&self) -> Result<Subscription<T>> {
        Subscription::remote(&self.source).await
    }

    /// The reference to the owner's object.
    pub fn netref(&self) -> &NetRef {
        &self.source
    }
}

impl<T> SignalReplica<T>
where
    T: DeserializeOwned + Send + 'static,
{
    /// Follows the owner's events from now on.
    pub async fn subscribe(&self) -> Result<Subscription<T>> {
        Subscription::remote(&self.source).await
    }

    /// The reference to the owner's object.
    pub fn netref(&self) -> &NetRef {
        &self.source
    }
}

macro_rules! replica_impls {
    ($replica:ident) => {
        impl<T> Clone for $replica<T> {
            fn clone(&self) -> Self {
                $replica {
                    source: self.source.clone(),
                    _value: PhantomData,
                }
            }
        }

        impl<T> fmt::Debug for $replica<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(remote {})", stringify!($replica), self.source.id())
            }
        }

        impl<T> Serialize for $replica<T> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                self.source.serialize(s)
            }
        }

        impl<'de, T> Deserialize<'de> for $replica<T> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                Ok($replica {
                    source: NetRef::deserialize(d)?,
                    _value: PhantomData,
                })
            }
        }
    };
}

replica_impls!(PropertyReplica);
replica_impls!(SignalReplica);
