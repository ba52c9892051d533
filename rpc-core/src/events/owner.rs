//! The owning side: `Property` and `Signal`.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

use crate::object::Object;
use crate::reply::FromReply;
use crate::value::{from_value, Value, ValueError};

use super::*;
use super::{hub::*, replica::*, subscription::*};

/// A value owned by this side, which peers read and follow through [`PropertyReplica`]s.
///
/// Clones share one value and one remote object: return a clone from an exposed method or
/// attribute and the peer receives a replica of it (the same object every time). The
/// [module's example](crate::events#lifetime) shows a property and a signal end to end.
pub struct Property<T> {
    pub(super) hub: Arc<Hub<T>>,
    pub(super) object: Object,
}

/// A stream of events owned by this side, which peers follow through [`SignalReplica`]s.
///
/// Clones share one set of subscribers and one remote object. The
/// [module's example](crate::events#lifetime) shows a property and a signal end to end.
pub struct Signal<T> {
    pub(super) hub: Arc<Hub<T>>,
    pub(super) object: Object,
}

impl<T> Property<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// A property holding `initial`, keeping [`DEFAULT_CAPACITY`] events for slow subscribers.
    pub fn new(initial: T) -> Self {
        Self::with_capacity(initial, DEFAULT_CAPACITY)
    }

    /// A property that keeps `capacity` events (at least 1, rounded up to a power of two) for
    /// subscribers that fall behind.
    pub fn with_capacity(initial: T, capacity: usize) -> Self {
        let hub = Hub::new(Some(initial), capacity);
        let object = Object::new(Source { hub: hub.clone() });
        Property { hub, object }
    }

    /// The current value.
    pub fn get(&self) -> T {
        self.hub.current().expect("a property has a value").lock().clone()
    }

    /// Replaces the value and notifies every subscriber. Never waits for them.
    pub fn set(&self, value: T) {
        let current = self.hub.current().expect("a property has a value");
        let mut current = current.lock();
        let _ = self.hub.events.send(value.clone());
        *current = value;
    }

    /// Follows the value on this side: the current value first, then every change.
    pub fn subscribe(&self) -> Subscription<T> {
        let (first, rx) = self.hub.receiver();
        Subscription::local(first, rx)
    }

    /// How many subscriptions (local ones and those of peers) are live.
    pub fn subscriber_count(&self) -> usize {
        self.hub.events.receiver_count()
    }
}

impl<T> Signal<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// A signal that keeps [`DEFAULT_CAPACITY`] events for slow subscribers.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A signal that keeps `capacity` events (at least 1, rounded up to a power of two) for
    /// subscribers that fall behind.
    pub fn with_capacity(capacity: usize) -> Self {
        let hub = Hub::new(None, capacity);
        let object = Object::new(Source { hub: hub.clone() });
        Signal { hub, object }
    }

    /// Sends `value` to every subscriber. Never waits for them.
    pub fn emit(&self, value: T) {
        let _ = self.hub.events.send(value);
    }

    /// Follows the signal on this side.
    pub fn subscribe(&self) -> Subscription<T> {
        Subscription::local(None, self.hub.events.subscribe())
    }

    /// How many subscriptions (local ones and those of peers) are live.
    pub fn subscriber_count(&self) -> usize {
        self.hub.events.receiver_count()
    }
}

impl<T> Default for Signal<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Property<T> {
    fn clone(&self) -> Self {
        Property {
            hub: self.hub.clone(),
            object: self.object.clone(),
        }
    }
}

impl<T> Clone for Signal<T> {
    fn clone(&self) -> Self {
        Signal {
            hub: self.hub.clone(),
            object: self.object.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Property<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Property");
        if let Some(current) = &self.hub.current {
            d.field("value", &*current.lock());
        }
        d.field("subscribers", &self.hub.events.receiver_count()).finish()
    }
}

impl<T> fmt::Debug for Signal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("subscribers", &self.hub.events.receiver_count())
            .finish()
    }
}

impl<T> Serialize for Property<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.object.serialize(s)
    }
}

impl<T> Serialize for Signal<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.object.serialize(s)
    }
}

/// Typed clients of a method returning a `Property<T>` return a `PropertyReplica<T>`.
impl<T: DeserializeOwned> FromReply for Property<T> {
    type Output = PropertyReplica<T>;
    fn from_reply(value: Value) -> std::result::Result<PropertyReplica<T>, ValueError> {
        from_value(value)
    }
}

/// Typed clients of a method returning a `Signal<T>` return a `SignalReplica<T>`.
impl<T: DeserializeOwned> FromReply for Signal<T> {
    type Output = SignalReplica<T>;
    fn from_reply(value: Value) -> std::result::Result<SignalReplica<T>, ValueError> {
        from_value(value)
    }
}
