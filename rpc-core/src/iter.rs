//! Remote iteration: a method returns a [`RemoteIter`] and the caller gets a `Stream` that
//! fetches items in batches that grow (1, 2, 4, ... up to 1,024 items a round trip; a batch of
//! a stream holds the items ready when it is asked for, at least one), like
//! RPyC's buffered iterator and Pyro's item streaming. Dropping the stream releases the
//! iterator on its owner.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{BoxStream, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::connection::Connection;
use crate::error::{Error, RemoteError, RemoteErrorKind, Result};
use crate::netref::NetRef;
use crate::object::Object;
use crate::private::{arg, take_args};
use crate::service::{not_exposed, Outcome, Service};
use crate::value::{from_value, to_value, Value};

/// Most items fetched in one round trip.
pub const MAX_BATCH: usize = 1024;

/// The method the caller uses to pull items.
const NEXT_BATCH: &str = "next_batch";

/// A sequence that stays where it is produced and is pulled by the peer in batches.
///
/// On the producing side, build it with [`new`](RemoteIter::new) (an iterator) or
/// [`from_stream`](RemoteIter::from_stream) and return it from an exposed method. On the
/// consuming side it is a `Stream` of `Result<T>`.
///
/// ```
/// use rpc_core::prelude::*;
/// use rpc_core::{memory_pair, RemoteIter, VoidService};
///
/// struct Numbers;
///
/// #[service]
/// impl Numbers {
///     fn exposed_up_to(&self, n: u32) -> RemoteIter<u32> {
///         RemoteIter::new(0..n)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let (client, _server) = memory_pair(VoidService, Numbers).await?;
/// let mut items: RemoteIter<u32> = client.root().call("up_to", (5,)).await?;
/// let mut got = Vec::new();
/// while let Some(item) = items.next().await {
///     got.push(item?);
/// }
/// assert_eq!(got, [0, 1, 2, 3, 4]);
/// # Ok(())
/// # }
/// ```
pub struct RemoteIter<T> {
    state: State,
    _items: PhantomData<fn() -> T>,
}

enum State {
    /// Produced here, not yet sent.
    Local(Object),
    /// Produced by the peer.
    Remote(Puller),
}

impl<T: Serialize + Send + 'static> RemoteIter<T> {
    /// Serves the items of a (blocking-free) iterator.
    pub fn new<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Self::from_stream(futures::stream::iter(items))
    }

    /// Serves the items of a stream.
    pub fn from_stream<S>(items: S) -> Self
    where
        S: Stream<Item = T> + Send + 'static,
    {
        let source = Source {
            items: tokio::sync::Mutex::new(items.boxed()),
        };
        RemoteIter {
            state: State::Local(Object::new(source)),
            _items: PhantomData,
        }
    }
}

impl<T> fmt::Debug for RemoteIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            State::Local(_) => f.write_str("RemoteIter(local)"),
            State::Remote(p) => write!(f, "RemoteIter(remote {})", p.netref.id()),
        }
    }
}

impl<T> Serialize for RemoteIter<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match &self.state {
            State::Local(o) => o.serialize(s),
            State::Remote(p) => p.netref.serialize(s),
        }
    }
}

impl<'de, T> Deserialize<'de> for RemoteIter<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let netref = NetRef::deserialize(d)?;
        Ok(RemoteIter {
            state: State::Remote(Puller::new(netref)),
            _items: PhantomData,
        })
    }
}

impl<T: DeserializeOwned> Stream for RemoteIter<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        let State::Remote(puller) = &mut this.state else {
            return Poll::Ready(Some(Err(Error::Decode(
                "a RemoteIter produced on this side is pulled by the peer, not here".into(),
            ))));
        };
        match puller.poll_next_value(cx) {
            Poll::Ready(Some(Ok(v))) => {
                Poll::Ready(Some(from_value(v).map_err(|e| {
                    Error::Decode(format!("an item of the remote iterator: {e}"))
                })))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One batch on its way: the items and whether they are the last.
type Fetch = BoxFuture<'static, Result<(Vec<Value>, bool)>>;

/// The consuming side: a buffer and at most one fetch in flight.
struct Puller {
    netref: NetRef,
    buffer: VecDeque<Value>,
    batch: usize,
    done: bool,
    fetching: Option<Fetch>,
}

impl Puller {
    fn new(netref: NetRef) -> Self {
        Puller {
            netref,
            buffer: VecDeque::new(),
            batch: 1,
            done: false,
            fetching: None,
        }
    }

    fn poll_next_value(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Value>>> {
        loop {
            if let Some(v) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(v)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let fetch = self.fetching.get_or_insert_with(|| {
                let netref = self.netref.clone();
                let n = self.batch;
                Box::pin(async move { netref.call::<(Vec<Value>, bool)>(NEXT_BATCH, (n,)).await })
            });
            let (items, done) = match fetch.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => {
                    self.fetching = None;
                    match r {
                        Ok(batch) => batch,
                        Err(e) => {
                            self.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
            };
            self.batch = (self.batch * 2).min(MAX_BATCH);
            self.done = done;
            self.buffer.extend(items);
        }
    }
}

/// The producing side: the object the peer pulls from.
struct Source<T> {
    items: tokio::sync::Mutex<BoxStream<'static, T>>,
}

impl<T: Serialize + Send + 'static> Service for Source<T> {
    fn name(&self) -> &str {
        "ITERATOR"
    }

    fn call(self: Arc<Self>, _conn: &Connection, method: &str, args: Vec<Value>) -> Outcome {
        match method {
            NEXT_BATCH => {}
            // Python's iteration protocol, for a Python peer on the RPyC wire.
            "__iter__" => return Outcome::Ready(Ok(Value::Object(Object::from_arc(self).into()))),
            "__next__" => {
                return Outcome::pending(async move {
                    match self.items.lock().await.next().await {
                        Some(item) => to_value(&item).map_err(|e| {
                            RemoteError::new(RemoteErrorKind::Application, "rpc::EncodeError", e.to_string())
                        }),
                        None => Err(crate::python::stop_iteration()),
                    }
                })
            }
            _ => return Outcome::Ready(Err(not_exposed("ITERATOR", method))),
        }
        let n = match take_args(NEXT_BATCH, 1, args)
            .and_then(|mut it| arg::<usize>(NEXT_BATCH, 0, "n", it.next()))
        {
            Ok(n) => n.clamp(1, MAX_BATCH),
            Err(e) => return Outcome::Ready(Err(e)),
        };
        Outcome::pending(async move {
            let mut items = self.items.lock().await;
            let mut batch = Vec::with_capacity(n);
            while batch.len() < n {
                // The first item is waited for; the rest only if they are ready, so a live
                // stream (a watch) delivers each item as it comes instead of a batch later.
                let next = if batch.is_empty() {
                    items.next().await
                } else {
                    match items.next().now_or_never() {
                        Some(next) => next,
                        None => break,
                    }
                };
                match next {
                    Some(item) => batch.push(to_value(&item).map_err(|e| {
                        RemoteError::new(RemoteErrorKind::Application, "rpc::EncodeError", e.to_string())
                    })?),
                    None => return Ok(Value::Seq(vec![Value::Seq(batch), Value::Bool(true)])),
                }
            }
            Ok(Value::Seq(vec![Value::Seq(batch), Value::Bool(false)]))
        })
    }

    fn display(&self) -> String {
        "<remote iterator>".to_owned()
    }

    fn describe(&self) -> crate::service::Description {
        crate::python::protocols("ITERATOR", &["__iter__", "__next__"])
    }
}
