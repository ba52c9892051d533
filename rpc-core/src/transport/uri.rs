//! Connecting to a direct [`Uri`]: `rpc://`, `rpc+tls://`, `rpc+unix://`.

use super::ConnectOptions;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::netref::NetRef;
use crate::uri::{Scheme, Uri, UriError};

/// Connects to the server a direct URI names, with `options` (the service this side exposes,
/// limits, TLS, a shared secret). The URI's object name, if any, is not looked up: this is the
/// connection; [`lookup_direct`] gives the object.
///
/// * `rpc://HOST:PORT` connects over TCP as [`connect_with`](crate::connect_with) does (TLS
///   set in `options` still applies).
/// * `rpc+tls://HOST:PORT` needs [`ConnectOptions::tls`] (the trusted roots: no system store
///   is built in), and fails at once without it; the server's certificate must be valid for
///   `HOST` unless [`ClientTls::server_name`](crate::ClientTls::server_name) says otherwise.
/// * `rpc+unix:///PATH` connects to the Unix socket as
///   [`connect_unix`](crate::transport::connect_unix) does (Unix only).
/// * `rpcname:` and `rpcmeta:` fail with [`UriError::NeedsRegistry`]: they resolve through
///   a registry first (`rpc::connect_uri` does both).
pub async fn connect_direct(uri: &Uri, options: ConnectOptions) -> Result<Connection> {
    match uri.scheme() {
        Scheme::Rpc | Scheme::RpcTls => {
            if uri.is_tls() && options.tls_settings().is_none() {
                return Err(Error::Tls(format!(
                    "{uri} asks for TLS: give the trusted roots with ConnectOptions::tls \
                     (ClientTls::from_pem_file)"
                )));
            }
            let (Some(host), Some(port)) = (uri.host(), uri.port()) else {
                return Err(UriError::MissingHost.into());
            };
            super::connect_with(host, port, options).await
        }
        Scheme::RpcUnix => unix(uri, options).await,
        scheme => Err(UriError::NeedsRegistry(scheme).into()),
    }
}

#[cfg(unix)]
async fn unix(uri: &Uri, options: ConnectOptions) -> Result<Connection> {
    let Some(path) = uri.socket_path() else {
        return Err(UriError::RelativePath(String::new()).into());
    };
    super::connect_unix(path, options).await
}

#[cfg(not(unix))]
async fn unix(uri: &Uri, _options: ConnectOptions) -> Result<Connection> {
    Err(Error::Io(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("{uri}: Unix domain sockets are not available on this platform"),
    )))
}

/// Connects to the server a direct URI names (as [`connect_direct`] does) and returns the
/// object it names: the server's root, or the object published as the URI's name
/// (`rpc://HOST:PORT/NAME`, `rpc+unix:///PATH#NAME`; see [`Connection::lookup`]).
///
/// The reference holds the connection: it stays open while the reference (or a clone, or a
/// reference obtained through it) lives, and closes when the last one is dropped.
///
/// ```
/// use rpc_core::transport::{lookup_direct, tcp_connection};
/// use rpc_core::{service, ConnectOptions, Object, Published, Uri};
///
/// struct Sensor(f64);
///
/// #[service]
/// impl Sensor {
///     fn exposed_read(&self) -> f64 {
///         self.0
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// // A one-connection server publishing a sensor (`rpc::server::Server` is the real thing).
/// let published = Published::new();
/// published.publish("sensor.kitchen", Object::new(Sensor(21.5)))?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let port = listener.local_addr()?.port();
/// tokio::spawn(async move {
///     let (stream, _) = listener.accept().await?;
///     tcp_connection(stream, ConnectOptions::new().published(published)).await?.closed().await;
///     Ok::<(), rpc_core::Error>(())
/// });
///
/// let uri: Uri = format!("rpc://127.0.0.1:{port}/sensor.kitchen").parse()?;
/// let kitchen = lookup_direct(&uri, ConnectOptions::new()).await?;
/// assert_eq!(kitchen.call::<f64>("read", ()).await?, 21.5);
/// # Ok(())
/// # }
/// ```
pub async fn lookup_direct(uri: &Uri, options: ConnectOptions) -> Result<NetRef> {
    let conn = connect_direct(uri, options).await?;
    match uri.object() {
        Some(name) => conn.lookup(name).await,
        None => Ok(conn.root()),
    }
}
