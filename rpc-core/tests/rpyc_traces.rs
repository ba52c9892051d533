//! Every frame of the captured rpyc 6.0.2 sessions (`tests/data/rpyc-frames.txt`, taken from the
//! founders' traces) through the rpyc wire layers: each decodes — frame, message, then its body
//! as the message kind says (a request's handler and boxed arguments, a reply's box, an
//! exception's vinegar) — and each uncompressed one encodes back to identical bytes.

use bytes::BytesMut;
use rpc_core::rpyc::frame::{decode_frame, encode_frame, FrameLimits};
use rpc_core::rpyc::{Boxed, Generation, Kind, Message, Vinegar};

const FRAMES: &str = include_str!("data/rpyc-frames.txt");

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("fixture hex"))
        .collect()
}

/// What a message's body holds, checked by kind.
fn check_body(message: &Message, at: &str) {
    match message.kind {
        Kind::Request => {
            let Some([handler, args]) = message.body.as_tuple() else {
                panic!(
                    "{at}: a request body that is not (handler, args): {:?}",
                    message.body
                );
            };
            let handler = handler
                .as_int()
                .unwrap_or_else(|| panic!("{at}: handler {handler:?}"));
            assert!((1..=20).contains(&handler), "{at}: handler {handler}");
            // INSPECT's argument is an id pack as a plain value, also a valid box.
            let boxed = Boxed::from_brine(args).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(
                Boxed::from_brine_owned(args.clone()),
                Ok(boxed),
                "{at}: owned reading"
            );
        }
        Kind::Reply => {
            let boxed = Boxed::from_brine(&message.body).unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(
                Boxed::from_brine_owned(message.body.clone()),
                Ok(boxed),
                "{at}: owned reading"
            );
        }
        Kind::Exception => {
            assert!(
                Vinegar::from_brine(&message.body).is_some(),
                "{at}: {:?}",
                message.body
            );
        }
    }
}

#[test]
fn every_captured_frame_decodes_and_the_uncompressed_ones_encode_back() {
    let mut frames = 0;
    let mut compressed = 0;
    let mut kinds = [0usize; 3];
    for line in FRAMES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut fields = line.splitn(3, ' ');
        let (file, direction, bytes) = (
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
            hex(fields.next().unwrap_or_default()),
        );
        let at = format!("{file} {direction} frame {frames}");
        let mut buf = BytesMut::from(&bytes[..]);
        let payload = decode_frame(&mut buf, FrameLimits::default())
            .unwrap_or_else(|e| panic!("{at}: {e}"))
            .unwrap_or_else(|| panic!("{at}: not a whole frame"));
        assert!(buf.is_empty(), "{at}: bytes after the frame");
        let message = Message::decode(&payload, Generation::V6).unwrap_or_else(|e| panic!("{at}: {e}"));
        check_body(&message, &at);
        kinds[message.kind as usize - 1] += 1;
        if bytes[4] == 0 {
            let mut again = Vec::new();
            encode_frame(&message.encode(Generation::V6), true, &mut again);
            assert_eq!(again, bytes, "{at}: re-encoded");
        } else {
            compressed += 1;
        }
        frames += 1;
    }
    assert!(frames >= 400, "the fixture holds every frame: {frames}");
    assert!(compressed >= 1, "a compressed frame (trace 18) is among them");
    assert!(
        kinds.iter().all(|&n| n > 0),
        "requests, replies and exceptions: {kinds:?}"
    );
}
