//! An in-memory pair of connected peers over `tokio::io::duplex`, for tests and examples.

use super::ConnectOptions;
use crate::connection::Connection;
use crate::error::Result;
use crate::service::Service;

/// Bytes buffered in each direction of the in-memory pipe.
const PIPE_CAPACITY: usize = 256 * 1024;

/// Two connected peers in this process: the first serves `a`, the second serves `b`.
///
/// ```
/// use rpc_core::{memory_pair, service, VoidService};
///
/// struct Greeter;
///
/// #[service]
/// impl Greeter {
///     fn exposed_greet(&self, name: String) -> String {
///         format!("hello {name}")
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let (client, server) = memory_pair(VoidService, Greeter).await?;
/// assert_eq!(client.root().call::<String>("greet", ("ada",)).await?, "hello ada");
/// assert_eq!(server.peer_service_name(), "VOID");
/// # Ok(())
/// # }
/// ```
pub async fn memory_pair<A: Service, B: Service>(a: A, b: B) -> Result<(Connection, Connection)> {
    memory_pair_with(ConnectOptions::new().service(a), ConnectOptions::new().service(b)).await
}

/// Like [`memory_pair`], with each side's options (services, limits) given in full.
pub async fn memory_pair_with(a: ConnectOptions, b: ConnectOptions) -> Result<(Connection, Connection)> {
    let (x, y) = tokio::io::duplex(PIPE_CAPACITY);
    tokio::try_join!(
        Connection::start_with(x, a.into_setup()),
        Connection::start_with(y, b.into_setup())
    )
}
