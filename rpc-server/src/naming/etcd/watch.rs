//! The etcd store's watch: one etcd watch on the prefix, with previous values, its events
//! turned into changes (see the [parent module](super) for how removals and expiries differ).

use std::collections::VecDeque;

use etcd_client::{Event, EventType, WatchOptions, WatchResponse, WatchStream};
use futures::stream::{BoxStream, StreamExt};

use super::EtcdStore;
use crate::naming::entry::Change;
use crate::naming::store::{StoreError, StoreResult};

/// Starts watching: the changes from when etcd created the watch on.
pub(super) async fn start(store: EtcdStore) -> StoreResult<BoxStream<'static, StoreResult<Change>>> {
    let options = WatchOptions::new().with_prefix().with_prev_key();
    let what = "starting a watch";
    let mut stream = store
        .call(
            what,
            store.watches.clone().watch(store.prefix.clone(), Some(options)),
        )
        .await?;
    match store.call(what, stream.message()).await? {
        Some(created) if created.created() && !created.canceled() => {}
        Some(refused) => {
            return Err(StoreError::Unavailable(format!(
                "etcd at {} refused the watch: {}",
                store.at,
                refused.cancel_reason()
            )))
        }
        None => {
            return Err(StoreError::Unavailable(format!(
                "etcd at {} ended the watch as it began",
                store.at
            )))
        }
    }
    let watcher = Watcher {
        store,
        stream: Some(stream),
        ready: VecDeque::new(),
    };
    Ok(futures::stream::unfold(watcher, Watcher::next).boxed())
}

struct Watcher {
    store: EtcdStore,
    /// `None` once the watch ended (its last item, an error, was given).
    stream: Option<WatchStream>,
    /// Changes read from etcd and not yet taken.
    ready: VecDeque<Change>,
}

impl Watcher {
    async fn next(mut self) -> Option<(StoreResult<Change>, Watcher)> {
        loop {
            if let Some(change) = self.ready.pop_front() {
                return Some((Ok(change), self));
            }
            let ended = match self.stream.as_mut()?.message().await {
                Ok(Some(response)) if response.canceled() => StoreError::Unavailable(format!(
                    "etcd at {} cancelled the watch: {}",
                    self.store.at,
                    response.cancel_reason()
                )),
                Ok(Some(response)) => match self.changes(&response).await {
                    Ok(changes) => {
                        self.ready.extend(changes);
                        continue;
                    }
                    Err(e) => e,
                },
                Ok(None) => StoreError::Unavailable(format!("etcd at {} ended the watch", self.store.at)),
                Err(e) => self.store.failed("the watch", e),
            };
            self.stream = None;
            return Some((Err(ended), self));
        }
    }

    /// The changes in one answer of etcd (which never splits the events of one revision, so a
    /// removal's mark comes with it).
    async fn changes(&self, response: &WatchResponse) -> StoreResult<Vec<Change>> {
        let events = response.events();
        let mut changes = Vec::with_capacity(events.len());
        for event in events {
            let Some(kv) = event.kv() else { continue };
            match event.event_type() {
                EventType::Put => changes.extend(self.store.decode(kv).map(Change::Registered)),
                EventType::Delete => {
                    let Some(name) = self.store.name_of(kv.key()) else {
                        continue;
                    };
                    let was = event
                        .prev_kv()
                        .and_then(|prev| Some((prev, self.store.decode(prev)?)));
                    let Some((prev, entry)) = was else {
                        tracing::warn!(%name, "an entry deleted in etcd whose last value is not known (compacted away): not reported");
                        continue;
                    };
                    let removed = marked(events, &self.store.mark(name), kv.mod_revision())
                        || !self.store.lease_gone(prev.lease()).await?;
                    changes.push(if removed {
                        Change::Removed(entry)
                    } else {
                        Change::Expired(entry)
                    });
                }
            }
        }
        Ok(changes)
    }
}

/// Whether `events` hold the removal mark `mark` written at `revision`.
fn marked(events: &[Event], mark: &str, revision: i64) -> bool {
    events.iter().any(|event| {
        event.event_type() == EventType::Put
            && event
                .kv()
                .is_some_and(|kv| kv.key() == mark.as_bytes() && kv.mod_revision() == revision)
    })
}
