//! What a server listens on: TCP or a Unix domain socket.

use std::sync::Arc;

use rpc_core::{Connection, ConnectionConfig, Service};
use tokio::net::TcpListener;
#[cfg(unix)]
use tokio::net::UnixListener;

/// A bound listening socket.
pub(crate) enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixListener),
}

/// An accepted byte stream, not yet handshaken.
pub(crate) enum Accepted {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

impl Listener {
    /// Waits for the next peer; returns the stream and a printable peer address.
    pub(crate) async fn accept(&self) -> std::io::Result<(Accepted, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept().await?;
                Ok((Accepted::Tcp(s), addr.to_string()))
            }
            #[cfg(unix)]
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                Ok((Accepted::Unix(s), "unix".to_owned()))
            }
        }
    }
}

impl Accepted {
    /// Runs the handshake and starts the connection.
    pub(crate) async fn start(
        self,
        service: Arc<dyn Service>,
        config: ConnectionConfig,
    ) -> rpc_core::Result<Connection> {
        match self {
            Accepted::Tcp(s) => rpc_core::transport::tcp_connection(s, service, config).await,
            #[cfg(unix)]
            Accepted::Unix(s) => rpc_core::transport::unix_connection(s, service, config).await,
        }
    }
}
