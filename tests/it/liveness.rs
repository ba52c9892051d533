//! Liveness: `ping`, keepalive against a peer that went silent (a loopback relay that stops
//! forwarding but keeps both sockets open), the idle timeout beside keepalive, feature bits in
//! the hello, and a server's graceful drain.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpc::core::protocol::{feature, Message, PREAMBLE_LEN};
use rpc::server::Server;
use rpc::{async_, ConnectOptions, ConnectionConfig, Error, Keepalive, VoidService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::TestService;
use crate::raw::{guard, raw_greeting, read_message, start};

/// Keepalive for the tests: ping after 100 ms of silence, dead after 400 ms.
const QUICK: Keepalive = Keepalive {
    interval: Duration::from_millis(100),
    deadline: Duration::from_millis(400),
};

fn quick_client() -> ConnectOptions {
    ConnectOptions::new().configure(|c| c.keepalive = Some(QUICK))
}

#[tokio::test]
async fn ping_measures_a_round_trip() {
    let (client, server) = rpc::memory_pair(VoidService, TestService::default())
        .await
        .expect("pair");
    let rtt = guard("a ping", client.ping()).await.expect("pong");
    assert!(rtt < Duration::from_secs(5), "{rtt:?}");
    // Both ways, and while a call is running on the pinged side.
    let slow = async_(&client.root(), "slow")
        .call::<String>((300,))
        .expect("sent");
    guard("a ping back", server.ping()).await.expect("pong");
    guard("a ping during a call", client.ping()).await.expect("pong");
    assert_eq!(guard("the call", slow).await.expect("slow"), "slept 300");
    client.close().await;
    assert!(matches!(client.ping().await, Err(Error::ConnectionClosed(_))));
}

/// Forwards bytes both ways between a client and `target` until frozen; frozen, it reads
/// nothing more and sends nothing, but keeps both sockets open: a peer that vanished without a
/// FIN or RST.
async fn relay(target: u16) -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
    let port = listener.local_addr().expect("relay address").port();
    let frozen = Arc::new(AtomicBool::new(false));
    let flag = frozen.clone();
    tokio::spawn(async move {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
            return;
        };
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        let up = tokio::spawn(pipe(cr, sw, flag.clone()));
        let down = tokio::spawn(pipe(sr, cw, flag));
        let _ = tokio::join!(up, down);
    });
    (port, frozen)
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if frozen.load(Ordering::SeqCst) {
            // Hold both sockets open for the rest of the test, forwarding nothing.
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        let n = match tokio::time::timeout(Duration::from_millis(20), from.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        if frozen.load(Ordering::SeqCst) || to.write_all(&buf[..n]).await.is_err() {
            continue;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_fails_pending_calls_when_the_peer_goes_silent() {
    let server = start(Server::new(TestService::default).keepalive(QUICK.interval, QUICK.deadline)).await;
    let (port, frozen) = relay(server.port).await;
    let conn = guard(
        "connect through the relay",
        rpc::connect_with("127.0.0.1", port, quick_client()),
    )
    .await
    .expect("connect");
    assert_eq!(
        guard("a call", conn.root().call::<i64>("test", (1,)))
            .await
            .expect("call"),
        2
    );
    // A quiet but healthy connection stays up: pings are answered through the relay.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(!conn.is_closed(), "a healthy quiet connection was dropped");
    let pending = async_(&conn.root(), "forever").call::<()>(()).expect("sent");
    tokio::time::sleep(Duration::from_millis(50)).await;
    frozen.store(true, Ordering::SeqCst);
    let frozen_at = Instant::now();
    let e = guard("the keepalive verdict", pending)
        .await
        .expect_err("the peer is gone");
    let waited = frozen_at.elapsed();
    match &e {
        Error::ConnectionClosed(Some(reason)) => {
            assert!(
                matches!(**reason, Error::DeadPeer(d) if d == QUICK.deadline),
                "{reason:?}"
            )
        }
        other => panic!("expected the connection closed by the keepalive, got {other:?}"),
    }
    // Within the deadline and one interval (and some slack for a busy machine).
    assert!(
        waited >= QUICK.deadline - QUICK.interval,
        "declared dead early: {waited:?}"
    );
    assert!(
        waited <= QUICK.deadline + QUICK.interval + Duration::from_secs(1),
        "{waited:?}"
    );
    assert!(conn.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_pings_keep_no_idle_connection_open_but_the_peers_do() {
    let server = start(
        Server::new(TestService::default)
            .keepalive(Duration::from_millis(300), Duration::from_secs(30))
            .idle_timeout(Some(Duration::from_millis(600))),
    )
    .await;
    // A quiet client without keepalive: the server pings it and it answers, yet the server's
    // pings and their pongs are not traffic, so the idle timeout closes it.
    let quiet = guard("connect", rpc::connect("127.0.0.1", server.port))
        .await
        .expect("connect");
    let started = Instant::now();
    guard("the idle close", quiet.closed()).await;
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    let reason = quiet.close_reason().map(|r| r.to_string()).unwrap_or_default();
    assert!(reason.contains("idle"), "{reason}");
    // A client that pings the server itself (more often than the server would) wants its
    // connection: it is not idle.
    let options = ConnectOptions::new().configure(|c| {
        c.keepalive = Some(Keepalive::new(Duration::from_millis(50), Duration::from_secs(30)))
    });
    let lively = guard("connect", rpc::connect_with("127.0.0.1", server.port, options))
        .await
        .expect("connect");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(!lively.is_closed(), "{:?}", lively.close_reason());
    assert_eq!(
        guard("a call", lively.root().call::<i64>("test", (1,)))
            .await
            .expect("call"),
        2
    );
}

#[tokio::test]
async fn features_in_the_hello_decide_what_is_used_and_a_required_one_is_named() {
    // A peer whose hello has no feature bits: never pinged, and `ping` says why.
    let (conn, mut raw) = crate::raw::hand_driven(ConnectionConfig::default().call_timeout(None)).await;
    match conn.ping().await {
        Err(Error::Unsupported(what)) => assert_eq!(what, "keepalive"),
        other => panic!("expected the missing feature named, got {other:?}"),
    }
    conn.close().await;
    // Nothing but the close reached the raw peer: no ping was sent.
    match guard("the close", read_message(&mut raw)).await {
        Message::Close { .. } => {}
        other => panic!("expected only a close, got {other:?}"),
    }

    // A side that requires keepalive refuses that peer at the handshake, by name, both ways.
    let mut config = ConnectionConfig::default();
    config.required_features = feature::KEEPALIVE | feature::CLOSING;
    let (a, mut raw) = tokio::io::duplex(64 * 1024);
    let start = rpc::Connection::start(a, Arc::new(TestService::default()), config);
    let peer = async {
        raw.write_all(&raw_greeting()).await.expect("greeting");
        let mut pre = [0u8; PREAMBLE_LEN];
        raw.read_exact(&mut pre).await.expect("preamble");
        let _hello = read_message(&mut raw).await;
        read_message(&mut raw).await
    };
    let (started, refusal) = guard("the refusal", async { tokio::join!(start, peer) }).await;
    match started {
        Err(Error::Unsupported(what)) => assert_eq!(what, "keepalive, closing notice"),
        other => panic!("expected the missing features named, got {other:?}"),
    }
    match refusal {
        Message::Close { reason: Some(r) } => assert!(r.contains("keepalive, closing notice"), "{r}"),
        other => panic!("expected a close naming the features, got {other:?}"),
    }
    // Between two peers of this build, every feature is there.
    let (client, _server) = rpc::memory_pair(VoidService, TestService::default())
        .await
        .expect("pair");
    guard("a ping", client.ping()).await.expect("pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_server_finishes_running_calls_and_refuses_new_ones() {
    let bound = Server::new(TestService::default)
        .drain_timeout(Duration::from_secs(5))
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = bound.local_addr().expect("address").port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(bound.serve_until(async move {
        let _ = stop_rx.await;
    }));
    let conn = guard("connect", rpc::connect("127.0.0.1", port))
        .await
        .expect("connect");
    let root = conn.root();
    let running = async_(&root, "slow").call::<String>((2_000,)).expect("sent");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    let _ = stop_tx.send(());
    // Told of the shutdown, the client fails its new calls at once, without a round trip.
    // (A call that crossed the notice on the way is refused by the server instead.)
    let refused = loop {
        match root.call::<i64>("test", (1,)).await {
            Ok(_) if asked.elapsed() < Duration::from_secs(2) => tokio::task::yield_now().await,
            Err(Error::Remote(e)) if e.type_name == "rpc::ShuttingDown" => tokio::task::yield_now().await,
            other => break other,
        }
    };
    match refused {
        Err(Error::PeerClosing(reason)) => assert!(reason.contains("shutting down"), "{reason}"),
        other => panic!("expected a fast refusal, got {other:?}"),
    }
    // The call already running finishes, and its reply arrives before the close.
    let value = guard("the running call", running)
        .await
        .expect("finished, not cut off");
    assert_eq!(value, "slept 2000");
    guard("the server's end", serving)
        .await
        .expect("task")
        .expect("serve");
    assert!(
        asked.elapsed() >= Duration::from_millis(1_700),
        "{:?}",
        asked.elapsed()
    );
    guard("the clean close", conn.closed()).await;
    assert!(conn.close_reason().is_none(), "{:?}", conn.close_reason());
    // Nobody is listening any more.
    assert!(rpc::connect("127.0.0.1", port).await.is_err());
}
