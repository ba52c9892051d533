//! TLS and authenticators end to end on 127.0.0.1: certificates made at run time (`pki`),
//! refused certificates, client identities, the shared-secret challenge (`secret`).

mod pki;
mod rpyc;
mod secret;
mod uri;

use std::future::Future;
use std::time::Duration;

use rpc::server::{Server, ShutdownHandle};
use rpc::tls::{ClientTls, ServerTls};
use rpc::{service, ConnectOptions, Connection, Error};

use pki::{Ca, Role};

/// Safety net only: a bug fails the test after this long instead of hanging it.
const GUARD: Duration = Duration::from_secs(10);

async fn guard<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not happen within {GUARD:?}"),
    }
}

/// What the service sees of its caller.
#[derive(Debug, serde::Deserialize)]
struct Seen {
    name: Option<String>,
    dns_names: Vec<String>,
    secret: Option<String>,
    from_loopback: bool,
}

/// Tells a caller what its connection knows of it.
struct Whoami;

#[service]
impl Whoami {
    fn exposed_add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    fn exposed_whoami(&self, conn: Connection) -> (Option<String>, Vec<String>, Option<String>, bool) {
        let creds = conn.credentials();
        (
            creds.and_then(|c| c.name()).map(str::to_owned),
            creds
                .and_then(|c| c.certificate.as_ref())
                .map(|c| c.dns_names.clone())
                .unwrap_or_default(),
            creds.and_then(|c| c.shared_secret.clone()),
            conn.peer_addr().is_some_and(|a| a.ip().is_loopback()),
        )
    }
}

async fn whoami(conn: &Connection) -> Seen {
    let (name, dns_names, secret, from_loopback) = conn.root().call("whoami", ()).await.expect("whoami");
    Seen {
        name,
        dns_names,
        secret,
        from_loopback,
    }
}

/// A server on 127.0.0.1 serving [`Whoami`]; shut down when dropped.
struct Running {
    port: u16,
    stop: ShutdownHandle,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.shutdown();
    }
}

async fn serve(server: Server) -> Running {
    let bound = server.bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let port = bound.local_addr().expect("local addr").port();
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());
    Running { port, stop }
}

/// A CA and a server certificate for 127.0.0.1 and localhost.
struct Setup {
    ca: Ca,
    server_tls: ServerTls,
}

fn setup() -> Setup {
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(Role::Server, "test server", &["localhost", "127.0.0.1"]);
    let server_tls =
        ServerTls::from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes()).expect("server TLS");
    Setup { ca, server_tls }
}

fn trusting(ca: &Ca) -> ClientTls {
    ClientTls::from_pem(ca.pem().as_bytes()).expect("client TLS")
}

async fn connect(port: u16, options: ConnectOptions) -> rpc::Result<Connection> {
    guard("connect", rpc::connect_with("127.0.0.1", port, options)).await
}

/// The server still serves a good client after a refusal.
async fn still_serves(port: u16, options: ConnectOptions) {
    let conn = connect(port, options)
        .await
        .expect("a good client after a refused one");
    assert_eq!(conn.root().call::<i64>("add", (2, 3)).await.expect("call"), 5);
}

#[tokio::test]
async fn tls_round_trip() {
    let Setup { ca, server_tls } = setup();
    let server = serve(Server::new(|| Whoami).tls(server_tls)).await;
    let conn = connect(server.port, ConnectOptions::new().tls(trusting(&ca)))
        .await
        .expect("TLS connect");
    assert_eq!(conn.root().call::<i64>("add", (20, 22)).await.expect("call"), 42);
    let seen = whoami(&conn).await;
    assert_eq!(seen.name, None, "no client certificate, no name");
    assert!(seen.from_loopback);
    // The client's credentials hold the server's verified certificate.
    let cert = conn
        .credentials()
        .and_then(|c| c.certificate.as_ref())
        .expect("server certificate");
    assert_eq!(cert.common_name.as_deref(), Some("test server"));
    assert_eq!(cert.dns_names, ["localhost"]);
    assert_eq!(conn.peer_addr().map(|a| a.port()), Some(server.port));
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let Setup { ca, server_tls } = setup();
    let server = serve(Server::new(|| Whoami).tls(server_tls)).await;
    let stranger = Ca::new("another CA");
    let err = connect(server.port, ConnectOptions::new().tls(trusting(&stranger)))
        .await
        .expect_err("untrusted");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.chain().contains("UnknownIssuer"), "{}", err.chain());
    still_serves(server.port, ConnectOptions::new().tls(trusting(&ca))).await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let ca = Ca::new("test CA");
    let good = ca.leaf(Role::Server, "test server", &["127.0.0.1"]);
    let old = ca.expired(Role::Server, "old server", &["127.0.0.1"]);
    let expired = serve(
        Server::new(|| Whoami)
            .tls(ServerTls::from_pem(old.cert_pem.as_bytes(), old.key_pem.as_bytes()).expect("server TLS")),
    )
    .await;
    let err = connect(expired.port, ConnectOptions::new().tls(trusting(&ca)))
        .await
        .expect_err("expired");
    assert!(err.chain().contains("expired"), "{}", err.chain());
    let fine = serve(
        Server::new(|| Whoami)
            .tls(ServerTls::from_pem(good.cert_pem.as_bytes(), good.key_pem.as_bytes()).expect("server TLS")),
    )
    .await;
    still_serves(fine.port, ConnectOptions::new().tls(trusting(&ca))).await;
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused() {
    let ca = Ca::new("test CA");
    let other = ca.leaf(Role::Server, "elsewhere", &["other.example"]);
    let tls = ServerTls::from_pem(other.cert_pem.as_bytes(), other.key_pem.as_bytes()).expect("server TLS");
    let server = serve(Server::new(|| Whoami).tls(tls)).await;
    let err = connect(server.port, ConnectOptions::new().tls(trusting(&ca)))
        .await
        .expect_err("wrong host");
    assert!(err.chain().contains("not valid for name"), "{}", err.chain());
    // Naming the host the certificate is for makes the same server acceptable.
    let named = trusting(&ca).server_name("other.example").expect("name");
    still_serves(server.port, ConnectOptions::new().tls(named)).await;
}

#[tokio::test]
async fn a_client_certificate_identity_reaches_the_service() {
    let Setup { ca, server_tls } = setup();
    let tls = server_tls
        .require_client_certs(ca.pem().as_bytes())
        .expect("client CA");
    let server = serve(Server::new(|| Whoami).tls(tls)).await;
    let alice = ca.leaf(Role::Client, "alice", &["alice.clients.example"]);
    let client = trusting(&ca)
        .client_cert(alice.cert_pem.as_bytes(), alice.key_pem.as_bytes())
        .expect("client cert");
    let conn = connect(server.port, ConnectOptions::new().tls(client))
        .await
        .expect("mutual TLS");
    let seen = whoami(&conn).await;
    assert_eq!(seen.name.as_deref(), Some("alice"));
    assert_eq!(seen.dns_names, ["alice.clients.example"]);
    assert!(seen.from_loopback);
}

#[tokio::test]
async fn a_missing_or_foreign_client_certificate_is_refused() {
    let Setup { ca, server_tls } = setup();
    let tls = server_tls
        .require_client_certs(ca.pem().as_bytes())
        .expect("client CA");
    let server = serve(Server::new(|| Whoami).tls(tls)).await;

    let err = connect(server.port, ConnectOptions::new().tls(trusting(&ca)))
        .await
        .expect_err("no client cert");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.chain().contains("CertificateRequired"), "{}", err.chain());

    let mallory_ca = Ca::new("mallory CA");
    let mallory = mallory_ca.leaf(Role::Client, "mallory", &["mallory.example"]);
    let client = trusting(&ca)
        .client_cert(mallory.cert_pem.as_bytes(), mallory.key_pem.as_bytes())
        .expect("client cert");
    let err = connect(server.port, ConnectOptions::new().tls(client))
        .await
        .expect_err("foreign client cert");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");

    let bob = ca.leaf(Role::Client, "bob", &["bob.example"]);
    let client = trusting(&ca)
        .client_cert(bob.cert_pem.as_bytes(), bob.key_pem.as_bytes())
        .expect("cert");
    still_serves(server.port, ConnectOptions::new().tls(client)).await;
}

#[tokio::test]
async fn a_plain_client_on_a_tls_port_is_told() {
    let Setup { ca, server_tls } = setup();
    let server = serve(Server::new(|| Whoami).tls(server_tls)).await;
    let err = connect(server.port, ConnectOptions::new())
        .await
        .expect_err("plain client");
    assert!(matches!(err, Error::PeerClosed(_)), "{err:?}");
    assert!(err.to_string().contains("requires TLS"), "{err}");
    still_serves(server.port, ConnectOptions::new().tls(trusting(&ca))).await;
}

#[tokio::test]
async fn a_tls_client_on_a_plain_port_is_told() {
    let ca = Ca::new("test CA");
    let server = serve(Server::new(|| Whoami)).await;
    let err = connect(server.port, ConnectOptions::new().tls(trusting(&ca)))
        .await
        .expect_err("TLS client");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.to_string().contains("does not speak TLS"), "{err}");
    still_serves(server.port, ConnectOptions::new()).await;
}

#[cfg(unix)]
#[tokio::test]
async fn tls_over_a_unix_socket_checks_the_name_the_options_give() {
    let Setup { ca, server_tls } = setup();
    let path = std::env::temp_dir().join(format!("rpc-tls-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let bound = Server::new(|| Whoami)
        .tls(server_tls)
        .bind_unix(&path)
        .expect("bind the socket");
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());
    let _running = Running { port: 0, stop };
    // A Unix socket has no host name: the client must say which name to expect.
    let unnamed = guard(
        "connect",
        rpc::transport::connect_unix(&path, ConnectOptions::new().tls(trusting(&ca))),
    )
    .await
    .expect_err("no server name");
    assert!(unnamed.chain().contains("server_name"), "{}", unnamed.chain());
    // The right name: served; another name: refused by the certificate check.
    let named = trusting(&ca).server_name("localhost").expect("a name");
    let conn = guard(
        "connect",
        rpc::transport::connect_unix(&path, ConnectOptions::new().tls(named)),
    )
    .await
    .expect("TLS over the Unix socket");
    assert_eq!(conn.root().call::<i64>("add", (1, 2)).await.expect("call"), 3);
    let wrong = trusting(&ca).server_name("elsewhere.example").expect("a name");
    let e = guard(
        "connect",
        rpc::transport::connect_unix(&path, ConnectOptions::new().tls(wrong)),
    )
    .await
    .expect_err("the certificate is not for that name");
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    conn.close().await;
}

#[tokio::test]
async fn a_client_stalled_in_the_tls_handshake_is_dropped_at_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limit = Duration::from_millis(400);
    let Setup { ca, server_tls } = setup();
    let config = rpc::ConnectionConfig::default().handshake_timeout(limit);
    let server = serve(Server::new(|| Whoami).connection_config(config).tls(server_tls)).await;
    let started = std::time::Instant::now();
    // The first bytes of a ClientHello record, then nothing.
    let mut stalled = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .await
        .expect("half a record");
    // Meanwhile another client is served.
    still_serves(server.port, ConnectOptions::new().tls(trusting(&ca))).await;
    let mut rest = Vec::new();
    let _ = guard("the stalled socket closes", stalled.read_to_end(&mut rest)).await;
    let waited = started.elapsed();
    assert!(waited >= limit && waited < limit * 5, "closed after {waited:?}");
}
