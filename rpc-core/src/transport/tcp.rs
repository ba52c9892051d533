//! TCP: `connect(host, port)`, with `TCP_NODELAY` on.

use std::sync::Arc;

use tokio::net::TcpStream;

use crate::connection::{Connection, ConnectionConfig};
use crate::error::Result;
use crate::service::{Service, VoidService};

/// Connects to `host:port` over TCP. This side exposes nothing; use
/// [`connect_with_service`] to let the peer call us back.
pub async fn connect(host: &str, port: u16) -> Result<Connection> {
    connect_tcp(host, port, Arc::new(VoidService), ConnectionConfig::default()).await
}

/// Connects to `host:port` over TCP, serving `service` to the peer as this side's root.
pub async fn connect_with_service<S: Service>(host: &str, port: u16, service: S) -> Result<Connection> {
    connect_tcp(host, port, Arc::new(service), ConnectionConfig::default()).await
}

/// Connects over TCP with a shared service and explicit settings.
pub async fn connect_tcp(
    host: &str,
    port: u16,
    service: Arc<dyn Service>,
    config: ConnectionConfig,
) -> Result<Connection> {
    let stream = TcpStream::connect((host, port)).await?;
    tcp_connection(stream, service, config).await
}

/// Opens a connection over an established TCP stream (server side or client side).
pub async fn tcp_connection(
    stream: TcpStream,
    service: Arc<dyn Service>,
    config: ConnectionConfig,
) -> Result<Connection> {
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    Connection::start_split(r, w, service, config).await
}
