//! The frame and message decoders against hostile input: random bytes and mutated valid
//! messages never panic, and random values survive the wire unchanged. Bounded loops with a
//! fixed seed, so a failure is reproducible.

use bytes::BytesMut;
use rpc_core::frame::{encode_frame, FrameDecoder};
use rpc_core::protocol::{Message, Op, Request};
use rpc_core::Value;

/// xorshift64*: small, deterministic, good enough to shake a decoder.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    let pick = if depth == 0 { rng.below(7) } else { rng.below(9) };
    match pick {
        0 => Value::Unit,
        1 => Value::Bool(rng.below(2) == 1),
        2 => Value::Int(rng.next() as i64),
        3 => Value::UInt(rng.next() | (1 << 63)),
        4 => Value::Float((rng.next() as f64) / 7.0),
        5 => Value::Str(
            (0..rng.below(12))
                .map(|i| char::from(b'a' + (i as u8 % 26)))
                .collect(),
        ),
        6 => Value::Bytes((0..rng.below(40)).map(|_| rng.next() as u8).collect()),
        7 => Value::Seq((0..rng.below(5)).map(|_| random_value(rng, depth - 1)).collect()),
        _ => Value::Map(
            (0..rng.below(4))
                .map(|_| (random_value(rng, depth - 1), random_value(rng, depth - 1)))
                .collect(),
        ),
    }
}

fn encode(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    msg.encode_into(&mut out).expect("encode");
    out
}

#[test]
fn random_values_round_trip_through_the_wire() {
    let mut rng = Rng(0x5eed);
    for seq in 0..2_000 {
        let args: Vec<Value> = (0..rng.below(4)).map(|_| random_value(&mut rng, 4)).collect();
        let msg = Message::Request(Request {
            seq,
            target: rng.next(),
            op: Op::Call("m".into()),
            args,
            flags: 0,
        });
        assert_eq!(Message::decode(&encode(&msg)).expect("decode"), msg);
    }
}

#[test]
fn random_bytes_never_panic_the_message_decoder() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        let _ = Message::decode(&bytes);
    }
}

#[test]
fn mutated_messages_never_panic_the_message_decoder() {
    let mut rng = Rng(7);
    for _ in 0..5_000 {
        let value = random_value(&mut rng, 3);
        let mut bytes = encode(&Message::Reply {
            seq: rng.next(),
            value,
        });
        for _ in 0..=rng.below(3) {
            let i = rng.below(bytes.len() as u64) as usize;
            bytes[i] = rng.next() as u8;
        }
        let cut = rng.below(bytes.len() as u64 + 1) as usize;
        let _ = Message::decode(&bytes[..cut]);
        let _ = Message::decode(&bytes);
    }
}

#[test]
fn frames_split_at_random_points_come_out_whole() {
    let mut rng = Rng(99);
    let mut wire = Vec::new();
    let mut sent = Vec::new();
    for seq in 0..500 {
        let msg = Message::Reply {
            seq,
            value: random_value(&mut rng, 3),
        };
        encode_frame(&mut wire, 1 << 20, |o| msg.encode_into(o))
            .expect("encode")
            .expect("size");
        sent.push(msg);
    }
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut rest = &wire[..];
    while !rest.is_empty() {
        let n = (rng.below(50) as usize + 1).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        while let Some(frame) = decoder.decode(&mut buf).expect("valid frames") {
            got.push(Message::decode(&frame).expect("valid message"));
        }
    }
    assert_eq!(got, sent);
}
