//! The writer task: the only place that writes to the transport. It takes every frame queued
//! since its last write and sends them with one write call.

use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::inner::Inner;
use crate::error::Error;
use crate::frame::{encode_frame, DEFAULT_MAX_FRAME_SIZE};
use crate::protocol::{Message, ObjectId};

/// What the writer task is asked to do.
pub(crate) enum Outgoing {
    /// Write this encoded frame (header included).
    Frame(Vec<u8>),
    /// Tell the peer that this side dropped `count` references to its object `id`. Releases
    /// queued together travel in one message.
    Release(ObjectId, u64),
    /// Write what is queued, then shut the transport down.
    Shutdown,
}

/// Frames at least this large are written from their own buffer instead of being copied into
/// the batch.
const DIRECT_WRITE: usize = 32 * 1024;
/// Most frames taken from the queue for one batch.
const MAX_BATCH: usize = 256;

pub(super) async fn run<W: AsyncWrite + Unpin>(
    inner: Arc<Inner>,
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    if let Err(e) = write_loop(&mut w, &mut rx).await {
        tracing::debug!(error = %e, "write failed");
        inner.shutdown(Some(Arc::new(Error::Io(e))));
    }
    let _ = w.shutdown().await;
}

async fn write_loop<W: AsyncWrite + Unpin>(
    w: &mut W,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
) -> std::io::Result<()> {
    let mut queue = Vec::with_capacity(MAX_BATCH);
    let mut batch: Vec<u8> = Vec::with_capacity(DIRECT_WRITE);
    let mut releases: Vec<(ObjectId, u64)> = Vec::new();
    loop {
        if rx.recv_many(&mut queue, MAX_BATCH).await == 0 {
            return Ok(());
        }
        let mut shutdown = false;
        let single = queue.len() == 1;
        for item in queue.drain(..) {
            match item {
                Outgoing::Frame(frame) if single || frame.len() >= DIRECT_WRITE => {
                    if !batch.is_empty() {
                        w.write_all(&batch).await?;
                        batch.clear();
                    }
                    w.write_all(&frame).await?;
                }
                Outgoing::Frame(frame) => {
                    batch.extend_from_slice(&frame);
                    if batch.len() >= DIRECT_WRITE {
                        w.write_all(&batch).await?;
                        batch.clear();
                    }
                }
                Outgoing::Release(id, count) => releases.push((id, count)),
                Outgoing::Shutdown => shutdown = true,
            }
        }
        if !releases.is_empty() {
            let msg = Message::Release {
                refs: std::mem::take(&mut releases),
            };
            // Ids and counts only: this cannot fail or exceed a frame.
            if let Ok(Ok(())) = encode_frame(&mut batch, DEFAULT_MAX_FRAME_SIZE, |o| msg.encode_into(o)) {
                tracing::trace!(?msg, "sent");
            }
        }
        if !batch.is_empty() {
            w.write_all(&batch).await?;
            batch.clear();
        }
        w.flush().await?;
        if shutdown {
            return Ok(());
        }
    }
}
