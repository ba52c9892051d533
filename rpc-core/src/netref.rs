//! [`NetRef`]: a handle to an object that lives on the peer.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::args::Args;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::protocol::{ObjectId, Op};
use crate::service::Description;
use crate::value::{from_value, to_value, Value};

/// A reference to an object on the other side of a connection, such as the peer's root
/// service. Every operation travels to the object's owner and runs there.
#[derive(Clone)]
pub struct NetRef {
    conn: Connection,
    id: ObjectId,
    timeout: Option<Option<Duration>>,
}

impl NetRef {
    pub(crate) fn new(conn: Connection, id: ObjectId) -> Self {
        NetRef {
            conn,
            id,
            timeout: None,
        }
    }

    /// The connection this reference travels over.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The object's id in its owner's export table.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// The same reference, with its own timeout for every call made through it
    /// (`None`: wait forever) instead of the connection's default.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> NetRef {
        NetRef {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// Calls the exposed method `method` with typed arguments and result:
    /// `root.call::<i64>("test", (11,)).await?`.
    pub async fn call<R: DeserializeOwned>(&self, method: &str, args: impl Args) -> Result<R> {
        let value = self.call_value(method, encode_args(args)?).await?;
        decode(value, || format!("the result of {method}"))
    }

    /// Calls a method with dynamic arguments and returns the dynamic result.
    pub async fn call_value(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.conn
            .request(self.id, Op::Call(method.to_owned()), args, self.timeout)
            .await
    }

    /// Calls the object itself (for callables).
    pub async fn call_self<R: DeserializeOwned>(&self, args: impl Args) -> Result<R> {
        let value = self
            .conn
            .request(self.id, Op::CallSelf, encode_args(args)?, self.timeout)
            .await?;
        decode(value, || "the result of the call".to_owned())
    }

    /// Reads an exposed attribute.
    pub async fn getattr<R: DeserializeOwned>(&self, name: &str) -> Result<R> {
        let value = self
            .conn
            .request(self.id, Op::GetAttr(name.to_owned()), Vec::new(), self.timeout)
            .await?;
        decode(value, || format!("attribute {name}"))
    }

    /// Writes an exposed attribute.
    pub async fn setattr(&self, name: &str, value: impl Serialize) -> Result<()> {
        let value = to_value(&value).map_err(|e| Error::Encode(e.to_string()))?;
        self.conn
            .request(self.id, Op::SetAttr(name.to_owned()), vec![value], self.timeout)
            .await?;
        Ok(())
    }

    /// Lists the object's exposed methods and attributes.
    pub async fn describe(&self) -> Result<Description> {
        let value = self
            .conn
            .request(self.id, Op::Describe, Vec::new(), self.timeout)
            .await?;
        decode(value, || "the description".to_owned())
    }

    /// The object's display text, as its owner renders it.
    pub async fn display(&self) -> Result<String> {
        let value = self
            .conn
            .request(self.id, Op::Display, Vec::new(), self.timeout)
            .await?;
        decode(value, || "the display text".to_owned())
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
            .field("connection", &self.conn.id())
            .field("id", &self.id)
            .finish()
    }
}

impl PartialEq for NetRef {
    fn eq(&self, other: &Self) -> bool {
        self.conn.id() == other.conn.id() && self.id == other.id
    }
}

impl Eq for NetRef {}

impl std::hash::Hash for NetRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.conn.id().hash(state);
        self.id.hash(state);
    }
}
