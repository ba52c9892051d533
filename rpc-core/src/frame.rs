//! The frame layer: a little-endian `u32` length followed by that many bytes.
//!
//! [`FrameDecoder`] is plain bookkeeping without I/O: feed it bytes, it hands out whole frames.
//! A partial frame means "need more bytes", never an error; a length over the maximum is refused
//! before anything is allocated. [`make_room`] grows a read buffer as a frame's bytes arrive,
//! never on the word of its header alone, and [`shrink`] lets go of the room a large frame
//! took once it is read.

use bytes::{Buf, BytesMut};

/// Size of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Default maximum frame size: 64 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 << 20;

/// Errors of the frame layer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix announces a frame larger than allowed.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame ({buffered} bytes buffered)")]
    Truncated {
        /// Bytes of the unfinished frame that had arrived.
        buffered: usize,
    },
}

/// Splits a byte stream into frames.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: usize,
}

impl FrameDecoder {
    /// A decoder refusing frames larger than `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> Self {
        FrameDecoder { max: max_frame_size }
    }

    /// Takes the next whole frame's payload out of `buf`, if one is there.
    ///
    /// Returns `Ok(None)` when more bytes are needed, or an error when the announced length is
    /// over the maximum. Nothing is reserved: see [`make_room`].
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let Some(len) = self.next_frame(buf)? else {
            return Ok(None);
        };
        buf.advance(HEADER_LEN);
        Ok(Some(buf.split_to(len)))
    }

    /// Like [`decode`](FrameDecoder::decode) without taking the frame out: the payload length
    /// of the whole frame at the start of `buf`, if one is there. Its payload is then
    /// `buf[HEADER_LEN..HEADER_LEN + len]`; the caller consumes it with
    /// `buf.advance(HEADER_LEN + len)`. Reading the payload in place spares the shared buffer
    /// bookkeeping of a split.
    pub fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, FrameError> {
        let Some(len) = announced_len(buf) else {
            return Ok(None);
        };
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        Ok(Some(len))
    }

    /// Checks what is left when the stream ends: nothing, or a truncated frame.
    pub fn decode_eof(&mut self, buf: &BytesMut) -> Result<(), FrameError> {
        if buf.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Truncated { buffered: buf.len() })
        }
    }
}

/// Least free room a read buffer is given before each read.
pub const MIN_READ_ROOM: usize = 8 * 1024;

/// A read buffer keeps at most this much room once it has no frame in it.
pub const KEEP_READ_ROOM: usize = 2 << 20;

/// Makes room in `buf` for the next read: at least [`MIN_READ_ROOM`] free bytes, growing
/// geometrically with what has arrived, but never past the end of the frame being read (whose
/// announced length is trusted only up to `max_frame`). A header announcing a large frame thus
/// costs nothing until the frame's bytes arrive.
///
/// A buffer whose frames were all consumed starts over at the front of its allocation (no
/// copy): the next read lands in the memory the last one warmed, instead of walking through
/// the whole allocation one small frame at a time (with a thousand connections, a cache miss
/// per frame in the kernel's copy and again in the decoder).
pub fn make_room(buf: &mut BytesMut, max_frame: usize) {
    if buf.is_empty() {
        // Asks for one byte more than the room past the end, which only the consumed room in
        // front can give: reclaimed if unique, else nothing happens (nothing is allocated).
        let _ = buf.try_reclaim(buf.capacity() + 1);
    }
    let room = buf.capacity() - buf.len();
    if room >= MIN_READ_ROOM {
        return;
    }
    // Room freed at the front by frames already consumed is reused first.
    if buf.try_reclaim(MIN_READ_ROOM) {
        return;
    }
    let len = buf.len();
    let mut target = (buf.capacity() * 2).max(len + MIN_READ_ROOM);
    if let Some(frame) = announced_len(buf).filter(|&n| n <= max_frame) {
        let end = HEADER_LEN + frame;
        if end > len {
            target = target.min(end.max(len + MIN_READ_ROOM));
        }
    }
    let mut grown = BytesMut::with_capacity(target);
    grown.extend_from_slice(buf);
    *buf = grown;
}

/// Lets go of a read buffer's room past [`KEEP_READ_ROOM`] once what it holds is small, so a
/// connection that received one large frame does not keep its room while idle.
pub fn shrink(buf: &mut BytesMut) {
    if buf.capacity() > KEEP_READ_ROOM && buf.len() <= MIN_READ_ROOM {
        let mut small = BytesMut::with_capacity(2 * MIN_READ_ROOM);
        small.extend_from_slice(buf);
        *buf = small;
    }
}

/// The payload length the frame at the start of `bytes` announces, once its header is there.
pub(crate) fn announced_len(bytes: &[u8]) -> Option<usize> {
    bytes
        .first_chunk::<HEADER_LEN>()
        .map(|header| u32::from_le_bytes(*header) as usize)
}

/// Whether `bytes` start with a whole frame.
pub(crate) fn holds_a_frame(bytes: &[u8]) -> bool {
    announced_len(bytes).is_some_and(|len| bytes.len() - HEADER_LEN >= len)
}

/// Appends one frame to `out`: reserves the header, lets `write` append the payload, then fills
/// in the length. Fails (leaving `out` as it was) when the payload is over `max` bytes.
pub fn encode_frame<E>(
    out: &mut Vec<u8>,
    max: usize,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Result<(), FrameError>, E> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    if let Err(e) = write(out) {
        out.truncate(start);
        return Err(e);
    }
    let sealed = seal_frame(out, start, 0, max);
    if sealed.is_err() {
        out.truncate(start);
    }
    Ok(sealed)
}

/// Fills in the length prefix of the frame that starts at `start` in `out` (its header
/// reserved, its payload after it) whose payload also counts `extra` bytes sent apart from
/// `out`. Fails when the payload is over `max` bytes (or a `u32`).
pub(crate) fn seal_frame(out: &mut [u8], start: usize, extra: usize, max: usize) -> Result<(), FrameError> {
    let len = out.len() - start - HEADER_LEN + extra;
    if len > max || len > u32::MAX as usize {
        return Err(FrameError::TooLarge { len, max });
    }
    out[start..start + HEADER_LEN].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame::<()>(&mut out, 1024, |o| {
            o.extend_from_slice(payload);
            Ok(())
        })
        .expect("write")
        .expect("size");
        out
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut wire = frame(b"hello");
        wire.extend(frame(b""));
        wire.extend(frame(b"world!"));
        let mut dec = FrameDecoder::new(1024);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire {
            buf.extend_from_slice(&[b]);
            while let Some(f) = dec.decode(&mut buf).expect("valid") {
                got.push(f.to_vec());
            }
        }
        assert_eq!(got, vec![b"hello".to_vec(), b"".to_vec(), b"world!".to_vec()]);
        assert!(dec.decode_eof(&buf).is_ok());
    }

    #[test]
    fn an_emptied_read_buffer_starts_over_at_its_front() {
        let mut buf = BytesMut::new();
        make_room(&mut buf, 1 << 20);
        let start = buf.as_ptr();
        let whole = buf.capacity();
        for _ in 0..100 {
            buf.extend_from_slice(&[7; 24]);
            buf.advance(24);
            make_room(&mut buf, 1 << 20);
            assert_eq!(
                buf.as_ptr(),
                start,
                "every read lands at the front of the allocation"
            );
            assert_eq!(buf.capacity(), whole, "with all of it as room");
        }
        // Bytes still waiting are not moved for this.
        buf.extend_from_slice(&[1, 2, 3]);
        buf.advance(1);
        make_room(&mut buf, 1 << 20);
        assert_eq!(&buf[..], &[2, 3]);
        assert_ne!(buf.as_ptr(), start);
    }

    #[test]
    fn truncated_frame_is_reported_at_eof() {
        let wire = frame(b"hello");
        let mut dec = FrameDecoder::new(1024);
        let mut buf = BytesMut::from(&wire[..6]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert_eq!(dec.decode_eof(&buf), Err(FrameError::Truncated { buffered: 6 }));
    }

    #[test]
    fn oversize_length_is_refused_before_allocating() {
        let mut dec = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&u32::MAX.to_le_bytes()[..]);
        let cap = buf.capacity();
        assert_eq!(
            dec.decode(&mut buf),
            Err(FrameError::TooLarge {
                len: u32::MAX as usize,
                max: 16
            })
        );
        assert_eq!(buf.capacity(), cap);
    }

    #[test]
    fn a_large_announced_frame_is_given_room_as_its_bytes_arrive() {
        let len = 4 << 20;
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(len as u32).to_le_bytes());
        let mut dec = FrameDecoder::new(64 << 20);
        assert_eq!(dec.next_frame(&mut buf), Ok(None));
        make_room(&mut buf, 64 << 20);
        assert!(
            buf.capacity() < 64 * 1024,
            "a header alone reserves nothing like 4 MiB: {}",
            buf.capacity()
        );
        let mut grows = 0;
        while buf.len() < HEADER_LEN + len {
            let before = buf.capacity();
            make_room(&mut buf, 64 << 20);
            grows += usize::from(buf.capacity() != before);
            let n = (buf.capacity() - buf.len()).min(HEADER_LEN + len - buf.len());
            buf.resize(buf.len() + n, 0);
            assert!(
                buf.capacity() <= HEADER_LEN + len + MIN_READ_ROOM,
                "never past the frame"
            );
        }
        assert!(grows < 20, "geometric growth: {grows} reallocations");
        assert_eq!(dec.next_frame(&mut buf), Ok(Some(len)));
        buf.advance(HEADER_LEN + len);
        shrink(&mut buf);
        assert!(
            buf.capacity() <= KEEP_READ_ROOM,
            "the room is let go: {}",
            buf.capacity()
        );
    }

    #[test]
    fn encode_refuses_oversize_payload_and_restores_buffer() {
        let mut out = vec![1, 2, 3];
        let r = encode_frame::<()>(&mut out, 4, |o| {
            o.extend_from_slice(b"too long");
            Ok(())
        })
        .expect("write");
        assert_eq!(r, Err(FrameError::TooLarge { len: 8, max: 4 }));
        assert_eq!(out, vec![1, 2, 3]);
    }
}
