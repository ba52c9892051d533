//! The timeout reaper: fails calls that waited longer than the connection's call timeout.
//!
//! A timer per call would cost a clock read and two updates of the runtime's timer wheel on
//! every call. Instead the connection counts epochs of a eighth of the timeout each, while
//! calls wait; a call notes the epoch it started in (an atomic load) and this task fails it
//! once [`TICKS`] + 1 epochs have begun since: after the timeout and less than an eighth of it
//! later. With no call waiting the task sleeps without a timer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::inner::Inner;
use crate::error::Error;
use crate::protocol::Message;

/// Epochs per call timeout.
pub(super) const TICKS: u32 = 8;

/// Runs until the connection closes.
pub(super) async fn run(inner: Arc<Inner>, limit: Duration) {
    let tick = (limit / TICKS).max(Duration::from_millis(1));
    let mut closed = inner.closed_tx.subscribe();
    loop {
        while !inner.pending.lock().has_timed() {
            tokio::select! {
                _ = inner.timed_call.notified() => {}
                _ = closed.wait_for(|c| *c) => return,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = closed.wait_for(|c| *c) => return,
        }
        let epoch = inner.epoch.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let expired = inner.pending.lock().expire(epoch, TICKS + 1);
        for (seq, waiter) in expired {
            tracing::debug!(seq, ?limit, "call timed out");
            waiter.send(Err(Error::Timeout(limit)));
            // Nobody will read the answer: let the peer stop working on it.
            let _ = inner.send(&Message::Cancel { seq });
        }
    }
}
