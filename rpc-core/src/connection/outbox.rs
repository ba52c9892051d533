//! The outbox: encoded frames waiting for the writer task, as plain bookkeeping without I/O.
//!
//! Senders append small frames to one shared buffer (a copy of a few bytes, no allocation per
//! frame) and hand large frames over whole (no copy). The writer takes everything queued in one
//! go and writes it with as few calls as possible, so frames queued while it was busy leave
//! together. Releases of remote references are gathered and sent as one message per batch.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::frame::{encode_frame, DEFAULT_MAX_FRAME_SIZE};
use crate::protocol::{Message, ObjectId};

/// Frames at least this large are handed over as their own buffer instead of being copied.
pub(crate) const LARGE_FRAME: usize = 32 * 1024;

/// Most bytes one release takes on the wire (two varints); what a queued release counts
/// against `max_unwritten_bytes` until it is written.
pub(crate) const RELEASE_WIRE_MAX: usize = 20;

/// Releases gathered beyond this many are encoded into a frame at once, so what they hold is
/// what they will take on the wire (no list growing by doubling on the word of the peer).
const RELEASE_RUN: usize = 4096;

/// Capacity of a fresh shared buffer.
const BUFFER_CAPACITY: usize = 16 * 1024;

/// Everything the writer takes in one go.
#[derive(Default)]
pub(crate) struct Batch {
    /// Byte runs to write, in order.
    pub(crate) chunks: Vec<Vec<u8>>,
    /// References to release, to be sent after the chunks.
    pub(crate) releases: Vec<(ObjectId, u64)>,
    /// Frames in the chunks.
    pub(crate) frames: usize,
    /// Whether the writer should shut the transport down after this batch.
    pub(crate) shutdown: bool,
}

impl Batch {
    /// True if there is nothing to do.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.releases.is_empty() && !self.shutdown
    }
}

#[derive(Default)]
struct State {
    queued: Batch,
    /// A cleared buffer the writer handed back, reused for the next run of small frames.
    spare: Option<Vec<u8>>,
    /// The emptied list of chunks the writer handed back, reused for the next batch.
    spare_list: Vec<Vec<u8>>,
    closed: bool,
}

impl State {
    /// Copies a run of bytes to the end of the queue: into its last small buffer while there
    /// is room, else into a fresh (or the spare) one.
    fn append(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match self.queued.chunks.last_mut() {
            Some(last)
                if last.len() + bytes.len() <= last.capacity().max(BUFFER_CAPACITY)
                    && last.len() < LARGE_FRAME =>
            {
                last.extend_from_slice(bytes)
            }
            _ => {
                let mut buf = self
                    .spare
                    .take()
                    .unwrap_or_else(|| Vec::with_capacity(BUFFER_CAPACITY));
                buf.extend_from_slice(bytes);
                self.queued.chunks.push(buf);
            }
        }
    }
}

/// The queue between senders and the writer task.
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Bytes queued or taken by the writer and not yet written.
    unwritten: AtomicUsize,
    /// Largest frame sent (release frames are cut to it).
    max_frame: usize,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

/// The outbox no longer takes frames: the connection is closing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closed;

impl Outbox {
    /// An empty outbox for frames of at most `max_frame` bytes.
    pub(crate) fn new(max_frame: usize) -> Self {
        Outbox {
            state: Mutex::default(),
            unwritten: AtomicUsize::new(0),
            max_frame,
        }
    }

    /// Appends one encoded frame. Returns whether the writer must be woken (the outbox was
    /// empty) and how many frames now wait. `frame` is copied if small; a large one is taken
    /// (and `frame` left empty).
    #[cfg(test)]
    pub(crate) fn push(&self, frame: &mut Vec<u8>) -> Result<(bool, usize), Closed> {
        self.push_parts(frame, Vec::new())
    }

    /// Like `push` for a frame whose large byte values were left out of `frame`: each part
    /// `(offset, bytes)` goes at that offset of `frame`, as a buffer of its own (not copied).
    pub(crate) fn push_parts(
        &self,
        frame: &mut Vec<u8>,
        parts: Vec<(usize, Vec<u8>)>,
    ) -> Result<(bool, usize), Closed> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(Closed);
        }
        let was_empty = state.queued.is_empty();
        let state = &mut *state;
        state.queued.frames += 1;
        let spilled: usize = parts.iter().map(|(_, bytes)| bytes.len()).sum();
        self.unwritten.fetch_add(frame.len() + spilled, Ordering::Relaxed);
        if parts.is_empty() && frame.len() >= LARGE_FRAME {
            state.queued.chunks.push(std::mem::take(frame));
            return Ok((was_empty, state.queued.frames));
        }
        let mut from = 0;
        for (at, bytes) in parts {
            state.append(&frame[from..at]);
            state.queued.chunks.push(bytes);
            from = at;
        }
        state.append(&frame[from..]);
        Ok((was_empty, state.queued.frames))
    }

    /// Queues a release; returns whether the writer must be woken. It counts as unwritten
    /// bytes (its largest wire size) until the writer encodes it.
    pub(crate) fn release(&self, id: ObjectId, count: u64) -> Result<bool, Closed> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(Closed);
        }
        let was_empty = state.queued.is_empty();
        state.queued.releases.push((id, count));
        self.unwritten.fetch_add(RELEASE_WIRE_MAX, Ordering::Relaxed);
        if state.queued.releases.len() >= RELEASE_RUN {
            let run = std::mem::take(&mut state.queued.releases);
            let mut encoded = Vec::new();
            encode_releases(&mut encoded, &run, self.max_frame);
            self.uncount(run.len() * RELEASE_WIRE_MAX);
            self.unwritten.fetch_add(encoded.len(), Ordering::Relaxed);
            state.queued.frames += 1;
            state.append(&encoded);
        }
        Ok(was_empty)
    }

    /// Drops everything queued (the writer is gone): nothing more is written or counted.
    pub(crate) fn clear(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        state.queued = Batch::default();
        state.spare = None;
        state.spare_list = Vec::new();
        self.unwritten.store(0, Ordering::Relaxed);
    }

    /// Asks the writer to finish what is queued and shut down; nothing more is taken after.
    pub(crate) fn close(&self) -> bool {
        let mut state = self.state.lock();
        if state.closed {
            return false;
        }
        state.closed = true;
        state.queued.shutdown = true;
        true
    }

    /// Takes everything queued. The releases taken stop counting as unwritten: the writer
    /// counts the frames it encodes them into instead.
    pub(crate) fn take(&self) -> Batch {
        let mut state = self.state.lock();
        if state.queued.is_empty() {
            return Batch::default();
        }
        let next = Batch {
            chunks: std::mem::take(&mut state.spare_list),
            ..Batch::default()
        };
        let batch = std::mem::replace(&mut state.queued, next);
        self.uncount(batch.releases.len() * RELEASE_WIRE_MAX);
        batch
    }

    /// Stops counting `bytes` as unwritten.
    fn uncount(&self, bytes: usize) {
        let _ = self
            .unwritten
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(bytes))
            });
    }

    /// Takes the queued frames if there is nothing else to do (no release to encode, no
    /// shutdown): what a sender may write directly.
    pub(crate) fn take_plain(&self) -> Option<Vec<Vec<u8>>> {
        let mut state = self.state.lock();
        let state = &mut *state;
        let queued = &mut state.queued;
        if queued.chunks.is_empty() || !queued.releases.is_empty() || queued.shutdown {
            return None;
        }
        queued.frames = 0;
        Some(std::mem::replace(
            &mut queued.chunks,
            std::mem::take(&mut state.spare_list),
        ))
    }

    /// Hands back the emptied list of a written batch for reuse.
    pub(crate) fn recycle_list(&self, mut list: Vec<Vec<u8>>) {
        list.clear();
        if list.capacity() <= 64 {
            self.state.lock().spare_list = list;
        }
    }

    /// Counts bytes the writer added to a batch itself (the release message).
    pub(crate) fn count_unwritten(&self, bytes: usize) {
        self.unwritten.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes queued and not yet written.
    pub(crate) fn unwritten(&self) -> usize {
        self.unwritten.load(Ordering::Relaxed)
    }

    /// Hands back a written buffer for reuse.
    pub(crate) fn recycle(&self, mut buf: Vec<u8>) {
        self.uncount(buf.len());
        if buf.capacity() <= 4 * BUFFER_CAPACITY {
            buf.clear();
            self.state.lock().spare = Some(buf);
        }
    }
}

/// Appends `releases` to `out` as `Release` frames of at most `max_frame` bytes each: a batch
/// too large for one frame is split, never dropped (the owner would keep those objects).
pub(crate) fn encode_releases(out: &mut Vec<u8>, releases: &[(ObjectId, u64)], max_frame: usize) {
    // Two varints of at most 10 bytes each per release, behind a few bytes of message header.
    let per_frame = (max_frame.saturating_sub(16) / RELEASE_WIRE_MAX).max(1);
    for part in releases.chunks(per_frame) {
        let msg = Message::Release { refs: part.to_vec() };
        // Ids and counts only, sized to fit: this cannot fail.
        if let Err(e) = encode_frame(out, max_frame, |o| msg.encode_into(o)).map_err(|e| e.to_string()) {
            tracing::error!(error = %e, "a release could not be encoded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frames_share_a_buffer_and_large_ones_go_whole() {
        let outbox = Outbox::default();
        let mut a = vec![1u8; 10];
        assert_eq!(
            outbox.push(&mut a),
            Ok((true, 1)),
            "the first frame wakes the writer"
        );
        let mut b = vec![2u8; 20];
        assert_eq!(outbox.push(&mut b), Ok((false, 2)), "later ones do not");
        let mut big = vec![3u8; LARGE_FRAME];
        outbox.push(&mut big).expect("open");
        assert!(big.is_empty(), "a large frame is taken, not copied");
        let mut c = vec![4u8; 5];
        outbox.push(&mut c).expect("open");
        outbox.release(7, 2).expect("open");
        let batch = outbox.take();
        assert_eq!(batch.frames, 4);
        let lens: Vec<_> = batch.chunks.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![30, LARGE_FRAME, 5]);
        assert_eq!(batch.releases, vec![(7, 2)]);
        assert!(outbox.take().is_empty());
    }

    #[test]
    fn spilled_parts_go_whole_between_the_runs_of_their_frame() {
        let outbox = Outbox::default();
        let mut small = vec![1u8; 10];
        outbox.push(&mut small).expect("open");
        let big = vec![9u8; LARGE_FRAME];
        let addr = big.as_ptr();
        let mut frame = vec![2u8; 8];
        outbox.push_parts(&mut frame, vec![(5, big)]).expect("open");
        assert_eq!(outbox.unwritten(), 10 + 8 + LARGE_FRAME);
        let batch = outbox.take();
        assert_eq!(batch.frames, 2);
        let lens: Vec<_> = batch.chunks.iter().map(Vec::len).collect();
        assert_eq!(
            lens,
            vec![15, LARGE_FRAME, 3],
            "head after the small frame, the part, the tail"
        );
        assert_eq!(batch.chunks[1].as_ptr(), addr, "the part is moved, not copied");
    }

    #[test]
    fn a_long_run_of_releases_waits_encoded_not_as_a_growing_list() {
        let outbox = Outbox::new(1 << 20);
        for id in 1..=RELEASE_RUN as u64 + 10 {
            outbox.release(id, 1).expect("open");
        }
        let batch = outbox.take();
        assert_eq!(batch.releases.len(), 10, "only the last few wait as a list");
        let frames: usize = batch.chunks.iter().map(Vec::len).sum();
        assert_eq!(outbox.unwritten(), frames, "counted as the bytes they became");
        let mut buf = bytes::BytesMut::from(&batch.chunks.concat()[..]);
        let frame = crate::frame::FrameDecoder::new(1 << 20)
            .decode(&mut buf)
            .expect("valid")
            .expect("a whole frame");
        match Message::decode(&frame).expect("a release") {
            Message::Release { refs } => assert_eq!(refs.len(), RELEASE_RUN),
            other => panic!("expected a release, got {other:?}"),
        }
    }

    #[test]
    fn closing_takes_no_more_frames() {
        let outbox = Outbox::default();
        let mut a = vec![1u8; 3];
        outbox.push(&mut a).expect("open");
        assert!(outbox.close());
        assert!(!outbox.close(), "once");
        assert_eq!(outbox.push(&mut a), Err(Closed));
        let batch = outbox.take();
        assert!(batch.shutdown);
        assert_eq!(batch.chunks.len(), 1);
    }
}
