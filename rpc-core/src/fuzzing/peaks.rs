//! What a decode may hold at its peak, checked with a counting allocator that the harness
//! installs (a library cannot): the budget, a small fixed slack, and the text outside values
//! that is not charged (see [`peak_allowance`]).

use super::Case;
use crate::connection::opening;
use crate::protocol::{decode_in, DecodeError, Message, PRE_HANDSHAKE_MAX_FRAME};
use crate::value::DecodeLimits;

/// Room a decode may take past its budget for what it holds by design outside it: the text of
/// a failed decode's error, a hello's names (at most 33 of 256 bytes, about 8 KiB), a pooled
/// argument vector's room beyond what it was paid for (at most 16 values).
pub const PEAK_SLACK: usize = 64 << 10;

/// Message tags of the kinds whose text outside values is copied without being charged to the
/// budget: the owned form's member names (`Request`, `Batch`; no longer than the frame, and the
/// connection's reader borrows them instead). An error's text and a close's reason are charged.
/// (A hello's names are not charged either, but they are bounded: at most 33 of 256 bytes,
/// well within [`PEAK_SLACK`].)
const TEXT_OWNED: &[u8] = &[1, 2];
const TEXT_BORROWED: &[u8] = &[];

/// The most a decode of `bytes` under `limits` may hold at its peak, in bytes: the budget,
/// [`PEAK_SLACK`], and, for the kinds whose text outside values is not charged (the owned
/// form's `Request` and `Batch`), the length of `bytes` (that text is
/// copied once, and is no longer than the frame). `borrowed` is for [`decode_borrowed`], else
/// [`Message::decode_with`].
pub fn peak_allowance(bytes: &[u8], limits: DecodeLimits, borrowed: bool) -> usize {
    let text_kinds = if borrowed { TEXT_BORROWED } else { TEXT_OWNED };
    let text = match bytes.first() {
        Some(tag) if text_kinds.contains(tag) => bytes.len(),
        _ => 0,
    };
    limits
        .max_decoded_size
        .saturating_add(PEAK_SLACK)
        .saturating_add(text)
}

/// Decodes `bytes` as the connection's reader does (borrowing from them) and drops the
/// message: whether the budget ran out inside a value, or the error.
pub fn decode_borrowed(bytes: &[u8], limits: DecodeLimits) -> Result<bool, DecodeError> {
    decode_in(bytes, limits).map(|d| d.over)
}

/// What the decodes of one case held at their peak, in bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Peaks {
    /// [`Message::decode_with`].
    pub owned: usize,
    /// [`decode_borrowed`].
    pub borrowed: usize,
    /// The handshake's first-message decoder (budget [`PRE_HANDSHAKE_MAX_FRAME`]).
    pub opening: usize,
}

/// Runs each decoder on the case's bytes under `measure` (which runs what it is given and
/// returns the peak growth of live heap bytes while it ran) and checks each peak against
/// [`peak_allowance`].
pub fn check_peaks(case: &Case, mut measure: impl FnMut(&mut dyn FnMut()) -> usize) -> Result<Peaks, String> {
    let bytes = &case.bytes[..];
    let peaks = Peaks {
        owned: measure(&mut || drop(Message::decode_with(bytes, case.limits))),
        borrowed: measure(&mut || drop(decode_borrowed(bytes, case.limits))),
        opening: measure(&mut || drop(opening(bytes))),
    };
    let handshake = DecodeLimits {
        max_depth: 1,
        max_decoded_size: PRE_HANDSHAKE_MAX_FRAME,
    };
    for (what, peak, allowed) in [
        ("owned", peaks.owned, peak_allowance(bytes, case.limits, false)),
        (
            "borrowed",
            peaks.borrowed,
            peak_allowance(bytes, case.limits, true),
        ),
        ("opening", peaks.opening, peak_allowance(bytes, handshake, false)),
    ] {
        if peak > allowed {
            return Err(format!(
                "the {what} decode of {} bytes ({}) held {peak} bytes at its peak, over {allowed}",
                bytes.len(),
                case.shape
            ));
        }
    }
    Ok(peaks)
}
