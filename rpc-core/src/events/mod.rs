//! Replicated properties and signals, in the manner of QtRemoteObjects.
//!
//! A [`Property`] is a value its owner reads and writes locally; a [`Signal`] is a stream of
//! events its owner emits. Return either from an exposed method or attribute and it crosses
//! the wire by reference: the peer receives a [`PropertyReplica`] or a [`SignalReplica`],
//! reads the current value with [`get`](PropertyReplica::get) and follows changes with
//! `subscribe`, which gives a [`Subscription`]: a `Stream` of [`Event`]s. For a property the
//! first event is the value at the moment of subscribing, then every change follows, in order,
//! none lost or repeated in between.
//!
//! # How events travel
//!
//! `subscribe` passes a [`Callback`](crate::Callback) to the owner, which runs one forwarding task per
//! subscriber: it takes events from a bounded `tokio::sync::broadcast` channel and calls the
//! callback with each in turn, waiting for its answer before sending the next. The replica's
//! callback puts the event in a small local buffer ([`REPLICA_BUFFER`] events) and answers
//! once there is room, so a consumer that reads slowly slows its own deliveries, and only its
//! own.
//!
//! # Slow subscribers: bounded buffer, oldest dropped, lag reported
//!
//! The owner keeps the last [`DEFAULT_CAPACITY`] events (or the capacity given to
//! `with_capacity`, rounded up to a power of two). [`Property::set`] and [`Signal::emit`] never
//! wait for anyone: a subscriber that falls further behind than that loses the oldest events it
//! has not received yet, and gets one [`Event::Lagged`] saying how many it missed before the
//! next event it does receive. Other subscribers are not affected. A delivery has no timeout,
//! so a consumer may pause as long as it likes; it only lags.
//!
//! # Lifetime
//!
//! Dropping a [`Subscription`] unsubscribes (a one-way call to the owner; use
//! [`Subscription::unsubscribe`] to wait for it). The owner also drops a subscriber whose
//! callback fails (for instance because its events do not decode as the replica's `T`), and
//! every subscriber of a connection when it closes. A subscription's stream ends when the owner
//! drops it. The owner's object stays exported while a replica or subscription holds it.
//!
//! ```
//! use rpc_core::prelude::*;
//! use rpc_core::events::{Event, Property, PropertyReplica, Signal, SignalReplica};
//! use rpc_core::{memory_pair, service, VoidService};
//!
//! struct Thermostat {
//!     temperature: Property<f64>,
//!     alarm: Signal<String>,
//! }
//!
//! #[service]
//! impl Thermostat {
//!     #[attribute]
//!     fn exposed_temperature(&self) -> Property<f64> {
//!         self.temperature.clone()
//!     }
//!
//!     #[attribute]
//!     fn exposed_alarm(&self) -> Signal<String> {
//!         self.alarm.clone()
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> rpc_core::Result<()> {
//! let temperature = Property::new(20.5);
//! let alarm = Signal::new();
//! let thermostat = Thermostat { temperature: temperature.clone(), alarm: alarm.clone() };
//! let (client, _server) = memory_pair(VoidService, thermostat).await?;
//!
//! let replica: PropertyReplica<f64> = client.root().getattr("temperature").await?;
//! assert_eq!(replica.get().await?, 20.5);
//! let mut changes = replica.subscribe().await?;
//! assert_eq!(changes.next().await, Some(Event::Value(20.5)));
//! temperature.set(21.0);
//! assert_eq!(changes.next().await, Some(Event::Value(21.0)));
//!
//! let alarms: SignalReplica<String> = client.root().getattr("alarm").await?;
//! let mut ringing = alarms.subscribe().await?;
//! alarm.emit("too hot".to_owned());
//! assert_eq!(ringing.next().await, Some(Event::Value("too hot".to_owned())));
//! # Ok(())
//! # }
//! ```

mod hub;
mod owner;
mod replica;
mod subscription;

use serde::{Deserialize, Serialize};

pub use owner::{Property, Signal};
pub use replica::{PropertyReplica, SignalReplica};
pub use subscription::Subscription;

/// Events the owner keeps for subscribers that fall behind, unless `with_capacity` says
/// otherwise.
pub const DEFAULT_CAPACITY: usize = 256;

/// Events a replica's subscription buffers locally before its owner waits for room.
pub const REPLICA_BUFFER: usize = 16;

const SUBSCRIBE: &str = "subscribe";
const UNSUBSCRIBE: &str = "unsubscribe";
const GET: &str = "get";

/// What a [`Subscription`] yields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event<T> {
    /// A value: the current one (first event of a property) or a new one.
    Value(T),
    /// This many events were dropped for this subscriber because it fell too far behind.
    Lagged(u64),
}
