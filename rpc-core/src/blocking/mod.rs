//! The blocking facade: the framework without async code, for scripts, tests and GUI programs.
//!
//! A background runtime (two worker threads) carries the connections and serves incoming
//! requests and callbacks at once, with no polling interval. Calls block the calling thread
//! until their reply arrives; [`NetRef::async_`] returns an [`AsyncResult`] at once instead. A
//! [`Dispatcher`] delivers callbacks to a thread of your choice, such as a GUI's main thread.
//!
//! The facade is for threads that are not a tokio runtime's: a blocking call made on a runtime
//! thread (inside `#[tokio::main]` or a task) panics, as tokio's own `block_on` does there. From
//! async code use the async API, or move the blocking code to a thread of its own
//! (`std::thread::spawn`, `tokio::task::spawn_blocking`).
//!
//! **A wait serves its thread's dispatchers.** Every blocking wait made on a [`Dispatcher`]'s
//! thread (a call, `getattr`, `setattr`, `describe`, `close`, [`AsyncResult::wait_blocking`],
//! [`AsyncResult::wait_timeout_blocking`]) runs the dispatcher's jobs, in order, while it
//! waits, as RPyC serves callbacks on the waiting thread: a server may call back a dispatcher
//! callback while it serves that very call, and the callback may make blocking calls of its
//! own, to any depth. A dispatcher's thread is the thread that created it, until another
//! thread runs it ([`Dispatcher::run_pending`], [`Dispatcher::run_for`]). A wait on another
//! thread cannot run the queue; if it times out while callbacks wait undelivered in a
//! dispatcher, its error is [`Error::TimeoutUndelivered`](crate::Error::TimeoutUndelivered),
//! which says so.
//!
//! ```
//! use rpc_core::{blocking, service};
//!
//! struct Calc;
//!
//! #[service]
//! impl Calc {
//!     fn exposed_add(&self, a: i64, b: i64) -> i64 {
//!         a + b
//!     }
//! }
//!
//! # fn main() -> rpc_core::Result<()> {
//! let (client, _server) = blocking::memory_pair(rpc_core::VoidService, Calc)?;
//! let sum: i64 = client.root().call("add", (2, 3))?;
//! assert_eq!(sum, 5);
//! # Ok(())
//! # }
//! ```

mod dispatcher;

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::args::Args;
use crate::async_result::{async_, AsyncResult};
use crate::callback::{Callback, CallbackFn};
use crate::connection::ConnectionStats;
use crate::error::Result;
use crate::reply::Reply;
use crate::service::{Description, Service};
use crate::transport::ConnectOptions;

pub use dispatcher::Dispatcher;
pub(crate) use dispatcher::{explain_timeout, serve, serve_until, serves_here};

/// The runtime behind blocking connections; it stops when the last connection using it goes.
struct Background {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Background {
    fn new() -> Result<Arc<Background>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rpc-blocking")
            .enable_all()
            .build()?;
        Ok(Arc::new(Background {
            runtime: Some(runtime),
        }))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.runtime {
            Some(rt) => rt.handle(),
            None => unreachable!("the runtime lives as long as its owner"),
        }
    }

    /// Blocks this thread until `fut` is done. On a [`Dispatcher`]'s thread, runs the
    /// dispatcher's jobs meanwhile (see [`Dispatcher`] for the rule).
    fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        if !dispatcher::serves_here() {
            return self.handle().block_on(fut);
        }
        dispatcher::serve(Some(self.handle()), fut)
    }

    /// [`block_on`](Background::block_on) for a request: a timeout says whether callbacks for
    /// a [`Dispatcher`] were waiting undelivered meanwhile.
    fn request<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.block_on(fut).map_err(dispatcher::explain_timeout)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A connection used from ordinary (non-async) code. Cheap to clone.
#[derive(Clone)]
pub struct Connection {
    conn: crate::Connection,
    bg: Arc<Background>,
}

/// Connects to `host:port` over TCP; this side exposes nothing.
///
/// ```
/// use rpc_core::{blocking, service, ConnectOptions};
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
/// # fn main() -> rpc_core::Result<()> {
/// // A one-connection server on a thread and runtime of its own (`rpc::server::Server` is the
/// // real thing).
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// listener.set_nonblocking(true)?;
/// std::thread::spawn(move || -> rpc_core::Result<()> {
///     tokio::runtime::Runtime::new()?.block_on(async move {
///         let (stream, _) = tokio::net::TcpListener::from_std(listener)?.accept().await?;
///         let options = ConnectOptions::new().service(Echo);
///         rpc_core::transport::tcp_connection(stream, options).await?.closed().await;
///         Ok(())
///     })
/// });
///
/// let conn = blocking::connect("127.0.0.1", port)?;
/// assert_eq!(conn.root().call::<String>("echo", ("hi",))?, "hi");
/// conn.close();
/// # Ok(())
/// # }
/// ```
pub fn connect(host: &str, port: u16) -> Result<Connection> {
    connect_with(host, port, ConnectOptions::new())
}

/// Connects to `host:port` over TCP with `options` (the service this side exposes, limits);
/// see [`ConnectOptions`].
pub fn connect_with(host: &str, port: u16, options: ConnectOptions) -> Result<Connection> {
    let bg = Background::new()?;
    let conn = bg.block_on(crate::transport::connect_with(host, port, options))?;
    Ok(Connection { conn, bg })
}

/// Starts `command` and talks to it over its stdin and stdout (see
/// [`connect_subproc`](crate::connect_subproc)).
pub fn connect_subproc(command: std::process::Command, options: ConnectOptions) -> Result<Connection> {
    let bg = Background::new()?;
    let conn = bg.block_on(crate::transport::connect_subproc(
        tokio::process::Command::from(command),
        options,
    ))?;
    Ok(Connection { conn, bg })
}

/// Serves `options`' service over this process's stdin and stdout until the parent closes the
/// connection: the worker side of [`connect_subproc`] (see [`serve_stdio`](crate::serve_stdio)).
pub fn serve_stdio(options: ConnectOptions) -> Result<()> {
    Background::new()?.block_on(crate::transport::serve_stdio(options))
}

/// Two connected peers in this process, for tests and examples.
pub fn memory_pair<A: Service, B: Service>(a: A, b: B) -> Result<(Connection, Connection)> {
    let bg = Background::new()?;
    let (x, y) = bg.block_on(crate::transport::memory_pair(a, b))?;
    Ok((
        Connection {
            conn: x,
            bg: bg.clone(),
        },
        Connection { conn: y, bg },
    ))
}

impl Connection {
    /// The peer's root object.
    pub fn root(&self) -> NetRef {
        NetRef {
            inner: self.conn.root(),
            bg: self.bg.clone(),
        }
    }

    /// The object the peer published under `name` (see the async
    /// [`Connection::lookup`](crate::Connection::lookup)).
    pub fn lookup(&self, name: &str) -> Result<NetRef> {
        let inner = self.bg.block_on(self.conn.lookup(name))?;
        Ok(NetRef {
            inner,
            bg: self.bg.clone(),
        })
    }

    /// Makes a closure callable by the peer; it runs on the background runtime as soon as the
    /// peer calls it. To run it on a thread of your own, use [`Dispatcher::callback`].
    pub fn callback<F, M>(&self, f: F) -> Callback
    where
        F: CallbackFn<M>,
    {
        Callback::new(f)
    }

    /// The async connection underneath.
    pub fn as_async(&self) -> &crate::Connection {
        &self.conn
    }

    /// The name of the peer's root service.
    pub fn peer_service_name(&self) -> &str {
        self.conn.peer_service_name()
    }

    /// Current counters.
    pub fn stats(&self) -> ConnectionStats {
        self.conn.stats()
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// Closes the connection.
    pub fn close(&self) {
        self.bg.block_on(self.conn.close());
    }
}

/// A reference to a remote object, used from ordinary (non-async) code.
#[derive(Clone)]
pub struct NetRef {
    inner: crate::NetRef,
    bg: Arc<Background>,
}

impl NetRef {
    /// Calls `method` and blocks until the result arrives.
    pub fn call<R: Reply>(&self, method: &str, args: impl Args) -> Result<R> {
        self.bg.request(self.inner.call(method, args))
    }

    /// Reads an attribute.
    pub fn getattr<R: DeserializeOwned>(&self, name: &str) -> Result<R> {
        self.bg.request(self.inner.getattr(name))
    }

    /// Writes an attribute.
    pub fn setattr(&self, name: &str, value: impl Serialize) -> Result<()> {
        self.bg.request(self.inner.setattr(name, value))
    }

    /// Calls `method` one-way: returns at once, no reply.
    pub fn call_oneway(&self, method: &str, args: impl Args) -> Result<()> {
        self.inner.call_oneway(method, args)
    }

    /// Calls `method` without waiting: the request is sent now, the result arrives later.
    /// Block on it with [`AsyncResult::wait_blocking`], poll it, or attach a callback (with
    /// [`Dispatcher::deliver`] to run it on your thread).
    /// The result decodes as `R` (`async_::<String>(..)`, or inferred from its use).
    pub fn async_<R: Reply + 'static>(&self, method: &str, args: impl Args) -> Result<AsyncResult<R>> {
        let _guard = self.bg.handle().enter();
        async_(&self.inner, method).call(args)
    }

    /// Like [`async_`](NetRef::async_), with an expiry.
    pub fn async_with_expiry<R: Reply + 'static>(
        &self,
        method: &str,
        args: impl Args,
        expiry: Duration,
    ) -> Result<AsyncResult<R>> {
        let _guard = self.bg.handle().enter();
        async_(&self.inner, method).with_expiry(Some(expiry)).call(args)
    }

    /// Lists the exposed methods and attributes.
    pub fn describe(&self) -> Result<Description> {
        self.bg.request(self.inner.describe())
    }

    /// The object's display text, as its owner renders it (see [`crate::NetRef::display`]).
    pub fn display(&self) -> Result<String> {
        self.bg.request(self.inner.display())
    }

    /// The object's debugging text, as its owner renders it (see [`crate::NetRef::repr`]).
    pub fn repr(&self) -> Result<String> {
        self.bg.request(self.inner.repr())
    }

    /// Calls the object itself (a callback or another callable object) and blocks until the
    /// result arrives.
    pub fn call_self<R: Reply>(&self, args: impl Args) -> Result<R> {
        self.bg.request(self.inner.call_self(args))
    }

    /// The same reference with its own call timeout (`None`: wait forever) instead of the
    /// connection's (see [`crate::NetRef::with_timeout`]).
    pub fn with_timeout(&self, timeout: Option<Duration>) -> NetRef {
        self.from_async(self.inner.with_timeout(timeout))
    }

    /// The async reference underneath.
    pub fn as_async(&self) -> &crate::NetRef {
        &self.inner
    }

    /// Wraps an async reference received from the peer (e.g. a call's result).
    pub fn from_async(&self, inner: crate::NetRef) -> NetRef {
        NetRef {
            inner,
            bg: self.bg.clone(),
        }
    }
}

impl std::fmt::Debug for NetRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.conn.fmt(f)
    }
}
