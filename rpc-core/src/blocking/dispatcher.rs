//! Delivering work to a thread of the user's choice, typically a GUI's main thread, which
//! must be the only one to touch its widgets.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::callback::{Callback, CallbackFn};
use crate::connection::panic_error;
use crate::error::Result;
use crate::error::{RemoteError, RemoteErrorKind};
use crate::service::Outcome;
use crate::value::Value;

/// The peer's call could not reach the draining thread.
fn gone(what: &str) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Application, "rpc::DispatcherGone", what)
}

type Job = Box<dyn FnOnce() + Send>;

/// A queue of jobs that one thread drains: callbacks from the peer and arrivals of async
/// results are posted to it and run when that thread calls [`run_pending`](Dispatcher::run_pending)
/// or [`run_for`](Dispatcher::run_for), e.g. once per tick of its event loop.
pub struct Dispatcher {
    tx: mpsc::Sender<Job>,
    rx: mpsc::Receiver<Job>,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatcher {
    /// An empty dispatcher; the thread that drains it is the one whose calls run the jobs.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Dispatcher { tx, rx }
    }

    /// A callback for the peer whose body runs on the draining thread; the peer's call waits
    /// until it has run there. It takes what [`Connection::callback`](crate::Connection::callback)
    /// takes: a closure of 0 to 8 serde arguments returning a value, a `Result` or a future of
    /// either (a future is then awaited off the draining thread). A panic in it answers the
    /// peer with a panic error; the draining thread goes on.
    pub fn callback<F, M>(&self, f: F) -> Callback
    where
        F: CallbackFn<M>,
    {
        let tx = self.tx.clone();
        let f = Arc::new(f);
        Callback::from_handler(Arc::new(move |args: Vec<Value>| {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Outcome>();
            let f = f.clone();
            let posted = tx.send(Box::new(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| f.invoke(args)))
                    .unwrap_or_else(|panic| Outcome::Ready(Err(panic_error(panic))));
                let _ = done_tx.send(outcome);
            }));
            Outcome::pending(async move {
                if posted.is_err() {
                    return Err(gone("the dispatcher is gone"));
                }
                match done_rx.await {
                    Ok(Outcome::Ready(result)) => result,
                    Ok(Outcome::Pending(fut)) => fut.await,
                    Err(_) => Err(gone("the dispatcher dropped the call")),
                }
            })
        }))
    }

    /// Wraps `f` for [`AsyncResult::add_callback`](crate::AsyncResult::add_callback) so that it runs on the draining thread with
    /// the call's outcome.
    pub fn deliver<T, F>(&self, f: F) -> impl FnOnce(Result<T>) + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(Result<T>) + Send + 'static,
    {
        let tx = self.tx.clone();
        move |outcome: Result<T>| {
            let _ = tx.send(Box::new(move || f(outcome)));
        }
    }

    /// Runs every job posted so far, without waiting; returns how many ran.
    pub fn run_pending(&self) -> usize {
        let mut n = 0;
        while let Ok(job) = self.rx.try_recv() {
            job();
            n += 1;
        }
        n
    }

    /// Runs jobs as they come for up to `limit`; returns how many ran.
    pub fn run_for(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        let mut n = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(job) => {
                    job();
                    n += 1;
                }
                Err(_) => return n,
            }
        }
    }
}
