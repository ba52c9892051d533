//! One input of the harness, drawn from a [`Source`]: a valid message, a mutated one, a stream
//! of frames, an amplifying frame, a hello over its bounds, or raw bytes.

use super::amplify::{amplifier, limits};
use super::generate::{hello, message};
use super::mutate::mutate;
use super::Source;
use crate::frame::{encode_frame, DEFAULT_MAX_FRAME_SIZE};
use crate::protocol::{Message, Preamble};
use crate::value::DecodeLimits;

/// One input of the harness.
#[derive(Debug, Clone)]
pub struct Case {
    /// The valid message the input was made from, to round-trip.
    pub message: Option<Message>,
    /// What every decoder is given.
    pub bytes: Vec<u8>,
    /// The limits the message decoders run under.
    pub limits: DecodeLimits,
    /// What kind of input this is, for reports.
    pub shape: &'static str,
}

/// Draws one case from `src`.
pub fn case(src: &mut Source<'_>) -> Case {
    let limits = limits(src);
    let mut case = Case {
        message: None,
        bytes: Vec::new(),
        limits,
        shape: "",
    };
    match src.below(32) {
        0..=7 => {
            let msg = message(src);
            case.bytes = encoded(&msg);
            case.message = Some(msg);
            case.shape = "valid message";
        }
        8..=18 => {
            let msg = message(src);
            let other = encoded(&message(src));
            case.bytes = encoded(&msg);
            mutate(&mut case.bytes, &other, src);
            case.message = Some(msg);
            case.shape = "mutated message";
        }
        19..=22 => {
            case.bytes = stream(src);
            case.shape = "stream of frames";
        }
        23..=25 => (case.bytes, case.shape) = amplifier(src),
        26..=27 => {
            let over = 1 + src.size(3);
            case.bytes = encoded(&Message::Hello(hello(src, over)));
            case.shape = "hello over its bounds";
        }
        _ => {
            case.bytes = src.bytes(256);
            case.shape = "raw bytes";
        }
    }
    case
}

/// The plain encoding of a generated message.
fn encoded(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    msg.encode_into(&mut out)
        .expect("generated messages encode: they hold no objects and nest within the limit");
    out
}

/// A connection's bytes: now and then a preamble, then a few framed messages (a hello first
/// now and then), mutated now and then (headers included), cut short now and then.
fn stream(src: &mut Source<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if src.one_in(2) {
        out.extend(Preamble::current().to_bytes());
    }
    for i in 0..1 + src.size(5) {
        let msg = if i == 0 && src.one_in(2) {
            Message::Hello(hello(src, 0))
        } else {
            message(src)
        };
        encode_frame(&mut out, DEFAULT_MAX_FRAME_SIZE, |o| msg.encode_into(o))
            .expect("generated messages encode")
            .expect("generated messages fit a frame");
    }
    if src.one_in(3) {
        let other = out.clone();
        mutate(&mut out, &other, src);
    }
    if src.one_in(4) {
        let cut = src.below(out.len() + 1);
        out.truncate(cut);
    }
    out
}
