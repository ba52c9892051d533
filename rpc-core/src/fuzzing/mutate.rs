//! Byte-level mutations of an encoding: flipped bits, truncation, splices, repeated chunks,
//! and edits of length prefixes (postcard varints, frame headers) that announce huge lengths.

use super::Source;

/// Values written over a byte.
const BYTES: &[u8] = &[0, 1, 2, 7, 8, 0x7f, 0x80, 0xfe, 0xff];

/// Applies one to four mutations to `bytes`; a splice takes its bytes from `other`.
pub fn mutate(bytes: &mut Vec<u8>, other: &[u8], src: &mut Source<'_>) {
    for _ in 0..=src.below(4) {
        let at = src.below(bytes.len() + 1);
        match src.below(10) {
            0 if !bytes.is_empty() => {
                let i = src.below(bytes.len());
                bytes[i] ^= 1 << src.below(8);
            }
            1 if !bytes.is_empty() => {
                let i = src.below(bytes.len());
                bytes[i] = src.pick(BYTES);
            }
            2 => bytes.truncate(at),
            3 => {
                let end = at + src.size(bytes.len() - at);
                bytes.drain(at..end);
            }
            4 => {
                let start = src.below(other.len() + 1);
                let end = start + src.size(other.len() - start);
                let cut = at + src.size(bytes.len() - at);
                bytes.splice(at..cut, other[start..end].iter().copied());
            }
            5 => {
                let end = at + src.size(16.min(bytes.len() - at));
                let chunk = bytes[at..end].to_vec();
                let most = if src.one_in(16) { 4096 } else { 8 };
                let times = src.size(most);
                bytes.splice(at..at, chunk.iter().copied().cycle().take(chunk.len() * times));
            }
            6 | 7 => edit_varint(bytes, at, src),
            8 => {
                let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                let len = src.pick(&[0, 1, n.saturating_sub(5), n, n.wrapping_add(1), 1 << 20, u32::MAX]);
                bytes.splice(at..(at + 4).min(bytes.len()), len.to_le_bytes());
            }
            _ => {
                let extra = src.bytes(8);
                bytes.splice(at..at, extra);
            }
        }
    }
}

/// Replaces the varint at `at` (or inserts one) by a nearby or a huge value.
fn edit_varint(bytes: &mut Vec<u8>, at: usize, src: &mut Source<'_>) {
    let (old, len) = read_varint(&bytes[at..]);
    let rest = (bytes.len() - at) as u64;
    let new = match src.below(7) {
        0 => old.wrapping_add(1),
        1 => old.wrapping_sub(1),
        2 => old.wrapping_mul(2),
        3 => rest,
        4 => u32::MAX as u64,
        5 => u64::MAX,
        _ => 1 << src.below(40),
    };
    bytes.splice(at..at + len, write_varint(new));
}

/// The postcard varint at the start of `bytes` and its length (0 and 0 if there is none).
fn read_varint(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f).wrapping_shl(7 * i as u32);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (0, 0)
}

/// `value` as a postcard varint.
fn write_varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let b = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// Appends `value` as a postcard varint (for inputs built by hand).
pub(super) fn push_varint(out: &mut Vec<u8>, value: u64) {
    out.extend(write_varint(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_read_back() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let bytes = write_varint(v);
            assert_eq!(read_varint(&bytes), (v, bytes.len()));
        }
    }
}
