//! The shared-secret challenge-response end to end: success, a wrong secret, a replayed
//! transcript, a client without the exchange, a stalled or truncated exchange, and TLS with a
//! secret through the blocking facade.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rpc::auth::SharedSecret;
use rpc::server::Server;
use rpc::{ConnectOptions, ConnectionConfig, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{connect, guard, serve, setup, still_serves, trusting, whoami, Whoami};

const SECRET: &[u8] = b"correct horse battery staple";

fn secret() -> SharedSecret {
    SharedSecret::new(SECRET).with_label("ops")
}

#[tokio::test]
async fn the_right_secret_gets_in() {
    let server = serve(Server::new(|| Whoami).authenticator(secret())).await;
    let conn = connect(server.port, ConnectOptions::new().secret(secret()))
        .await
        .expect("connect");
    let seen = whoami(&conn).await;
    assert_eq!(seen.secret.as_deref(), Some("ops"));
    assert_eq!(seen.name.as_deref(), Some("ops"));
    assert!(seen.from_loopback);
    // The client knows the server proved the secret too.
    assert_eq!(
        conn.credentials().and_then(|c| c.shared_secret.as_deref()),
        Some("ops")
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let server = serve(Server::new(|| Whoami).authenticator(secret())).await;
    let wrong = ConnectOptions::new().secret(SharedSecret::new("guess"));
    let err = connect(server.port, wrong).await.expect_err("wrong secret");
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert!(err.to_string().contains("authentication failed"), "{err}");
    assert!(err.to_string().contains("does not know the secret"), "{err}");
    still_serves(server.port, ConnectOptions::new().secret(secret())).await;
}

/// Forwards one client to `upstream`, keeping a copy of what the client sent.
async fn recording_relay(upstream: u16) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let port = listener.local_addr().expect("addr").port();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let record = recorded.clone();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.expect("accept");
        let server = TcpStream::connect(("127.0.0.1", upstream))
            .await
            .expect("upstream");
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        let up = async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = cr.read(&mut buf).await {
                record.lock().extend_from_slice(&buf[..n]);
                if sw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        };
        let down = async move {
            let _ = tokio::io::copy(&mut sr, &mut cw).await;
        };
        tokio::join!(up, down);
    });
    (port, recorded)
}

#[tokio::test]
async fn a_replayed_transcript_is_refused() {
    let server = serve(Server::new(|| Whoami).authenticator(secret())).await;
    let (relay, recorded) = recording_relay(server.port).await;
    let conn = connect(relay, ConnectOptions::new().secret(secret()))
        .await
        .expect("through the relay");
    assert_eq!(conn.root().call::<i64>("add", (1, 1)).await.expect("call"), 2);
    conn.close().await;
    let transcript = recorded.lock().clone();
    // Client hello: magic, version, nonce (41 bytes); then status and proof (33 bytes).
    assert!(
        transcript.len() > 74,
        "the exchange and the protocol went through the relay"
    );

    let mut raw = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    raw.write_all(&transcript[..41]).await.expect("replay the hello");
    let mut challenge = [0u8; 8 + 1 + 32 + 32];
    guard("challenge", raw.read_exact(&mut challenge))
        .await
        .expect("a fresh challenge");
    assert_eq!(challenge[8], 0, "the server goes on with a new nonce");
    raw.write_all(&transcript[41..74])
        .await
        .expect("replay the proof");
    let mut answer = Vec::new();
    guard("refusal", raw.read_to_end(&mut answer))
        .await
        .expect("refusal, then close");
    assert_eq!(answer.first(), Some(&1), "a failure status: {answer:?}");
    let reason = String::from_utf8_lossy(&answer[3..]);
    assert!(reason.contains("wrong shared secret"), "{reason}");
    still_serves(server.port, ConnectOptions::new().secret(secret())).await;
}

#[tokio::test]
async fn a_client_without_the_secret_is_told() {
    let server = serve(Server::new(|| Whoami).authenticator(secret())).await;
    let err = connect(server.port, ConnectOptions::new())
        .await
        .expect_err("no secret");
    assert!(matches!(err, Error::PeerClosed(_)), "{err:?}");
    assert!(err.to_string().contains("requires a shared secret"), "{err}");
    // And a client with a secret on a server without one.
    let plain = serve(Server::new(|| Whoami)).await;
    let err = connect(plain.port, ConnectOptions::new().secret(secret()))
        .await
        .expect_err("secret to plain");
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert!(
        err.to_string().contains("does not ask for a shared secret"),
        "{err}"
    );
}

#[tokio::test]
async fn a_stalled_or_truncated_exchange_is_dropped_at_the_deadline() {
    let limit = Duration::from_millis(400);
    let config = ConnectionConfig::default().handshake_timeout(limit);
    let server = serve(
        Server::new(|| Whoami)
            .connection_config(config)
            .authenticator(secret()),
    )
    .await;

    let started = Instant::now();
    let mut stalled = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    stalled
        .write_all(&rpc::transport::AUTH_MAGIC)
        .await
        .expect("half a hello");
    let mut truncated = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    truncated
        .write_all(&rpc::transport::AUTH_MAGIC[..3])
        .await
        .expect("a few bytes");
    drop(truncated);

    // Meanwhile another client is served.
    still_serves(server.port, ConnectOptions::new().secret(secret())).await;

    let mut rest = Vec::new();
    guard("the stalled socket closes", stalled.read_to_end(&mut rest))
        .await
        .expect("closed cleanly");
    let waited = started.elapsed();
    assert!(rest.is_empty(), "nothing of the service: {rest:?}");
    assert!(waited >= limit && waited < limit * 5, "closed after {waited:?}");
}

#[tokio::test]
async fn tls_and_a_secret_through_the_blocking_facade() {
    let setup = setup();
    let server = serve(
        Server::new(|| Whoami)
            .tls(setup.server_tls)
            .authenticator(secret()),
    )
    .await;
    let options = ConnectOptions::new().tls(trusting(&setup.ca)).secret(secret());
    let port = server.port;
    let (sum, secret_seen) = guard(
        "blocking connect",
        tokio::task::spawn_blocking(move || {
            let conn = rpc::blocking::connect_with("127.0.0.1", port, options).expect("blocking connect");
            let sum: i64 = conn.root().call("add", (40, 2)).expect("call");
            let seen: (Option<String>, Vec<String>, Option<String>, bool) =
                conn.root().call("whoami", ()).expect("whoami");
            assert!(conn
                .as_async()
                .credentials()
                .is_some_and(|c| c.certificate.is_some()));
            (sum, seen.2)
        }),
    )
    .await
    .expect("join");
    assert_eq!(sum, 42);
    assert_eq!(secret_seen.as_deref(), Some("ops"));
}
