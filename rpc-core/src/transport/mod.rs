//! The transport layer: ways to open a [`Connection`] over a byte stream.
//!
//! Anything `AsyncRead + AsyncWrite` carries a connection ([`connect_stream`]); TCP, Unix
//! domain sockets and an in-memory pair are built in. A client authenticates through its
//! [`ConnectOptions`]: TLS ([`ClientTls`]) and a shared secret ([`SharedSecret`]). A direct
//! [`Uri`](crate::Uri) (`rpc://`, `rpc+tls://`, `rpc+unix://`) is reached with
//! [`connect_direct`] and [`lookup_direct`].

mod memory;
mod options;
pub mod rpyc;
mod secret;
mod secure;
mod subproc;
mod tcp;
pub mod tls;
#[cfg(unix)]
mod unix;
mod uri;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::Connection;
use crate::error::Result;

pub use memory::{memory_pair, memory_pair_with};
pub use options::ConnectOptions;
pub use secret::{SharedSecret, AUTH_MAGIC};
pub use subproc::{connect_subproc, serve_stdio};
pub use tcp::{connect, connect_with, tcp_connection};
pub use tls::ClientTls;
#[cfg(unix)]
pub use unix::{connect_unix, unix_connection};
pub use uri::{connect_direct, lookup_direct};

/// Opens a connection over any byte stream (a TLS stream, a serial line, a `tokio::io::duplex`
/// half) with `options`. Both ends run the same handshake, so open both at once.
///
/// A shared secret in `options` is proven as the client before the hello; TLS runs as the
/// client only with [`ClientTls::server_name`] set (the stream names no host).
///
/// ```
/// use rpc_core::{connect_stream, service, ConnectOptions};
///
/// struct Clock;
///
/// #[service]
/// impl Clock {
///     fn exposed_hour(&self) -> u8 {
///         12
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// let (client, _server) = tokio::try_join!(
///     connect_stream(a, ConnectOptions::new()),
///     connect_stream(b, ConnectOptions::new().service(Clock)),
/// )?;
/// assert_eq!(client.root().call::<u8>("hour", ()).await?, 12);
/// # Ok(())
/// # }
/// ```
pub async fn connect_stream<S>(stream: S, options: ConnectOptions) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    if !secure::wanted(&options) {
        return secure::start(stream, options).await;
    }
    let mut options = options;
    match secure::client_side(Box::pin(stream), None, &mut options).await? {
        secure::Secured::Plain(stream) => secure::start(stream, options).await,
        secure::Secured::Tls(tls) => secure::start_tls(tls, options).await,
    }
}
