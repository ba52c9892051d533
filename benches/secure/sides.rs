//! What the scenarios measure side by side: rpc servers and connections of each security
//! setting (plain TCP, TLS, the shared secret, both), and the raw baselines (a tokio TCP
//! ping-pong, the same ping-pong inside tokio-rustls with the configurations rpc's
//! `ServerTls` and `ClientTls` build: the same provider, suites and certificates).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use rpc::auth::SharedSecret;
use rpc::server::Server;
use rpc::tls::rustls::client::Resumption;
use rpc::tls::rustls::pki_types::ServerName;
use rpc::tls::{ClientTls, ServerTls};
use rpc::{ConnectOptions, Connection, NetRef};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::common::frames::frame_of;
use crate::common::servers::start_raw_server;
use crate::common::servers::{answer_frames, listen};
use crate::common::RawClient;
use crate::pki::{Ca, Role};
use crate::service::BenchServer;
use crate::timing::{raw_samples, rotation, time_each};

/// The shared secret's label.
const SECRET_LABEL: &str = "bench";

/// The name in the server's certificate, checked by the client.
pub const SERVER_NAME: &str = "localhost";

/// A CA made at run time and the server certificate it signed (PEM, never written to disk).
pub struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    /// A fresh CA and a server certificate for `localhost`.
    pub fn new() -> Pki {
        let ca = Ca::new("rpc bench CA");
        let leaf = ca.leaf(Role::Server, SERVER_NAME, &[SERVER_NAME]);
        Pki {
            ca_pem: ca.pem(),
            cert_pem: leaf.cert_pem,
            key_pem: leaf.key_pem,
        }
    }

    /// The CA's certificate, PEM.
    pub fn ca_pem(&self) -> &[u8] {
        self.ca_pem.as_bytes()
    }

    /// The server's TLS settings.
    pub fn server_tls(&self) -> ServerTls {
        ServerTls::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).expect("server TLS")
    }

    /// The client's TLS settings (trusting the CA, checking `localhost`). rustls keeps sessions
    /// in the configuration, so connections made with clones of one `ClientTls` resume them.
    pub fn client_tls(&self) -> ClientTls {
        ClientTls::from_pem(self.ca_pem())
            .expect("client TLS")
            .server_name(SERVER_NAME)
            .expect("server name")
    }

    /// Like [`Pki::client_tls`], with session resumption off: every handshake is a full one.
    pub fn client_tls_full(&self) -> ClientTls {
        let mut config = (**self.client_tls().config()).clone();
        config.resumption = Resumption::disabled();
        ClientTls::from_config(Arc::new(config))
            .server_name(SERVER_NAME)
            .expect("server name")
    }
}

/// The shared secret of the secret scenarios.
fn secret() -> SharedSecret {
    SharedSecret::new("a bench secret, 32 bytes or so..").with_label(SECRET_LABEL)
}

/// How a connection is secured before the protocol's hello.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Security {
    /// Plain TCP.
    Plain,
    /// The shared-secret challenge over plain TCP.
    Secret,
    /// TLS.
    Tls,
    /// TLS, then the shared secret inside it.
    TlsSecret,
}

impl Security {
    /// Whether TLS is on.
    pub fn tls(self) -> bool {
        matches!(self, Security::Tls | Security::TlsSecret)
    }

    /// Whether the shared secret is asked for.
    pub fn secret(self) -> bool {
        matches!(self, Security::Secret | Security::TlsSecret)
    }

    /// Starts a [`BenchServer`] with this security, its other settings changed by `more`.
    pub async fn server(
        self,
        pki: &Pki,
        more: impl FnOnce(Server) -> Server + Send + 'static,
    ) -> BenchServer {
        let tls = self.tls().then(|| pki.server_tls());
        let secret = self.secret();
        BenchServer::start_with(move |mut server| {
            if let Some(tls) = tls {
                server = server.tls(tls);
            }
            if secret {
                server = server.authenticator(self::secret());
            }
            more(server)
        })
        .await
    }

    /// Client options for a server of this security; `tls` is the client's TLS settings
    /// (with or without session resumption), used only when TLS is on.
    pub fn options(self, tls: &ClientTls) -> ConnectOptions {
        let mut options = ConnectOptions::new();
        if self.tls() {
            options = options.tls(tls.clone());
        }
        if self.secret() {
            options = options.secret(secret());
        }
        options
    }
}

/// Connects to `port` with `options` and checks that what `security` asks for happened: the
/// server's certificate verified under TLS, the secret proven (both sides prove it).
pub async fn connect(port: u16, security: Security, options: ConnectOptions) -> Connection {
    let conn = rpc::connect_with("127.0.0.1", port, options)
        .await
        .unwrap_or_else(|e| panic!("connect ({security:?}): {e}"));
    let credentials = conn.credentials();
    let certificate = credentials.and_then(|c| c.certificate.as_ref());
    assert_eq!(
        certificate.is_some(),
        security.tls(),
        "{security:?}: server certificate verified iff TLS"
    );
    if let Some(certificate) = certificate {
        assert_eq!(
            certificate.dns_names,
            [SERVER_NAME],
            "the bench's server certificate"
        );
    }
    let secret = credentials.and_then(|c| c.shared_secret.as_deref());
    assert_eq!(
        secret,
        security.secret().then_some(SECRET_LABEL),
        "{security:?}: secret proven iff asked for"
    );
    conn
}

/// Checks that a secret server refuses a client without the secret (it is told the server
/// requires one) and a client with a wrong one (an authentication error).
pub async fn secret_is_required(port: u16, security: Security, tls: &ClientTls) {
    assert!(security.secret(), "a secret server");
    let without = if security.tls() {
        Security::Tls
    } else {
        Security::Plain
    }
    .options(tls);
    let wrong = without.clone().secret(SharedSecret::new("not the secret"));
    match rpc::connect_with("127.0.0.1", port, without).await {
        Err(e @ rpc::Error::PeerClosed(_)) if e.to_string().contains("requires a shared secret") => {}
        Err(e) => panic!("{security:?} server, no secret: refused, but not as expected: {e}"),
        Ok(_) => panic!("{security:?} server let a client without the secret in"),
    }
    match rpc::connect_with("127.0.0.1", port, wrong).await {
        Err(rpc::Error::Auth(_)) => {}
        Err(e) => panic!("{security:?} server, a wrong secret: refused, but not as Auth: {e}"),
        Ok(_) => panic!("{security:?} server let a client with a wrong secret in"),
    }
}

pub use crate::frames::null_frames;

/// One `null()` call.
pub async fn null(root: &NetRef) {
    root.call::<()>("null", ()).await.expect("null call");
}

/// Starts a raw TLS echo server answering every request frame with one of `reply_len` bytes.
async fn raw_tls_server(pki: &Pki, reply_len: usize) -> SocketAddr {
    let acceptor = TlsAcceptor::from(pki.server_tls().config().clone());
    let reply = frame_of(reply_len);
    listen(move |stream| {
        let acceptor = acceptor.clone();
        let reply = reply.clone();
        async move {
            let stream = acceptor.accept(stream).await.expect("raw TLS accept");
            answer_frames(stream, vec![reply]).await;
        }
    })
    .await
}

/// A raw TCP connection to `port` (`TCP_NODELAY` on) with a TLS handshake on it.
pub async fn raw_tls_connect(connector: &TlsConnector, port: u16) -> TlsStream<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("raw connect");
    stream.set_nodelay(true).expect("nodelay");
    let name = ServerName::try_from(SERVER_NAME).expect("server name");
    connector.connect(name, stream).await.expect("raw TLS handshake")
}

/// The four sides of the latency and bulk scenarios, in [`SIDES`] order: rpc over TLS and over
/// plain TCP (each to a server of its own), the raw TLS and the raw TCP ping-pong.
pub struct FourSides {
    tls_server: BenchServer,
    tcp_server: BenchServer,
    client_tls: ClientTls,
    raw_tls: SocketAddr,
    raw_tls_connector: TlsConnector,
    raw_tcp: SocketAddr,
    /// Request frame size of the raw sides.
    request_len: usize,
}

/// The sides' names, in the order [`FourSides::time`] returns their samples.
pub const SIDES: [&str; 4] = ["rpc TLS", "rpc TCP", "raw TLS", "raw TCP"];

impl FourSides {
    /// Starts the servers; the raw sides send `frames.0`-byte requests and get `frames.1`-byte
    /// replies (the rpc call's sizes).
    pub async fn start(pki: &Pki, (request_len, reply_len): (usize, usize)) -> FourSides {
        FourSides {
            tls_server: Security::Tls.server(pki, |s| s).await,
            tcp_server: Security::Plain.server(pki, |s| s).await,
            client_tls: pki.client_tls(),
            raw_tls: raw_tls_server(pki, reply_len).await,
            raw_tls_connector: TlsConnector::from(pki.client_tls().config().clone()),
            raw_tcp: start_raw_server(reply_len).await,
            request_len,
        }
    }

    /// `rounds` rounds of each side in turn, the order rotating every round (so that none
    /// always follows the same one). In every round each side connects afresh (so that where
    /// its tasks land on the workers is drawn anew, instead of favouring one side for the whole
    /// run), makes `warm` untimed runs, then `per_round` timed ones, and closes. On the rpc
    /// sides a run is `call(root)`, on the raw sides one round trip. Returns each side's
    /// nanoseconds, in [`SIDES`] order.
    pub async fn time<F, Fut>(&self, rounds: usize, warm: usize, per_round: usize, call: F) -> [Vec<u64>; 4]
    where
        F: Fn(NetRef) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut ns: [Vec<u64>; 4] = Default::default();
        let mut untimed = Vec::new();
        for round in 0..rounds {
            for side in rotation(round, SIDES.len()) {
                let out = &mut ns[side];
                match side {
                    0 | 1 => {
                        let (port, security) = match side {
                            0 => (self.tls_server.port, Security::Tls),
                            _ => (self.tcp_server.port, Security::Plain),
                        };
                        let conn = connect(port, security, security.options(&self.client_tls)).await;
                        let root = conn.root();
                        time_each(warm, &mut untimed, |_| call(root.clone())).await;
                        time_each(per_round, out, |_| call(root.clone())).await;
                        conn.close().await;
                    }
                    2 => {
                        let stream = raw_tls_connect(&self.raw_tls_connector, self.raw_tls.port()).await;
                        let mut raw = RawClient::over(stream, &[self.request_len]);
                        raw_samples(warm, 1, &mut raw, &mut untimed).await;
                        raw_samples(per_round, 1, &mut raw, out).await;
                    }
                    _ => {
                        let mut raw = RawClient::connect(self.raw_tcp, self.request_len).await;
                        raw_samples(warm, 1, &mut raw, &mut untimed).await;
                        raw_samples(per_round, 1, &mut raw, out).await;
                    }
                }
            }
        }
        ns
    }

    /// Stops the servers.
    pub async fn stop(self) {
        self.tls_server.stop().await;
        self.tcp_server.stop().await;
    }
}
