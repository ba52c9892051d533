//! Callbacks: local closures the peer can call.
//!
//! `Callback::new(|x: i64| x * x)` turns a closure (sync or async, up to eight serde
//! arguments, returning a serde value or a `Result`) into an object that crosses the wire by
//! reference. The peer receives it as a `Callback` too and calls it with
//! [`Callback::call`]; the closure runs on this side, as often and as concurrently as the peer
//! likes, for as long as the peer keeps it.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::args::Args;
use crate::connection::Connection;
use crate::error::{Error, RemoteError, Result};
use crate::netref::NetRef;
use crate::object::{Object, Referent};
use crate::private::{arg, fallible, ok, take_args};
use crate::service::{not_exposed, Outcome, Service};
use crate::value::{from_value, Value};

/// A callable the peer can invoke: a local closure, or a reference to the peer's.
#[derive(Clone, PartialEq, Eq)]
pub struct Callback(Referent);

impl Callback {
    /// Wraps a closure. Sync closures run inline when called; async ones run as tasks.
    ///
    /// A closure returning `Result<T, E>` (with `E` an error type) answers the caller with a
    /// remote error on `Err`; one that panics answers with a panic error. Either way the side
    /// that owns the closure keeps serving.
    pub fn new<F, M>(f: F) -> Callback
    where
        F: CallbackFn<M>,
    {
        Callback::from_handler(Arc::new(move |args| f.invoke(args)))
    }

    /// A callback answering with `handler`, which gets the peer's arguments as values.
    pub(crate) fn from_handler(handler: Handler) -> Callback {
        Callback(Referent::Local(Object::new(FnService { handler })))
    }

    /// The peer's object behind this callback, if it is remote.
    pub fn netref(&self) -> Option<&NetRef> {
        match &self.0 {
            Referent::Remote(r) => Some(r),
            Referent::Local(_) => None,
        }
    }

    /// Calls the callback with typed arguments and result, wherever it lives.
    pub async fn call<R: DeserializeOwned>(&self, args: impl Args) -> Result<R> {
        let args = args
            .into_args()
            .map_err(|e| Error::Encode(format!("argument: {e}")))?;
        let value = self.call_value(args).await?;
        from_value(value).map_err(|e| Error::Decode(format!("the result of the callback: {e}")))
    }

    /// Calls the callback with dynamic arguments.
    pub async fn call_value(&self, args: Vec<Value>) -> Result<Value> {
        match &self.0 {
            Referent::Remote(r) => r.call_self_value(args).await,
            Referent::Local(o) => match o.downcast::<FnService>() {
                Some(f) => match (f.handler)(args) {
                    Outcome::Ready(r) => r.map_err(Error::Remote),
                    Outcome::Pending(fut) => fut.await.map_err(Error::Remote),
                },
                None => Err(Error::Decode(format!(
                    "the local object {} is not a callback",
                    o.service().name()
                ))),
            },
        }
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Referent::Local(_) => f.write_str("Callback(local)"),
            Referent::Remote(r) => write!(f, "Callback(remote {})", r.id()),
        }
    }
}

impl Serialize for Callback {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match &self.0 {
            Referent::Local(o) => o.serialize(s),
            Referent::Remote(r) => r.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Callback {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Callback, D::Error> {
        Referent::deserialize(d).map(Callback)
    }
}

pub(crate) type Handler = Arc<dyn Fn(Vec<Value>) -> Outcome + Send + Sync>;

/// The object a callback is on its owner's side.
struct FnService {
    handler: Handler,
}

impl Service for FnService {
    fn name(&self) -> &str {
        "CALLBACK"
    }

    fn call(self: Arc<Self>, _conn: &Connection, method: &str, _args: Vec<Value>) -> Outcome {
        Outcome::Ready(Err(not_exposed("CALLBACK", method)))
    }

    fn call_self(self: Arc<Self>, _conn: &Connection, args: Vec<Value>) -> Outcome {
        (self.handler)(args)
    }

    fn display(&self) -> String {
        "<callback>".to_owned()
    }
}

/// A closure usable as a callback. `M` tells apart the kinds of closures (argument types and
/// return kind); it is inferred, never written.
pub trait CallbackFn<M>: Send + Sync + 'static {
    /// Runs the closure on dynamic arguments.
    fn invoke(&self, args: Vec<Value>) -> Outcome;
}

/// What a callback may return: a serde value, a `Result`, or a future of either. `M` is inferred.
pub trait IntoOutcome<M> {
    /// Converts the closure's return value into the answer.
    fn into_outcome(self) -> Outcome;
}

/// Marker: a plain serde value.
pub enum Plain {}
/// Marker: a `Result` with an error type.
pub enum Fallible {}
/// Marker: a future of a serde value.
pub enum Async {}
/// Marker: a future of a `Result`.
pub enum AsyncFallible {}

impl<T: Serialize> IntoOutcome<Plain> for T {
    fn into_outcome(self) -> Outcome {
        Outcome::Ready(ok(&self))
    }
}

impl<T, E> IntoOutcome<Fallible> for std::result::Result<T, E>
where
    T: Serialize,
    E: Into<Box<dyn StdError + Send + Sync + 'static>>,
{
    fn into_outcome(self) -> Outcome {
        Outcome::Ready(fallible(self))
    }
}

impl<F, T> IntoOutcome<Async> for F
where
    F: Future<Output = T> + Send + 'static,
    T: Serialize,
{
    fn into_outcome(self) -> Outcome {
        Outcome::pending(async move { ok(&self.await) })
    }
}

impl<F, T, E> IntoOutcome<AsyncFallible> for F
where
    F: Future<Output = std::result::Result<T, E>> + Send + 'static,
    T: Serialize,
    E: Into<Box<dyn StdError + Send + Sync + 'static>>,
{
    fn into_outcome(self) -> Outcome {
        Outcome::pending(async move { fallible(self.await) })
    }
}

macro_rules! callback_fn {
    ($n:expr; $($ty:ident $var:ident),*) => {
        impl<Func, Out, Kind, $($ty,)*> CallbackFn<(Kind, $($ty,)*)> for Func
        where
            Func: Fn($($ty),*) -> Out + Send + Sync + 'static,
            Out: IntoOutcome<Kind>,
            $($ty: DeserializeOwned,)*
        {
            #[allow(unused_mut, unused_variables, unused_assignments)]
            fn invoke(&self, args: Vec<Value>) -> Outcome {
                let mut it = match take_args("callback", $n, args) {
                    Ok(it) => it,
                    Err(e) => return Outcome::Ready(Err(e)),
                };
                let mut index = 0;
                $(
                    let $var: $ty = match arg::<$ty>("callback", index, stringify!($var), it.next()) {
                        Ok(v) => v,
                        Err(e) => return Outcome::Ready(Err::<Value, RemoteError>(e)),
                    };
                    index += 1;
                )*
                (self)($($var),*).into_outcome()
            }
        }
    };
}

callback_fn!(0;);
callback_fn!(1; A a);
callback_fn!(2; A a, B b);
callback_fn!(3; A a, B b, C c);
callback_fn!(4; A a, B b, C c, D d);
callback_fn!(5; A a, B b, C c, D d, E e);
callback_fn!(6; A a, B b, C c, D d, E e, G g);
callback_fn!(7; A a, B b, C c, D d, E e, G g, H h);
callback_fn!(8; A a, B b, C c, D d, E e, G g, H h, I i);
