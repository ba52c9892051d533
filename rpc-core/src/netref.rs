//! [`NetRef`]: a handle to an object that lives on the peer.

mod slot;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::args::Args;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::protocol::{ObjectId, OpRef, ROOT_ID};
use crate::reply::Reply;
use crate::service::Description;
use crate::value::{from_value, to_value, Value};

/// A reference to an object on the other side of a connection, such as the peer's root
/// service. Every operation travels to the object's owner and runs there.
///
/// Clones share one proxy. When the last clone is dropped, the owner is told (in a batched
/// `Release`) and frees the object once no other reference to it is out. The same remote
/// object received twice gives equal `NetRef`s (`Eq` and `Hash` go by connection and id).
///
/// ```
/// use rpc_core::{memory_pair, service, NetRef, VoidService};
///
/// struct Files;
/// struct File {
///     name: String,
/// }
///
/// #[service]
/// impl Files {
///     /// A `#[service]` type returned from a method crosses by reference.
///     fn exposed_open(&self, name: String) -> File {
///         File { name }
///     }
/// }
///
/// #[service]
/// impl File {
///     #[attribute]
///     fn exposed_name(&self) -> String {
///         self.name.clone()
///     }
///     fn exposed_read(&self) -> String {
///         format!("the contents of {}", self.name)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let (client, server) = memory_pair(VoidService, Files).await?;
/// let file: NetRef = client.root().call("open", ("notes.txt",)).await?;
/// assert_eq!(file.getattr::<String>("name").await?, "notes.txt");
/// assert_eq!(file.call::<String>("read", ()).await?, "the contents of notes.txt");
/// assert_eq!(server.stats().exported_objects, 1);
/// drop(file); // the server frees the file once the release arrives
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct NetRef {
    proxy: Arc<Proxy>,
    timeout: Option<Option<Duration>>,
}

/// The state all clones of a [`NetRef`] share.
pub(crate) struct Proxy {
    conn: Connection,
    id: ObjectId,
    /// How many times the owner sent this reference; released in one go on drop.
    received: AtomicU64,
    /// False for the root, which is never released.
    counted: bool,
}

impl Proxy {
    /// A proxy for a reference being received (count 0: the caller counts the receipt).
    pub(crate) fn received(conn: Connection, id: ObjectId) -> Arc<Proxy> {
        Arc::new(Proxy {
            conn,
            id,
            received: AtomicU64::new(0),
            counted: id != ROOT_ID,
        })
    }

    /// Counts one more receipt of this reference.
    pub(crate) fn count_receipt(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.counted {
            let count = *self.received.get_mut();
            self.conn.release_import(self.id, count, self as *const Proxy);
        }
    }
}

impl NetRef {
    /// The uncounted reference to the peer's root.
    pub(crate) fn root(conn: Connection) -> Self {
        let proxy = Arc::new(Proxy {
            conn,
            id: ROOT_ID,
            received: AtomicU64::new(0),
            counted: false,
        });
        NetRef { proxy, timeout: None }
    }

    pub(crate) fn from_proxy(proxy: Arc<Proxy>) -> Self {
        NetRef { proxy, timeout: None }
    }

    /// The connection this reference travels over.
    pub fn connection(&self) -> &Connection {
        &self.proxy.conn
    }

    /// The object's id in its owner's export table (0 is the root).
    pub fn id(&self) -> ObjectId {
        self.proxy.id
    }

    /// This reference's timeout policy: `None` for the connection's, `Some(limit)` for its own.
    pub(crate) fn timeout(&self) -> Option<Option<Duration>> {
        self.timeout
    }

    /// The same reference, with its own timeout for every call made through it
    /// (`None`: wait forever) instead of the connection's default.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> NetRef {
        NetRef {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    async fn request(&self, op: OpRef<'_>, args: Vec<Value>) -> Result<Value> {
        self.proxy
            .conn
            .request(self.proxy.id, op, args, self.timeout)
            .await
    }

    /// Calls the exposed method `method` with typed arguments and result:
    /// `root.call::<i64>("test", (11,)).await?`.
    pub async fn call<R: Reply>(&self, method: &str, args: impl Args) -> Result<R> {
        let value = self.call_value(method, encode_args(args)?).await?;
        decode(value, || format!("the result of {method}"))
    }

    /// Calls a method with dynamic arguments and returns the dynamic result.
    pub async fn call_value(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.request(OpRef::Call(method), args).await
    }

    /// Calls `method` one-way: returns once the request is queued, without waiting for (or
    /// getting) a reply. Failures are only logged on the peer. One-way calls from this side to
    /// one object run in the order sent.
    pub fn call_oneway(&self, method: &str, args: impl Args) -> Result<()> {
        let args = encode_args(args)?;
        self.proxy
            .conn
            .send_oneway(self.proxy.id, OpRef::Call(method), args)
    }

    /// Calls the object itself (for callables such as callbacks).
    pub async fn call_self<R: Reply>(&self, args: impl Args) -> Result<R> {
        let value = self.call_self_value(encode_args(args)?).await?;
        decode(value, || "the result of the call".to_owned())
    }

    /// Calls the object itself with dynamic arguments.
    pub async fn call_self_value(&self, args: Vec<Value>) -> Result<Value> {
        self.request(OpRef::CallSelf, args).await
    }

    /// Reads an exposed attribute.
    pub async fn getattr<R: DeserializeOwned>(&self, name: &str) -> Result<R> {
        let value = self.getattr_value(name).await?;
        decode(value, || format!("attribute {name}"))
    }

    /// Reads an exposed attribute as a dynamic value.
    pub async fn getattr_value(&self, name: &str) -> Result<Value> {
        self.request(OpRef::GetAttr(name), Vec::new()).await
    }

    /// Writes an exposed attribute.
    pub async fn setattr(&self, name: &str, value: impl Serialize) -> Result<()> {
        let value = to_value(&value).map_err(|e| Error::Encode(e.to_string()))?;
        self.request(OpRef::SetAttr(name), vec![value]).await?;
        Ok(())
    }

    /// Lists the object's exposed methods and attributes (RPyC's `dir`/`inspect`).
    pub async fn describe(&self) -> Result<Description> {
        let value = self.request(OpRef::Describe, Vec::new()).await?;
        decode(value, || "the description".to_owned())
    }

    /// The object's display text, as its owner renders it.
    pub async fn display(&self) -> Result<String> {
        let value = self.request(OpRef::Display, Vec::new()).await?;
        decode(value, || "the display text".to_owned())
    }

    /// The object's debugging text (RPyC's `repr`), as its owner renders it.
    pub async fn repr(&self) -> Result<String> {
        let value = self.request(OpRef::Repr, Vec::new()).await?;
        decode(value, || "the debugging text".to_owned())
    }
}

fn encode_args(args: impl Args) -> Result<Vec<Value>> {
    args.into_args()
        .map_err(|e| Error::Encode(format!("argument: {e}")))
}

fn decode<R: DeserializeOwned>(value: Value, what: impl FnOnce() -> String) -> Result<R> {
    from_value(value).map_err(|e| Error::Decode(format!("{}: {e}", what())))
}

impl fmt::Debug for NetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetRef")
            .field("connection", &self.connection().id())
            .field("id", &self.id())
            .finish()
    }
}

impl PartialEq for NetRef {
    fn eq(&self, other: &Self) -> bool {
        self.connection().id() == other.connection().id() && self.id() == other.id()
    }
}

impl Eq for NetRef {}

impl std::hash::Hash for NetRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.connection().id().hash(state);
        self.id().hash(state);
    }
}
