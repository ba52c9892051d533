//! The transport's write half, shared by the writer task and the senders.
//!
//! The writer task takes the half out for each batch it writes. While the writer is idle, a
//! sender that expects no company (a call with no other call outstanding) may write the
//! outbox straight to the transport instead of waking the writer: one task hop less on a
//! sequential call. Such a write never waits: whatever the transport does not take at once
//! stays behind as leftover, which the writer sends before anything else.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::io::AsyncWrite;

use super::outbox::{Batch, Outbox};

/// Most chunks a direct write hands the transport at once.
const MAX_SLICES: usize = 8;

/// The write half, type-erased.
pub(super) type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;

/// See the module documentation.
#[derive(Default)]
pub(super) struct WriteSide {
    state: Mutex<Side>,
}

#[derive(Default)]
struct Side {
    /// The write half; `None` while the writer task writes with it.
    w: Option<BoxWrite>,
    /// Bytes a direct write left unwritten, to go first; the first chunk from `offset` on.
    leftover: Vec<Vec<u8>>,
    offset: usize,
    /// A direct write could not finish flushing.
    needs_flush: bool,
}

/// What the writer task is to write next, with the half to write it with.
pub(super) struct Job {
    pub(super) w: BoxWrite,
    pub(super) leftover: Vec<Vec<u8>>,
    pub(super) offset: usize,
    pub(super) batch: Batch,
    pub(super) flush: bool,
}

impl WriteSide {
    /// Hands the write half over (once, when the connection starts).
    pub(super) fn install(&self, w: BoxWrite) {
        self.state.lock().w = Some(w);
    }

    /// The writer task's turn: the half and everything waiting, or `None` if nothing waits.
    pub(super) fn take_job(&self, outbox: &Outbox) -> Option<Job> {
        let mut side = self.state.lock();
        let batch = outbox.take();
        if batch.is_empty() && side.leftover.is_empty() && !side.needs_flush {
            return None;
        }
        let Some(w) = side.w.take() else {
            // Only the writer task takes the half out, and it gives it back before its next turn.
            unreachable!("the writer task holds the write half twice");
        };
        Some(Job {
            w,
            leftover: std::mem::take(&mut side.leftover),
            offset: std::mem::take(&mut side.offset),
            batch,
            flush: std::mem::take(&mut side.needs_flush),
        })
    }

    /// The writer task is done with the half.
    pub(super) fn give_back(&self, w: BoxWrite) {
        self.state.lock().w = Some(w);
    }

    /// Takes the half for good (the writer task is ending).
    pub(super) fn take(&self) -> Option<BoxWrite> {
        self.state.lock().w.take()
    }

    /// A sender's direct write of everything queued. True if all of it was written (and
    /// flushed); false if the writer task must be woken to do or finish the job.
    pub(super) fn try_direct(&self, outbox: &Outbox) -> bool {
        let Some(mut side) = self.state.try_lock() else {
            return false;
        };
        let side = &mut *side;
        if !side.leftover.is_empty() || side.needs_flush {
            return false;
        }
        let Some(w) = side.w.as_mut() else {
            return false;
        };
        let Some(chunks) = outbox.take_plain() else {
            return false;
        };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        // Chunks fully written, and bytes written of the next one.
        let (mut done, mut offset) = (0, 0);
        while done < chunks.len() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let pending = &chunks[done..chunks.len().min(done + MAX_SLICES)];
            for (slice, (i, chunk)) in slices.iter_mut().zip(pending.iter().enumerate()) {
                *slice = IoSlice::new(if i == 0 { &chunk[offset..] } else { chunk });
            }
            let written = match pending {
                // One run of bytes: a plain write (cheaper than a vectored one for the kernel).
                [_] => w.as_mut().poll_write(&mut cx, &slices[0]),
                _ => w.as_mut().poll_write_vectored(&mut cx, &slices[..pending.len()]),
            };
            let mut n = match written {
                Poll::Ready(Ok(n)) if n > 0 => n,
                // Would block, failed or wrote nothing: the writer task takes over (and meets
                // the error again, if it was one).
                _ => break,
            };
            while n > 0 {
                let rest = chunks[done].len() - offset;
                if n < rest {
                    offset += n;
                    break;
                }
                n -= rest;
                done += 1;
                offset = 0;
            }
        }
        let mut chunks = chunks;
        side.leftover = chunks.split_off(done);
        side.offset = offset;
        for chunk in chunks.drain(..) {
            outbox.recycle(chunk);
        }
        outbox.recycle_list(chunks);
        if !side.leftover.is_empty() {
            return false;
        }
        match w.as_mut().poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => true,
            _ => {
                side.needs_flush = true;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A transport that takes at most `budget` bytes, then would block.
    struct Trickle {
        got: Arc<Mutex<Vec<u8>>>,
        budget: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.budget);
            if n == 0 {
                return Poll::Pending;
            }
            self.budget -= n;
            self.got.lock().extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_direct_write_leaves_what_the_transport_refuses_to_go_first() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let side = WriteSide::default();
        let outbox = Outbox::default();
        side.install(Box::pin(Trickle {
            got: got.clone(),
            budget: 5,
        }));
        outbox.push(&mut vec![1, 2, 3]).expect("open");
        assert!(side.try_direct(&outbox), "3 bytes fit");
        assert_eq!(*got.lock(), vec![1, 2, 3]);
        assert!(side.take_job(&outbox).is_none(), "nothing left for the writer");

        outbox.push(&mut vec![4, 5, 6, 7]).expect("open");
        assert!(
            !side.try_direct(&outbox),
            "only 2 of 4 bytes fit: the writer must finish"
        );
        outbox.push(&mut vec![8]).expect("open");
        assert!(
            !side.try_direct(&outbox),
            "no direct write while a leftover waits"
        );
        let job = side.take_job(&outbox).expect("leftover and a new frame");
        assert_eq!(job.leftover, vec![vec![4, 5, 6, 7]]);
        assert_eq!(job.offset, 2, "the first 2 bytes went out");
        assert_eq!(
            job.batch.chunks,
            vec![vec![8]],
            "newer frames come after the leftover"
        );
        assert!(!side.try_direct(&outbox), "the writer holds the half");
        side.give_back(job.w);
        assert_eq!(
            outbox.unwritten(),
            5,
            "the leftover and the new frame are still unwritten"
        );
    }
}
