//! Brine, RPyC's value codec: immutable Python values (None, bools, ints, floats, complex,
//! bytes, str, tuples, slices, frozensets, `...`, `NotImplemented`).
//!
//! The encoder picks the shortest form exactly as Python's `rpyc.core.brine` does (immediate
//! ints for −48..=159, `STR1`..`STR4`, `TUP1`..`TUP4`), so its bytes equal a Python peer's.
//! The decoder is bounded: nesting depth, item counts and lengths are checked against the
//! input before anything is allocated, and ints beyond `i64` are kept as decimal text
//! ([`Brine::BigInt`]) rather than refused.

use std::fmt;

/// Tags of the brine encoding.
mod tag {
    pub const NONE: u8 = 0x00;
    pub const EMPTY_STR: u8 = 0x01;
    pub const EMPTY_TUPLE: u8 = 0x02;
    pub const TRUE: u8 = 0x03;
    pub const FALSE: u8 = 0x04;
    pub const NOT_IMPLEMENTED: u8 = 0x05;
    pub const ELLIPSIS: u8 = 0x06;
    pub const UNICODE: u8 = 0x08;
    pub const STR1: u8 = 0x0a;
    pub const STR4: u8 = 0x0d;
    pub const STR_L1: u8 = 0x0e;
    pub const STR_L4: u8 = 0x0f;
    pub const TUP1: u8 = 0x10;
    pub const TUP4: u8 = 0x13;
    pub const TUP_L1: u8 = 0x14;
    pub const TUP_L4: u8 = 0x15;
    pub const INT_L1: u8 = 0x16;
    pub const INT_L4: u8 = 0x17;
    pub const FLOAT: u8 = 0x18;
    pub const SLICE: u8 = 0x19;
    pub const FSET: u8 = 0x1a;
    pub const COMPLEX: u8 = 0x1b;
    /// The first immediate int: its value is the tag minus [`IMM_ZERO`].
    pub const IMM_FIRST: u8 = 0x20;
    pub const IMM_LAST: u8 = 0xef;
    pub const IMM_ZERO: i64 = 0x50;
}

/// Smallest and largest int brine writes as a one-byte immediate.
const IMM_MIN: i64 = tag::IMM_FIRST as i64 - tag::IMM_ZERO;
const IMM_MAX: i64 = tag::IMM_LAST as i64 - tag::IMM_ZERO;

/// Deepest nesting of tuples (slices and frozensets count) a decoded value may have.
pub const MAX_DEPTH: usize = 64;

/// Most digits of an int the decoder accepts (Python's own limit for int/str conversion).
pub const MAX_INT_DIGITS: usize = 4300;

/// A brine value: what RPyC sends by value.
#[derive(Debug, Clone, PartialEq)]
pub enum Brine {
    /// `None`.
    None,
    /// `True` or `False` (not an int on the wire).
    Bool(bool),
    /// An `int` that fits `i64`.
    Int(i64),
    /// An `int` beyond `i64`, as decimal text (an optional `-`, then digits).
    BigInt(String),
    /// A `float`.
    Float(f64),
    /// A `complex`: real and imaginary parts.
    Complex(f64, f64),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `str`.
    Str(String),
    /// A `tuple`.
    Tuple(Vec<Brine>),
    /// A `slice(start, stop, step)`.
    Slice(Box<[Brine; 3]>),
    /// A `frozenset`, in the order its items arrived.
    FrozenSet(Vec<Brine>),
    /// `Ellipsis` (`...`).
    Ellipsis,
    /// `NotImplemented`.
    NotImplemented,
}

impl Brine {
    /// A `str` value.
    pub fn str(s: impl Into<String>) -> Brine {
        Brine::Str(s.into())
    }

    /// The int, if this is one that fits `i64`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Brine::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, if this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Brine::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is a tuple.
    pub fn as_tuple(&self) -> Option<&[Brine]> {
        match self {
            Brine::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The Python name of this value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Brine::None => "NoneType",
            Brine::Bool(_) => "bool",
            Brine::Int(_) | Brine::BigInt(_) => "int",
            Brine::Float(_) => "float",
            Brine::Complex(..) => "complex",
            Brine::Bytes(_) => "bytes",
            Brine::Str(_) => "str",
            Brine::Tuple(_) => "tuple",
            Brine::Slice(_) => "slice",
            Brine::FrozenSet(_) => "frozenset",
            Brine::Ellipsis => "ellipsis",
            Brine::NotImplemented => "NotImplementedType",
        }
    }

    /// Appends this value's encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Brine::None => out.push(tag::NONE),
            Brine::Bool(true) => out.push(tag::TRUE),
            Brine::Bool(false) => out.push(tag::FALSE),
            Brine::Int(i) => encode_int(*i, out),
            Brine::BigInt(digits) => encode_digits(digits.as_bytes(), out),
            Brine::Float(f) => {
                out.push(tag::FLOAT);
                out.extend_from_slice(&f.to_be_bytes());
            }
            Brine::Complex(re, im) => {
                out.push(tag::COMPLEX);
                out.extend_from_slice(&re.to_be_bytes());
                out.extend_from_slice(&im.to_be_bytes());
            }
            Brine::Bytes(b) => encode_bytes(b, out),
            Brine::Str(s) => {
                out.push(tag::UNICODE);
                encode_bytes(s.as_bytes(), out);
            }
            Brine::Tuple(items) => encode_tuple(items, out),
            Brine::Slice(parts) => {
                out.push(tag::SLICE);
                encode_tuple(parts.as_slice(), out);
            }
            Brine::FrozenSet(items) => {
                out.push(tag::FSET);
                encode_tuple(items, out);
            }
            Brine::Ellipsis => out.push(tag::ELLIPSIS),
            Brine::NotImplemented => out.push(tag::NOT_IMPLEMENTED),
        }
    }

    /// This value's encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes one value that fills `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Brine, BrineError> {
        let mut reader = Reader { bytes, pos: 0 };
        let value = reader.value(0)?;
        if reader.pos != bytes.len() {
            return Err(BrineError::Trailing(bytes.len() - reader.pos));
        }
        Ok(value)
    }
}

impl From<i64> for Brine {
    fn from(i: i64) -> Brine {
        Brine::Int(i)
    }
}

impl From<&str> for Brine {
    fn from(s: &str) -> Brine {
        Brine::Str(s.to_owned())
    }
}

impl From<String> for Brine {
    fn from(s: String) -> Brine {
        Brine::Str(s)
    }
}

impl From<bool> for Brine {
    fn from(b: bool) -> Brine {
        Brine::Bool(b)
    }
}

impl From<Vec<Brine>> for Brine {
    fn from(items: Vec<Brine>) -> Brine {
        Brine::Tuple(items)
    }
}

fn encode_int(i: i64, out: &mut Vec<u8>) {
    if (IMM_MIN..=IMM_MAX).contains(&i) {
        // In range, so the sum is a tag in 0x20..=0xef.
        out.push(u8::try_from(i + tag::IMM_ZERO).unwrap_or(tag::IMM_FIRST));
    } else {
        encode_digits(i.to_string().as_bytes(), out);
    }
}

fn encode_digits(digits: &[u8], out: &mut Vec<u8>) {
    match u8::try_from(digits.len()) {
        Ok(n) => {
            out.push(tag::INT_L1);
            out.push(n);
        }
        Err(_) => {
            out.push(tag::INT_L4);
            out.extend_from_slice(&len_u32(digits.len()).to_be_bytes());
        }
    }
    out.extend_from_slice(digits);
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    let tags = [tag::EMPTY_STR, tag::STR1, tag::STR_L1, tag::STR_L4];
    encode_count(b.len(), tags, out);
    out.extend_from_slice(b);
}

fn encode_tuple(items: &[Brine], out: &mut Vec<u8>) {
    let tags = [tag::EMPTY_TUPLE, tag::TUP1, tag::TUP_L1, tag::TUP_L4];
    encode_count(items.len(), tags, out);
    for item in items {
        item.encode_into(out);
    }
}

/// The tag (and length) of a sequence of `n` items, shortest form first; `tags` are the
/// family's empty, one-item (then 2..=4 follow it), `u8`-count and `u32`-count tags.
fn encode_count(n: usize, [empty, one, l1, l4]: [u8; 4], out: &mut Vec<u8>) {
    match n {
        0 => out.push(empty),
        1..=4 => out.push(one + (n as u8 - 1)),
        _ => match u8::try_from(n) {
            Ok(n) => {
                out.push(l1);
                out.push(n);
            }
            Err(_) => {
                out.push(l4);
                out.extend_from_slice(&len_u32(n).to_be_bytes());
            }
        },
    }
}

/// A length as brine's `u32` (frames are far below 4 GiB; a larger one saturates, and the
/// peer's decoder then finds the input short).
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Why bytes are not a brine value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrineError {
    /// The input ended inside a value.
    Truncated,
    /// A tag no brine value starts with.
    UnknownTag(u8),
    /// Tuples nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// An int that is not decimal text, or longer than [`MAX_INT_DIGITS`].
    BadInt(String),
    /// A `str` whose bytes are not UTF-8, or a `str` tag not followed by bytes.
    BadStr,
    /// A slice that is not a 3-tuple, or a frozenset that is not a tuple.
    BadShape(&'static str),
    /// Bytes left after the value.
    Trailing(usize),
}

impl fmt::Display for BrineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrineError::Truncated => write!(f, "brine: the input ends inside a value"),
            BrineError::UnknownTag(t) => write!(f, "brine: unknown tag 0x{t:02x}"),
            BrineError::TooDeep => write!(f, "brine: values nested deeper than {MAX_DEPTH}"),
            BrineError::BadInt(why) => write!(f, "brine: bad int ({why})"),
            BrineError::BadStr => write!(f, "brine: a str that is not UTF-8 bytes"),
            BrineError::BadShape(what) => write!(f, "brine: malformed {what}"),
            BrineError::Trailing(n) => write!(f, "brine: {n} bytes after the value"),
        }
    }
}

impl std::error::Error for BrineError {}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BrineError> {
        let end = self.pos.checked_add(n).ok_or(BrineError::Truncated)?;
        let out = self.bytes.get(self.pos..end).ok_or(BrineError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, BrineError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<usize, BrineError> {
        let b = self.take(4)?;
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        usize::try_from(n).map_err(|_| BrineError::Truncated)
    }

    fn f64(&mut self) -> Result<f64, BrineError> {
        let b = self.take(8)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(b);
        Ok(f64::from_be_bytes(raw))
    }

    /// The bytes of a bytes value whose tag is `t`.
    fn bytes_of(&mut self, t: u8) -> Result<&'a [u8], BrineError> {
        match t {
            tag::EMPTY_STR => Ok(&[]),
            tag::STR1..=tag::STR4 => self.take(usize::from(t - tag::STR1) + 1),
            tag::STR_L1 => {
                let n = self.byte()?;
                self.take(usize::from(n))
            }
            tag::STR_L4 => {
                let n = self.u32()?;
                self.take(n)
            }
            _ => Err(BrineError::BadStr),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Brine, BrineError> {
        if depth > MAX_DEPTH {
            return Err(BrineError::TooDeep);
        }
        let t = self.byte()?;
        Ok(match t {
            tag::NONE => Brine::None,
            tag::TRUE => Brine::Bool(true),
            tag::FALSE => Brine::Bool(false),
            tag::NOT_IMPLEMENTED => Brine::NotImplemented,
            tag::ELLIPSIS => Brine::Ellipsis,
            tag::EMPTY_STR | tag::STR1..=tag::STR_L4 => Brine::Bytes(self.bytes_of(t)?.to_vec()),
            tag::UNICODE => {
                let inner = self.byte()?;
                let raw = self.bytes_of(inner)?;
                Brine::Str(String::from_utf8(raw.to_vec()).map_err(|_| BrineError::BadStr)?)
            }
            tag::EMPTY_TUPLE | tag::TUP1..=tag::TUP_L4 => Brine::Tuple(self.tuple_of(t, depth)?),
            tag::INT_L1 => {
                let n = self.byte()?;
                let digits = self.take(usize::from(n))?;
                int_from_digits(digits)?
            }
            tag::INT_L4 => {
                let n = self.u32()?;
                if n > MAX_INT_DIGITS + 1 {
                    return Err(BrineError::BadInt(format!("{n} digits")));
                }
                let digits = self.take(n)?;
                int_from_digits(digits)?
            }
            tag::FLOAT => Brine::Float(self.f64()?),
            tag::COMPLEX => Brine::Complex(self.f64()?, self.f64()?),
            tag::SLICE => {
                let t = self.byte()?;
                let parts = self.tuple_of(t, depth)?;
                let [start, stop, step]: [Brine; 3] =
                    parts.try_into().map_err(|_| BrineError::BadShape("slice"))?;
                Brine::Slice(Box::new([start, stop, step]))
            }
            tag::FSET => {
                let t = self.byte()?;
                Brine::FrozenSet(self.tuple_of(t, depth)?)
            }
            tag::IMM_FIRST..=tag::IMM_LAST => Brine::Int(i64::from(t) - tag::IMM_ZERO),
            other => return Err(BrineError::UnknownTag(other)),
        })
    }

    /// The items of a tuple whose tag is `t`. The count is checked against the bytes left
    /// (every item takes at least one), so a hostile count allocates nothing.
    fn tuple_of(&mut self, t: u8, depth: usize) -> Result<Vec<Brine>, BrineError> {
        let n = match t {
            tag::EMPTY_TUPLE => 0,
            tag::TUP1..=tag::TUP4 => usize::from(t - tag::TUP1) + 1,
            tag::TUP_L1 => usize::from(self.byte()?),
            tag::TUP_L4 => self.u32()?,
            _ => return Err(BrineError::BadShape("tuple")),
        };
        if n > self.bytes.len() - self.pos {
            return Err(BrineError::Truncated);
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(items)
    }
}

fn int_from_digits(digits: &[u8]) -> Result<Brine, BrineError> {
    let text = std::str::from_utf8(digits).map_err(|_| BrineError::BadInt("not ASCII".into()))?;
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BrineError::BadInt(format!("{text:?} is not decimal")));
    }
    if unsigned.len() > MAX_INT_DIGITS {
        return Err(BrineError::BadInt(format!("{} digits", unsigned.len())));
    }
    Ok(match text.parse::<i64>() {
        Ok(i) => Brine::Int(i),
        Err(_) => Brine::BigInt(text.to_owned()),
    })
}

#[cfg(test)]
mod tests;
