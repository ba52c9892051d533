//! The transport layer: ways to open a [`Connection`] over a byte stream.
//!
//! Anything `AsyncRead + AsyncWrite` carries a connection ([`connect_stream`]); TCP, Unix
//! domain sockets and an in-memory pair are built in.

mod memory;
mod options;
mod subproc;
mod tcp;
#[cfg(unix)]
mod unix;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::Connection;
use crate::error::Result;

pub use memory::{memory_pair, memory_pair_with};
pub use options::ConnectOptions;
pub use subproc::{connect_subproc, serve_stdio};
pub use tcp::{connect, connect_with, tcp_connection};
#[cfg(unix)]
pub use unix::{connect_unix, unix_connection};

/// Opens a connection over any byte stream (a TLS stream, a serial line, a `tokio::io::duplex`
/// half) with `options`. Both ends run the same handshake, so open both at once.
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
    let (service, config) = options.into_parts();
    Connection::start(stream, service, config).await
}
