//! The traits a user of the framework needs in scope, in one import:
//!
//! ```
//! use rpc_core::prelude::*;
//!
//! # async fn demo(stream: impl Stream<Item = i64> + Unpin) {
//! // `StreamExt` for remote iterators and subscriptions, without depending on `futures`:
//! let first: Vec<i64> = stream.take(3).collect().await;
//! # let _ = first;
//! # }
//! ```

pub use futures::{Stream, StreamExt, TryStreamExt};

pub use crate::{service, Args, FromReply, IntoReply, Service};
