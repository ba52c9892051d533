//! Raw peers for the tests: hand-made frames and handshakes, servers to poke at, and
//! assertions on what a closing side sent.

use std::future::Future;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use rpc::core::frame::{encode_frame, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN};
use rpc::core::protocol::{feature, Hello, Message, Preamble, MAGIC, PREAMBLE_LEN};
use rpc::server::{Server, ShutdownHandle};
use rpc::{Connection, ConnectionConfig, Error, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::harness::TestService;

/// Safety net only: a bug fails the test after this long instead of hanging it.
pub(crate) const GUARD: Duration = Duration::from_secs(5);

pub(crate) async fn guard<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not happen within {GUARD:?}"),
    }
}

/// A running TCP server serving [`TestService`]; shut down when dropped.
pub(crate) struct Running {
    pub(crate) port: u16,
    pub(crate) stop: ShutdownHandle,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.shutdown();
    }
}

pub(crate) async fn start_server(config: ConnectionConfig) -> Running {
    start(Server::new(TestService::default).connection_config(config)).await
}

/// Runs `server` on a free loopback port.
pub(crate) async fn start(server: Server) -> Running {
    let bound = server.bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let port = bound.local_addr().expect("local addr").port();
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());
    Running { port, stop }
}

/// A well-behaved client connects and gets its answer.
pub(crate) async fn assert_serves(port: u16) {
    let conn = guard("connect", rpc::connect("127.0.0.1", port))
        .await
        .expect("a well-behaved client still connects");
    let n: i64 = guard("call", conn.root().call("test", (11,)))
        .await
        .expect("a well-behaved client is still served");
    assert_eq!(n, 12);
    conn.close().await;
}

/// An established connection is still served.
pub(crate) async fn assert_still_served(conn: &Connection) {
    let n: i64 = guard("call", conn.root().call("test", (41,)))
        .await
        .expect("the other connection is unaffected");
    assert_eq!(n, 42);
    assert!(!conn.is_closed());
}

/// One frame holding `msg`.
pub(crate) fn frame_of(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, DEFAULT_MAX_FRAME_SIZE, |o| msg.encode_into(o))
        .expect("encode")
        .expect("frame size");
    out
}

/// Appends `v` as an unsigned LEB128 varint, the wire form of lengths and integers.
pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One frame, made by hand: a request `seq` calling `method` on the root, `flags` set, with
/// `nargs` arguments that `args` writes in their wire form.
pub(crate) fn request(
    seq: u64,
    method: &str,
    flags: u8,
    nargs: u64,
    args: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut payload = vec![1]; // Message::Request
    varint(&mut payload, seq);
    varint(&mut payload, 0); // the root
    payload.push(0); // Op::Call
    varint(&mut payload, method.len() as u64);
    payload.extend_from_slice(method.as_bytes());
    varint(&mut payload, nargs);
    args(&mut payload);
    payload.push(flags);
    raw_frame(&payload)
}

/// Writes the integer `v` as a value, as [`request`]'s `args` do.
pub(crate) fn int_arg(out: &mut Vec<u8>, v: i64) {
    out.push(2); // Value::Int
    varint(out, ((v << 1) ^ (v >> 63)) as u64); // zigzag
}

/// One frame with an arbitrary payload.
pub(crate) fn raw_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len())
        .expect("small payload")
        .to_le_bytes()
        .to_vec();
    out.extend_from_slice(payload);
    out
}

/// A valid opening, done by hand: preamble and hello.
pub(crate) fn raw_greeting() -> Vec<u8> {
    let mut out = Preamble::current().to_bytes().to_vec();
    out.extend(frame_of(&Message::Hello(Hello {
        service: "RAW".into(),
        aliases: vec![],
        features: 0,
    })));
    out
}

/// Deterministic junk that is not a message: `0x7f` names no message variant, the rest are
/// pseudo-random bytes.
pub(crate) fn junk(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    let mut out = vec![0x7f];
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x.to_le_bytes()[0]);
    }
    out
}

/// A value `levels` sequences deep.
pub(crate) fn nested(levels: usize) -> Value {
    let mut v = Value::Int(1);
    for _ in 0..levels {
        v = Value::Seq(vec![v]);
    }
    v
}

/// Reads until the peer closes (EOF, or a reset because it closed with our bytes unread) and
/// returns what arrived.
pub(crate) async fn read_until_closed(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    for _ in 0..1024 {
        match guard("the peer closing the connection", stream.read(&mut chunk)).await {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("unexpected read error: {e}"),
        }
    }
    panic!("the peer kept sending instead of closing");
}

/// Checks that the server sent exactly its preamble and its hello, and nothing after them: what
/// a server sends to a peer whose handshake fails (it drops the socket without a word).
pub(crate) fn assert_greeting_only(bytes: &[u8]) {
    let frames = split_greeting(bytes);
    assert_eq!(frames.len(), 1, "exactly the server's hello: {frames:?}");
}

/// Checks that the server sent exactly its preamble, its hello and a `Close` whose reason
/// contains `needle`: what a server sends to a peer that breaks the protocol after a valid
/// handshake.
pub(crate) fn assert_greeting_then_close(bytes: &[u8], needle: &str) {
    match split_greeting(bytes).as_slice() {
        [_hello, Message::Close { reason: Some(reason) }] => {
            assert!(
                reason.contains(needle),
                "expected a reason naming {needle:?}: {reason}"
            )
        }
        other => panic!("expected the hello and a Close naming {needle:?}, got {other:?}"),
    }
}

/// Checks the server's preamble and that its first frame is its hello; returns every frame.
fn split_greeting(bytes: &[u8]) -> Vec<Message> {
    assert!(
        bytes.len() >= PREAMBLE_LEN && bytes.starts_with(&MAGIC),
        "the server starts with its preamble: {bytes:?}"
    );
    assert_eq!(bytes[..PREAMBLE_LEN], Preamble::current().to_bytes());
    let frames = split_frames(&bytes[PREAMBLE_LEN..]);
    match frames.first() {
        Some(Message::Hello(hello)) => {
            assert_eq!(
                (hello.service.as_str(), hello.features),
                ("TEST", feature::SUPPORTED),
                "{hello:?}"
            )
        }
        other => panic!("expected the server's hello, got {other:?}"),
    }
    frames
}

/// Decodes back-to-back frames; every byte must belong to a whole frame.
pub(crate) fn split_frames(mut rest: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        assert!(rest.len() >= HEADER_LEN, "a whole length prefix: {rest:?}");
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        assert!(rest.len() >= HEADER_LEN + len, "a whole frame: {rest:?}");
        out.push(Message::decode(&rest[HEADER_LEN..HEADER_LEN + len]).expect("a valid message"));
        rest = &rest[HEADER_LEN + len..];
    }
    out
}

/// Checks that the only thing the closing side sent was a `Close` whose reason contains `needle`.
pub(crate) fn assert_closed_with(bytes: &[u8], needle: &str) {
    match split_frames(bytes).as_slice() {
        [Message::Close { reason: Some(reason) }] => assert!(reason.contains(needle), "{reason}"),
        other => panic!("expected one Close naming {needle:?}, got {other:?}"),
    }
}

/// Reads one frame and decodes it.
pub(crate) async fn read_message(r: &mut (impl AsyncRead + Unpin)) -> Message {
    let mut header = [0u8; HEADER_LEN];
    r.read_exact(&mut header).await.expect("frame header");
    let mut payload = vec![0u8; u32::from_le_bytes(header) as usize];
    r.read_exact(&mut payload).await.expect("frame payload");
    Message::decode(&payload).expect("a valid message")
}

/// A [`Connection`] serving [`TestService`] on one end of a pipe, and the other end, driven by
/// hand, with both handshakes done.
pub(crate) async fn hand_driven(config: ConnectionConfig) -> (Connection, DuplexStream) {
    hand_driven_with(Arc::new(TestService::default()), config).await
}

/// Like [`hand_driven`], serving `service` (which must be named "TEST").
pub(crate) async fn hand_driven_with(
    service: Arc<dyn rpc::Service>,
    config: ConnectionConfig,
) -> (Connection, DuplexStream) {
    let (a, mut raw) = tokio::io::duplex(64 * 1024);
    let start = Connection::start(a, service, config);
    let peer = async {
        raw.write_all(&raw_greeting()).await.expect("send greeting");
        let mut pre = [0u8; PREAMBLE_LEN];
        raw.read_exact(&mut pre).await.expect("preamble");
        assert_eq!(pre, Preamble::current().to_bytes());
        match read_message(&mut raw).await {
            Message::Hello(hello) => assert_eq!(hello.service, "TEST"),
            other => panic!("expected hello, got {other:?}"),
        }
    };
    let (conn, ()) = guard("the handshake", async { tokio::join!(start, peer) }).await;
    let conn = conn.expect("the connection starts");
    assert_eq!(conn.peer_service_name(), "RAW");
    (conn, raw)
}

pub(crate) fn remote<T: std::fmt::Debug>(result: rpc::Result<T>) -> rpc::RemoteError {
    match result {
        Err(Error::Remote(e)) => e,
        other => panic!("expected a remote error, got {other:?}"),
    }
}
