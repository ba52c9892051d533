//! Valid messages built from arbitrary parts: every kind, values nested up to the depth limit,
//! byte values large enough to be spilled, hellos at their bounds.

use super::Source;
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{Hello, Message, Op, Request, MAX_ALIASES, MAX_NAME_LEN};
use crate::spill::SPILL_MIN;
use crate::value::{Value, DEFAULT_MAX_DEPTH};

/// Characters of one to four bytes in UTF-8, so that byte lengths and character counts differ.
const CHARS: &[char] = &[
    'a', 'Z', '0', ' ', '\0', '\u{7f}', 'é', 'ß', '€', '\u{ffff}', '😀',
];

/// Numbers at the edges of their encodings (varint byte boundaries, signs, extremes).
const EDGES: &[u64] = &[0, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, 1 << 63, u64::MAX];

/// A valid message of any kind.
pub fn message(src: &mut Source<'_>) -> Message {
    match src.below(16) {
        0..=3 => Message::Request(request(src)),
        4..=5 => Message::Batch((0..batch_len(src)).map(|_| request(src)).collect()),
        6..=8 => Message::Reply {
            seq: number(src),
            value: value(src, 0),
        },
        9 => Message::Error {
            seq: number(src),
            error: remote_error(src),
        },
        10 => {
            let max = if src.one_in(8) { 2000 } else { 8 };
            Message::Release {
                refs: (0..src.size(max)).map(|_| (number(src), number(src))).collect(),
            }
        }
        11 => Message::Cancel { seq: number(src) },
        12 => Message::Close {
            reason: (!src.one_in(3)).then(|| text(src, 300)),
        },
        _ => Message::Hello(hello(src, 0)),
    }
}

/// A hello near its bounds; `over` bytes are added to one name (or aliases to the list, when
/// `over` is not 0), making it one the decoder must refuse.
pub fn hello(src: &mut Source<'_>, over: usize) -> Hello {
    let near = |src: &mut Source<'_>| match src.below(4) {
        0 => MAX_NAME_LEN - src.below(3),
        1 => 0,
        _ => src.size(MAX_NAME_LEN),
    };
    let service_len = near(src);
    let mut hello = Hello {
        service: ascii(src, service_len),
        aliases: Vec::new(),
        features: number(src),
    };
    let aliases = if src.one_in(3) {
        MAX_ALIASES
    } else {
        src.size(MAX_ALIASES)
    };
    for _ in 0..aliases {
        let len = near(src);
        let alias = ascii(src, len);
        hello.aliases.push(alias);
    }
    if over > 0 {
        match src.below(3) {
            0 => hello.service = ascii(src, MAX_NAME_LEN + over),
            1 => hello.aliases.push(ascii(src, MAX_NAME_LEN + over)),
            _ => hello.aliases.resize(MAX_ALIASES + over, String::new()),
        }
    }
    hello
}

/// A request with an op of any kind and a few arguments.
fn request(src: &mut Source<'_>) -> Request {
    let name = text(src, 40);
    let op = match src.below(8) {
        0 => Op::Call(name),
        1 => Op::CallSelf,
        2 => Op::GetAttr(name),
        3 => Op::SetAttr(name),
        4 => Op::Describe,
        5 => Op::Display,
        6 => Op::Repr,
        _ => Op::Lookup(name),
    };
    Request {
        seq: number(src),
        target: number(src),
        op,
        args: (0..src.size(6)).map(|_| value(src, 0)).collect(),
        flags: src.byte(),
    }
}

/// How many requests a batch holds: a few, now and then many empty ones' worth.
fn batch_len(src: &mut Source<'_>) -> usize {
    if src.one_in(10) {
        src.size(300)
    } else {
        src.size(6)
    }
}

fn remote_error(src: &mut Source<'_>) -> RemoteError {
    let kind = src.pick(&[
        RemoteErrorKind::NotFound,
        RemoteErrorKind::BadArguments,
        RemoteErrorKind::Application,
        RemoteErrorKind::Panic,
        RemoteErrorKind::Refused,
        RemoteErrorKind::Cancelled,
    ]);
    let mut error = RemoteError::new(kind, text(src, 60), text(src, 200));
    error.causes = (0..src.size(6)).map(|_| text(src, 80)).collect();
    error
}

/// A value at nesting `depth`: scalars, strings, bytes (now and then spilled ones), sequences
/// and maps, and now and then a chain nested to the very limit.
pub fn value(src: &mut Source<'_>, depth: usize) -> Value {
    let room = DEFAULT_MAX_DEPTH - depth;
    match src.below(if room == 0 { 7 } else { 12 }) {
        0 => Value::Unit,
        1 => Value::Bool(src.one_in(2)),
        2 => Value::Int(number(src) as i64),
        3 => Value::UInt(number(src)),
        4 => Value::Float(float(src)),
        5 => Value::Str(text(src, 60)),
        6 => Value::Bytes(bytes(src)),
        7 | 8 => Value::Seq((0..src.size(5)).map(|_| value(src, depth + 1)).collect()),
        9 | 10 => Value::Map(
            (0..src.size(4))
                .map(|_| (value(src, depth + 1), value(src, depth + 1)))
                .collect(),
        ),
        _ if src.one_in(8) => chain(src, depth),
        _ => Value::Seq(Vec::new()),
    }
}

/// Single-element sequences and maps nested from `depth` down to the depth limit (or nearly).
fn chain(src: &mut Source<'_>, depth: usize) -> Value {
    let levels = DEFAULT_MAX_DEPTH - depth - src.below(3).min(DEFAULT_MAX_DEPTH - depth);
    let mut v = Value::Int(-1);
    for _ in 0..levels {
        v = if src.one_in(4) {
            Value::Map(vec![(Value::Unit, v)])
        } else {
            Value::Seq(vec![v])
        };
    }
    v
}

/// A number, often at an edge of its encoding.
fn number(src: &mut Source<'_>) -> u64 {
    if src.one_in(2) {
        src.pick(EDGES)
    } else {
        src.u64() >> src.below(64)
    }
}

/// A float that equals itself (no NaN), so that messages compare equal after a round trip.
fn float(src: &mut Source<'_>) -> f64 {
    let f = f64::from_bits(src.u64());
    if f.is_nan() {
        src.pick(&[0.0, -0.0, f64::INFINITY, f64::MIN_POSITIVE, 1.5])
    } else {
        f
    }
}

/// Up to `max` characters of one to four bytes.
fn text(src: &mut Source<'_>, max: usize) -> String {
    (0..src.size(max)).map(|_| src.pick(CHARS)).collect()
}

/// `len` ASCII letters.
fn ascii(src: &mut Source<'_>, len: usize) -> String {
    let c = char::from(b'a' + src.below(26) as u8);
    std::iter::repeat_n(c, len).collect()
}

/// Byte values: mostly small, now and then at or past the spill threshold.
fn bytes(src: &mut Source<'_>) -> Vec<u8> {
    let len = match src.below(40) {
        0 => SPILL_MIN + src.pick(&[0, 1, 100, SPILL_MIN]),
        1 => SPILL_MIN - 1,
        _ => src.size(64),
    };
    let fill = src.byte();
    let mut b = vec![fill; len];
    for _ in 0..src.size(8).min(len) {
        let i = src.below(len);
        b[i] = src.byte();
    }
    b
}
