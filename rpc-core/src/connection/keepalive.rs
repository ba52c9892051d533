//! Liveness: keepalive pings that tell a silent peer from a dead one, measured round trips
//! (`Connection::ping`), and the graceful shutdown in which a side takes no new calls while it
//! finishes the ones it runs.
//!
//! The reader counts the runs of frames it receives (an atomic add; no clock on the hot path).
//! The keepalive task looks every interval: a peer heard from since the last look is alive; one
//! silent for an interval gets a `Ping` (if its hello says it answers them); one silent past
//! the deadline is declared dead, and the connection closes with [`Error::DeadPeer`]. So a dead
//! peer is found within the deadline and one interval, and a busy connection sends no pings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::inner::Inner;
use crate::error::{Error, Result};
use crate::protocol::{feature, Message};

/// When to ping a silent peer, and when to give up on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence (nothing received) after which the peer is pinged.
    pub interval: Duration,
    /// Silence after which the peer is declared dead and the connection closed.
    pub deadline: Duration,
}

impl Keepalive {
    /// Pings after `interval` of silence; dead after `deadline` of it. A deadline shorter than
    /// the interval is raised to it.
    pub fn new(interval: Duration, deadline: Duration) -> Self {
        Keepalive {
            interval,
            deadline: deadline.max(interval),
        }
    }
}

/// What the reader, the keepalive task, pings and a shutdown share.
#[derive(Default)]
pub(crate) struct Liveness {
    /// Runs of frames received, of any kind.
    heard: AtomicU64,
    next_nonce: AtomicU64,
    /// Pings of ours waiting for their pong, by nonce.
    pings: Mutex<HashMap<u64, oneshot::Sender<()>>>,
    /// This side is shutting down: the peer's new requests are refused.
    draining: AtomicBool,
    /// The last of this side's running requests ended while draining.
    drained: Notify,
    /// The peer is shutting down (it said `Closing`): our new calls fail at once.
    peer_closing: AtomicBool,
    peer_closing_reason: Mutex<Option<String>>,
}

impl Liveness {
    /// The reader received a run of frames.
    pub(super) fn heard(&self) {
        self.heard.fetch_add(1, Ordering::Relaxed);
    }

    /// Our ping `nonce` was answered.
    pub(super) fn pong(&self, nonce: u64) {
        if let Some(tx) = self.pings.lock().remove(&nonce) {
            let _ = tx.send(());
        }
    }

    /// Whether this side is shutting down.
    pub(super) fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// A running request of the peer ended; `left` are still running.
    pub(super) fn request_ended(&self, left: usize) {
        if left == 0 && self.draining() {
            self.drained.notify_waiters();
        }
    }

    /// The peer said it is shutting down.
    pub(super) fn peer_closing(&self, reason: Option<String>) {
        *self.peer_closing_reason.lock() = reason;
        self.peer_closing.store(true, Ordering::Release);
    }

    /// Fails a new call at once if the peer is shutting down.
    pub(super) fn check_new_call(&self) -> Result<()> {
        if !self.peer_closing.load(Ordering::Acquire) {
            return Ok(());
        }
        let reason = self.peer_closing_reason.lock().clone();
        Err(Error::PeerClosing(
            reason.unwrap_or_else(|| "it takes no new calls".to_owned()),
        ))
    }
}

/// Sends a ping and waits for its pong.
pub(super) async fn ping(inner: &Arc<Inner>) -> Result<Duration> {
    if inner.peer.features & feature::KEEPALIVE == 0 {
        return Err(Error::Unsupported(feature::names(feature::KEEPALIVE).join(", ")));
    }
    let nonce = inner.liveness.next_nonce.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    inner.liveness.pings.lock().insert(nonce, tx);
    let started = Instant::now();
    let sent = inner.send_owned_direct(Message::Ping { nonce });
    let answered = match sent {
        Ok(()) => {
            let mut closed = inner.closed_tx.subscribe();
            tokio::select! {
                r = rx => r.is_ok(),
                _ = closed.wait_for(|c| *c) => false,
            }
        }
        Err(_) => false,
    };
    inner.liveness.pings.lock().remove(&nonce);
    if answered {
        Ok(started.elapsed())
    } else {
        Err(Error::ConnectionClosed(inner.close_reason()))
    }
}

/// Runs until the connection closes, or closes it when the peer is silent past the deadline.
pub(super) async fn run(inner: Arc<Inner>, keepalive: Keepalive) {
    let Keepalive { interval, deadline } = keepalive;
    let pings = inner.peer.features & feature::KEEPALIVE != 0;
    let mut closed = inner.closed_tx.subscribe();
    let mut seen = inner.liveness.heard.load(Ordering::Relaxed);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = closed.wait_for(|c| *c) => return,
        }
        let now = inner.liveness.heard.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            last_heard = Instant::now();
            continue;
        }
        let silent = last_heard.elapsed();
        if silent >= deadline {
            let e = Error::DeadPeer(deadline);
            tracing::debug!(error = %e, "closing connection");
            // Told in case it is only slow, not gone; a dead peer never reads it.
            let _ = inner.send(&Message::Close {
                reason: Some(e.to_string()),
            });
            inner.shutdown(Some(Arc::new(e)));
            return;
        }
        if pings {
            let nonce = inner.liveness.next_nonce.fetch_add(1, Ordering::Relaxed);
            // Written directly when the writer is idle, as it is on a silent connection, so the
            // ping does not count as traffic for the idle timeout.
            if inner.send_owned_direct(Message::Ping { nonce }).is_err() {
                return;
            }
        }
    }
}

/// This side shuts down gracefully: tells the peer (if it understands), refuses the peer's new
/// requests, waits up to `grace` for the running ones to end, then closes.
pub(super) async fn drain(inner: &Arc<Inner>, reason: &str, grace: Duration) {
    inner.liveness.draining.store(true, Ordering::Relaxed);
    if inner.peer.features & feature::CLOSING != 0 {
        let _ = inner.send(&Message::Closing {
            reason: Some(reason.to_owned()),
        });
    }
    let done = async {
        loop {
            let notified = inner.liveness.drained.notified();
            if inner.in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
            notified.await;
        }
    };
    let mut closed = inner.closed_tx.subscribe();
    tokio::select! {
        _ = tokio::time::timeout(grace, done) => {}
        _ = closed.wait_for(|c| *c) => {}
    }
    let _ = inner.send(&Message::Close { reason: None });
    inner.shutdown(None);
}
