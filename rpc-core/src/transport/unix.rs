//! Unix domain sockets.

use std::path::Path;

use tokio::net::UnixStream;

use super::ConnectOptions;
use crate::connection::Connection;
use crate::error::Result;

/// Connects to the Unix domain socket at `path` with `options`.
pub async fn connect_unix(path: impl AsRef<Path>, options: ConnectOptions) -> Result<Connection> {
    let stream = UnixStream::connect(path).await?;
    unix_connection(stream, options).await
}

/// Opens a connection over an established Unix stream (server side or client side).
pub async fn unix_connection(stream: UnixStream, options: ConnectOptions) -> Result<Connection> {
    let (r, w) = stream.into_split();
    let (service, config) = options.into_parts();
    Connection::start_split(r, w, service, config).await
}
