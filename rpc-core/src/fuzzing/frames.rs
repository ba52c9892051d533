//! The frame splitter against a reference: the stream is fed in chunks of random sizes into a
//! buffer grown by [`make_room`] and trimmed by [`shrink`], as the connection's reader does,
//! and the frames (and the error, and what is left at the end) must be those found by walking
//! the whole stream at once.

use bytes::{Buf, BytesMut};

use super::Source;
use crate::frame::{make_room, shrink, FrameDecoder, FrameError, HEADER_LEN, KEEP_READ_ROOM, MIN_READ_ROOM};

/// Frame size limits to split under, one picked per stream.
const MAX_FRAMES: &[usize] = &[0, 16, 300, 4096, 1 << 20];

/// Splits `stream` both ways and compares; the payloads of its whole frames, in order.
pub(super) fn split(stream: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut src = Source::seeded(fingerprint(stream));
    let max = src.pick(MAX_FRAMES);
    let (expected, end) = reference(stream, max);
    let mut decoder = FrameDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut got = 0;
    loop {
        // Whole frames first, as the reader takes them: in place or split off, either way.
        loop {
            let frame = if src.one_in(2) {
                decoder.decode(&mut buf).map(|f| f.map(|f| f.to_vec()))
            } else {
                decoder.next_frame(&mut buf).map(|len| {
                    len.map(|len| {
                        let payload = buf[HEADER_LEN..HEADER_LEN + len].to_vec();
                        buf.advance(HEADER_LEN + len);
                        payload
                    })
                })
            };
            match frame {
                Ok(Some(payload)) => {
                    if expected.get(got) != Some(&&payload[..]) {
                        return Err(format!("frame {got} differs: {payload:?}"));
                    }
                    got += 1;
                }
                Ok(None) => break,
                Err(e) if end.as_ref().err() == Some(&e) && got == expected.len() => return Ok(expected),
                Err(e) => {
                    return Err(format!(
                        "splitter error {e:?} after {got} frames, expected {end:?}"
                    ))
                }
            }
        }
        shrink(&mut buf);
        if buf.capacity() > KEEP_READ_ROOM && buf.len() <= MIN_READ_ROOM {
            return Err(format!("shrink kept {} bytes of room", buf.capacity()));
        }
        make_room(&mut buf, max);
        let room = buf.capacity() - buf.len();
        if room < MIN_READ_ROOM || buf.capacity() > 2 * fed + 2 * MIN_READ_ROOM {
            return Err(format!(
                "make_room gave {room} bytes of room, {} in all, after {fed} bytes",
                buf.capacity()
            ));
        }
        if fed == stream.len() {
            break;
        }
        let n = (1 + src.size(room.min(3000))).min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
    }
    let eof = decoder.decode_eof(&buf).err();
    if got != expected.len() || eof.as_ref() != end.as_ref().err() {
        return Err(format!(
            "{got} of {} frames, ended with {eof:?}, expected {end:?}",
            expected.len()
        ));
    }
    Ok(expected)
}

/// The frames of `stream` under `max`, and how it ends: cleanly, truncated, or with a frame
/// too large.
fn reference(stream: &[u8], max: usize) -> (Vec<&[u8]>, Result<(), FrameError>) {
    let mut frames = Vec::new();
    let mut rest = stream;
    while let Some(header) = rest.first_chunk::<HEADER_LEN>() {
        let len = u32::from_le_bytes(*header) as usize;
        if len > max {
            return (frames, Err(FrameError::TooLarge { len, max }));
        }
        let Some(payload) = rest.get(HEADER_LEN..HEADER_LEN + len) else {
            break;
        };
        frames.push(payload);
        rest = &rest[HEADER_LEN + len..];
    }
    let end = if rest.is_empty() {
        Ok(())
    } else {
        Err(FrameError::Truncated { buffered: rest.len() })
    };
    (frames, end)
}

/// A cheap hash of the input: the chunk sizes and the limit depend on it, so a replayed input
/// is split the same way.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64 ^ bytes.len() as u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}
