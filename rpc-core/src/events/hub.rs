//! The owner's bookkeeping: subscribers, their forwarding tasks, and the object peers call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::AbortHandle;

use crate::callback::Callback;
use crate::connection::Connection;
use crate::error::Error;
use crate::private::{arg, ok, take_args};
use crate::service::{not_exposed, Description, MethodInfo, Outcome, Service};
use crate::value::Value;

use super::*;

/// The state clones of a property or signal share (the owner's side).
pub(super) struct Hub<T> {
    /// A property's value; `set` and a new subscriber both hold this lock, so a subscriber
    /// sees every change after the value it starts from, and none before.
    pub(super) current: Option<Mutex<T>>,
    pub(super) events: broadcast::Sender<T>,
    /// Subscribers of peers, by id.
    pub(super) subscribers: Mutex<HashMap<u64, Subscriber>>,
    pub(super) next_id: AtomicU64,
}

pub(super) struct Subscriber {
    /// The connection the subscriber came in on: only it may unsubscribe.
    pub(super) connection: u64,
    pub(super) task: AbortHandle,
}

impl<T: Clone + Send + 'static> Hub<T> {
    pub(super) fn new(current: Option<T>, capacity: usize) -> Arc<Self> {
        let (events, _) = broadcast::channel(capacity.max(1));
        Arc::new(Hub {
            current: current.map(Mutex::new),
            events,
            subscribers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        })
    }

    pub(super) fn current(&self) -> Option<&Mutex<T>> {
        self.current.as_ref()
    }

    /// A new receiver of changes and, for a property, the value it starts from.
    pub(super) fn receiver(&self) -> (Option<T>, broadcast::Receiver<T>) {
        match &self.current {
            Some(current) => {
                let current = current.lock();
                (Some(current.clone()), self.events.subscribe())
            }
            None => (None, self.events.subscribe()),
        }
    }
}

impl<T: Serialize + Clone + Send + Sync + 'static> Hub<T> {
    /// Starts forwarding events to the peer's callback; returns the subscriber id.
    pub(super) fn attach(self: &Arc<Self>, conn: &Connection, callback: Callback) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subscribers = self.subscribers.lock();
        let (first, rx) = self.receiver();
        let task = tokio::spawn(forward(
            Arc::downgrade(self),
            id,
            conn.clone(),
            callback,
            first,
            rx,
        ));
        subscribers.insert(
            id,
            Subscriber {
                connection: conn.id(),
                task: task.abort_handle(),
            },
        );
        id
    }

    /// Stops subscriber `id` if connection `conn` made it.
    pub(super) fn detach(&self, conn: &Connection, id: u64) -> bool {
        let mut subscribers = self.subscribers.lock();
        match subscribers.get(&id) {
            Some(s) if s.connection == conn.id() => {
                s.task.abort();
                subscribers.remove(&id);
                true
            }
            _ => false,
        }
    }
}

/// One subscriber's task: delivers its events one at a time until it is unsubscribed, its
/// callback fails, the connection closes or the source goes away.
pub(super) async fn forward<T: Serialize + Clone + Send + 'static>(
    hub: Weak<Hub<T>>,
    id: u64,
    conn: Connection,
    callback: Callback,
    first: Option<T>,
    mut rx: broadcast::Receiver<T>,
) {
    // A slow consumer only lags: its deliveries never time out.
    let remote = callback.netref().map(|r| r.with_timeout(None));
    let deliver = |event: Event<T>| {
        let remote = remote.clone();
        let callback = callback.clone();
        async move {
            match remote {
                Some(r) => r.call_self::<()>((event,)).await,
                None => callback.call::<()>((event,)).await,
            }
        }
    };
    let run = async {
        if let Some(v) = first {
            deliver(Event::Value(v)).await?;
        }
        loop {
            let event = match rx.recv().await {
                Ok(v) => Event::Value(v),
                Err(RecvError::Lagged(n)) => Event::Lagged(n),
                Err(RecvError::Closed) => return Ok::<(), Error>(()),
            };
            deliver(event).await?;
        }
    };
    tokio::select! {
        r = run => {
            if let Err(e) = r {
                tracing::debug!(id, error = %e, "dropping a subscriber whose callback failed");
            }
        }
        () = conn.closed() => {}
    }
    if let Some(hub) = hub.upgrade() {
        hub.subscribers.lock().remove(&id);
    }
}

/// The object a property or signal is to its peers.
pub(super) struct Source<T> {
    pub(super) hub: Arc<Hub<T>>,
}

impl<T> Source<T> {
    pub(super) fn kind(&self) -> &'static str {
        if self.hub.current.is_some() {
            "PROPERTY"
        } else {
            "SIGNAL"
        }
    }
}

impl<T: Serialize + Clone + Send + Sync + 'static> Service for Source<T> {
    fn name(&self) -> &str {
        self.kind()
    }

    fn call(self: Arc<Self>, conn: &Connection, method: &str, args: Vec<Value>) -> Outcome {
        let result = match method {
            SUBSCRIBE => take_args(SUBSCRIBE, 1, args)
                .and_then(|mut it| arg::<Callback>(SUBSCRIBE, 0, "callback", it.next()))
                .and_then(|callback| ok(&self.hub.attach(conn, callback))),
            UNSUBSCRIBE => take_args(UNSUBSCRIBE, 1, args)
                .and_then(|mut it| arg::<u64>(UNSUBSCRIBE, 0, "id", it.next()))
                .and_then(|id| ok(&self.hub.detach(conn, id))),
            GET => match self.hub.current() {
                Some(current) => take_args(GET, 0, args).and_then(|_| ok(&*current.lock())),
                None => Err(not_exposed(self.kind(), method)),
            },
            _ => Err(not_exposed(self.kind(), method)),
        };
        Outcome::Ready(result)
    }

    fn describe(&self) -> Description {
        let method = |name: &str, params: &[(&str, &str)], returns: &str, doc: &str| MethodInfo {
            name: name.to_owned(),
            params: params
                .iter()
                .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
                .collect(),
            returns: returns.to_owned(),
            is_async: false,
            oneway: false,
            doc: doc.to_owned(),
        };
        let value = std::any::type_name::<T>();
        let mut methods = vec![
            method(
                SUBSCRIBE,
                &[("callback", "Callback")],
                "u64",
                "Calls `callback` with every event; returns the subscriber id.",
            ),
            method(
                UNSUBSCRIBE,
                &[("id", "u64")],
                "bool",
                "Stops a subscriber of this connection.",
            ),
        ];
        if self.hub.current.is_some() {
            methods.push(method(GET, &[], value, "The current value."));
        }
        Description {
            name: self.kind().to_owned(),
            methods,
            attributes: Vec::new(),
        }
    }

    fn display(&self) -> String {
        format!(
            "<{} of {}>",
            self.kind().to_lowercase(),
            std::any::type_name::<T>()
        )
    }
}
