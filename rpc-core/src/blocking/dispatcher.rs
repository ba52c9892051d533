//! Delivering work to a thread of the user's choice, typically a GUI's main thread, which
//! must be the only one to touch its widgets.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::async_result::AsyncResult;
use crate::callback::Callback;
use crate::error::Error;

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
    /// until it has run there. `f` takes one argument (use a tuple or struct for more).
    pub fn callback<A, R, F>(&self, f: F) -> Callback
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(A) -> R + Send + Sync + Clone + 'static,
    {
        let tx = self.tx.clone();
        Callback::new(move |arg: A| {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let f = f.clone();
            let posted = tx.send(Box::new(move || {
                let _ = done_tx.send(f(arg));
            }));
            async move {
                posted.map_err(|_| Error::Protocol("the dispatcher is gone".into()))?;
                done_rx
                    .await
                    .map_err(|_| Error::Protocol("the dispatcher dropped the call".into()))
            }
        })
    }

    /// Wraps `f` for [`AsyncResult::add_callback`] so that it runs on the draining thread.
    pub fn deliver<F>(&self, f: F) -> impl FnOnce(&AsyncResult) + Send + 'static
    where
        F: FnOnce(&AsyncResult) + Send + 'static,
    {
        let tx = self.tx.clone();
        move |result: &AsyncResult| {
            let result = result.clone();
            let _ = tx.send(Box::new(move || f(&result)));
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
