//! Bad input from a peer: every kind gets a clear error and closes only the connection it came
//! in on, while the server keeps serving everyone else.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpc::core::frame::{FrameError, DEFAULT_MAX_FRAME_SIZE};
use rpc::core::protocol::{Hello, Message, Op, Preamble, Request, MAGIC, PROTOCOL_VERSION};
use rpc::server::Server;
use rpc::{Connection, ConnectionConfig, Error, RemoteErrorKind, VoidService};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{eventually, void_pair, Kind, Record, TestService, TRANSPORTS};

use crate::raw::*;

// ---- Handshake: peers that do not speak this protocol ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_an_http_client_and_keeps_serving() {
    let server = start_server(ConnectionConfig::default()).await;
    let established = rpc::connect("127.0.0.1", server.port).await.expect("connect");

    let mut raw = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("raw connect");
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send http");
    let got = read_until_closed(&mut raw).await;
    assert_greeting_only(&got);

    assert_still_served(&established).await;
    assert_serves(server.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_refuses_a_server_that_speaks_http() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let peer = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await
            .expect("write");
        // Stay until the client gives up, so it reads our bytes rather than a reset.
        read_until_closed(&mut s).await
    });
    let err = guard("connect", rpc::connect("127.0.0.1", port))
        .await
        .expect_err("not our protocol");
    match &err {
        Error::Handshake(msg) => {
            assert!(msg.contains("does not speak this protocol"), "{msg}");
            assert!(msg.contains("HTTP/1.1 400"), "shows what the peer sent: {msg}");
        }
        other => panic!("expected a handshake error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("handshake failed"), "{err}");
    let sent = guard("raw peer", peer).await.expect("raw peer task");
    assert!(sent.starts_with(&MAGIC), "the client opened with its preamble");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reports_a_version_mismatch() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let other_version = PROTOCOL_VERSION + 1;
    let peer = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        s.write_all(
            &Preamble {
                version: other_version,
            }
            .to_bytes(),
        )
        .await
        .expect("write");
        read_until_closed(&mut s).await
    });
    let err = guard("connect", rpc::connect("127.0.0.1", port))
        .await
        .expect_err("other version");
    match err {
        Error::VersionMismatch { local, peer } => {
            assert_eq!(local, PROTOCOL_VERSION);
            assert_eq!(peer, other_version);
        }
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    guard("raw peer", peer).await.expect("raw peer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_a_client_of_another_version_and_keeps_serving() {
    let server = start_server(ConnectionConfig::default()).await;
    let established = rpc::connect("127.0.0.1", server.port).await.expect("connect");

    let mut raw = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("raw connect");
    raw.write_all(&Preamble { version: 0xdead_beef }.to_bytes())
        .await
        .expect("send preamble");
    let got = read_until_closed(&mut raw).await;
    assert_greeting_only(&got);

    assert_still_served(&established).await;
    assert_serves(server.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_survives_a_client_that_hangs_up_mid_preamble() {
    let server = start_server(ConnectionConfig::default()).await;
    let mut raw = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("raw connect");
    raw.write_all(&MAGIC[..5]).await.expect("half a preamble");
    raw.shutdown().await.expect("hang up");
    let got = read_until_closed(&mut raw).await;
    assert_greeting_only(&got);
    assert_serves(server.port).await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_fails_the_handshake_after_its_timeout() {
    let (a, _silent) = tokio::io::duplex(1024);
    let started = tokio::time::Instant::now();
    let err = Connection::start(
        a,
        Arc::new(VoidService),
        ConnectionConfig::default().handshake_timeout(Duration::from_secs(3)),
    )
    .await
    .expect_err("the peer never answers");
    match &err {
        Error::Handshake(msg) => assert!(msg.contains("no handshake within 3s"), "{msg}"),
        other => panic!("expected a handshake error, got {other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

// ---- Bad frames after a valid handshake, over TCP ----

/// Opens a raw connection, does the handshake by hand, sends `bad` (then ends its side if
/// `hang_up`); asserts the server closes that connection with a `Close` whose reason contains
/// `reason`, and keeps serving the others.
async fn bad_frame_over_tcp(bad: &[u8], hang_up: bool, reason: &str) {
    let server = start_server(ConnectionConfig::default()).await;
    let established = rpc::connect("127.0.0.1", server.port).await.expect("connect");

    let mut raw = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("raw connect");
    let mut bytes = raw_greeting();
    bytes.extend_from_slice(bad);
    raw.write_all(&bytes).await.expect("send");
    if hang_up {
        raw.shutdown().await.expect("shut down our side");
    }
    let got = read_until_closed(&mut raw).await;
    assert_greeting_then_close(&got, reason);

    assert_still_served(&established).await;
    assert_serves(server.port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_a_connection_that_sends_a_garbage_frame() {
    bad_frame_over_tcp(&raw_frame(&junk(200)), false, "malformed message").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_a_connection_that_announces_an_oversize_frame() {
    // Only the prefix is sent: the server must refuse at once, not wait for 4 GiB (nor allocate
    // them).
    bad_frame_over_tcp(&u32::MAX.to_le_bytes(), false, "exceeds the maximum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_a_connection_that_ends_inside_a_frame() {
    let mut truncated = 100u32.to_le_bytes().to_vec();
    truncated.extend_from_slice(&[0u8; 10]);
    bad_frame_over_tcp(&truncated, true, "stream ended inside a frame").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_a_connection_that_says_hello_twice() {
    let hello = frame_of(&Message::Hello(Hello {
        service: "AGAIN".into(),
        aliases: vec![],
        features: 0,
    }));
    bad_frame_over_tcp(&hello, false, "unexpected hello after the handshake").await;
}

// ---- Bad frames over the in-memory pipe, where the closing side can be inspected ----

#[tokio::test]
async fn garbage_frame_closes_the_connection_with_a_protocol_error() {
    let (conn, mut raw) = hand_driven(ConnectionConfig::default()).await;
    let root = conn.root();
    let call = tokio::spawn(async move { root.call::<i64>("anything", ()).await });
    // The request reaches the raw peer, so the call is certainly pending.
    match guard("the request", read_message(&mut raw)).await {
        Message::Request(req) => assert_eq!(req.op, Op::Call("anything".into())),
        other => panic!("expected a request, got {other:?}"),
    }
    assert_eq!(conn.stats().pending_calls, 1);

    raw.write_all(&raw_frame(&junk(64))).await.expect("send junk");
    guard("the connection closing", conn.closed()).await;
    assert!(conn.is_closed());
    let reason = conn
        .close_reason()
        .expect("a close caused by bad input records why");
    assert!(
        matches!(&*reason, Error::Protocol(msg) if msg.contains("malformed message")),
        "{reason:?}"
    );
    assert!(
        reason
            .to_string()
            .starts_with("protocol error: malformed message"),
        "{reason}"
    );

    let err = guard("the pending call", call)
        .await
        .expect("join")
        .expect_err("the call cannot complete");
    match &err {
        Error::ConnectionClosed(Some(cause)) => {
            assert!(matches!(&**cause, Error::Protocol(_)), "{cause:?}");
            let source = std::error::Error::source(&err).expect("the cause is the error's source");
            assert!(source.to_string().contains("protocol error"), "{source}");
        }
        other => panic!("expected ConnectionClosed with the reason, got {other:?}"),
    }
    assert_eq!(conn.stats().pending_calls, 0);
    // A new call is refused at once, with the same reason.
    let again = conn.root().call::<i64>("test", (1,)).await.expect_err("closed");
    assert!(matches!(again, Error::ConnectionClosed(Some(_))), "{again:?}");
    // The raw side is told why, then sees the connection end.
    assert_closed_with(&read_until_closed(&mut raw).await, "malformed message");
}

#[tokio::test]
async fn oversize_frame_closes_the_connection_with_a_frame_error() {
    // The default maximum, and a configured one.
    for (config, len, max) in [
        (
            ConnectionConfig::default(),
            u32::MAX as usize,
            DEFAULT_MAX_FRAME_SIZE,
        ),
        (ConnectionConfig::default().max_frame_size(1024), 1025, 1024),
    ] {
        let (conn, mut raw) = hand_driven(config).await;
        let prefix = u32::try_from(len).expect("fits").to_le_bytes();
        raw.write_all(&prefix).await.expect("send prefix");
        guard("the connection closing", conn.closed()).await;
        let reason = conn.close_reason().expect("reason");
        match &*reason {
            Error::Frame(FrameError::TooLarge { len: l, max: m }) => assert_eq!((*l, *m), (len, max)),
            other => panic!("expected a too-large frame, got {other:?}"),
        }
        assert_eq!(reason.to_string(), "invalid frame");
        let source = std::error::Error::source(&*reason).expect("source");
        assert_eq!(
            source.to_string(),
            format!("frame of {len} bytes exceeds the maximum of {max} bytes")
        );
        assert_closed_with(&read_until_closed(&mut raw).await, "exceeds the maximum");
    }
}

#[tokio::test]
async fn truncated_frame_then_eof_closes_the_connection_with_a_frame_error() {
    let (conn, raw) = hand_driven(ConnectionConfig::default()).await;
    let (mut rr, mut rw) = tokio::io::split(raw);
    let mut truncated = 100u32.to_le_bytes().to_vec();
    truncated.extend_from_slice(&[1u8; 10]);
    rw.write_all(&truncated).await.expect("send part of a frame");
    rw.shutdown().await.expect("end our side");
    guard("the connection closing", conn.closed()).await;
    let reason = conn.close_reason().expect("reason");
    assert!(
        matches!(&*reason, Error::Frame(FrameError::Truncated { buffered: 14 })),
        "{reason:?}"
    );
    let source = std::error::Error::source(&*reason).expect("source");
    assert!(
        source.to_string().contains("stream ended inside a frame"),
        "{source}"
    );
    assert_closed_with(&read_until_closed(&mut rr).await, "stream ended inside a frame");
}

#[tokio::test]
async fn a_clean_eof_between_frames_is_not_an_error() {
    let (conn, raw) = hand_driven(ConnectionConfig::default()).await;
    let (_rr, mut rw) = tokio::io::split(raw);
    rw.shutdown().await.expect("end our side");
    guard("the connection closing", conn.closed()).await;
    assert!(conn.close_reason().is_none(), "{:?}", conn.close_reason());
}

// ---- Values nested deeper than the limit ----

#[tokio::test]
async fn too_deep_value_closes_that_connection_with_a_clear_error() {
    let config = ConnectionConfig::default().max_depth(8);
    let (client, server) = rpc::memory_pair_with(
        config.clone().into(),
        rpc::ConnectOptions::new()
            .service(TestService::default())
            .config(config),
    )
    .await
    .expect("pair");
    let root = client.root();
    // Within the limit: decoded, and refused by the method for its type only.
    let e = remote(root.call_value("test", vec![nested(4)]).await);
    assert_eq!(e.kind, RemoteErrorKind::BadArguments);
    let record = Record {
        name: "r".into(),
        tags: vec![Default::default()],
        kind: Kind::Sized { w: 1, h: 2 },
    };
    assert_eq!(
        root.call::<Record>("echo_record", (record.clone(),))
            .await
            .expect("echo"),
        record
    );

    // Deeper than the limit: the sender refuses it before encoding (the receiver, with the
    // same limit, would refuse it anyway), and the connection goes on.
    let err = guard("the deep call", root.call_value("test", vec![nested(64)]))
        .await
        .expect_err("too deep");
    assert!(
        matches!(&err, Error::Limit(msg) if msg.contains("nested deeper than the limit of 8")),
        "{err:?}"
    );
    assert_still_served(&client).await;
    assert!(!server.is_closed());
}

#[test]
fn a_value_too_deep_to_encode_is_refused_not_a_stack_overflow() {
    // Encoding recurses once per level: 5,000 levels overflowed a 2 MiB stack (a process
    // abort) before the encoder checked the depth. Dropping the value needs far less stack.
    let run = || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (client, _server) = rpc::memory_pair(VoidService, TestService::default())
                .await
                .expect("pair");
            let err = client
                .root()
                .call_value("test", vec![nested(5_000)])
                .await
                .expect_err("too deep");
            assert!(
                matches!(&err, Error::Limit(msg) if msg.contains("nested deeper than the limit of 128")),
                "{err:?}"
            );
            assert_still_served(&client).await;
        });
    };
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .expect("thread")
        .join()
        .expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_deep_value_over_tcp_closes_only_that_connection() {
    let server = start_server(ConnectionConfig::default().max_depth(8)).await;
    let established = rpc::connect("127.0.0.1", server.port).await.expect("connect");
    let offender = rpc::connect("127.0.0.1", server.port).await.expect("connect");

    let e = remote(offender.root().call_value("test", vec![nested(4)]).await);
    assert_eq!(
        e.kind,
        RemoteErrorKind::BadArguments,
        "a shallow value passes the limit"
    );
    let err = guard(
        "the deep call",
        offender.root().call_value("test", vec![nested(64)]),
    )
    .await
    .expect_err("too deep");
    assert!(matches!(err, Error::ConnectionClosed(_)), "{err:?}");
    guard("the offender's connection closing", offender.closed()).await;

    assert_still_served(&established).await;
    assert_serves(server.port).await;
}

// ---- Bad calls: an error reply, and the connection keeps serving ----

#[tokio::test]
async fn bad_calls_get_clear_errors_and_the_connection_keeps_serving() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let root = p.client.root();

        let e = remote(root.call::<i64>("nope", (1,)).await);
        assert_eq!(e.kind, RemoteErrorKind::NotFound, "{t:?}");
        assert_eq!(e.message, "'nope' is not exposed by TEST");

        let e = remote(root.call::<i64>("test", (1, 2)).await);
        assert_eq!(e.kind, RemoteErrorKind::BadArguments);
        assert_eq!(e.message, "test() takes 1 argument but 2 were given");

        let e = remote(root.call::<i64>("test", ()).await);
        assert_eq!(e.kind, RemoteErrorKind::BadArguments);
        assert_eq!(e.message, "test() takes 1 argument but 0 were given");

        let e = remote(root.call::<i64>("add", (1,)).await);
        assert_eq!(e.kind, RemoteErrorKind::BadArguments);
        assert_eq!(e.message, "add() takes 2 arguments but 1 were given");

        let e = remote(root.call::<i64>("test", ("eleven",)).await);
        assert_eq!(e.kind, RemoteErrorKind::BadArguments);
        assert!(
            e.message.starts_with("test(): argument 1 `num` (got string)"),
            "{}",
            e.message
        );

        let e = remote(root.call::<i64>("add", (1, 2.5)).await);
        assert_eq!(e.kind, RemoteErrorKind::BadArguments);
        assert!(
            e.message.starts_with("add(): argument 2 `b` (got float)"),
            "{}",
            e.message
        );

        // The same connection keeps serving.
        assert_eq!(
            root.call::<i64>("test", (11,)).await.expect("still serving"),
            12,
            "{t:?}"
        );
        assert!(!p.client.is_closed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_methods_give_panic_errors_and_the_connection_keeps_serving() {
    for t in TRANSPORTS {
        let p = void_pair(t).await;
        let root = p.client.root();
        for (method, message) in [("boom", "boom"), ("async_boom", "async boom")] {
            let e = remote(root.call::<i64>(method, ()).await);
            assert_eq!(e.kind, RemoteErrorKind::Panic, "{t:?} {method}");
            assert_eq!(e.message, format!("method panicked: {message}"));
            assert_eq!(root.call::<i64>("test", (11,)).await.expect("still serving"), 12);
        }
        assert!(!p.client.is_closed());
        assert_eq!(p.client.stats().pending_calls, 0);
    }
}

// ---- A peer that sends without reading ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_disconnected_not_buffered_without_bound() {
    const REPLY: usize = 1024;
    let limit = 256 * 1024;
    let config = ConnectionConfig::default().max_unwritten_bytes(limit);
    let (conn, raw) = hand_driven(config).await;
    let (_rr, mut rw) = tokio::io::split(raw);
    // About 20 MiB of replies are asked for; the raw side reads none of them.
    let sender = tokio::spawn(async move {
        for seq in 0..20_000u64 {
            let args = vec![rpc::Value::Int(REPLY as i64)];
            let req = Request {
                seq,
                target: 0,
                op: Op::Call("make_bytes".into()),
                args,
                flags: 0,
            };
            if rw.write_all(&frame_of(&Message::Request(req))).await.is_err() {
                break;
            }
        }
    });
    guard("the close", conn.closed()).await;
    let reason = conn.close_reason().expect("a reason");
    assert!(
        matches!(&*reason, Error::Limit(m) if m.contains("the peer is not reading")),
        "{reason}"
    );
    assert!(
        conn.stats().unwritten_bytes < 2 * limit,
        "{}",
        conn.stats().unwritten_bytes
    );
    sender.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_disconnects_a_peer_that_never_reads_and_serves_the_others() {
    let disconnects = Arc::new(AtomicUsize::new(0));
    let d = disconnects.clone();
    let server = start(
        Server::new(move || TestService {
            disconnects: d.clone(),
            ..TestService::default()
        })
        .connection_config(ConnectionConfig::default().max_unwritten_bytes(256 * 1024)),
    )
    .await;
    let bystander = guard("connect", rpc::connect("127.0.0.1", server.port))
        .await
        .expect("connect");
    assert_still_served(&bystander).await;

    // 64 MiB of replies asked for on a second connection, which reads none of them: more than
    // the socket buffers hold, so the replies pile up until the server gives up on it.
    let mut offender = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("raw connect");
    offender.write_all(&raw_greeting()).await.expect("greeting");
    let flood = tokio::spawn(async move {
        for seq in 0..1024u64 {
            let call = request(seq, "make_bytes", 0, 1, |o| int_arg(o, 64 * 1024));
            if offender.write_all(&call).await.is_err() {
                break;
            }
        }
        // Keep the socket open (and unread): only the server may end this connection.
        futures::future::pending::<()>().await;
    });
    eventually("the server closing the connection that never reads", || {
        disconnects.load(Ordering::SeqCst) == 1
    })
    .await;
    // The same server, and its other connection, go on as before.
    assert_still_served(&bystander).await;
    assert_eq!(
        disconnects.load(Ordering::SeqCst),
        1,
        "only the offender was disconnected"
    );
    assert_serves(server.port).await;
    flood.abort();
}
