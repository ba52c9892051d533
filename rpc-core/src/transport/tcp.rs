//! TCP: `connect(host, port)`, with `TCP_NODELAY` on.

use tokio::net::TcpStream;

use super::secure::{self, Secured};
use super::ConnectOptions;
use crate::connection::Connection;
use crate::error::Result;

/// Connects to `host:port` over TCP. This side exposes nothing; use [`connect_with`] to let
/// the peer call us back or to change limits.
///
/// ```
/// use rpc_core::transport::tcp_connection;
/// use rpc_core::{service, ConnectOptions};
///
/// struct Echo;
///
/// #[service]
/// impl Echo {
///     fn exposed_echo(&self, s: String) -> String {
///         s
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// // A one-connection server on a loopback port (`rpc::server::Server` is the real thing).
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let port = listener.local_addr()?.port();
/// tokio::spawn(async move {
///     let (stream, _) = listener.accept().await?;
///     let conn = tcp_connection(stream, ConnectOptions::new().service(Echo)).await?;
///     conn.closed().await;
///     Ok::<(), rpc_core::Error>(())
/// });
///
/// let conn = rpc_core::connect("127.0.0.1", port).await?;
/// assert_eq!(conn.peer_service_name(), "ECHO");
/// assert_eq!(conn.root().call::<String>("echo", ("hi",)).await?, "hi");
/// conn.close().await;
/// # Ok(())
/// # }
/// ```
pub async fn connect(host: &str, port: u16) -> Result<Connection> {
    connect_with(host, port, ConnectOptions::new()).await
}

/// Connects to `host:port` over TCP with `options` (the service this side exposes, limits,
/// TLS, a shared secret).
///
/// With [`ConnectOptions::tls`], TLS runs first and the server's certificate must be valid
/// for `host` (or for [`ClientTls::server_name`](crate::ClientTls::server_name)); with
/// [`ConnectOptions::secret`] the shared-secret exchange follows; then the protocol's hello.
///
/// The peer calls this side back through the service given here:
///
/// ```
/// use std::time::Duration;
/// use rpc_core::transport::tcp_connection;
/// use rpc_core::{service, ConnectOptions, Connection};
///
/// struct Greeter;
///
/// #[service]
/// impl Greeter {
///     /// Asks the caller for its name, calling it back over the same connection.
///     async fn exposed_greet(&self, conn: Connection) -> rpc_core::Result<String> {
///         let name: String = conn.root().call("name", ()).await?;
///         Ok(format!("hello {name}"))
///     }
/// }
///
/// struct Me;
///
/// #[service]
/// impl Me {
///     fn exposed_name(&self) -> String {
///         "ada".to_owned()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let port = listener.local_addr()?.port();
/// tokio::spawn(async move {
///     let (stream, _) = listener.accept().await?;
///     tcp_connection(stream, ConnectOptions::new().service(Greeter)).await?.closed().await;
///     Ok::<(), rpc_core::Error>(())
/// });
///
/// let options = ConnectOptions::new()
///     .service(Me)
///     .configure(|c| c.call_timeout = Some(Duration::from_secs(5)));
/// let conn = rpc_core::connect_with("127.0.0.1", port, options).await?;
/// assert_eq!(conn.root().call::<String>("greet", ()).await?, "hello ada");
/// # Ok(())
/// # }
/// ```
pub async fn connect_with(host: &str, port: u16, options: ConnectOptions) -> Result<Connection> {
    let stream = TcpStream::connect((host, port)).await?;
    over_tcp(stream, Some(host), options).await
}

/// Opens a connection over an established TCP stream (server side or client side).
///
/// TLS and a shared secret set in `options` run as the *client*; the server's certificate
/// must then be valid for the peer's IP address, unless
/// [`ClientTls::server_name`](crate::ClientTls::server_name) names it. (Servers authenticate
/// with `rpc_server`, which runs the server halves.) The peer's address is kept
/// ([`Connection::peer_addr`]).
pub async fn tcp_connection(stream: TcpStream, options: ConnectOptions) -> Result<Connection> {
    over_tcp(stream, None, options).await
}

async fn over_tcp(stream: TcpStream, host: Option<&str>, mut options: ConnectOptions) -> Result<Connection> {
    stream.set_nodelay(true)?;
    let addr = stream.peer_addr().ok();
    if options.peer_mut().addr.is_none() {
        options.peer_mut().addr = addr;
    }
    let stream = if secure::wanted(&options) {
        let ip = addr.map(|a| a.ip().to_string());
        match secure::client_side(stream, host.or(ip.as_deref()), &mut options).await? {
            Secured::Plain(stream) => stream,
            Secured::Tls(tls) => return secure::start_tls(tls, options).await,
        }
    } else {
        stream
    };
    // The plain stream keeps tokio's owned halves: no lock between reader and writer.
    let (r, w) = stream.into_split();
    Connection::start_split_with(r, w, options.into_setup()).await
}
