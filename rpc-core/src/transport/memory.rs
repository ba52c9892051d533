//! An in-memory pair of connected peers over `tokio::io::duplex`, for tests and examples.

use std::sync::Arc;

use crate::connection::{Connection, ConnectionConfig};
use crate::error::Result;
use crate::service::Service;

/// Bytes buffered in each direction of the in-memory pipe.
const PIPE_CAPACITY: usize = 256 * 1024;

/// Two connected peers in this process: the first serves `a`, the second serves `b`.
pub async fn memory_pair<A: Service, B: Service>(a: A, b: B) -> Result<(Connection, Connection)> {
    memory_pair_with(Arc::new(a), Arc::new(b), ConnectionConfig::default()).await
}

/// Like [`memory_pair`], with shared services and explicit settings for both sides.
pub async fn memory_pair_with(
    a: Arc<dyn Service>,
    b: Arc<dyn Service>,
    config: ConnectionConfig,
) -> Result<(Connection, Connection)> {
    let (x, y) = tokio::io::duplex(PIPE_CAPACITY);
    tokio::try_join!(
        Connection::start(x, a, config.clone()),
        Connection::start(y, b, config)
    )
}
