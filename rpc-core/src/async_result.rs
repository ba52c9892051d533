//! Asynchronous results, RPyC style: `async_(&netref, "method").call::<T>(args)` sends the
//! request at once and returns an [`AsyncResult<T>`] to poll, wait on, attach callbacks to,
//! expire, or simply `.await`.
//!
//! The result type is named once, at the call (or inferred from how the result is used, as for
//! [`NetRef::call`]); `AsyncResult<Value>` is the dynamic form.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use crate::args::Args;
use crate::connection::PendingCall;
use crate::error::{Error, Result};
use crate::netref::NetRef;
use crate::protocol::OpRef;
use crate::reply::Reply;
use crate::value::{from_value, Value};

/// Wraps a method of a remote object so that calls return at once with an [`AsyncResult`]
/// (RPyC's `async_(conn.root.method)`).
pub fn async_(netref: &NetRef, method: &str) -> AsyncMethod {
    AsyncMethod {
        netref: netref.clone(),
        op: Some(method.to_owned()),
        expiry: None,
    }
}

/// Like [`async_`], for a callable object (a callback) itself.
pub fn async_callable(netref: &NetRef) -> AsyncMethod {
    AsyncMethod {
        netref: netref.clone(),
        op: None,
        expiry: None,
    }
}

/// A reference whose every call returns an [`AsyncResult`] that expires after `expiry`
/// (RPyC's `timed`).
pub fn timed(netref: &NetRef, expiry: Duration) -> Timed {
    Timed {
        netref: netref.clone(),
        expiry,
    }
}

/// A remote method whose calls return [`AsyncResult`]s.
#[derive(Clone, Debug)]
pub struct AsyncMethod {
    netref: NetRef,
    op: Option<String>,
    expiry: Option<Duration>,
}

impl AsyncMethod {
    /// Every result of this method expires after `expiry`. An expired result cancels its call
    /// on the peer (the peer is told; a late reply is dropped), whereas dropping every handle of
    /// a pending result only detaches it: the call runs to its end there.
    pub fn with_expiry(mut self, expiry: Option<Duration>) -> Self {
        self.expiry = expiry;
        self
    }

    /// Sends the call now and returns its result handle, whose value decodes as `R` (name it,
    /// `call::<String>(..)`, or let the compiler infer it from how the result is used;
    /// `call::<Value>` keeps it dynamic). Fails at once only if the call cannot be sent
    /// (arguments not encodable, connection closed); a reply that does not decode as `R`
    /// settles the result with [`Error::Decode`].
    ///
    /// Like every request it has a timeout: the connection's call timeout (the result then
    /// settles with [`Error::Timeout`]) unless the reference says otherwise — a reference
    /// [`with_timeout(None)`](NetRef::with_timeout) waits forever, and one with its own timeout
    /// uses it as the result's expiry if the result has none.
    pub fn call<R: Reply + 'static>(&self, args: impl Args) -> Result<AsyncResult<R>> {
        let args = args
            .into_args()
            .map_err(|e| Error::Encode(format!("argument: {e}")))?;
        let op = match &self.op {
            Some(m) => OpRef::Call(m),
            None => OpRef::CallSelf,
        };
        let (timed, expiry) = match self.netref.timeout() {
            None => (true, self.expiry),
            Some(None) => (false, self.expiry),
            Some(Some(limit)) => (false, self.expiry.or(Some(limit))),
        };
        let call = self
            .netref
            .connection()
            .send_request_timed(self.netref.id(), op, args, timed)?;
        Ok(AsyncResult::start(call, expiry))
    }
}

/// A reference whose every call returns an expiring [`AsyncResult`]; see [`timed`].
#[derive(Clone, Debug)]
pub struct Timed {
    netref: NetRef,
    expiry: Duration,
}

impl Timed {
    /// Calls `method` asynchronously; the result (decoded as `R`) expires after the configured
    /// time.
    pub fn call<R: Reply + 'static>(&self, method: &str, args: impl Args) -> Result<AsyncResult<R>> {
        async_(&self.netref, method)
            .with_expiry(Some(self.expiry))
            .call(args)
    }
}

/// How a call ended.
#[derive(Clone)]
enum Done {
    Value(Value),
    Error(Error),
    Expired,
}

/// What `add_callback` keeps until the result settles.
type ArrivalCallback = Box<dyn FnOnce(&Done) + Send>;

struct State {
    done: Option<Done>,
    expiry: Option<Instant>,
    callbacks: Vec<ArrivalCallback>,
    wakers: Vec<Waker>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes threads blocked in `wait_blocking`.
    arrived: Condvar,
    /// Tells the driver task the expiry changed.
    expiry_changed: Notify,
}

/// Ends the driver when the last handle goes: the request is detached, its reply dropped.
struct Detach {
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

/// The result of an asynchronous call: pending, then a value, an error, or expired.
///
/// Clones share one result. It is also a `Future` of `Result<T>`. Dropping every clone before
/// the reply detaches the request: it still runs on the peer, and its reply is discarded.
///
/// `T` is the type the reply decodes as, named at the call ([`AsyncMethod::call`]); each
/// reader ([`value`](AsyncResult::value), a callback, `.await`) decodes its own copy, so `T`
/// need not be `Clone`, and an error reaches each of them as a clone.
///
/// ```
/// use std::time::Duration;
/// use rpc_core::{async_, memory_pair, service, Error, VoidService};
///
/// struct Slow;
///
/// #[service]
/// impl Slow {
///     async fn exposed_sleep(&self, ms: u64) -> String {
///         tokio::time::sleep(Duration::from_millis(ms)).await;
///         format!("slept {ms}")
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// let (client, _server) = memory_pair(VoidService, Slow).await?;
/// let root = client.root();
/// // Sent at once; nothing waits yet.
/// let res = async_(&root, "sleep").call::<String>((50,))?;
/// assert!(!res.ready() && res.value().is_none());
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// res.add_callback(move |outcome: rpc_core::Result<String>| {
///     let _ = tx.send(outcome);
/// });
/// assert_eq!(res.clone().await?, "slept 50");
/// assert_eq!(rx.await.expect("the callback ran")?, "slept 50");
/// assert!(res.ready());
///
/// // A result that expires first settles as `Error::Expired`.
/// let late = async_(&root, "sleep")
///     .with_expiry(Some(Duration::from_millis(10)))
///     .call::<String>((5_000,))?;
/// assert!(matches!(late.wait().await, Err(Error::Expired)));
/// assert!(late.expired());
/// # Ok(())
/// # }
/// ```
pub struct AsyncResult<T = Value> {
    handle: Arc<Detach>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        AsyncResult {
            handle: self.handle.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> AsyncResult<T> {
    fn start(call: PendingCall, expiry: Option<Duration>) -> AsyncResult<T> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                done: None,
                expiry: expiry.map(|d| Instant::now() + d),
                callbacks: Vec::new(),
                wakers: Vec::new(),
            }),
            arrived: Condvar::new(),
            expiry_changed: Notify::new(),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let handle = Arc::new(Detach {
            shared: shared.clone(),
            _stop: stop_tx,
        });
        tokio::spawn(drive(call, shared, stop_rx));
        AsyncResult {
            handle,
            _type: PhantomData,
        }
    }

    /// The same result, decoded as `U` instead (from the dynamic `AsyncResult<Value>`, say).
    pub fn typed<U: DeserializeOwned>(self) -> AsyncResult<U> {
        AsyncResult {
            handle: self.handle,
            _type: PhantomData,
        }
    }
}

/// Waits for the reply or the expiry, whichever comes first, then settles the result.
async fn drive(mut call: PendingCall, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let done = loop {
        let expiry = shared.state.lock().expiry;
        let changed = shared.expiry_changed.notified();
        let sleep = async {
            match expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = call.wait_mut() => break match r {
                Ok(v) => Done::Value(v),
                Err(e) => Done::Error(e),
            },
            _ = sleep => break Done::Expired,
            _ = changed => continue,
            // Every handle is gone: detach. The call runs to its end on the peer, and its
            // reply, if it comes, is dropped.
            _ = &mut stop => return call.detach(),
        }
    };
    // Dropping `call` (on expiry) removes the pending entry and cancels the call on the peer:
    // a late reply is discarded.
    drop(call);
    let (callbacks, wakers) = {
        let mut state = shared.state.lock();
        state.done = Some(done.clone());
        (
            std::mem::take(&mut state.callbacks),
            std::mem::take(&mut state.wakers),
        )
    };
    shared.arrived.notify_all();
    for w in wakers {
        w.wake();
    }
    for cb in callbacks {
        cb(&done);
    }
}

impl<T> AsyncResult<T> {
    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// True once the reply (a value or an error) has arrived. Never blocks.
    pub fn ready(&self) -> bool {
        matches!(
            self.shared().state.lock().done,
            Some(Done::Value(_) | Done::Error(_))
        )
    }

    /// The error, if the reply was one (or the result expired). Never blocks.
    pub fn error(&self) -> Option<Error> {
        match &self.shared().state.lock().done {
            Some(Done::Error(e)) => Some(e.clone()),
            Some(Done::Expired) => Some(Error::Expired),
            _ => None,
        }
    }

    /// True if the result expired before the reply arrived. Never blocks.
    pub fn expired(&self) -> bool {
        matches!(self.shared().state.lock().done, Some(Done::Expired))
    }

    /// Sets (or with `None` removes) the expiry, counted from now. Has no effect once settled.
    /// On expiry the call is cancelled on the peer (see [`AsyncMethod::with_expiry`]).
    pub fn set_expiry(&self, expiry: Option<Duration>) {
        self.shared().state.lock().expiry = expiry.map(|d| Instant::now() + d);
        self.shared().expiry_changed.notify_one();
    }
}

impl<T: DeserializeOwned + 'static> AsyncResult<T> {
    /// Runs `f` with the outcome once the result is settled (at once, on this thread, if it
    /// already is): the value decoded as `T`, or the error ([`Error::Expired`] if the result
    /// expired first). Each callback gets its own decoded value and its own clone of an error.
    /// Callbacks run on a runtime task: keep them short, or hand them to your own thread with
    /// [`Dispatcher::deliver`](crate::blocking::Dispatcher::deliver).
    pub fn add_callback(&self, f: impl FnOnce(Result<T>) + Send + 'static) {
        let mut state = self.shared().state.lock();
        match state.done.clone() {
            None => state
                .callbacks
                .push(Box::new(move |done: &Done| f(decode(done.clone())))),
            Some(done) => {
                drop(state);
                f(decode(done));
            }
        }
    }

    /// The value or error if settled, `None` while pending. Never blocks.
    pub fn value(&self) -> Option<Result<T>> {
        self.shared().state.lock().done.clone().map(decode)
    }

    /// Waits for the result.
    pub async fn wait(&self) -> Result<T> {
        self.clone().await
    }

    /// Waits for the result at most `limit`; `None` if it is still pending then.
    pub async fn wait_timeout(&self, limit: Duration) -> Option<Result<T>> {
        tokio::time::timeout(limit, self.wait()).await.ok()
    }

    /// Blocks this thread until the result is settled. For code outside the async runtime
    /// (never call it on a runtime thread). On a [`Dispatcher`](crate::blocking::Dispatcher)'s
    /// thread it runs the dispatcher's jobs while it waits.
    pub fn wait_blocking(&self) -> Result<T> {
        if crate::blocking::serves_here() {
            return crate::blocking::serve(None, self.clone()).map_err(crate::blocking::explain_timeout);
        }
        let mut state = self.shared().state.lock();
        loop {
            if let Some(done) = state.done.clone() {
                return decode(done).map_err(crate::blocking::explain_timeout);
            }
            self.shared().arrived.wait(&mut state);
        }
    }

    /// Like [`wait_blocking`](AsyncResult::wait_blocking), giving up after `limit`.
    pub fn wait_timeout_blocking(&self, limit: Duration) -> Option<Result<T>> {
        let deadline = std::time::Instant::now() + limit;
        if crate::blocking::serves_here() {
            let settled = crate::blocking::serve_until(None, self.clone(), Some(deadline));
            return settled
                .or_else(|| self.value())
                .map(|r| r.map_err(crate::blocking::explain_timeout));
        }
        let mut state = self.shared().state.lock();
        loop {
            if let Some(done) = state.done.clone() {
                return Some(decode(done).map_err(crate::blocking::explain_timeout));
            }
            if self.shared().arrived.wait_until(&mut state, deadline).timed_out() {
                return state
                    .done
                    .clone()
                    .map(|done| decode(done).map_err(crate::blocking::explain_timeout));
            }
        }
    }
}

fn decode<T: DeserializeOwned>(done: Done) -> Result<T> {
    match done {
        Done::Value(v) => from_value(v).map_err(|e| Error::Decode(format!("the asynchronous result: {e}"))),
        Done::Error(e) => Err(e),
        Done::Expired => Err(Error::Expired),
    }
}

impl<T: DeserializeOwned> Future for AsyncResult<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let mut state = self.shared().state.lock();
        match state.done.clone() {
            Some(done) => Poll::Ready(decode(done)),
            None => {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl<T> fmt::Display for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match &self.shared().state.lock().done {
            None => "pending",
            Some(Done::Value(_)) => "ready",
            Some(Done::Error(_)) => "error",
            Some(Done::Expired) => "expired",
        };
        write!(f, "<AsyncResult {text}>")
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
