//! Frames built by hand to amplify: few bytes on the wire that would decode to many in memory
//! (a unit is one byte on the wire and a 32-byte value in memory), and small budgets to decode
//! them under.

use super::mutate::push_varint;
use super::Source;
use crate::protocol::tag;
use crate::value::{DecodeLimits, DEFAULT_MAX_DECODED_SIZE, DEFAULT_MAX_DEPTH};

/// Message tags on the wire, in the order of `Message`'s variants.
const REQUEST: u8 = 1;
const BATCH: u8 = 2;
const REPLY: u8 = 3;
const ERROR: u8 = 4;
const RELEASE: u8 = 5;

/// Value tags on the wire.
const UNIT: u8 = 0;
const STR: u8 = 5;
const BYTES: u8 = 6;
const SEQ: u8 = 7;
const MAP: u8 = 8;

/// The op tag of `CallSelf`, which has no name; `Call`'s is 0.
const CALL_SELF: u8 = 1;

/// Budgets to decode under, small enough that amplifying frames of a few KiB go past them.
pub const BUDGETS: &[usize] = &[4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];

/// Limits for one case: mostly a small budget, now and then the default one, or a small
/// nesting limit.
pub fn limits(src: &mut Source<'_>) -> DecodeLimits {
    DecodeLimits {
        max_depth: if src.one_in(8) {
            src.below(9)
        } else {
            DEFAULT_MAX_DEPTH
        },
        max_decoded_size: if src.one_in(8) {
            DEFAULT_MAX_DECODED_SIZE
        } else {
            src.pick(BUDGETS)
        },
    }
}

/// A frame's payload shaped to amplify, and the name of its shape.
pub fn amplifier(src: &mut Source<'_>) -> (Vec<u8>, &'static str) {
    // Mostly a few KiB (past the smaller budgets already), now and then past 1 MiB in memory.
    let most = if src.one_in(16) { 48 << 10 } else { 4 << 10 };
    let n = src.size(most) + src.below(64);
    let mut out = Vec::with_capacity(n * 4 + 16);
    let shape = match src.below(16) {
        0 => {
            reply_seq(&mut out, n);
            repeat(&mut out, &[UNIT], n, "units")
        }
        1 => {
            reply_seq(&mut out, n);
            repeat(&mut out, &[STR, 0], n, "empty strings")
        }
        2 => {
            reply_seq(&mut out, n);
            repeat(&mut out, &[MAP, 0], n, "empty maps")
        }
        3 => {
            reply_seq(&mut out, n);
            repeat(&mut out, &[MAP, 1, UNIT, UNIT], n, "one-pair maps")
        }
        4 => {
            reply_seq(&mut out, n);
            repeat(&mut out, &[SEQ, 1, UNIT], n, "one-element sequences")
        }
        5 => {
            out.extend([REPLY, 0, MAP]);
            push_varint(&mut out, n as u64);
            repeat(&mut out, &[UNIT, UNIT], n, "pairs of units")
        }
        6 => {
            out.push(BATCH);
            push_varint(&mut out, n as u64);
            // seq 0, target 0, CallSelf, no arguments, flags 0.
            repeat(&mut out, &[0, 0, CALL_SELF, 0, 0], n, "empty requests")
        }
        7 => {
            out.extend([REQUEST, 0, 0, CALL_SELF]);
            push_varint(&mut out, n as u64);
            repeat(&mut out, &[UNIT], n, "unit arguments");
            out.push(0);
            "unit arguments"
        }
        8 => {
            out.push(RELEASE);
            push_varint(&mut out, n as u64);
            repeat(&mut out, &[0, 0], n, "releases")
        }
        9 => {
            // kind 0, empty type name and message, then `n` empty causes.
            out.extend([ERROR, 0, 0, 0, 0]);
            push_varint(&mut out, n as u64);
            repeat(&mut out, &[0], n, "empty causes")
        }
        10 => {
            let depth = DEFAULT_MAX_DEPTH + src.below(3);
            out.extend([REPLY, 0]);
            repeat(&mut out, &[SEQ, 1], depth, "");
            out.push(UNIT);
            "sequences nested to the depth limit"
        }
        11 => {
            // Each level announces 1024 entries, the first being the next level, and enough
            // bytes follow for the announcement to be believed: every level's room is taken at
            // once, before the frame turns out to hold far fewer entries.
            out.extend([REPLY, 0]);
            let tag = src.pick(&[SEQ, MAP]);
            for _ in 0..DEFAULT_MAX_DEPTH {
                out.push(tag);
                push_varint(&mut out, 1024);
            }
            repeat(&mut out, &[UNIT], 2048, "nested lengths announced, not there")
        }
        12 => long_text(&mut out, n.max(src.pick(&[0, 256 << 10])), src),
        13 => {
            // One string or byte value (in a sequence, now and then) longer than the budget.
            out.extend([REPLY, 0]);
            if src.one_in(2) {
                out.extend([SEQ, 1]);
            }
            out.push(src.pick(&[STR, BYTES]));
            let len = n * 64;
            push_varint(&mut out, len as u64);
            out.resize(out.len() + len, b'x');
            "a long string or byte value"
        }
        14 => {
            out.extend([REQUEST, 0, 0, CALL_SELF]);
            push_varint(&mut out, n as u64);
            repeat(&mut out, &[SEQ, 0], n, "");
            out.push(0);
            "empty sequences as arguments"
        }
        _ => {
            out.push(BATCH);
            push_varint(&mut out, n as u64);
            // seq 0, target 0, CallSelf, one unit argument, flags 0.
            repeat(
                &mut out,
                &[0, 0, CALL_SELF, 1, UNIT, 0],
                n,
                "requests of one argument",
            )
        }
    };
    (out, shape)
}

/// The start of a reply whose value is a sequence of `n` values.
fn reply_seq(out: &mut Vec<u8>, n: usize) {
    out.extend([REPLY, 0, SEQ]);
    push_varint(out, n as u64);
}

/// Appends `n` copies of `unit` and returns `shape`.
fn repeat(out: &mut Vec<u8>, unit: &[u8], n: usize, shape: &'static str) -> &'static str {
    for _ in 0..n {
        out.extend_from_slice(unit);
    }
    shape
}

/// Text outside values, `n` bytes of it: a close's reason, an error's message or causes, a
/// call's member name.
fn long_text(out: &mut Vec<u8>, n: usize, src: &mut Source<'_>) -> &'static str {
    let text = |out: &mut Vec<u8>, len: usize| {
        push_varint(out, len as u64);
        out.resize(out.len() + len, b'x');
    };
    match src.below(4) {
        0 => {
            out.extend([tag::CLOSE, 1]);
            text(out, n);
            "a long close reason"
        }
        1 => {
            out.extend([ERROR, 0, 0]);
            text(out, 0);
            text(out, n);
            out.push(0);
            "a long error message"
        }
        2 => {
            out.extend([ERROR, 0, 0, 0, 0]);
            let count = n / 16;
            push_varint(out, count as u64);
            for _ in 0..count {
                text(out, 15);
            }
            "many short error causes"
        }
        _ => {
            out.extend([REQUEST, 0, 0, 0]);
            text(out, n);
            out.extend([0, 0]);
            "a long member name"
        }
    }
}
