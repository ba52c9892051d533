//! RPyC's channel framing: `u32` big-endian payload length, a one-byte compression flag, the
//! payload (zlib when the flag is set), and one trailing byte (`\n`) that readers drop.
//!
//! Python's rpyc enforces no frame size at all; here every frame is held to
//! [`FrameLimits`]: its length before anything is read, and its size after decompression
//! while it inflates (a zlib bomb stops at the cap, not at the end of memory).

use std::fmt;
use std::io::{Read, Write};

use bytes::{Buf, BytesMut};

/// Bytes before the payload: the length and the compression flag.
pub const HEADER_LEN: usize = 5;
/// The byte after each payload.
pub const TRAILER: u8 = b'\n';
/// Payloads longer than this are compressed when compression is on (Python's default).
pub const COMPRESSION_THRESHOLD: usize = 3000;

/// How large a peer's frames may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Most bytes of a payload as it travels (compressed or not).
    pub max_frame: usize,
    /// Most bytes of a payload after decompression.
    pub max_payload: usize,
}

impl Default for FrameLimits {
    /// 16 MiB each way, like the native protocol's default frame limit.
    fn default() -> Self {
        FrameLimits {
            max_frame: 16 << 20,
            max_payload: 16 << 20,
        }
    }
}

/// Why bytes are not an acceptable frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The announced length is over [`FrameLimits::max_frame`].
    TooLarge {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload inflates beyond [`FrameLimits::max_payload`].
    Inflated {
        /// The limit.
        max: usize,
    },
    /// The compressed payload is not zlib data.
    Corrupt(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "an rpyc frame of {len} bytes is over the limit of {max}")
            }
            FrameError::Inflated { max } => {
                write!(
                    f,
                    "an rpyc frame decompresses to more than the limit of {max} bytes"
                )
            }
            FrameError::Corrupt(why) => write!(f, "an rpyc frame's compressed payload is corrupt: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Appends the frame of `payload` to `out`, zlib-compressed (level 1, as Python does) when
/// `compress` is on and the payload is longer than [`COMPRESSION_THRESHOLD`].
pub fn encode_frame(payload: &[u8], compress: bool, out: &mut Vec<u8>) {
    if compress && payload.len() > COMPRESSION_THRESHOLD {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
        // Writing into a Vec cannot fail.
        if z.write_all(payload).is_ok() {
            if let Ok(packed) = z.finish() {
                push_frame(&packed, 1, out);
                return;
            }
        }
    }
    push_frame(payload, 0, out);
}

fn push_frame(payload: &[u8], flag: u8, out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(flag);
    out.extend_from_slice(payload);
    out.push(TRAILER);
}

/// Takes one whole frame off the front of `buf` and returns its payload (decompressed), or
/// `None` if `buf` does not hold a whole frame yet (nothing is taken, nothing is reserved
/// then). A length over the limit fails at once, before its bytes arrive.
pub fn decode_frame(buf: &mut BytesMut, limits: FrameLimits) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let len = usize::try_from(u32::from_be_bytes([header[0], header[1], header[2], header[3]]))
        .unwrap_or(usize::MAX);
    let compressed = header[4] != 0;
    if len > limits.max_frame {
        return Err(FrameError::TooLarge {
            len,
            max: limits.max_frame,
        });
    }
    if buf.len() < HEADER_LEN + len + 1 {
        // No room is reserved for the announced length: the reader's buffer grows as bytes
        // arrive, so a header alone costs the peer's claim nothing.
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    let raw = buf.split_to(len);
    buf.advance(1);
    if !compressed {
        if len > limits.max_payload {
            return Err(FrameError::Inflated {
                max: limits.max_payload,
            });
        }
        return Ok(Some(raw.to_vec()));
    }
    inflate(&raw, limits.max_payload).map(Some)
}

/// Decompresses a zlib payload, reading at most one byte past `max` to tell it is over.
pub fn inflate(packed: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    let z = flate2::read::ZlibDecoder::new(packed);
    let mut out = Vec::new();
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    z.take(cap)
        .read_to_end(&mut out)
        .map_err(|e| FrameError::Corrupt(e.to_string()))?;
    if out.len() > max {
        return Err(FrameError::Inflated { max });
    }
    Ok(out)
}

/// Which rpyc generation a stream's first bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// rpyc 6.x: the payload starts with the message kind (1, 2 or 3).
    V6,
    /// rpyc 5.x and older: the payload is one brine 3-tuple `(kind, seq, body)` (tag `0x12`).
    V5,
}

/// What a peer's first bytes say, if they are an rpyc frame: a length no larger than
/// `max_frame`, a flag of 0 or 1, and (uncompressed) a payload that starts like a message of
/// one of the two layouts. A compressed first frame is taken for 6.x. Needs six bytes.
pub fn sniff(first: &[u8], max_frame: usize) -> Option<Generation> {
    let [a, b, c, d, flag, kind, ..] = *first else {
        return None;
    };
    let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
    if len < 2 || len > max_frame {
        return None;
    }
    match (flag, kind) {
        (0, 1..=3) => Some(Generation::V6),
        (0, 0x12) => Some(Generation::V5),
        // A zlib stream's first byte (deflate, 32 KiB window) is 0x78.
        (1, 0x78) => Some(Generation::V6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getroot_frame_as_python_writes_it() {
        // The client's first frame of almost every session (PROTOCOL.md §1).
        let payload = [0x01, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02];
        let mut out = Vec::new();
        encode_frame(&payload, true, &mut out);
        let wire = [
            0, 0, 0, 8, 0, 0x01, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02, 0x0a,
        ];
        assert_eq!(out, wire);
        assert_eq!(sniff(&wire, 1 << 20), Some(Generation::V6));
        let mut buf = BytesMut::from(&wire[..]);
        let got = decode_frame(&mut buf, FrameLimits::default()).expect("decodes");
        assert_eq!(got.as_deref(), Some(&payload[..]));
        assert!(buf.is_empty());
    }

    #[test]
    fn large_payloads_are_compressed_and_come_back() {
        let payload = vec![b'x'; 5010];
        let mut out = Vec::new();
        encode_frame(&payload, true, &mut out);
        assert_eq!(out[4], 1);
        assert!(
            out.len() < 100,
            "5010 repeated bytes compress: {} bytes",
            out.len()
        );
        assert_eq!(sniff(&out, 1 << 20), Some(Generation::V6));
        let mut buf = BytesMut::from(&out[..]);
        let got = decode_frame(&mut buf, FrameLimits::default()).expect("decodes");
        assert_eq!(got, Some(payload));
    }

    #[test]
    fn partial_frames_wait_and_oversized_ones_fail_early() {
        let mut out = Vec::new();
        encode_frame(b"\x02\x11\x50\x00", false, &mut out);
        for end in 0..out.len() {
            let mut buf = BytesMut::from(&out[..end]);
            assert_eq!(decode_frame(&mut buf, FrameLimits::default()), Ok(None));
            assert_eq!(buf.len(), end, "nothing is taken from a partial frame");
        }
        let limits = FrameLimits {
            max_frame: 3,
            max_payload: 3,
        };
        let mut buf = BytesMut::from(&out[..HEADER_LEN]);
        assert_eq!(
            decode_frame(&mut buf, limits),
            Err(FrameError::TooLarge { len: 4, max: 3 })
        );
    }

    #[test]
    fn a_zlib_bomb_stops_at_the_cap() {
        let mut out = Vec::new();
        encode_frame(&vec![0u8; 1 << 20], true, &mut out);
        let limits = FrameLimits {
            max_frame: 1 << 20,
            max_payload: 64 << 10,
        };
        let mut buf = BytesMut::from(&out[..]);
        assert_eq!(
            decode_frame(&mut buf, limits),
            Err(FrameError::Inflated { max: 64 << 10 })
        );
        let mut bad = BytesMut::from(&[0, 0, 0, 3, 1, 0x78, 0x00, 0x00, b'\n'][..]);
        assert!(matches!(
            decode_frame(&mut bad, FrameLimits::default()),
            Err(FrameError::Corrupt(_))
        ));
    }

    #[test]
    fn sniff_tells_rpyc_from_other_openings() {
        assert_eq!(sniff(b"\x00RPC-RS\n", 1 << 24), None);
        assert_eq!(sniff(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01], 1 << 24), None);
        // rpyc 5.x: the payload is a brine 3-tuple.
        assert_eq!(sniff(&[0, 0, 0, 9, 0, 0x12], 1 << 24), Some(Generation::V5));
        assert_eq!(sniff(&[0, 0, 0, 9, 0], 1 << 24), None);
        assert_eq!(sniff(&[0, 0, 0, 9, 0, 0x04], 1 << 24), None);
    }

    #[test]
    fn an_announced_length_reserves_nothing_before_its_bytes() {
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(&[0, 0xf0, 0, 0, 0, 0x01]);
        let limits = FrameLimits {
            max_frame: 64 << 20,
            max_payload: 64 << 20,
        };
        assert_eq!(decode_frame(&mut buf, limits), Ok(None));
        assert!(buf.capacity() < 1024, "capacity {}", buf.capacity());
    }
}
