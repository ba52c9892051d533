//! A session's script thread and its request queue (see "Threading" in the module docs of
//! `engine`).
//!
//! The thread is started at the session's first request, with a stack that fits the call-depth
//! limit, and runs the queued requests one after another as the owner of the session's scope.
//! While a request's script waits on a call of an object, the wait ([`Shared::wait`]) takes
//! the queued requests and runs them nested. After [`ScriptThread::idle`] without a request the
//! thread ends; the next request starts another. Whether a thread runs, waits idle or has
//! ended is decided under the queue's lock, so a request is never left in the queue of a
//! thread that is ending.
//!
//! [`Shared::wait`]: super::Shared::wait

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rhai::Scope;
use tokio::runtime::Handle;
use tokio::sync::Notify;

use super::{Inner, Session};

/// How long a session's thread waits for a request before it ends.
pub(super) const IDLE_EXIT: Duration = Duration::from_secs(30);

/// Where a request runs.
pub(super) enum Turn<'a> {
    /// As the owner: in the session's scope, under a deadline of its own.
    Owner(&'a mut Scope<'static>),
    /// Inside the owner's wait on a call, at this nesting depth (0 for the first level).
    Nested(usize),
}

/// A request: it runs once on the script thread, and answers its submitter itself. Dropped
/// without running (the session closed, the submitter gave up), it answers nothing.
pub(super) type Job = Box<dyn FnOnce(&Session, Turn<'_>) + Send>;

/// A queued request.
pub(super) struct Entry {
    id: u64,
    job: Job,
    /// The submitter's runtime, entered while the request runs (a script's calls of objects
    /// block on it).
    runtime: Option<Handle>,
}

impl Entry {
    /// Runs the request nested (see [`Turn::Nested`]).
    pub(super) fn run_nested(self, session: &Session, depth: usize) {
        (self.job)(session, Turn::Nested(depth));
    }
}

/// What the thread is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// There is none: the next request starts one.
    Ended,
    /// It waits for a request.
    Idle,
    /// It runs a request (or is about to take one).
    Busy,
}

struct State {
    queue: VecDeque<Entry>,
    next_id: u64,
    life: Life,
    /// How many waits on object calls the running request is in: queued requests run nested
    /// while above 0.
    waits: usize,
    closed: bool,
    /// Threads started so far.
    started: u64,
}

/// Why a request was not queued.
pub(super) enum Refused {
    /// The session is closed.
    Closed,
    /// No thread could be started for it.
    NoThread(std::io::Error),
}

/// A queued request's place.
pub(super) struct Ticket {
    /// To withdraw it.
    pub(super) id: u64,
    /// It was queued to an idle thread (or a new one), which takes it at once: it cannot wait
    /// behind another request.
    pub(super) prompt: bool,
}

/// A session's script thread (started on demand) and its queue.
pub(super) struct ScriptThread {
    state: Mutex<State>,
    /// Wakes an idle thread.
    wake: Condvar,
    /// Wakes a thread waiting on an object call.
    nudge: Notify,
    stack: usize,
    idle: Duration,
}

impl ScriptThread {
    /// No thread yet; one will have a stack of `stack` bytes and end after `idle` without work.
    pub(super) fn new(stack: usize, idle: Duration) -> ScriptThread {
        ScriptThread {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                next_id: 0,
                life: Life::Ended,
                waits: 0,
                closed: false,
                started: 0,
            }),
            wake: Condvar::new(),
            nudge: Notify::new(),
            stack,
            idle,
        }
    }

    /// Queues `job` for `session`'s thread, starting the thread if there is none.
    pub(super) fn push(self: &Arc<Self>, session: &Arc<Inner>, job: Job) -> Result<Ticket, Refused> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(Refused::Closed);
        }
        let id = state.next_id;
        state.next_id += 1;
        let prompt = state.life != Life::Busy && state.queue.is_empty();
        if state.life == Life::Ended {
            let thread = self.clone();
            let session = Arc::downgrade(session);
            std::thread::Builder::new()
                .name("rpc-classic-script".to_owned())
                .stack_size(self.stack)
                .spawn(move || thread.main(&session))
                .map_err(Refused::NoThread)?;
            state.life = Life::Busy;
            state.started += 1;
        }
        state.queue.push_back(Entry {
            id,
            job,
            runtime: Handle::try_current().ok(),
        });
        match state.life {
            Life::Idle => {
                self.wake.notify_one();
            }
            Life::Busy if state.waits > 0 => self.nudge.notify_one(),
            _ => {}
        }
        Ok(Ticket { id, prompt })
    }

    /// Takes the request `id` out of the queue: true if it was still there (so it never
    /// runs), false if the thread took it already.
    pub(super) fn withdraw(&self, id: u64) -> bool {
        let mut state = self.state.lock();
        let Some(at) = state.queue.iter().position(|e| e.id == id) else {
            return false;
        };
        let entry = state.queue.remove(at);
        drop(state);
        drop(entry);
        true
    }

    /// Refuses every request from now on and drops the queued ones (unanswered); the thread
    /// ends once its running request does.
    pub(super) fn shut_down(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        let dropped = std::mem::take(&mut state.queue);
        drop(state);
        self.wake.notify_all();
        // Requests may own anything (objects, whose drop may call out): not under the lock.
        drop(dropped);
    }

    /// True once [`shut_down`](ScriptThread::shut_down).
    pub(super) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// The running request starts waiting on an object call: until the returned guard goes,
    /// requests are handed to the wait (nested).
    pub(super) fn waiting(&self) -> Waiting<'_> {
        self.state.lock().waits += 1;
        Waiting(self)
    }

    /// The next queued request, for a wait to run nested.
    pub(super) fn next_nested(&self) -> Option<Entry> {
        self.state.lock().queue.pop_front()
    }

    /// Done when a request is queued while a wait is on (or was queued since the last look).
    pub(super) async fn nudged(&self) {
        self.nudge.notified().await;
    }

    /// The thread: runs queued requests as the owner until it has been idle too long or the
    /// session ends.
    fn main(&self, session: &Weak<Inner>) {
        while let Some(entry) = self.next() {
            let Some(inner) = session.upgrade() else {
                continue;
            };
            let session = Session(inner);
            let Entry { job, runtime, .. } = entry;
            let _runtime = runtime.as_ref().map(Handle::enter);
            // A panic loses this request's answer (its submitter is told), not the thread.
            let _ = catch_unwind(AssertUnwindSafe(|| session.run_owned(job)));
        }
    }

    /// Waits for the next request; `None` when the thread is to end.
    fn next(&self) -> Option<Entry> {
        let mut state = self.state.lock();
        loop {
            if state.closed {
                state.life = Life::Ended;
                return None;
            }
            if let Some(entry) = state.queue.pop_front() {
                state.life = Life::Busy;
                return Some(entry);
            }
            state.life = Life::Idle;
            let idle = self.wake.wait_for(&mut state, self.idle).timed_out();
            if idle && state.queue.is_empty() {
                state.life = Life::Ended;
                return None;
            }
        }
    }

    /// Threads started so far.
    #[cfg(test)]
    pub(super) fn started(&self) -> u64 {
        self.state.lock().started
    }

    /// Whether a thread is there (running or idle).
    #[cfg(test)]
    pub(super) fn alive(&self) -> bool {
        self.state.lock().life != Life::Ended
    }
}

/// A wait on an object call is on (see [`ScriptThread::waiting`]).
pub(super) struct Waiting<'a>(&'a ScriptThread);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.state.lock().waits -= 1;
    }
}
