//! `Subscription`: the stream of events a subscriber reads.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{BoxStream, Stream, StreamExt};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use crate::callback::Callback;
use crate::error::Result;
use crate::netref::NetRef;

use super::*;

/// The events of a property or signal, as a `Stream`. Dropping it unsubscribes.
///
/// The stream ends when the owner drops the subscriber: the connection closed, the owner
/// went away, or the events did not decode as `T`.
pub struct Subscription<T> {
    pub(super) events: Events<T>,
    /// The owner's object and our subscriber id there, for a subscription of the peer's.
    pub(super) remote: Option<(NetRef, u64)>,
}

pub(super) enum Events<T> {
    Local(BoxStream<'static, Event<T>>),
    Remote(mpsc::Receiver<Event<T>>),
}

/// What a replica's callback answers once its subscription is gone.
#[derive(Debug, thiserror::Error)]
#[error("the subscription was dropped")]
pub(super) struct SubscriptionDropped;

impl<T: Send + 'static> Subscription<T> {
    pub(super) fn local(first: Option<T>, rx: broadcast::Receiver<T>) -> Self
    where
        T: Clone,
    {
        let rest = futures::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(v) => Some((Event::Value(v), rx)),
                Err(RecvError::Lagged(n)) => Some((Event::Lagged(n), rx)),
                Err(RecvError::Closed) => None,
            }
        });
        let events = futures::stream::iter(first.map(Event::Value)).chain(rest);
        Subscription {
            events: Events::Local(events.boxed()),
            remote: None,
        }
    }

    pub(super) async fn remote(source: &NetRef) -> Result<Self>
    where
        T: DeserializeOwned,
    {
        let (tx, rx) = mpsc::channel(REPLICA_BUFFER);
        let callback = Callback::new(move |event: Event<T>| {
            let tx = tx.clone();
            async move { tx.send(event).await.map_err(|_| SubscriptionDropped) }
        });
        let id: u64 = source.call(SUBSCRIBE, (callback,)).await?;
        Ok(Subscription {
            events: Events::Remote(rx),
            remote: Some((source.clone(), id)),
        })
    }
}

impl<T> Subscription<T> {
    /// Unsubscribes and waits for the owner to confirm. Dropping the subscription does the
    /// same with a one-way call.
    pub async fn unsubscribe(mut self) -> Result<()> {
        match self.remote.take() {
            Some((source, id)) => source.call::<bool>(UNSUBSCRIBE, (id,)).await.map(drop),
            None => Ok(()),
        }
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        let Some((source, id)) = self.remote.take() else {
            return;
        };
        // Best effort, without waiting: the owner also drops the subscriber once its callback
        // fails, which it does from now on.
        if let Err(e) = source.call_oneway(UNSUBSCRIBE, (id,)) {
            tracing::debug!(id, error = %e, "unsubscribing failed");
        }
    }
}

impl<T> Stream for Subscription<T> {
    type Item = Event<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event<T>>> {
        match &mut self.get_mut().events {
            Events::Local(s) => s.poll_next_unpin(cx),
            Events::Remote(rx) => rx.poll_recv(cx),
        }
    }
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.remote {
            Some((source, id)) => write!(f, "Subscription(remote {} #{id})", source.id()),
            None => f.write_str("Subscription(local)"),
        }
    }
}
