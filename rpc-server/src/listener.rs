//! What a server listens on: TCP or a Unix domain socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rpc_core::frame::encode_frame;
use rpc_core::protocol::{Message, Preamble, PRE_HANDSHAKE_MAX_FRAME};
use rpc_core::{ConnectOptions, Connection, Credentials, PeerInfo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
#[cfg(unix)]
use tokio::net::UnixListener;

use crate::auth::{opening_of, Authenticated, Authenticator, BoxStream};
use crate::foreign::{refuse_rpyc, DEFAULT_RPYC_REFUSAL, SNIFF_LEN};
use crate::rewind::Opening;
use crate::tls::ServerTls;

/// A bound listening socket.
pub(crate) enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixSocket),
}

/// A listening Unix socket, whose file is removed when it closes.
#[cfg(unix)]
pub(crate) struct UnixSocket {
    pub(crate) listener: UnixListener,
    pub(crate) path: std::path::PathBuf,
}

#[cfg(unix)]
impl Drop for UnixSocket {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::debug!(error = %e, path = %self.path.display(), "socket file not removed");
        }
    }
}

/// An accepted byte stream, not yet handshaken.
pub(crate) enum Accepted {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

impl Listener {
    /// Waits for the next peer; returns the stream and the peer's address (none over a Unix
    /// socket).
    pub(crate) async fn accept(&self) -> std::io::Result<(Accepted, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept().await?;
                Ok((Accepted::Tcp(s), Some(addr)))
            }
            #[cfg(unix)]
            Listener::Unix(l) => {
                let (s, _) = l.listener.accept().await?;
                Ok((Accepted::Unix(s), None))
            }
        }
    }
}

/// A peer's address for logs.
pub(crate) fn shown(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "unix".to_owned(), |a| a.to_string())
}

/// What a server runs on each stream before the protocol: TLS, then an authenticator; and
/// what it tells a Python rpyc client (see `foreign.rs`).
#[derive(Clone)]
pub(crate) struct Security {
    pub(crate) tls: Option<ServerTls>,
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
    pub(crate) rpyc_refusal: Arc<str>,
    /// Serve Python rpyc clients (RPyC 6's wire) instead of this protocol's.
    pub(crate) rpyc: bool,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            tls: None,
            authenticator: None,
            rpyc_refusal: DEFAULT_RPYC_REFUSAL.into(),
            rpyc: false,
        }
    }
}

impl Security {
    fn is_off(&self) -> bool {
        self.tls.is_none() && self.authenticator.is_none()
    }

    /// Runs TLS, then the authenticator, on `stream`; the credentials of both, merged. An
    /// rpyc client is turned away before TLS, or inside it (`rpyc.ssl_connect`).
    async fn run(&self, stream: BoxStream, peer: Option<SocketAddr>) -> Result<Authenticated, Failure> {
        let mut credentials = Credentials::default();
        let mut stream = self.screen(stream).await?;
        let stages = [
            self.tls.as_ref().map(|t| t as &dyn Authenticator),
            self.authenticator.as_deref(),
        ];
        for stage in stages.into_iter().flatten() {
            let done = stage.authenticate(stream, peer).await.map_err(Failure::Auth)?;
            stream = done.stream;
            credentials.merge(done.credentials);
        }
        if self.tls.is_some() {
            stream = self.screen(stream).await?;
        }
        Ok(Authenticated { stream, credentials })
    }

    /// Turns an rpyc client away; any other stream goes on with its first bytes intact.
    async fn screen(&self, stream: BoxStream) -> Result<BoxStream, Failure> {
        let (opening, stream) = opening_of(stream).await.map_err(Failure::Handshake)?;
        match opening {
            Opening::Rpyc(generation) => Err(self.turn_away(stream, generation).await),
            _ => Ok(Box::new(stream)),
        }
    }

    /// Answers an rpyc client with the refusal; the failure to log.
    async fn turn_away<S>(&self, stream: S, generation: rpc_core::rpyc::Generation) -> Failure
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if let Err(e) = refuse_rpyc(stream, generation, &self.rpyc_refusal).await {
            tracing::debug!(error = %e, "refusal of an rpyc client not delivered");
        }
        Failure::Foreign(format!(
            "a Python rpyc client ({generation:?} layout), told it is not served here"
        ))
    }
}

/// How long turning a client away may take.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(1);

impl Accepted {
    /// Turns the client away with `reason`: our preamble and a `Close` naming it (the client's
    /// handshake fails with that reason rather than a reset), then waits briefly for the client
    /// to hang up so that its unread greeting does not turn our close into a reset.
    pub(crate) async fn refuse(self, reason: &str, security: &Security) {
        if security.rpyc {
            // An rpyc client: its first request gets the reason as a Python exception.
            let refusal = async {
                match self {
                    Accepted::Tcp(s) => refuse_rpyc(s, rpc_core::rpyc::Generation::V6, reason).await,
                    #[cfg(unix)]
                    Accepted::Unix(s) => refuse_rpyc(s, rpc_core::rpyc::Generation::V6, reason).await,
                }
            };
            if let Err(e) = refusal.await {
                tracing::debug!(error = %e, "refusal of an rpyc client not delivered");
            }
            return;
        }
        let refusal = async {
            match self {
                Accepted::Tcp(s) => refuse_on(s, reason).await,
                #[cfg(unix)]
                Accepted::Unix(s) => refuse_on(s, reason).await,
            }
        };
        if let Ok(Err(e)) = tokio::time::timeout(REFUSAL_DEADLINE, refusal).await {
            tracing::debug!(error = %e, "refusal not delivered");
        }
    }

    /// Runs the authentication stage (if any), then the handshake, and starts the connection
    /// with `options` (the service, the settings, the published objects). Without TLS and
    /// authenticator, the socket keeps its fast owned halves.
    pub(crate) async fn start(
        self,
        options: ConnectOptions,
        security: &Security,
        peer: Option<SocketAddr>,
    ) -> Result<Connection, Failure> {
        let info = PeerInfo::new().addr(peer);
        if security.rpyc {
            return start_rpyc(self, options, peer, security).await;
        }
        if security.is_off() {
            let options = options.peer(info);
            let started = match self {
                Accepted::Tcp(s) => {
                    if let Some(generation) = peek_rpyc(&s).await.map_err(|e| Failure::Handshake(e.into()))? {
                        return Err(security.turn_away(s, generation).await);
                    }
                    rpc_core::transport::tcp_connection(s, options).await
                }
                #[cfg(unix)]
                Accepted::Unix(s) => rpc_core::transport::unix_connection(s, options).await,
            };
            return started.map_err(Failure::Handshake);
        }
        let stream: BoxStream = match self {
            Accepted::Tcp(s) => {
                s.set_nodelay(true).map_err(|e| Failure::Handshake(e.into()))?;
                Box::new(s)
            }
            #[cfg(unix)]
            Accepted::Unix(s) => Box::new(s),
        };
        let done = security.run(stream, peer).await?;
        let options = options.peer(info.credentials(Some(done.credentials)));
        rpc_core::connect_stream(done.stream, options)
            .await
            .map_err(Failure::Handshake)
    }
}

/// Serves a Python rpyc client: TLS first if the server has it (`rpyc.ssl_connect`), then
/// RPyC's wire, which has no handshake of its own.
async fn start_rpyc(
    accepted: Accepted,
    options: ConnectOptions,
    peer: Option<SocketAddr>,
    security: &Security,
) -> Result<Connection, Failure> {
    use rpc_core::transport::rpyc::{rpyc_connection, rpyc_stream_connection};
    let info = PeerInfo::new().addr(peer);
    let started = match (accepted, &security.tls) {
        (Accepted::Tcp(s), None) => rpyc_connection(s, options.peer(info)).await,
        (accepted, Some(tls)) => {
            let stream: BoxStream = match accepted {
                Accepted::Tcp(s) => {
                    s.set_nodelay(true).map_err(|e| Failure::Handshake(e.into()))?;
                    Box::new(s)
                }
                #[cfg(unix)]
                Accepted::Unix(s) => Box::new(s),
            };
            let done = tls.authenticate(stream, peer).await.map_err(Failure::Auth)?;
            let info = info.credentials(Some(done.credentials));
            rpyc_stream_connection(done.stream, options.peer(info)).await
        }
        #[cfg(unix)]
        (Accepted::Unix(s), None) => rpyc_stream_connection(s, options.peer(info)).await,
    };
    started.map_err(Failure::Handshake)
}

/// Why a stranger did not become a connection.
#[derive(Debug)]
pub(crate) enum Failure {
    /// TLS or the authenticator refused it.
    Auth(rpc_core::Error),
    /// The protocol's handshake failed.
    Handshake(rpc_core::Error),
    /// A client of another protocol, told so.
    Foreign(String),
}

/// Looks at a TCP client's first bytes without taking them: the rpyc generation if they are an
/// rpyc frame. Waits (within the caller's handshake deadline) until they decide it: this
/// protocol's magic, or six bytes.
async fn peek_rpyc(s: &tokio::net::TcpStream) -> std::io::Result<Option<rpc_core::rpyc::Generation>> {
    let mut first = [0u8; SNIFF_LEN];
    loop {
        let n = s.peek(&mut first).await?;
        if n == 0 {
            return Ok(None);
        }
        if n >= 2 && first[..n] == rpc_core::protocol::MAGIC[..n] {
            return Ok(None);
        }
        if n == SNIFF_LEN {
            return Ok(rpc_core::rpyc::frame::sniff(&first, usize::MAX));
        }
        // A few bytes so far: peek again once more may have come.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Refuses a client that started the protocol: our preamble and a `Close` naming `reason`,
/// then a bounded read of what it sent until it hangs up.
pub(crate) async fn refuse_on<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    reason: &str,
) -> std::io::Result<()> {
    let mut out = Preamble::current().to_bytes().to_vec();
    let close = Message::Close {
        reason: Some(reason.to_owned()),
    };
    encode_frame(&mut out, PRE_HANDSHAKE_MAX_FRAME, |o| close.encode_into(o))
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    s.write_all(&out).await?;
    s.shutdown().await?;
    // A greeting's worth at most.
    read_until_hangup(&mut s, PRE_HANDSHAKE_MAX_FRAME + 64).await
}

/// Reads (and drops) what a refused client sends until it hangs up, `limit` bytes at most:
/// closing with its bytes unread would turn the close into a reset that loses our answer.
pub(crate) async fn read_until_hangup<S: AsyncRead + Unpin>(s: &mut S, limit: usize) -> std::io::Result<()> {
    let mut sink = [0u8; 4096];
    let mut left = limit;
    while left > 0 {
        match s.read(&mut sink).await? {
            0 => break,
            n => left = left.saturating_sub(n),
        }
    }
    Ok(())
}
