//! Raw frames: a little-endian `u32` length prefix and a payload of zeros, and the reader that
//! counts them in a byte stream without looking inside.

use std::io::ErrorKind;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Size of the little-endian `u32` length prefix of a frame.
pub(super) const HEADER_LEN: usize = 4;

/// One frame of `total` bytes on the wire (prefix included), payload all zeros.
pub fn frame_of(total: usize) -> Vec<u8> {
    assert!(
        total >= HEADER_LEN,
        "a frame holds at least its {HEADER_LEN}-byte prefix"
    );
    let len = u32::try_from(total - HEADER_LEN).expect("frame fits a u32 length");
    let mut frame = vec![0; total];
    frame[..HEADER_LEN].copy_from_slice(&len.to_le_bytes());
    frame
}

/// A frame of `total` bytes that a raw sink server answers: payload `1, 0, 0, ...`.
pub fn ping_frame_of(total: usize) -> Vec<u8> {
    assert!(total > HEADER_LEN, "a ping frame has a payload");
    let mut frame = frame_of(total);
    frame[HEADER_LEN] = 1;
    frame
}

/// Splits a byte stream into frames. Only counts them: the baseline never looks inside.
#[derive(Default)]
pub(super) struct FrameCounter {
    /// Bytes read and not yet part of a whole frame.
    buf: Vec<u8>,
}

impl FrameCounter {
    /// Reads once from `stream` (TCP, or TLS over it) and returns how many whole frames are now complete (consuming
    /// them); `None` at end of stream.
    pub(super) async fn read<S: AsyncRead + Unpin>(&mut self, stream: &mut S) -> Option<usize> {
        self.read_each(stream, |_| {}).await
    }

    /// Like [`FrameCounter::read`], and hands each complete frame's payload to `each`.
    pub(super) async fn read_each<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        mut each: impl FnMut(&[u8]),
    ) -> Option<usize> {
        self.buf.reserve(16 * 1024);
        match stream.read_buf(&mut self.buf).await {
            Ok(0) => return None,
            Ok(_) => {}
            // A TLS peer gone without its close_notify: an end of stream here too.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return None,
            Err(e) => panic!("raw read: {e}"),
        }
        let mut start = 0;
        let mut frames = 0;
        while let Some(header) = self.buf.get(start..start + HEADER_LEN) {
            let len = u32::from_le_bytes(header.try_into().expect("4-byte header")) as usize;
            let end = start + HEADER_LEN + len;
            let Some(payload) = self.buf.get(start + HEADER_LEN..end) else {
                break;
            };
            each(payload);
            start = end;
            frames += 1;
        }
        self.buf.drain(..start);
        Some(frames)
    }
}
