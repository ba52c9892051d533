//! Entry points for fuzz harnesses: every decoder a peer reaches, run on one input, with the
//! invariants that tie them together. Not part of the API: the harnesses are
//! `rpc-core/tests/it/fuzz.rs` and `rpc-core/tests/budget.rs` (short runs, part of the tests),
//! `benches/fuzz.rs` (`cargo bench --bench fuzz`, millions of inputs) and `fuzz/` (AFL++).
//!
//! * [`case()`] draws an input from a [`Source`] (a seed, or a coverage-guided fuzzer's bytes):
//!   a valid message built from arbitrary parts, its encoding mutated byte by byte, a stream of
//!   frames, a frame built to amplify, a hello over its bounds, or raw bytes.
//! * [`check`] round-trips the case's message ([`round_trip()`]) and runs every decoder on its
//!   bytes ([`decode_all`]); a broken invariant is an `Err` naming it, a decoder's panic is a
//!   panic.
//! * [`check_peaks`] measures what each decode holds at its peak with the harness's counting
//!   allocator, against [`peak_allowance`]: the budget and a small fixed slack.

mod amplify;
mod case;
mod forms;
mod frames;
mod generate;
mod mutate;
mod opening;
mod peaks;
mod round_trip;
mod source;

pub use amplify::{amplifier, limits, BUDGETS};
pub use case::{case, Case};
pub use generate::{hello, message};
pub use mutate::mutate;
pub use peaks::{check_peaks, decode_borrowed, peak_allowance, Peaks, PEAK_SLACK};
pub use round_trip::round_trip;
pub use source::Source;

use crate::protocol::PREAMBLE_LEN;
use crate::value::DecodeLimits;

/// Frames of one input whose payloads go through the message decoders.
const FRAMES_DECODED: usize = 16;

/// What the decoders made of one input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whole frames the splitter found.
    pub frames: usize,
    /// The input, as one frame's payload, decoded as a message.
    pub decoded: bool,
    /// The borrowing form ran out of budget inside a value (and skipped the rest).
    pub over: bool,
    /// The input, or one of its frames, was accepted as an opening hello.
    pub hello: bool,
}

/// Runs every decoder on `bytes`: the preamble at their start; the frame splitter on what
/// follows it (a preamble, or everything), fed in chunks of random sizes; the first-message
/// decoder and both forms of the message decoder (under `limits`) on the first 16 whole
/// frames and on all of `bytes` as one payload. `Err` names the first invariant broken.
pub fn decode_all(bytes: &[u8], limits: DecodeLimits) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    let stream = if opening::preamble(bytes)? {
        &bytes[PREAMBLE_LEN..]
    } else {
        bytes
    };
    let frames = frames::split(stream)?;
    outcome.frames = frames.len();
    // The message decoders see the first few frames (an amplifying frame of zeros splits
    // into thousands of empty ones), then all of the input as one payload.
    for payload in frames.into_iter().take(FRAMES_DECODED).chain([bytes]) {
        outcome.hello |= opening::first_message(payload).map_err(|e| format!("opening: {e}"))?;
        let forms = forms::compare(payload, limits)?;
        (outcome.decoded, outcome.over) = (forms.decoded, forms.over);
    }
    Ok(outcome)
}

/// Checks one case: its message round-trips, and every decoder passes [`decode_all`].
pub fn check(case: &Case) -> Result<Outcome, String> {
    if let Some(msg) = &case.message {
        round_trip(msg).map_err(|e| format!("round trip: {e}"))?;
    }
    decode_all(&case.bytes, case.limits)
}
