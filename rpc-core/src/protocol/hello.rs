//! The opening of a connection: the fixed [`Preamble`], then one [`Hello`] from each side.
//!
//! Before its hello a peer is a stranger: it gets a frame of at most
//! [`PRE_HANDSHAKE_MAX_FRAME`] bytes, and the hello's fields are bounded ([`MAX_NAME_LEN`],
//! [`MAX_ALIASES`]) as they are decoded, so an idle connection never holds more than a small
//! hello.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::value::budget::{self, LimitHit};

/// The magic bytes that start every connection.
pub const MAGIC: [u8; 8] = *b"\x00RPC-RS\n";

/// The version of this wire protocol. Peers of different versions refuse each other.
///
/// Version 3 added [`Op::Lookup`](crate::protocol::Op::Lookup) (named objects).
pub const PROTOCOL_VERSION: u32 = 3;

/// Length of the [`Preamble`] on the wire.
pub const PREAMBLE_LEN: usize = 12;

/// Largest frame accepted before the handshake is done: the peer's hello (or a refusal).
pub const PRE_HANDSHAKE_MAX_FRAME: usize = 64 * 1024;

/// Longest service name (and alias) a hello may carry, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Most aliases a hello may carry.
pub const MAX_ALIASES: usize = 32;

/// The fixed bytes each side sends first: [`MAGIC`] and a little-endian `u32` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    /// The protocol version the sender speaks.
    pub version: u32,
}

impl Preamble {
    /// The preamble of this build.
    pub fn current() -> Self {
        Preamble {
            version: PROTOCOL_VERSION,
        }
    }

    /// The bytes on the wire.
    pub fn to_bytes(self) -> [u8; PREAMBLE_LEN] {
        let mut out = [0; PREAMBLE_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8..].copy_from_slice(&self.version.to_le_bytes());
        out
    }

    /// Parses the peer's preamble; `None` if the magic bytes are wrong.
    pub fn parse(bytes: &[u8; PREAMBLE_LEN]) -> Option<Self> {
        if bytes[..8] != MAGIC {
            return None;
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        Some(Preamble { version })
    }
}

/// The first message of each side. Its fields are bounded when decoded: a name of at most
/// [`MAX_NAME_LEN`] bytes, at most [`MAX_ALIASES`] aliases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The name of the sender's root service.
    #[serde(deserialize_with = "bounded_name")]
    pub service: String,
    /// Other names the root service answers to.
    #[serde(deserialize_with = "bounded_aliases")]
    pub aliases: Vec<String>,
    /// The optional protocol features the sender understands: bits of [`feature`].
    pub features: u64,
}

/// Bits of [`Hello::features`]: optional parts of the protocol. Each side uses a feature
/// towards the other only if the other's hello has its bit, so a peer from before a feature
/// still works with one after it; a side that *requires* a feature refuses a peer without it
/// by name ([`names`](feature::names)).
pub mod feature {
    /// Answers [`Message::Ping`](crate::protocol::Message::Ping) with a pong (keepalive).
    pub const KEEPALIVE: u64 = 1 << 0;
    /// Understands [`Message::Closing`](crate::protocol::Message::Closing), the notice of a
    /// graceful shutdown.
    pub const CLOSING: u64 = 1 << 1;
    /// Every feature this build understands: what its hello says.
    pub const SUPPORTED: u64 = KEEPALIVE | CLOSING;

    /// The names of the features in `bits` (unknown bits by number), for errors.
    pub fn names(bits: u64) -> Vec<String> {
        (0..64)
            .map(|i| 1u64 << i)
            .filter(|bit| bits & bit != 0)
            .map(|bit| match bit {
                KEEPALIVE => "keepalive".to_owned(),
                CLOSING => "closing notice".to_owned(),
                other => format!("feature bit {}", other.trailing_zeros()),
            })
            .collect()
    }
}

/// A name of at most [`MAX_NAME_LEN`] bytes, checked before it is copied.
struct Name;

impl Visitor<'_> for Name {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a name of at most {MAX_NAME_LEN} bytes")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
        if s.len() > MAX_NAME_LEN {
            return Err(budget::fail(LimitHit::Field(format!(
                "a name of {} bytes in the hello (at most {MAX_NAME_LEN})",
                s.len()
            ))));
        }
        Ok(s.to_owned())
    }
}

impl<'de> de::DeserializeSeed<'de> for Name {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

fn bounded_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(Name)
}

/// At most [`MAX_ALIASES`] names, refused as soon as one too many arrives.
struct Aliases;

impl<'de> Visitor<'de> for Aliases {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at most {MAX_ALIASES} aliases")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let announced = seq.size_hint().unwrap_or(0);
        if announced > MAX_ALIASES {
            return Err(budget::fail(LimitHit::Field(format!(
                "{announced} aliases in the hello (at most {MAX_ALIASES})"
            ))));
        }
        let mut out = Vec::with_capacity(announced);
        while let Some(alias) = seq.next_element_seed(Name)? {
            if out.len() == MAX_ALIASES {
                return Err(budget::fail(LimitHit::Field(format!(
                    "more than {MAX_ALIASES} aliases in the hello"
                ))));
            }
            out.push(alias);
        }
        Ok(out)
    }
}

fn bounded_aliases<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_seq(Aliases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{DecodeError, Message};

    fn encoded(hello: Hello) -> Vec<u8> {
        let mut buf = Vec::new();
        Message::Hello(hello).encode_into(&mut buf).expect("encode");
        buf
    }

    #[test]
    fn preamble_round_trip_and_garbage() {
        let p = Preamble::current();
        assert_eq!(Preamble::parse(&p.to_bytes()), Some(p));
        assert_eq!(Preamble::parse(b"GET / HTTP/1"), None);
    }

    #[test]
    fn a_hello_within_bounds_round_trips() {
        let hello = Hello {
            service: "S".repeat(MAX_NAME_LEN),
            aliases: vec!["A".repeat(MAX_NAME_LEN); MAX_ALIASES],
            features: 1,
        };
        assert_eq!(
            Message::decode(&encoded(hello.clone())).expect("decode"),
            Message::Hello(hello)
        );
    }

    #[test]
    fn a_hello_over_its_bounds_is_refused_with_the_reason() {
        let long_name = Hello {
            service: "S".repeat(MAX_NAME_LEN + 1),
            aliases: vec![],
            features: 0,
        };
        let many = Hello {
            service: "S".into(),
            aliases: vec![String::new(); 100_000],
            features: 0,
        };
        let long_alias = Hello {
            service: "S".into(),
            aliases: vec!["A".repeat(MAX_NAME_LEN + 1)],
            features: 0,
        };
        for (hello, needle) in [
            (long_name, "name of 257 bytes"),
            (many, "100000 aliases"),
            (long_alias, "name of 257 bytes"),
        ] {
            match Message::decode(&encoded(hello)) {
                Err(DecodeError::Limit(what)) => assert!(what.contains(needle), "{what}"),
                other => panic!("expected a limit error naming {needle:?}, got {other:?}"),
            }
        }
    }
}
