//! The client's stage before the protocol's hello: TLS, then the shared secret, as the
//! options ask, all under the handshake timeout.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

use super::ConnectOptions;
use crate::connection::Connection;
use crate::credentials::Credentials;
use crate::error::{Error, Result};

/// A stream after the client's authentication: as it was, or inside TLS.
pub(crate) enum Secured<S> {
    /// No TLS (a shared secret may have been proven over it).
    Plain(S),
    /// TLS.
    Tls(Box<TlsStream<S>>),
}

/// True when `options` ask for anything before the hello.
pub(crate) fn wanted(options: &ConnectOptions) -> bool {
    options.tls_settings().is_some() || options.shared_secret().is_some()
}

/// Runs TLS (if set; the server's name is the one set in [`ClientTls`](super::ClientTls),
/// else `host`), then the shared-secret exchange (if set), as the client, within the
/// handshake timeout. What was verified of the server goes into the options' peer
/// credentials.
pub(crate) async fn client_side<S>(
    stream: S,
    host: Option<&str>,
    options: &mut ConnectOptions,
) -> Result<Secured<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (tls, secret) = options.take_security();
    let limit = options.connection_config().handshake_timeout;
    let run = async {
        let mut credentials = Credentials::default();
        let mut secured = match tls {
            None => Secured::Plain(stream),
            Some(tls) => {
                let (stream, identity) = tls.connect(stream, host).await?;
                credentials.certificate = Some(identity);
                Secured::Tls(Box::new(stream))
            }
        };
        if let Some(secret) = secret {
            match &mut secured {
                Secured::Plain(s) => secret.client_exchange(s).await?,
                Secured::Tls(s) => secret.client_exchange(s.as_mut()).await?,
            }
            credentials.shared_secret = Some(secret.label().to_owned());
        }
        Ok::<_, Error>((secured, credentials))
    };
    let (secured, credentials) = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| Error::Handshake(format!("no TLS or shared-secret exchange within {limit:?}")))??;
    options.peer_mut().credentials = Some(credentials);
    Ok(secured)
}

/// Starts the protocol over a TLS stream; a TLS alert of the server (a refused client
/// certificate, which TLS 1.3 reports only after the client's handshake) becomes
/// [`Error::Tls`] naming it.
pub(crate) async fn start_tls<S>(stream: Box<TlsStream<S>>, options: ConnectOptions) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    start(stream, options).await.map_err(|e| match e {
        Error::Io(io) => match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(reason) => Error::Tls(format!("the server refused the connection: {reason}")),
            None => Error::Io(io),
        },
        other => other,
    })
}

/// Starts the protocol over any stream, split in two halves, keeping what is known of the peer.
pub(crate) async fn start<S>(stream: S, options: ConnectOptions) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    Connection::start_with(stream, options.into_setup()).await
}
