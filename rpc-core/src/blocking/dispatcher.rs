//! Delivering work to a thread of the user's choice, typically a GUI's main thread, which
//! must be the only one to touch its widgets.
//!
//! A [`Dispatcher`] is a queue of jobs that belongs to one thread, *its thread*: the thread
//! that created it, until another thread runs it ([`run_pending`](Dispatcher::run_pending),
//! [`run_for`](Dispatcher::run_for)), which makes that thread its thread from then on. Every
//! blocking wait of the facade made on that thread (a call, `getattr`, `setattr`, `describe`,
//! `close`, [`AsyncResult::wait_blocking`](crate::AsyncResult::wait_blocking), [`AsyncResult::wait_timeout_blocking`](crate::AsyncResult::wait_timeout_blocking)) runs the
//! thread's queues while it waits, as RPyC serves requests while it waits for a reply. A job
//! may itself make a blocking call; that call serves the queue in turn, to any depth.
//!
//! The waiting thread sleeps (parks) until its reply arrives or a job is posted; no polling.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::callback::{Callback, CallbackFn, StartsWithItself};
use crate::connection::panic_error;
use crate::error::{Error, RemoteError, RemoteErrorKind, Result};
use crate::service::Outcome;
use crate::value::Value;

/// The peer's call could not reach the draining thread.
fn gone(what: &str) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Application, "rpc::DispatcherGone", what)
}

type Job = Box<dyn FnOnce() + Send>;

/// A job in a queue.
struct Posted {
    job: Job,
    /// When a peer's callback was queued (its call waits on it); `None` for an arrival.
    callback_since: Option<Instant>,
}

struct QueueState {
    jobs: VecDeque<Posted>,
    /// The dispatcher's thread: woken when a job is posted.
    thread: Thread,
}

/// What a [`Dispatcher`] shares with its callbacks, its thread and the registry.
struct Queue {
    state: Mutex<QueueState>,
}

impl Queue {
    /// Queues `job` and wakes the dispatcher's thread.
    fn post(&self, job: Job, callback: bool) {
        let thread = {
            let mut state = self.state.lock();
            state.jobs.push_back(Posted {
                job,
                callback_since: callback.then(Instant::now),
            });
            state.thread.clone()
        };
        thread.unpark();
    }

    /// The next job, whoever asks.
    fn take(&self) -> Option<Job> {
        self.state.lock().jobs.pop_front().map(|p| p.job)
    }

    /// The next job, if `me` is the dispatcher's thread.
    fn take_on(&self, me: ThreadId) -> Option<Job> {
        let mut state = self.state.lock();
        if state.thread.id() != me {
            return None;
        }
        state.jobs.pop_front().map(|p| p.job)
    }

    fn is_on(&self, me: ThreadId) -> bool {
        self.state.lock().thread.id() == me
    }
}

thread_local! {
    /// The queues of the dispatchers this thread created or ran (some may since belong to
    /// another thread; `Queue::take_on` checks).
    static HOME: RefCell<Vec<Weak<Queue>>> = const { RefCell::new(Vec::new()) };
}

/// Every live dispatcher's queue, to tell a timed-out caller about undelivered callbacks.
static LIVE: Mutex<Vec<Weak<Queue>>> = parking_lot::const_mutex(Vec::new());

/// Adds `queue` to `list` once, dropping the entries of dispatchers that are gone.
fn remember(list: &mut Vec<Weak<Queue>>, queue: &Arc<Queue>) {
    list.retain(|w| w.strong_count() > 0);
    if !list.iter().any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(queue))) {
        list.push(Arc::downgrade(queue));
    }
}

fn remember_here(queue: &Arc<Queue>) {
    // A dispatcher made while this thread's locals are being destroyed is simply not served
    // by waits on it (there are none left).
    let _ = HOME.try_with(|home| remember(&mut home.borrow_mut(), queue));
}

/// True if this thread is a live dispatcher's thread: its blocking waits serve queues.
pub(crate) fn serves_here() -> bool {
    let me = thread::current().id();
    HOME.try_with(|home| {
        home.borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .any(|q| q.is_on(me))
    })
    .unwrap_or(false)
}

/// Runs the next job of this thread's dispatchers, if there is one.
fn run_one_here() -> bool {
    let me = thread::current().id();
    // The job runs after the borrow ends: it may make a dispatcher, or wait (nesting).
    let job = HOME
        .try_with(|home| {
            home.borrow()
                .iter()
                .filter_map(Weak::upgrade)
                .find_map(|q| q.take_on(me))
        })
        .ok()
        .flatten();
    match job {
        Some(job) => {
            job();
            true
        }
        None => false,
    }
}

/// Wakes the waiting thread when its future can make progress.
struct Signal {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Drives `fut` on this thread (inside `handle`'s context, if given) and runs this thread's
/// dispatcher jobs while it is pending, each outside any poll, so that a job may block on a
/// call of its own. Sleeps until the future is woken or a job is posted. Gives up at
/// `deadline`, if any, returning `None`.
pub(crate) fn serve_until<F: Future>(
    handle: Option<&tokio::runtime::Handle>,
    fut: F,
    deadline: Option<Instant>,
) -> Option<F::Output> {
    let signal = Arc::new(Signal {
        thread: thread::current(),
        woken: AtomicBool::new(true),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if signal.woken.swap(false, Ordering::AcqRel) {
            let _entered = handle.map(|h| h.enter());
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return Some(out);
            }
        }
        if run_one_here() {
            continue;
        }
        // A wake or a post between the checks above and here leaves the park token set, so
        // this returns at once; a job that parked on its own consumed nothing we rely on,
        // since both conditions are checked again first.
        match deadline {
            None => thread::park(),
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                thread::park_timeout(left);
            }
        }
    }
}

/// [`serve_until`] without a deadline.
pub(crate) fn serve<F: Future>(handle: Option<&tokio::runtime::Handle>, fut: F) -> F::Output {
    match serve_until(handle, fut, None) {
        Some(out) => out,
        None => unreachable!("a wait without a deadline ends only with its future"),
    }
}

/// `Error::Timeout` becomes [`Error::TimeoutUndelivered`] while any live dispatcher has
/// peer callbacks queued, undelivered: the reply may be waiting on them. Other errors pass.
pub(crate) fn explain_timeout(e: Error) -> Error {
    let Error::Timeout(limit) = e else {
        return e;
    };
    let queues: Vec<Arc<Queue>> = LIVE.lock().iter().filter_map(Weak::upgrade).collect();
    let now = Instant::now();
    let mut callbacks = 0;
    let mut oldest = Duration::ZERO;
    for queue in &queues {
        for since in queue.state.lock().jobs.iter().filter_map(|p| p.callback_since) {
            callbacks += 1;
            oldest = oldest.max(now.saturating_duration_since(since));
        }
    }
    if callbacks == 0 {
        return Error::Timeout(limit);
    }
    Error::TimeoutUndelivered {
        limit,
        callbacks,
        oldest,
    }
}

/// A queue of jobs that one thread, its thread, runs: callbacks from the peer and arrivals of
/// async results are posted to it and run when that thread calls
/// [`run_pending`](Dispatcher::run_pending) or [`run_for`](Dispatcher::run_for), e.g. once
/// per tick of its event loop — and whenever that thread blocks in the facade.
///
/// **Its thread** is the thread that created it, until another thread runs it (`run_pending`
/// or `run_for`): that thread is its thread from then on. While its thread blocks on a call
/// (or `getattr`, `setattr`, `describe`, `close`, [`AsyncResult::wait_blocking`](crate::AsyncResult::wait_blocking),
/// [`AsyncResult::wait_timeout_blocking`](crate::AsyncResult::wait_timeout_blocking)), the wait runs the queue, in order, as jobs come:
/// a server that calls a dispatcher callback while serving that very call is answered, and a
/// callback may itself make blocking calls, to any depth.
///
/// A wait on another thread cannot run the queue. If such a call times out while callbacks
/// wait undelivered in a dispatcher's queue, it fails with [`Error::TimeoutUndelivered`],
/// which says so, rather than [`Error::Timeout`].
///
/// ```
/// use rpc_core::blocking::{self, Dispatcher};
/// use rpc_core::{service, Callback, Error};
///
/// struct Mapper;
///
/// #[service]
/// impl Mapper {
///     async fn exposed_map(&self, f: Callback, xs: Vec<i64>) -> Result<Vec<i64>, Error> {
///         let mut out = Vec::new();
///         for x in xs {
///             out.push(f.call((x,)).await?);
///         }
///         Ok(out)
///     }
/// }
///
/// # fn main() -> rpc_core::Result<()> {
/// let (client, _server) = blocking::memory_pair(rpc_core::VoidService, Mapper)?;
/// let dispatcher = Dispatcher::new();
/// let me = std::thread::current().id();
/// let square = dispatcher.callback(move |x: i64| {
///     assert_eq!(std::thread::current().id(), me);
///     x * x
/// });
/// // This thread blocks on the call and runs `square` for the server meanwhile.
/// let squares: Vec<i64> = client.root().call("map", (square, vec![1, 2, 3]))?;
/// assert_eq!(squares, [1, 4, 9]);
/// # Ok(())
/// # }
/// ```
pub struct Dispatcher {
    queue: Arc<Queue>,
    /// One thread runs it at a time: it can be moved to another thread, not shared.
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatcher {
    /// An empty dispatcher whose thread is this one (until another thread runs it).
    pub fn new() -> Self {
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                jobs: VecDeque::new(),
                thread: thread::current(),
            }),
        });
        remember(&mut LIVE.lock(), &queue);
        remember_here(&queue);
        Dispatcher {
            queue,
            _not_sync: PhantomData,
        }
    }

    /// Makes this thread the dispatcher's thread.
    fn adopt(&self) {
        let me = thread::current();
        let moved = {
            let mut state = self.queue.state.lock();
            let moved = state.thread.id() != me.id();
            if moved {
                state.thread = me;
            }
            moved
        };
        if moved {
            remember_here(&self.queue);
        }
    }

    /// A callback for the peer whose body runs on the dispatcher's thread; the peer's call
    /// waits until it has run there (in `run_pending`, `run_for`, or a blocking wait of that
    /// thread). It takes what [`Connection::callback`](crate::Connection::callback) takes: a
    /// closure of 0 to 8 serde arguments returning a value, a `Result` or a future of either (a
    /// future is then awaited off the dispatcher's thread). A panic in it answers the peer with
    /// a panic error; the dispatcher's thread goes on.
    pub fn callback<F, M>(&self, f: F) -> Callback
    where
        F: CallbackFn<M>,
    {
        Callback::from_handler(Arc::new(self.handler(f)))
    }

    /// Like [`callback`](Dispatcher::callback), for a closure that gets the callback itself
    /// first (see [`Callback::recursive`]): a recursion through the peer, each level on the
    /// dispatcher's thread, needs no slot to pass the callback on.
    pub fn recursive_callback<F, M>(&self, f: F) -> Callback
    where
        F: CallbackFn<M>,
        M: StartsWithItself,
    {
        Callback::from_handler_recursive(self.handler(f))
    }

    /// Runs `f` on the dispatcher's thread for each call of the peer, and answers the peer.
    fn handler<F, M>(&self, f: F) -> impl Fn(Vec<Value>) -> Outcome + Send + Sync + 'static
    where
        F: CallbackFn<M>,
    {
        let queue = Arc::downgrade(&self.queue);
        let f = Arc::new(f);
        move |args: Vec<Value>| {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Outcome>();
            let f = f.clone();
            let job: Job = Box::new(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| f.invoke(args)))
                    .unwrap_or_else(|panic| Outcome::Ready(Err(panic_error(panic))));
                let _ = done_tx.send(outcome);
            });
            let posted = match queue.upgrade() {
                Some(queue) => {
                    queue.post(job, true);
                    true
                }
                None => false,
            };
            Outcome::pending(async move {
                if !posted {
                    return Err(gone("the dispatcher is gone"));
                }
                match done_rx.await {
                    Ok(Outcome::Ready(result)) => result,
                    Ok(Outcome::Pending(fut)) => fut.await,
                    Err(_) => Err(gone("the dispatcher dropped the call")),
                }
            })
        }
    }

    /// Wraps `f` for [`AsyncResult::add_callback`](crate::AsyncResult::add_callback) so that it runs on the draining thread with
    /// the call's outcome.
    pub fn deliver<T, F>(&self, f: F) -> impl FnOnce(Result<T>) + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(Result<T>) + Send + 'static,
    {
        let queue = Arc::downgrade(&self.queue);
        move |outcome: Result<T>| {
            if let Some(queue) = queue.upgrade() {
                queue.post(Box::new(move || f(outcome)), false);
            }
        }
    }

    /// Runs every job posted so far (and those posted meanwhile), without waiting; returns how
    /// many ran. This thread becomes the dispatcher's thread.
    pub fn run_pending(&self) -> usize {
        self.adopt();
        let mut n = 0;
        while let Some(job) = self.queue.take() {
            job();
            n += 1;
        }
        n
    }

    /// Runs jobs as they come for up to `limit`; returns how many ran. This thread becomes
    /// the dispatcher's thread.
    pub fn run_for(&self, limit: Duration) -> usize {
        self.adopt();
        let deadline = Instant::now() + limit;
        let mut n = 0;
        loop {
            if let Some(job) = self.queue.take() {
                job();
                n += 1;
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return n;
            }
            // A post unparks this thread, the dispatcher's thread.
            thread::park_timeout(left);
        }
    }
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.queue.state.lock();
        f.debug_struct("Dispatcher")
            .field("queued", &state.jobs.len())
            .field("thread", &state.thread.id())
            .finish()
    }
}
