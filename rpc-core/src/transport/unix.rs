//! Unix domain sockets.

use std::path::Path;

use tokio::net::UnixStream;

use super::secure::{self, Secured};
use super::ConnectOptions;
use crate::connection::Connection;
use crate::error::Result;

/// Connects to the Unix domain socket at `path` with `options`.
///
/// ```
/// use rpc_core::transport::{connect_unix, unix_connection};
/// use rpc_core::{service, ConnectOptions};
///
/// struct Echo;
///
/// #[service]
/// impl Echo {
///     fn exposed_echo(&self, s: String) -> String {
///         s
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let path = std::env::temp_dir().join(format!("rpc-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = tokio::net::UnixListener::bind(&path)?;
/// tokio::spawn(async move {
///     let (stream, _) = listener.accept().await?;
///     unix_connection(stream, ConnectOptions::new().service(Echo)).await?.closed().await;
///     Ok::<(), rpc_core::Error>(())
/// });
/// let conn = connect_unix(&path, ConnectOptions::new()).await?;
/// assert_eq!(conn.root().call::<String>("echo", ("hi",)).await?, "hi");
/// conn.close().await;
/// std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
///
/// TLS and a shared secret set in `options` run as the client, as over TCP; TLS needs
/// [`ClientTls::server_name`](crate::ClientTls::server_name), the name the server's
/// certificate must be valid for.
pub async fn connect_unix(path: impl AsRef<Path>, options: ConnectOptions) -> Result<Connection> {
    let stream = UnixStream::connect(path).await?;
    unix_connection(stream, options).await
}

/// Opens a connection over an established Unix stream (server side or client side); TLS and
/// a shared secret in `options` run as the client (see [`connect_unix`]).
pub async fn unix_connection(stream: UnixStream, mut options: ConnectOptions) -> Result<Connection> {
    let stream = if secure::wanted(&options) {
        match secure::client_side(stream, None, &mut options).await? {
            Secured::Plain(stream) => stream,
            Secured::Tls(tls) => return secure::start_tls(tls, options).await,
        }
    } else {
        stream
    };
    let (r, w) = stream.into_split();
    Connection::start_split_with(r, w, options.into_setup()).await
}
