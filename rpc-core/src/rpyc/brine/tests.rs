//! Golden bytes from real rpyc 6.0.2 sessions (the founders' traces, `05-kwargs-and-types`
//! and `12-exception-builtin`), and the decoder's bounds.

use super::*;

/// Hex text ("00 03 4f") to bytes.
fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test hex"))
        .collect()
}

/// Trace 05: the tuple of one value of every brine type, as Python sent it back.
const EVERY_TYPE: &str = "14 10 00 03 04 4f ef 16 03 31 36 30 16 16 31 31 38 30 35 39 31 36 \
    32 30 37 31 37 34 31 31 33 30 33 34 32 34 18 3f f8 00 00 00 00 00 00 1b 00 00 00 00 00 00 \
    00 00 40 00 00 00 00 00 00 00 0b 61 62 08 0c 68 c3 a9 19 12 51 00 52 1a 10 53 06 05 02";

fn every_type() -> Brine {
    Brine::Tuple(vec![
        Brine::None,
        Brine::Bool(true),
        Brine::Bool(false),
        Brine::Int(-1),
        Brine::Int(159),
        Brine::Int(160),
        Brine::BigInt("1180591620717411303424".into()),
        Brine::Float(1.5),
        Brine::Complex(0.0, 2.0),
        Brine::Bytes(b"ab".to_vec()),
        Brine::str("hé"),
        Brine::Slice(Box::new([Brine::Int(1), Brine::None, Brine::Int(2)])),
        Brine::FrozenSet(vec![Brine::Int(3)]),
        Brine::Ellipsis,
        Brine::NotImplemented,
        Brine::Tuple(vec![]),
    ])
}

#[test]
fn every_type_decodes_and_encodes_as_python_wrote_it() {
    let wire = hex(EVERY_TYPE);
    assert_eq!(Brine::decode(&wire).expect("decodes"), every_type());
    assert_eq!(every_type().encode(), wire);
}

#[test]
fn a_call_message_body_matches_the_trace() {
    // Trace 12: REPLY seq 2 to a ping: (2, (1, b'MARK')), after the MSG byte.
    let body = Brine::Tuple(vec![
        Brine::Int(2),
        Brine::Tuple(vec![Brine::Int(1), Brine::Bytes(b"MARK".to_vec())]),
    ]);
    assert_eq!(body.encode(), hex("11 52 11 51 0d 4d 41 52 4b"));
    // Trace 12: the id pack of a bound method, as the server sent it.
    let id_pack = Brine::Tuple(vec![
        Brine::str("builtins.method"),
        Brine::Int(140060058227392),
        Brine::Int(140060037258560),
    ]);
    let wire = hex(
        "12 08 0e 0f 62 75 69 6c 74 69 6e 73 2e 6d 65 74 68 6f 64 16 0f 31 34 30 30 36 30 30 35 38 \
         32 32 37 33 39 32 16 0f 31 34 30 30 36 30 30 33 37 32 35 38 35 36 30",
    );
    assert_eq!(id_pack.encode(), wire);
    assert_eq!(Brine::decode(&wire).expect("decodes"), id_pack);
}

#[test]
fn shortest_forms_at_every_boundary() {
    assert_eq!(Brine::Int(-48).encode(), [0x20]);
    assert_eq!(Brine::Int(0).encode(), [0x50]);
    assert_eq!(Brine::Int(-49).encode(), hex("16 03 2d 34 39"));
    assert_eq!(Brine::Bytes(vec![]).encode(), [0x01]);
    assert_eq!(Brine::Bytes(vec![7; 4]).encode(), hex("0d 07 07 07 07"));
    assert_eq!(Brine::Bytes(vec![7; 5]).encode()[..2], [0x0e, 5]);
    assert_eq!(Brine::Bytes(vec![7; 256]).encode()[..5], [0x0f, 0, 0, 1, 0]);
    assert_eq!(Brine::Tuple(vec![Brine::None; 4]).encode()[0], 0x13);
    assert_eq!(Brine::Tuple(vec![Brine::None; 5]).encode()[..2], [0x14, 5]);
    assert_eq!(
        Brine::Tuple(vec![Brine::None; 256]).encode()[..5],
        [0x15, 0, 0, 1, 0]
    );
    assert_eq!(Brine::str("").encode(), [0x08, 0x01]);
    for value in [i64::MIN, i64::MAX, -1_000_000, 1 << 40] {
        let encoded = Brine::Int(value).encode();
        assert_eq!(Brine::decode(&encoded), Ok(Brine::Int(value)));
    }
    let long = Brine::BigInt(format!("-{}", "9".repeat(300)));
    assert_eq!(long.encode()[0], 0x17);
    assert_eq!(Brine::decode(&long.encode()), Ok(long));
}

#[test]
fn hostile_input_is_refused_without_allocating() {
    // A tuple claiming 4 billion items in a 5-byte input.
    assert_eq!(Brine::decode(&hex("15 ff ff ff ff")), Err(BrineError::Truncated));
    // Bytes claiming 4 GiB.
    assert_eq!(
        Brine::decode(&hex("0f ff ff ff ff 00")),
        Err(BrineError::Truncated)
    );
    // An int of a million digits.
    assert!(matches!(
        Brine::decode(&hex("17 00 0f 42 40")),
        Err(BrineError::BadInt(_))
    ));
    // Tuples nested deeper than the limit.
    let mut deep = vec![0x10; MAX_DEPTH + 2];
    deep.push(0x00);
    assert_eq!(Brine::decode(&deep), Err(BrineError::TooDeep));
    assert_eq!(Brine::decode(&[0xf0]), Err(BrineError::UnknownTag(0xf0)));
    assert_eq!(Brine::decode(&[0x07]), Err(BrineError::UnknownTag(0x07)));
    assert_eq!(
        Brine::decode(&hex("16 02 31 78")),
        Err(BrineError::BadInt("\"1x\" is not decimal".into()))
    );
    assert_eq!(Brine::decode(&hex("08 0a ff")), Err(BrineError::BadStr));
    assert_eq!(Brine::decode(&hex("08 50")), Err(BrineError::BadStr));
    assert_eq!(
        Brine::decode(&hex("19 11 50 50")),
        Err(BrineError::BadShape("slice"))
    );
    assert_eq!(Brine::decode(&hex("00 00")), Err(BrineError::Trailing(1)));
    assert_eq!(Brine::decode(&[]), Err(BrineError::Truncated));
}

#[test]
fn every_prefix_of_a_value_is_truncated_not_a_panic() {
    let wire = hex(EVERY_TYPE);
    for end in 0..wire.len() {
        assert!(Brine::decode(&wire[..end]).is_err(), "prefix of {end} bytes");
    }
}

/// A small deterministic generator (xorshift64*), so the property tests need no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A random brine value, nested at most `depth` more levels.
    fn value(&mut self, depth: u32) -> Brine {
        let kinds = if depth == 0 { 9 } else { 12 };
        match self.below(kinds) {
            0 => Brine::None,
            1 => Brine::Bool(self.below(2) == 0),
            2 => Brine::Int(self.next() as i64 >> self.below(64)),
            3 => Brine::BigInt(format!("-{}", "7".repeat(20 + self.below(40) as usize))),
            4 => Brine::Float(f64::from_bits(self.next() & !(0x7ff << 52))),
            5 => Brine::Bytes((0..self.below(300)).map(|_| self.next() as u8).collect()),
            6 => Brine::Str(
                (0..self.below(40))
                    .map(|i| ['a', 'é', '€', '😀'][(i as usize + self.below(4) as usize) % 4])
                    .collect(),
            ),
            7 => Brine::Ellipsis,
            8 => Brine::NotImplemented,
            9 => Brine::Tuple((0..self.below(7)).map(|_| self.value(depth - 1)).collect()),
            10 => Brine::FrozenSet((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
            _ => Brine::Slice(Box::new([
                self.value(depth - 1),
                self.value(depth - 1),
                self.value(depth - 1),
            ])),
        }
    }
}

#[test]
fn random_values_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2_000 {
        let value = rng.value(4);
        let wire = value.encode();
        assert_eq!(Brine::decode(&wire).as_ref(), Ok(&value), "{wire:02x?}");
    }
}

#[test]
fn random_bytes_never_panic_and_decode_to_no_more_than_they_hold() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for round in 0..20_000 {
        let len = rng.below(64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 2 == 0 && !bytes.is_empty() {
            // Half of them start with a real tag, to get past the first byte more often.
            bytes[0] = [0x14, 0x15, 0x0f, 0x17, 0x19, 0x1a, 0x08, 0x16][rng.below(8) as usize];
        }
        if let Ok(value) = Brine::decode(&bytes) {
            // What decodes re-encodes to no more bytes than the input plus shortening slack.
            assert!(value.encode().len() <= bytes.len() + 16, "{bytes:02x?}");
        }
    }
}
