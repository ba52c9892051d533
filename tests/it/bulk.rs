//! Large byte values: moved into the outgoing queue rather than copied into their frame, they
//! must still arrive whole, in place, and in order with the frames around them.

use futures::future::join_all;
use rpc::serde_bytes::ByteBuf;
use rpc::{ConnectionConfig, Error, VoidService};

use crate::harness::{pair_with, void_pair, Parts, TestService, TRANSPORTS};

/// `len` bytes of a pattern that differs from byte to byte and from `seed` to `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

fn parts(seed: u8) -> Parts {
    Parts {
        head: ByteBuf::from(pattern(100_000, seed)),
        small: pattern(10, seed),
        nested: vec![
            ByteBuf::from(pattern(40_000, seed.wrapping_add(1))),
            ByteBuf::from(pattern(5, seed)),
            ByteBuf::from(pattern(33_000, seed.wrapping_add(2))),
        ],
        tail: format!("tail {seed}"),
    }
}

#[tokio::test]
async fn large_byte_values_arrive_whole_among_small_calls() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let root = p.client.root();
        let big = (0..4u8).map(|seed| {
            let root = root.clone();
            async move {
                let sent = parts(seed);
                let back: Parts = root
                    .call("echo_parts", (sent.clone(),))
                    .await
                    .expect("echo parts");
                assert_eq!(back, sent, "seed {seed}");
            }
        });
        let small = (0..32i64).map(|i| {
            let root = root.clone();
            async move {
                let got: i64 = root.call("test", (i,)).await.expect("small call");
                assert_eq!(got, i + 1);
            }
        });
        futures::join!(join_all(big), join_all(small));
        // Alone on the connection, a call writes its request itself; the memory pipe (256 KiB)
        // takes only part of it, and the writer task must send the rest, in order.
        for seed in 10..13u8 {
            let sent = Parts {
                head: ByteBuf::from(pattern(400_000, seed)),
                ..parts(seed)
            };
            let back: Parts = root.call("echo_parts", (sent.clone(),)).await.expect("lone call");
            assert_eq!(back, sent, "seed {seed}");
        }
        // One-way calls queue the same way.
        for seed in 0..3u8 {
            root.call_oneway("echo_parts", (parts(seed),)).expect("one-way");
        }
        let got: Vec<u8> = root.call("make_bytes", (70_000usize,)).await.expect("download");
        assert_eq!(got, vec![7; 70_000]);
    }
}

#[tokio::test]
async fn a_byte_value_over_the_frame_limit_is_refused_before_it_is_sent() {
    let config = ConnectionConfig::default().max_frame_size(64 * 1024);
    for t in TRANSPORTS {
        let p = pair_with(t, VoidService, TestService::default(), config.clone()).await;
        let root = p.client.root();
        let err = root
            .call::<usize>("len", (ByteBuf::from(vec![1u8; 100_000]),))
            .await
            .expect_err("too large");
        match &err {
            Error::Encode(text) => assert!(text.contains("exceeds the maximum of 65536 bytes"), "{text}"),
            other => panic!("expected an encode error, got {other:?}"),
        }
        // Nothing was sent: the connection goes on.
        let n: usize = root
            .call("len", (ByteBuf::from(vec![1u8; 60_000]),))
            .await
            .expect("within the limit");
        assert_eq!(n, 60_000);
        assert!(!p.client.is_closed());
    }
}
