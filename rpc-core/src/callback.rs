//! Callbacks: local closures the peer can call.
//!
//! `Callback::new(|x: i64| x * x)` turns a closure (sync or async, up to eight serde
//! arguments, returning a serde value or a `Result`) into an object that crosses the wire by
//! reference. The peer receives it as a `Callback` too and calls it with
//! [`Callback::call`]; the closure runs on this side, as often and as concurrently as the peer
//! likes, for as long as the peer keeps it.
//!
//! A callback that passes itself on at each level (a recursion through the peer) is made with
//! [`Callback::recursive`]: its closure gets the callback itself as its first argument.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::args::Args;
use crate::connection::Connection;
use crate::error::{Error, RemoteError, Result};
use crate::netref::NetRef;
use crate::object::{Object, Referent};
use crate::private::{fallible, ok, take_args, typed_arg};
use crate::reply::Reply;
use crate::service::{not_exposed, Outcome, Service};
use crate::value::{from_value, Value};

/// A callable the peer can invoke: a local closure, or a reference to the peer's.
///
/// RPyC's `map` example: the server calls the client's closure for each item, and the closure
/// runs on the client.
///
/// ```
/// use rpc_core::{memory_pair, service, Callback, VoidService};
///
/// struct Mapper;
///
/// #[service]
/// impl Mapper {
///     async fn exposed_map(&self, f: Callback, items: Vec<i64>) -> rpc_core::Result<Vec<i64>> {
///         let mut out = Vec::with_capacity(items.len());
///         for x in items {
///             out.push(f.call::<i64>((x,)).await?);
///         }
///         Ok(out)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let (client, _server) = memory_pair(VoidService, Mapper).await?;
/// let square = client.callback(|x: i64| x * x);
/// let squares: Vec<i64> = client.root().call("map", (square, vec![1, 2, 3])).await?;
/// assert_eq!(squares, [1, 4, 9]);
/// # Ok(())
/// # }
/// ```
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

    /// A callback whose closure gets the callback itself as its first argument, before the
    /// peer's: a recursion through the peer needs no slot to smuggle the callback into its own
    /// closure. The closure holds itself only while it runs, so it is freed like any other.
    ///
    /// ```
    /// use rpc_core::{memory_pair, service, Callback, Result, VoidService};
    ///
    /// struct Bouncer;
    ///
    /// #[service]
    /// impl Bouncer {
    ///     /// Calls `f(n - 1)` back, or answers 0.
    ///     async fn exposed_bounce(&self, f: Callback, n: u32) -> Result<u32> {
    ///         if n == 0 { Ok(0) } else { Ok(1 + f.call::<u32>((n - 1,)).await?) }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<()> {
    /// let (client, _server) = memory_pair(VoidService, Bouncer).await?;
    /// let root = client.root();
    /// // Each level passes the callback itself back to the server.
    /// let down = Callback::recursive(move |me: Callback, n: u32| {
    ///     let root = root.clone();
    ///     async move { root.call::<u32>("bounce", (me, n)).await }
    /// });
    /// assert_eq!(client.root().call::<u32>("bounce", (down, 5)).await?, 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn recursive<F, M>(f: F) -> Callback
    where
        F: CallbackFn<M>,
        M: StartsWithItself,
    {
        Callback::from_handler_recursive(move |args| f.invoke(args))
    }

    /// A callback answering with `handler`, which gets the peer's arguments as values.
    pub(crate) fn from_handler(handler: Handler) -> Callback {
        Callback(Referent::Local(Object::new(FnService { handler })))
    }

    /// A callback answering with `handler`, which gets the callback itself and then the peer's
    /// arguments as values.
    pub(crate) fn from_handler_recursive(
        handler: impl Fn(Vec<Value>) -> Outcome + Send + Sync + 'static,
    ) -> Callback {
        let service = Arc::new_cyclic(|me: &Weak<FnService>| {
            let me = me.clone();
            let handler: Handler = Arc::new(move |mut args: Vec<Value>| {
                // Only called through a strong handle, so the callback is there.
                if let Some(this) = me.upgrade() {
                    let this: Arc<dyn Service> = this;
                    args.insert(0, Value::Object(Object::from_arc(this).into()));
                }
                handler(args)
            });
            FnService { handler }
        });
        Callback(Referent::Local(Object::from_arc(service)))
    }

    /// The peer's object behind this callback, if it is remote.
    pub fn netref(&self) -> Option<&NetRef> {
        match &self.0 {
            Referent::Remote(r) => Some(r),
            Referent::Local(_) => None,
        }
    }

    /// Calls the callback with typed arguments and result, wherever it lives.
    pub async fn call<R: Reply>(&self, args: impl Args) -> Result<R> {
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

    fn python_class(&self) -> Option<&'static str> {
        Some("builtins.function")
    }
}

/// The closures [`Callback::recursive`] takes: their first parameter is the callback itself.
/// `M` is inferred, never written.
#[diagnostic::on_unimplemented(
    message = "a recursive callback's first parameter is the callback itself",
    label = "write the closure as `|me: Callback, ..| ..`",
    note = "`Callback::recursive` hands the closure its own callback first, then the peer's arguments"
)]
pub trait StartsWithItself {}

macro_rules! starts_with_itself {
    ($($ty:ident),*) => {
        impl<Kind, $($ty,)*> StartsWithItself for (Kind, Callback, $($ty,)*) {}
    };
}

starts_with_itself!();
starts_with_itself!(A);
starts_with_itself!(A, B);
starts_with_itself!(A, B, C);
starts_with_itself!(A, B, C, D);
starts_with_itself!(A, B, C, D, E);
starts_with_itself!(A, B, C, D, E, G);
starts_with_itself!(A, B, C, D, E, G, H);

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
            $($ty: DeserializeOwned + 'static,)*
        {
            #[allow(unused_mut, unused_variables, unused_assignments)]
            fn invoke(&self, args: Vec<Value>) -> Outcome {
                let mut it = match take_args("callback", $n, args) {
                    Ok(it) => it,
                    Err(e) => return Outcome::Ready(Err(e)),
                };
                let mut index = 0;
                $(
                    let $var: $ty = match typed_arg::<$ty>("callback", index, stringify!($var), it.next()) {
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
