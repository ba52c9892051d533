//! The transport layer: ways to open a [`Connection`] over a byte stream.
//!
//! Anything `AsyncRead + AsyncWrite` carries a connection ([`connect_stream`]); TCP, Unix
//! domain sockets and an in-memory pair are built in.

mod memory;
mod subproc;
mod tcp;
#[cfg(unix)]
mod unix;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::connection::{Connection, ConnectionConfig};
use crate::error::Result;
use crate::service::Service;

pub use memory::{memory_pair, memory_pair_with};
pub use subproc::{connect_subproc, serve_stdio};
pub use tcp::{connect, connect_tcp, connect_with_service, tcp_connection};
#[cfg(unix)]
pub use unix::{connect_unix, unix_connection};

/// Opens a connection over any byte stream, serving `service` to the peer.
pub async fn connect_stream<S>(
    stream: S,
    service: Arc<dyn Service>,
    config: ConnectionConfig,
) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    Connection::start(stream, service, config).await
}
