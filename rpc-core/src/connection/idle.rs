//! The idle limit: closes a connection on which nothing happens.
//!
//! The reader and the writer bump a counter for each run of frames they move (an atomic add,
//! no clock read on the hot path). This task looks at it every quarter of the limit; after
//! [`CHECKS`] looks in a row that saw no frame either way and no call outstanding in either
//! direction, the connection is closed with a reason that names the limit: after the limit,
//! and at most a quarter of it later.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::inner::Inner;
use crate::error::Error;
use crate::protocol::Message;

/// Looks per idle limit.
const CHECKS: u32 = 4;

/// Runs until the connection closes (or closes it).
pub(super) async fn run(inner: Arc<Inner>, limit: Duration) {
    let every = (limit / CHECKS).max(Duration::from_millis(1));
    let mut closed = inner.closed_tx.subscribe();
    let mut seen = inner.activity.load(Ordering::Relaxed);
    let mut quiet = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = closed.wait_for(|c| *c) => return,
        }
        let now = inner.activity.load(Ordering::Relaxed);
        let busy = inner.in_flight.load(Ordering::Relaxed) > 0 || inner.pending.lock().len() > 0;
        if now != seen || busy {
            seen = now;
            quiet = 0;
            continue;
        }
        quiet += 1;
        if quiet < CHECKS {
            continue;
        }
        let e = Error::Limit(format!(
            "the connection was idle for {limit:?} (its idle timeout)"
        ));
        tracing::debug!(error = %e, "closing connection");
        let _ = inner.send(&Message::Close {
            reason: Some(e.to_string()),
        });
        inner.shutdown(Some(Arc::new(e)));
        return;
    }
}
