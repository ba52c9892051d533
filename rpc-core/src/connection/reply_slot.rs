//! Where a reply meets the call waiting for it: a slot shared by the pending-call table (the
//! sending end) and the waiting call (the receiving end). Slots come from a small per-thread
//! pool and go back to it, so a call allocates nothing for its reply once the pool is warm.
//!
//! Same contract as a oneshot channel: the sender puts one result; a sender dropped without
//! sending puts "connection closed"; the receiver is a future of the result.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::value::Value;

/// Slots a thread keeps for reuse.
const POOL_MAX: usize = 256;

thread_local! {
    static POOL: RefCell<Vec<Arc<Slot>>> = const { RefCell::new(Vec::new()) };
}

#[derive(Default)]
struct Slot {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    result: Option<Result<Value>>,
    waker: Option<Waker>,
}

impl Slot {
    fn fill(&self, result: Result<Value>) {
        let waker = {
            let mut state = self.state.lock();
            state.result = Some(result);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A fresh (or reused) slot's two ends.
pub(crate) fn channel() -> (ReplySender, ReplyReceiver) {
    let slot = POOL
        .try_with(|pool| pool.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    (ReplySender(Some(slot.clone())), ReplyReceiver(Some(slot)))
}

/// Returns a slot nobody else holds to this thread's pool; `clean` if its state is known to
/// be empty already.
fn recycle(slot: Arc<Slot>, clean: bool) {
    if Arc::strong_count(&slot) != 1 {
        return;
    }
    if !clean {
        *slot.state.lock() = State::default();
    }
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_MAX {
            pool.push(slot);
        }
    });
}

/// The sending end: delivers the reply.
pub(crate) struct ReplySender(Option<Arc<Slot>>);

impl ReplySender {
    /// Delivers the result to the waiting call (if it still waits).
    pub(crate) fn send(mut self, result: Result<Value>) {
        if let Some(slot) = self.0.take() {
            slot.fill(result);
        }
    }
}

impl Drop for ReplySender {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.fill(Err(Error::ConnectionClosed(None)));
        }
    }
}

/// The receiving end: a future of the reply.
pub(crate) struct ReplyReceiver(Option<Arc<Slot>>);

impl Future for ReplyReceiver {
    type Output = Result<Value>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Value>> {
        let Some(slot) = self.0.as_ref() else {
            // Polled again after it was ready.
            return Poll::Ready(Err(Error::ConnectionClosed(None)));
        };
        let mut state = slot.state.lock();
        if let Some(result) = state.result.take() {
            // Leave the slot empty for its next call.
            let waker = state.waker.take();
            drop(state);
            drop(waker);
            if let Some(slot) = self.0.take() {
                recycle(slot, true);
            }
            return Poll::Ready(result);
        }
        match &state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for ReplyReceiver {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            recycle(slot, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reply_reaches_its_waiter_and_the_slot_is_reused() {
        let (tx, rx) = channel();
        let waiting = tokio::spawn(rx);
        tokio::task::yield_now().await;
        tx.send(Ok(Value::Int(5)));
        assert!(matches!(waiting.await.expect("task"), Ok(Value::Int(5))));
        // On this thread: a slot goes back when both ends are done, and comes out again.
        let (tx, rx) = channel();
        tx.send(Ok(Value::Unit));
        let addr = rx.0.as_ref().map(Arc::as_ptr);
        assert!(matches!(rx.await, Ok(Value::Unit)));
        let (_tx, rx) = channel();
        assert_eq!(rx.0.as_ref().map(Arc::as_ptr), addr, "reused");
    }

    #[tokio::test]
    async fn a_dropped_sender_reads_as_a_closed_connection_and_a_dropped_receiver_is_harmless() {
        let (tx, rx) = channel();
        drop(tx);
        assert!(matches!(rx.await, Err(Error::ConnectionClosed(None))));
        let (tx, rx) = channel();
        drop(rx);
        tx.send(Ok(Value::Unit));
    }
}
