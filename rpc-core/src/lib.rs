//! The core of the `rpc` framework: a symmetric RPC protocol in the spirit of RPyC.
//!
//! Two peers share one [`Connection`]; each may expose a root [`Service`] and call the other's
//! at any time, even while one of its own calls is still in flight. Typed arguments and results
//! cross the wire through serde as [`Value`]s.
//!
//! Layers, bottom up: transports ([`transport`]), frames ([`frame`]), messages and the handshake
//! ([`protocol`]), values ([`value`]), the connection, and services.
//!
//! ```
//! use rpc_core::{service, memory_pair, VoidService};
//!
//! struct Calculator;
//!
//! #[service]
//! impl Calculator {
//!     fn exposed_add(&self, a: i64, b: i64) -> i64 {
//!         a + b
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> rpc_core::Result<()> {
//! let (client, _server) = memory_pair(VoidService, Calculator).await?;
//! let sum: i64 = client.root().call("add", (2, 3)).await?;
//! assert_eq!(sum, 5);
//! assert_eq!(client.peer_service_name(), "CALCULATOR");
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

#[allow(unused_extern_crates)] // lets `#[service]` name `::rpc_core` inside this crate too
extern crate self as rpc_core;

mod args;
mod async_result;
mod batch;
pub mod blocking;
pub mod callback;
mod connection;
mod error;
pub mod events;
pub mod frame;
pub mod iter;
mod netref;
pub mod protocol;
mod reply;
mod service;
pub mod transport;
pub mod value;

#[doc(hidden)]
pub mod private;

pub use args::Args;
pub use async_result::{async_, async_callable, timed, AsyncMethod, AsyncResult, Timed};
pub use batch::{Batch, BatchResults};
pub use callback::Callback;
pub use connection::{Connection, ConnectionConfig, ConnectionStats};
pub use error::{Error, RemoteError, RemoteErrorKind, Result};
pub use events::{Event, Property, PropertyReplica, Signal, SignalReplica, Subscription};
pub use iter::RemoteIter;
pub use netref::NetRef;
pub use reply::{FromReply, IntoReply};
pub use rpc_macros::service;
pub use service::{AsAny, AttributeInfo, CallResult, Description, MethodInfo, Outcome, Service, VoidService};
pub use transport::{
    connect, connect_stream, connect_subproc, connect_tcp, connect_with_service, memory_pair,
    memory_pair_with, serve_stdio,
};
pub use value::{from_value, to_value, Object, ObjectRef, Value};
