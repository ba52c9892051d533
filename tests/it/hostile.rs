//! Hostile peers against the memory budgets: each test is an attack that made a server hold
//! memory without bound (or lock clients out) before the budgets, and checks the bound and
//! the clear error that replaced it — and that the connection, or the server, goes on serving.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpc::core::frame::encode_frame;
use rpc::core::protocol::{Hello, Message, Preamble, MAX_ALIASES};
use rpc::server::Server;
use rpc::{service, Connection, ConnectionConfig, Error};
use tokio::io::{AsyncRead, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;

use crate::harness::{eventually, pair_with, void_pair_with, TestService, Transport};
use crate::raw::*;

// ---- Hand-made requests (values a well-behaved encoder would not make) ----

/// A sequence of `n` units: two bytes a hundred on the wire, 32 bytes each in memory.
fn units(out: &mut Vec<u8>, n: u64) {
    out.push(7); // Value::Seq
    varint(out, n);
    out.resize(out.len() + n as usize, 0); // Value::Unit
}

/// A byte value of `n` bytes.
fn bytes(out: &mut Vec<u8>, n: usize) {
    out.push(6); // Value::Bytes
    varint(out, n as u64);
    out.resize(out.len() + n, 7);
}

async fn next_message(raw: &mut (impl AsyncRead + Unpin)) -> Message {
    guard("a message from the server", read_message(raw)).await
}

async fn expect_test_answered(raw: &mut DuplexStream, seq: u64) {
    let call = request(seq, "test", 0, 1, |o| {
        o.push(2); // Value::Int
        varint(o, 22); // zigzag(11)
    });
    raw.write_all(&call).await.expect("send");
    match next_message(raw).await {
        Message::Reply { seq: s, value } if s == seq => assert_eq!(value, rpc::Value::Int(12)),
        other => panic!("expected the answer to call {seq}, got {other:?}"),
    }
}

// ---- 1. Decode amplification ----

#[tokio::test]
async fn arguments_over_the_decode_budget_are_refused_alone() {
    // 100,000 units: a 100 KB frame that decodes to 3.2 MB, over a 1 MiB budget.
    let (conn, mut raw) = hand_driven(ConnectionConfig::default().max_frame_size(1 << 20)).await;
    let (mut rr, mut rw) = tokio::io::split(&mut raw);
    let call = request(1, "len", 0, 1, |o| units(o, 100_000));
    let (sent, msg) = tokio::join!(rw.write_all(&call), next_message(&mut rr));
    sent.expect("send");
    match msg {
        Message::Error { seq: 1, error } => {
            assert_eq!(error.type_name, "rpc::TooLarge");
            assert!(
                error.message.contains("more than the budget of 1048576 bytes"),
                "{}",
                error.message
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    expect_test_answered(&mut raw, 2).await;
    assert!(!conn.is_closed());
    assert_eq!(conn.stats().pending_bytes, 0);
}

#[tokio::test]
async fn a_reply_over_the_decode_budget_fails_that_call_alone() {
    let config = ConnectionConfig::default().max_decoded_size(64 * 1024);
    let p = void_pair_with(Transport::Memory, config).await;
    let root = p.client.root();
    let err = root
        .call::<Vec<()>>("units", (10_000,))
        .await
        .expect_err("320 KB of units is over 64 KiB");
    assert!(
        matches!(&err, Error::Limit(m) if m.contains("reply decodes to more than the budget of 65536 bytes")),
        "{err:?}"
    );
    let few: Vec<()> = root.call("units", (100,)).await.expect("within the budget");
    assert_eq!(few.len(), 100);
    assert!(!p.client.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_handshake_a_large_frame_is_refused_on_its_header() {
    let server = start_server(ConnectionConfig::default()).await;
    let mut raw = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("raw connect");
    // A preamble, then a header announcing 8 MiB in place of the hello, and 1 KiB of it: the
    // server must not wait for (or make room for) the rest.
    let mut bytes = Preamble::current().to_bytes().to_vec();
    bytes.extend_from_slice(&(8u32 << 20).to_le_bytes());
    bytes.extend_from_slice(&[3; 1024]);
    raw.write_all(&bytes).await.expect("send");
    let got = read_until_closed(&mut raw).await;
    assert_greeting_only(&got);
    assert_serves(server.port).await;
}

/// Starts a connection whose peer sends `opening` after its preamble; returns the error.
async fn handshake_error(opening: Vec<u8>) -> Error {
    let (a, mut raw) = tokio::io::duplex(1 << 20);
    let mut bytes = Preamble::current().to_bytes().to_vec();
    bytes.extend(opening);
    raw.write_all(&bytes).await.expect("send");
    let started = Connection::start(a, Arc::new(TestService::default()), ConnectionConfig::default());
    guard("the handshake failing", started)
        .await
        .expect_err("the handshake must fail")
}

#[tokio::test]
async fn before_the_handshake_only_a_hello_is_decoded_and_never_logged_whole() {
    // A 60 KB reply in place of the hello: refused by its kind, not decoded or formatted.
    let mut reply = vec![3, 1];
    units(&mut reply, 60_000);
    let err = handshake_error(raw_frame(&reply)).await;
    let text = err.to_string();
    assert!(
        text.contains("expected a hello, got a message of kind 3"),
        "{text}"
    );
    assert!(
        text.len() < 200,
        "the error (and so the log line) stays short: {} bytes",
        text.len()
    );
}

// ---- 2. The hello ----

#[tokio::test]
async fn a_hello_with_too_many_aliases_is_refused() {
    let hello = Message::Hello(Hello {
        service: "RAW".into(),
        aliases: vec![String::new(); 1_000],
        features: 0,
    });
    let err = handshake_error(frame_of(&hello)).await;
    let text = err.to_string();
    assert!(
        text.contains(&format!("1000 aliases in the hello (at most {MAX_ALIASES})")),
        "{text}"
    );
}

// ---- 3. A peer that never reads ----

/// Counts its drops: the connection has let go of its service instance.
struct Hoarder {
    drops: Arc<AtomicUsize>,
}

impl Drop for Hoarder {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[service(name = "TEST")]
impl Hoarder {
    fn exposed_make_bytes(&self, n: usize) -> Vec<u8> {
        vec![7; n]
    }
}

/// Asks for `calls` replies of `size` bytes each, and reads none of them.
fn greedy_requests(calls: u64, size: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for seq in 1..=calls {
        out.extend(request(seq, "make_bytes", 0, 1, |o| {
            o.push(2);
            varint(o, size * 2); // zigzag
        }));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_peer_that_never_reads_no_longer_pins_the_connection() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let server = start(
        Server::new(move || Hoarder { drops: d.clone() })
            .connection_config(ConnectionConfig::default().max_unwritten_bytes(1 << 20)),
    )
    .await;
    let mut raw = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    raw.write_all(&raw_greeting()).await.expect("greeting");
    // 64 MiB of replies asked for; the socket buffers take a few, the queue the rest until
    // its limit closes the connection. The raw side keeps its socket open and reads nothing.
    raw.write_all(&greedy_requests(256, 256 * 1024))
        .await
        .expect("requests");
    eventually("the service instance being dropped", || {
        drops.load(Ordering::SeqCst) == 1
    })
    .await;
    drop(raw);
}

#[tokio::test(start_paused = true)]
async fn a_clean_close_to_a_peer_that_never_reads_lets_go_after_a_grace() {
    let drops = Arc::new(AtomicUsize::new(0));
    let service = Arc::new(Hoarder { drops: drops.clone() });
    let (conn, mut raw) = hand_driven_with(service, ConnectionConfig::default()).await;
    // 4 MiB of replies: the 64 KiB pipe fills, the rest waits in the writer and its queue.
    raw.write_all(&greedy_requests(64, 64 * 1024))
        .await
        .expect("requests");
    eventually("the replies piling up", || conn.stats().unwritten_bytes > 1 << 20).await;
    guard("the close", conn.close()).await;
    drop(conn);
    // The writer may try for its grace of 2 s to send the `Close`, then it is stopped.
    tokio::time::sleep(Duration::from_secs(3)).await;
    eventually("the service instance being dropped", || {
        drops.load(Ordering::SeqCst) == 1
    })
    .await;
    drop(raw);
}

// ---- 4. Releases count against the output budget ----

#[tokio::test]
async fn releases_for_a_peer_that_never_reads_count_against_its_output_budget() {
    // 50,000 releases take about 200 KB on the wire.
    let limit = 64 * 1024;
    let (conn, _raw) = hand_driven(ConnectionConfig::default().max_unwritten_bytes(limit)).await;
    // 50,000 references to objects of the peer: each becomes a proxy, dropped with the
    // (refused) call, and so a release to send. The peer reads none of them.
    let (_rr, mut rw) = tokio::io::split(_raw);
    let call = request(1, "test", 0, 1, |o| {
        o.push(7);
        varint(o, 50_000);
        for id in 1..=50_000 {
            o.push(9); // a reference to an object of the sender
            varint(o, id);
        }
    });
    rw.write_all(&call).await.expect("send");
    guard("the connection closing", conn.closed()).await;
    let reason = conn.close_reason().expect("a reason");
    assert!(
        matches!(&*reason, Error::Limit(m) if m.contains("the peer is not reading")),
        "{reason:?}"
    );
}

// ---- 5. Idle connections ----

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_after_its_timeout_and_only_then() {
    let config = ConnectionConfig::default()
        .idle_timeout(Some(Duration::from_secs(60)))
        .call_timeout(None);
    let p = void_pair_with(Transport::Memory, config).await;
    let root = p.client.root();
    // Traffic every 30 s keeps it open.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(root.call::<i64>("test", (1,)).await.expect("open"), 2);
    }
    // So does a call outstanding for five minutes, with nothing else going either way.
    let forever = root.call::<()>("forever", ());
    assert!(tokio::time::timeout(Duration::from_secs(300), forever)
        .await
        .is_err());
    assert!(!p.client.is_closed());
    // Silence: open at 59 s, closed by 76 s (the limit plus a quarter, and a second).
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert!(!p.client.is_closed());
    tokio::time::sleep(Duration::from_secs(17)).await;
    assert!(p.client.is_closed());
    let reason = p.client.close_reason().expect("a reason");
    assert!(reason.to_string().contains("idle"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_take_no_connection_slot_and_a_full_server_says_so() {
    let server = start(Server::new(TestService::default).max_connections(2)).await;
    let port = server.port;

    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(("127.0.0.1", port)).await.expect("connect"));
    }
    let a = guard("connect", rpc::connect("127.0.0.1", port))
        .await
        .expect("a slot");
    let b = guard("connect", rpc::connect("127.0.0.1", port))
        .await
        .expect("a slot");
    assert_still_served(&a).await;
    assert_still_served(&b).await;
    let err = guard("connect", rpc::connect("127.0.0.1", port))
        .await
        .expect_err("no slot left");
    assert!(
        matches!(&err, Error::PeerClosed(m) if m.contains("server full")),
        "{err:?}"
    );
    // A slot freed is a slot for the next client.
    a.close().await;
    eventually_async("a slot freeing", || async {
        rpc::connect("127.0.0.1", port).await.is_ok()
    })
    .await;
    drop(silent);
}

async fn eventually_async<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within 5 s");
}

// ---- 8. Pending work is weighed ----

#[tokio::test]
async fn pending_work_is_weighed_against_its_budget() {
    let budget = 1 << 20;
    let (conn, mut raw) = hand_driven(ConnectionConfig::default().max_frame_size(budget)).await;
    // Ten calls holding 200 KiB each: about five fit in 1 MiB, the rest are refused.
    for seq in 1..=10 {
        let call = request(seq, "hold", 0, 1, |o| bytes(o, 200 * 1024));
        raw.write_all(&call).await.expect("send");
    }
    let mut refused = Vec::new();
    while refused.len() < 5 {
        match next_message(&mut raw).await {
            Message::Error { seq, error } if error.type_name == "rpc::Busy" => refused.push(seq),
            other => panic!("expected rpc::Busy refusals, got {other:?}"),
        }
    }
    assert_eq!(refused, vec![6, 7, 8, 9, 10]);
    let stats = conn.stats();
    assert_eq!(stats.running_requests, 5);
    assert!(
        stats.pending_bytes > 5 * 200 * 1024 && stats.pending_bytes <= budget,
        "{stats:?}"
    );
    // Cancelled, they let go of their weight; a new one fits again.
    for seq in 1..=5 {
        raw.write_all(&frame_of(&Message::Cancel { seq }))
            .await
            .expect("cancel");
    }
    eventually("the weight let go", || conn.stats().pending_bytes == 0).await;
    raw.write_all(&request(11, "hold", 0, 1, |o| bytes(o, 200 * 1024)))
        .await
        .expect("send");
    eventually("the new call running", || conn.stats().running_requests == 1).await;
    expect_test_answered(&mut raw, 12).await;
    // One-way calls have no reply to carry a refusal: over the budget, the connection closes.
    for _ in 0..10 {
        let call = request(0, "hold", rpc::core::protocol::FLAG_ONEWAY, 1, |o| {
            bytes(o, 200 * 1024)
        });
        if raw.write_all(&call).await.is_err() {
            break;
        }
    }
    guard("the connection closing", conn.closed()).await;
    let reason = conn.close_reason().expect("a reason");
    assert!(reason.to_string().contains("one-way call refused"), "{reason}");
    assert_eq!(conn.stats().pending_bytes, 0);
}

#[tokio::test(start_paused = true)]
async fn queued_one_way_calls_are_dropped_when_the_connection_closes() {
    let server = TestService::default();
    let ticks = server.ticks.clone();
    let p = pair_with(
        Transport::Memory,
        rpc::VoidService,
        server,
        ConnectionConfig::default(),
    )
    .await;
    let root = p.client.root();
    for _ in 0..5 {
        root.call_oneway("tick", (100u64,)).expect("queued");
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    p.client.close().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        1,
        "only the call running at the close ran"
    );
}

/// Frames made by hand are frames like any other.
#[test]
fn hand_made_requests_decode_as_requests() {
    let call = request(5, "len", 0, 1, |o| bytes(o, 3));
    let mut expected = Vec::new();
    encode_frame(&mut expected, 1 << 20, |o| {
        Message::Request(rpc::core::protocol::Request {
            seq: 5,
            target: 0,
            op: rpc::core::protocol::Op::Call("len".into()),
            args: vec![rpc::Value::Bytes(vec![7; 3])],
            flags: 0,
        })
        .encode_into(o)
    })
    .expect("encode")
    .expect("size");
    assert_eq!(call, expected);
}

/// After a flood of references that closes the connection, nothing of it stays behind.
#[tokio::test]
async fn a_reference_flood_leaves_nothing_behind_once_closed() {
    let drops = Arc::new(AtomicUsize::new(0));
    let service = Arc::new(Hoarder { drops: drops.clone() });
    let (conn, raw) = hand_driven_with(
        service,
        ConnectionConfig::default().max_unwritten_bytes(256 * 1024),
    )
    .await;
    let (_rr, mut rw) = tokio::io::split(raw);
    for seq in 1..=4 {
        let call = request(seq, "make_bytes", 0, 1, |o| {
            o.push(7);
            varint(o, 50_000);
            for id in 1..=50_000 {
                o.push(9);
                varint(o, id + seq * 100_000);
            }
        });
        let _ = rw.write_all(&call).await;
    }
    guard("the connection closing", conn.closed()).await;
    drop(conn);
    eventually("service dropped", || drops.load(Ordering::SeqCst) == 1).await;
}

// ---- A peer's long words stay out of errors and logs ----

#[tokio::test]
async fn a_member_name_longer_than_any_is_refused_without_echoing_it() {
    let (conn, mut raw) = hand_driven(ConnectionConfig::default()).await;
    let name = "x".repeat(100_000);
    raw.write_all(&request(1, &name, 0, 0, |_| {}))
        .await
        .expect("send");
    match next_message(&mut raw).await {
        Message::Error { seq: 1, error } => {
            assert_eq!(error.type_name, "rpc::UnknownMember");
            assert!(error.message.len() < 100, "{}", error.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    expect_test_answered(&mut raw, 2).await;
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn a_member_name_at_the_bound_reaches_the_service() {
    let (_conn, mut raw) = hand_driven(ConnectionConfig::default()).await;
    let name = "x".repeat(rpc::core::protocol::MAX_NAME_LEN);
    raw.write_all(&request(1, &name, 0, 0, |_| {}))
        .await
        .expect("send");
    match next_message(&mut raw).await {
        // The service itself says it has no such member, not the length check.
        Message::Error { seq: 1, error } => assert_ne!(error.type_name, "rpc::UnknownMember"),
        other => panic!("expected the service's refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_peer_close_reason_is_kept_to_a_line() {
    let (conn, mut raw) = hand_driven(ConnectionConfig::default()).await;
    let close = Message::Close {
        reason: Some("y".repeat(1_000_000)),
    };
    raw.write_all(&frame_of(&close)).await.expect("send");
    guard("the close", conn.closed()).await;
    let reason = conn.close_reason().expect("a reason");
    match &*reason {
        Error::PeerClosed(text) => {
            assert!(text.len() < 1_100, "{} bytes kept", text.len());
            assert!(
                text.ends_with("(1000000 bytes in all)"),
                "{}",
                &text[text.len() - 40..]
            );
        }
        other => panic!("expected the peer's reason, got {other:?}"),
    }
}
