//! TCP: `connect(host, port)`, with `TCP_NODELAY` on.

use tokio::net::TcpStream;

use super::ConnectOptions;
use crate::connection::Connection;
use crate::error::Result;

/// Connects to `host:port` over TCP. This side exposes nothing; use [`connect_with`] to let
/// the peer call us back or to change limits.
pub async fn connect(host: &str, port: u16) -> Result<Connection> {
    connect_with(host, port, ConnectOptions::new()).await
}

/// Connects to `host:port` over TCP with `options` (the service this side exposes, limits).
///
/// ```no_run
/// # async fn demo() -> rpc_core::Result<()> {
/// use rpc_core::{ConnectOptions, VoidService};
///
/// let conn = rpc_core::connect_with("127.0.0.1", 18861, ConnectOptions::new().service(VoidService)).await?;
/// # drop(conn);
/// # Ok(())
/// # }
/// ```
pub async fn connect_with(host: &str, port: u16, options: ConnectOptions) -> Result<Connection> {
    let stream = TcpStream::connect((host, port)).await?;
    tcp_connection(stream, options).await
}

/// Opens a connection over an established TCP stream (server side or client side).
pub async fn tcp_connection(stream: TcpStream, options: ConnectOptions) -> Result<Connection> {
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let (service, config) = options.into_parts();
    Connection::start_split(r, w, service, config).await
}
