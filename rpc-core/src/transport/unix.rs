//! Unix domain sockets.

use std::path::Path;
use std::sync::Arc;

use tokio::net::UnixStream;

use crate::connection::{Connection, ConnectionConfig};
use crate::error::Result;
use crate::service::Service;

/// Connects to the Unix domain socket at `path`, serving `service` to the peer.
pub async fn connect_unix(
    path: impl AsRef<Path>,
    service: Arc<dyn Service>,
    config: ConnectionConfig,
) -> Result<Connection> {
    let stream = UnixStream::connect(path).await?;
    unix_connection(stream, service, config).await
}

/// Opens a connection over an established Unix stream.
pub async fn unix_connection(
    stream: UnixStream,
    service: Arc<dyn Service>,
    config: ConnectionConfig,
) -> Result<Connection> {
    let (r, w) = stream.into_split();
    Connection::start_split(r, w, service, config).await
}
