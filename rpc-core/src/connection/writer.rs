//! The writer task: the only place that writes to the transport. Each time it wakes it takes
//! everything in the [`Outbox`](super::outbox::Outbox) and writes it with as few calls as
//! possible.

use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::direct::{BoxWrite, Job};
use super::inner::Inner;
use super::outbox::{encode_releases, Batch, LARGE_FRAME};
use crate::error::Error;

pub(super) async fn run(inner: Arc<Inner>) {
    let guard = LetGo(inner);
    let inner = &guard.0;
    if let Err(e) = write_loop(inner).await {
        tracing::debug!(error = %e, "write failed");
        inner.shutdown(Some(Arc::new(Error::Io(e))));
    }
    if let Some(mut w) = inner.write_side.take() {
        let _ = w.shutdown().await;
    }
}

/// However the writer ends (done, failed, or stopped by a closing connection while a write
/// waits on a peer that does not read), the transport's write half and every queued byte are
/// let go with it.
struct LetGo(Arc<Inner>);

impl Drop for LetGo {
    fn drop(&mut self) {
        drop(self.0.write_side.take());
        self.0.outbox.clear();
    }
}

async fn write_loop(inner: &Inner) -> std::io::Result<()> {
    let mut busy = false;
    loop {
        if busy {
            // Senders were active: let the ones already woken queue their frames too, so they
            // leave in this write instead of one write each.
            tokio::task::yield_now().await;
        }
        let job = loop {
            match inner.write_side.take_job(&inner.outbox) {
                Some(job) => break job,
                None => {
                    inner.outbox_ready.notified().await;
                    if inner.others_about_to_send() {
                        // Woken by the first of several senders: let the others queue theirs
                        // too, so that they leave in one write. (A task woken from a worker
                        // runs next on it, ahead of those woken before: the writer would take
                        // the frames one at a time.)
                        tokio::task::yield_now().await;
                    }
                }
            }
        };
        inner.burst.store(false, Ordering::Relaxed);
        let Job {
            mut w,
            leftover,
            offset,
            batch,
            flush,
        } = job;
        busy = batch.frames > 1;
        let shutdown = batch.shutdown;
        let written = write_leftover(inner, &mut w, leftover, offset, flush).await;
        let written = match written {
            Ok(()) => write_batch(inner, &mut w, batch).await,
            Err(e) => Err(e),
        };
        inner.touch();
        inner.write_side.give_back(w);
        written?;
        if shutdown {
            return Ok(());
        }
    }
}

/// Finishes what a sender's direct write left.
async fn write_leftover(
    inner: &Inner,
    w: &mut BoxWrite,
    leftover: Vec<Vec<u8>>,
    offset: usize,
    flush: bool,
) -> std::io::Result<()> {
    write_chunks(w, &leftover, offset).await?;
    let had_any = !leftover.is_empty();
    for chunk in leftover {
        inner.outbox.recycle(chunk);
    }
    if had_any || flush {
        w.flush().await?;
    }
    Ok(())
}

async fn write_batch(inner: &Inner, w: &mut BoxWrite, batch: Batch) -> std::io::Result<()> {
    let Batch {
        mut chunks, releases, ..
    } = batch;
    if !releases.is_empty() {
        // Into the last run of small frames when there is one, so it leaves in the same write.
        if chunks.last().is_none_or(|c| c.len() >= LARGE_FRAME) {
            chunks.push(Vec::new());
        }
        if let Some(last) = chunks.last_mut() {
            let before = last.len();
            encode_releases(last, &releases, inner.config.max_frame_size);
            tracing::trace!(count = releases.len(), "releases sent");
            inner.outbox.count_unwritten(last.len() - before);
        }
    }
    write_chunks(w, &chunks, 0).await?;
    let written = chunks.len();
    for chunk in chunks.drain(..) {
        inner.outbox.recycle(chunk);
    }
    inner.outbox.recycle_list(chunks);
    if written > 0 {
        w.flush().await?;
    }
    Ok(())
}

/// Writes `chunks` (the first from `offset` on) in as few writes as the transport takes: a
/// single run with a plain write (a one-buffer `writev` costs more), several with vectored
/// writes, so that a frame's last bytes do not trail behind in a write of their own.
async fn write_chunks(w: &mut BoxWrite, chunks: &[Vec<u8>], offset: usize) -> std::io::Result<()> {
    match chunks {
        [] => Ok(()),
        [one] => w.write_all(&one[offset..]).await,
        many => {
            let mut slices: Vec<IoSlice<'_>> = many.iter().map(|c| IoSlice::new(c)).collect();
            slices[0] = IoSlice::new(&many[0][offset..]);
            write_all_vectored(w, &mut slices).await
        }
    }
}

/// Writes all of `slices`, in as few calls as the transport allows.
async fn write_all_vectored<W: AsyncWrite + Unpin>(
    w: &mut W,
    mut slices: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        let n = w.write_vectored(slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameDecoder;
    use crate::protocol::{Message, ObjectId};

    #[test]
    fn a_release_batch_too_large_for_one_frame_is_split_not_dropped() {
        let releases: Vec<(ObjectId, u64)> = (1..=1_000).map(|id| (id << 40, id)).collect();
        let mut out = Vec::new();
        encode_releases(&mut out, &releases, 512);
        let mut buf = bytes::BytesMut::from(&out[..]);
        let mut decoder = FrameDecoder::new(512);
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(frame) = decoder.decode(&mut buf).expect("every frame within 512 bytes") {
            frames += 1;
            match Message::decode(&frame).expect("a release") {
                Message::Release { refs } => got.extend(refs),
                other => panic!("expected a release, got {other:?}"),
            }
        }
        assert!(buf.is_empty());
        assert!(frames > 1, "split: {frames} frames");
        assert_eq!(got, releases, "every release, in order");
    }
}
