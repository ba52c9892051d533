//! Connections on RPyC 6's wire: this side calls a Python `rpyc` server ([`connect`]), or
//! serves a Python `rpyc` client over a stream a server accepted ([`rpyc_connection`]).

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::options::ConnectOptions;
use super::secure::{self, Secured};
use crate::callback::{Callback, CallbackFn};
use crate::connection::{quick_ack, Connection};
use crate::error::{Error, Result};
use crate::netref::NetRef;
use crate::protocol::{OpRef, ROOT_ID};
use crate::value::{from_value, Value};

/// A connection to a Python `rpyc` server, and its root.
///
/// ```no_run
/// # async fn run() -> rpc_core::Result<()> {
/// let py = rpc_core::transport::rpyc::connect("localhost", 18861).await?;
/// let n: i64 = py.root().call("test", (11,)).await?; // the server's exposed_test
/// let doubled = py.connection().callback(|x: i64| x * 2);
/// let all: Vec<i64> = py.root().call("map", (doubled, (1, 2, 3))).await?;
/// py.close().await;
/// # Ok(())
/// # }
/// ```
///
/// Calls by name reach the Python object's `exposed_` members (one `CALLATTR` each);
/// [`NetRef::getattr`] reads an attribute; objects Python returns by reference are
/// [`NetRef`]s whose calls go back to Python, released (`DEL`) when the last handle drops;
/// a [`Callback`] passed as an argument is a function Python can call, concurrently and
/// re-entrantly; and `AsyncResult` (`netref.async_call`) works as on any connection.
#[derive(Clone, Debug)]
pub struct Client {
    conn: Connection,
    root: NetRef,
}

impl Client {
    /// The Python server's root service (rpyc's `conn.root`).
    pub fn root(&self) -> &NetRef {
        &self.root
    }

    /// The connection (its stats, close reason, callbacks).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Makes a closure callable by Python: pass it as an argument.
    pub fn callback<F, M>(&self, f: F) -> Callback
    where
        F: CallbackFn<M>,
    {
        Callback::new(f)
    }

    /// Closes the connection (Python's server sees rpyc's `CLOSE`).
    pub async fn close(&self) {
        self.conn.close().await;
    }
}

/// Connects to the Python `rpyc` server at `host:port` and fetches its root.
pub async fn connect(host: &str, port: u16) -> Result<Client> {
    connect_with(host, port, ConnectOptions::new()).await
}

/// Like [`connect`], with options: a service of this side Python may call back
/// ([`ConnectOptions::service`]), settings, and TLS ([`ConnectOptions::tls`], for a server
/// started with rpyc's `SSLAuthenticator`). A shared secret is this framework's own protocol
/// and is refused here.
pub async fn connect_with(host: &str, port: u16, mut options: ConnectOptions) -> Result<Client> {
    if options.shared_secret().is_some() {
        return Err(Error::Unsupported(
            "a shared secret on the rpyc wire (rpyc has no such authenticator)".into(),
        ));
    }
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    if options.peer_mut().addr.is_none() {
        options.peer_mut().addr = stream.peer_addr().ok();
    }
    let conn = match secure::client_side(stream, Some(host), &mut options).await? {
        Secured::Plain(s) => rpyc_connection(s, options).await?,
        Secured::Tls(s) => rpyc_stream_connection(s, options).await?,
    };
    client(conn).await
}

/// A client over any stream already connected to a Python `rpyc` server.
pub async fn connect_stream<S>(stream: S, options: ConnectOptions) -> Result<Client>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    client(rpyc_stream_connection(stream, options).await?).await
}

async fn client(conn: Connection) -> Result<Client> {
    let root = conn.request(ROOT_ID, OpRef::Identity, Vec::new(), None).await;
    let root = match root {
        Ok(v @ Value::Object(_)) => from_value::<NetRef>(v).map_err(|e| Error::Protocol(e.to_string()))?,
        Ok(other) => {
            conn.close().await;
            return Err(Error::Protocol(format!(
                "the rpyc server's root arrived as a {} instead of a reference",
                other.kind()
            )));
        }
        Err(e) => {
            conn.close().await;
            return Err(e);
        }
    };
    Ok(Client { conn, root })
}

/// The content of a Python container a Python peer returned by reference (a `list`, `tuple`,
/// `set`, `dict` — Python sends them as netrefs, and so they arrive as [`NetRef`]s), as a
/// Rust value: one `BUFFITER` round trip for a list or set, and for a dict one `__getitem__`
/// per key, all in flight at once. Containers nested in it are fetched too.
///
/// ```no_run
/// # async fn run(py: rpc_core::transport::rpyc::Client) -> rpc_core::Result<()> {
/// let names: rpc_core::NetRef = py.root().call("names", ()).await?; // a Python list
/// let names: Vec<String> = rpc_core::transport::rpyc::fetch(&names).await?;
/// # Ok(())
/// # }
/// ```
pub async fn fetch<T: serde::de::DeserializeOwned>(container: &NetRef) -> Result<T> {
    let value = Value::Object(container.clone().into());
    let fetched = container.connection().fetch_python(value).await?;
    from_value(fetched).map_err(|e| Error::Decode(e.to_string()))
}

/// Serves a Python `rpyc` client on an accepted TCP stream, with the service and settings of
/// `options`: what a server does for each connection on an rpyc port.
pub async fn rpyc_connection(stream: TcpStream, mut options: ConnectOptions) -> Result<Connection> {
    stream.set_nodelay(true)?;
    if options.peer_mut().addr.is_none() {
        options.peer_mut().addr = stream.peer_addr().ok();
    }
    let (r, w) = stream.into_split();
    Connection::start_rpyc(r, w, options.into_setup(), quick_ack).await
}

/// Like [`rpyc_connection`], over any stream (TLS, a Unix socket, memory).
pub async fn rpyc_stream_connection<S>(stream: S, options: ConnectOptions) -> Result<Connection>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(stream);
    Connection::start_rpyc(r, w, options.into_setup(), |_| {}).await
}
