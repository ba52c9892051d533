//! Authenticators: what runs on each accepted stream before the protocol's hello (RPyC's
//! `authenticator(sock) -> (sock, credentials)`).
//!
//! A server runs its TLS ([`Server::tls`](crate::Server::tls)) first, then its
//! [`Authenticator`] ([`Server::authenticator`](crate::Server::authenticator)), both within
//! the connection's handshake timeout and the server's quota of strangers; what they verify
//! becomes the connection's [`Credentials`], which a service reads through a `Connection`
//! parameter (`conn.credentials()`). A refused client is told why where it can read it, the
//! failure is logged with its address, and only its socket closes.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use rpc_core::{Credentials, Error, Result, SharedSecret};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::listener::refuse_on;
use crate::rewind::{sniff, Opening, Rewind};

/// A byte stream an authenticator reads and writes.
pub trait AuthStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> AuthStream for T {}

/// An accepted stream, boxed: a TCP or Unix socket, or what an earlier stage wrapped it in.
pub type BoxStream = Box<dyn AuthStream>;

/// A boxed future, as an [`Authenticator`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an authenticator passes on: the stream (itself, or wrapped, as TLS does) and what it
/// verified of the client.
pub struct Authenticated {
    /// The stream the protocol runs over from now on.
    pub stream: BoxStream,
    /// What was verified; the server adds it to the credentials of earlier stages.
    pub credentials: Credentials,
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Checks a client before the protocol starts.
///
/// `authenticate` gets the accepted stream (inside TLS if the server has TLS) and the
/// client's address (`None` over a Unix socket). On success it returns the stream to run the
/// protocol over and the verified credentials. On failure it first tells the client what it
/// can read (an error message of its own exchange), then returns the error: the server logs
/// it with the client's address and closes the stream. It need not bound itself in time: the
/// server drops a client that is not through its handshake, authentication included, within
/// the connection's handshake timeout.
///
/// ```
/// use std::net::SocketAddr;
/// use rpc_core::Credentials;
/// use rpc_server::auth::{Authenticated, Authenticator, BoxFuture, BoxStream};
///
/// /// Lets in loopback clients only, naming them "local".
/// struct LoopbackOnly;
///
/// impl Authenticator for LoopbackOnly {
///     fn authenticate(&self, stream: BoxStream, peer: Option<SocketAddr>) -> BoxFuture<'_, rpc_core::Result<Authenticated>> {
///         Box::pin(async move {
///             match peer {
///                 Some(addr) if addr.ip().is_loopback() => {
///                     let mut credentials = Credentials::default();
///                     credentials.attributes.insert("name".into(), "local".into());
///                     Ok(Authenticated { stream, credentials })
///                 }
///                 _ => Err(rpc_core::Error::Auth(format!("{peer:?} is not a loopback address"))),
///             }
///         })
///     }
/// }
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// Checks the client on `stream`, from `peer`.
    fn authenticate(
        &self,
        stream: BoxStream,
        peer: Option<SocketAddr>,
    ) -> BoxFuture<'_, Result<Authenticated>>;
}

/// The server's side of the shared-secret challenge-response (see [`SharedSecret`]). A client
/// that starts the protocol without the exchange is told "this server requires a shared
/// secret" in a protocol refusal, so its connect fails with that reason.
impl Authenticator for SharedSecret {
    fn authenticate(
        &self,
        stream: BoxStream,
        _peer: Option<SocketAddr>,
    ) -> BoxFuture<'_, Result<Authenticated>> {
        Box::pin(async move {
            let refusal = "this server requires a shared secret (ConnectOptions::secret)";
            let (opening, mut stream) = first_bytes(stream, refusal).await?;
            if opening == Opening::Tls {
                return Err(Error::Auth("the client speaks TLS, this server does not".into()));
            }
            let credentials = self.server_exchange(&mut stream).await?;
            Ok(Authenticated {
                stream: Box::new(stream),
                credentials,
            })
        })
    }
}

/// Reads a client's first bytes and says what they open; they stay in the returned stream.
pub(crate) async fn opening_of(stream: BoxStream) -> Result<(Opening, Rewind<BoxStream>)> {
    sniff(stream).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Auth("the client closed the connection before saying anything".into())
        } else {
            Error::Io(e)
        }
    })
}

/// Reads a client's first bytes. A client that started the protocol without this stage is
/// refused with `refusal` (a protocol `Close` it reads as the reason its connect failed).
pub(crate) async fn first_bytes(stream: BoxStream, refusal: &str) -> Result<(Opening, Rewind<BoxStream>)> {
    let (opening, stream) = opening_of(stream).await?;
    if opening == Opening::Protocol {
        let _ = refuse_on(stream, refusal).await;
        return Err(Error::Auth(format!(
            "a client that skipped this stage, told: {refusal}"
        )));
    }
    Ok((opening, stream))
}

/// A shared secret for the clients that offer it: a client that runs the exchange is
/// checked (and a wrong secret refused) and gets the secret's label as credentials; a client
/// that starts the protocol directly is let in without credentials. For a service that
/// decides per method what needs authentication, as a registry does: lookups for anyone,
/// registrations for those who know the secret
/// ([`Access::Authenticated`](crate::naming::Access::Authenticated)).
#[derive(Clone)]
pub struct OptionalSecret(pub SharedSecret);

impl Authenticator for OptionalSecret {
    fn authenticate(
        &self,
        stream: BoxStream,
        _peer: Option<SocketAddr>,
    ) -> BoxFuture<'_, Result<Authenticated>> {
        Box::pin(async move {
            let (opening, mut stream) = opening_of(stream).await?;
            let credentials = match opening {
                Opening::Protocol => Credentials::default(),
                Opening::Tls => {
                    return Err(Error::Auth("the client speaks TLS, this server does not".into()))
                }
                _ => self.0.server_exchange(&mut stream).await?,
            };
            Ok(Authenticated {
                stream: Box::new(stream),
                credentials,
            })
        })
    }
}
