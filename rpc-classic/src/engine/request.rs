//! A request to a session's thread, from its submitter's side: queued, answered at once if
//! the thread answers within a few microseconds, otherwise awaited (see "Threading" in the
//! module docs of `engine`).

use std::time::{Duration, Instant};

use rpc_core::RemoteError;
use tokio::sync::oneshot;

use super::thread::{Job, Refused, Ticket, Turn};
use super::{script_error, Session};

/// How long a submitter polls for the answer of a request an idle thread took before it lets
/// its task sleep, yielding the CPU at each turn. A short script answers within it, so its task
/// neither sleeps nor is woken: on a busy shared 2-core machine this took `eval("1")` from
/// about 2.2x a null call's p50 to 1.7x, and a teleported call from about 2.0x to 1.45x
/// (BENCHMARKS.md, "Scripts on a long-lived session thread").
const SPIN: Duration = Duration::from_micros(20);

/// A submitted request: answered, or to wait for.
pub(super) enum Submitted<T> {
    /// Answered within [`SPIN`] (or refused).
    Answered(Result<T, RemoteError>),
    /// Still queued or running.
    Pending(Pending<T>),
}

/// A request the session's thread has not answered yet. Dropped while still queued, it is
/// withdrawn: it never runs.
pub(super) struct Pending<T> {
    session: Session,
    answered: oneshot::Receiver<Result<T, RemoteError>>,
    ticket: Ticket,
    /// When a request still queued gives up: its wall-time limit after it was submitted.
    until: Instant,
    /// Still to be withdrawn if dropped.
    queued: bool,
}

impl Session {
    /// Queues `job` for the session's thread: as the owner of the scope, or nested if the
    /// running script waits on a call (see the module's docs). Answered at once if the thread
    /// was idle and answers within [`SPIN`].
    pub(super) fn submit<T, F>(&self, job: F) -> Submitted<T>
    where
        T: Send + 'static,
        F: FnOnce(&Session, Turn<'_>) -> Result<T, RemoteError> + Send + 'static,
    {
        let until = Instant::now() + self.limits().wall_time;
        let (answer, mut answered) = oneshot::channel();
        let job: Job = Box::new(move |s: &Session, turn: Turn<'_>| {
            let _ = answer.send(job(s, turn));
        });
        let ticket = match self.0.shared.thread.push(&self.0, job) {
            Ok(ticket) => ticket,
            Err(Refused::Closed) => return Submitted::Answered(Err(self.busy())),
            Err(Refused::NoThread(e)) => {
                return Submitted::Answered(Err(script_error(format!(
                    "cannot start a thread for the session: {e}"
                ))))
            }
        };
        if ticket.prompt {
            let spin_until = Instant::now() + SPIN;
            loop {
                // Gives the CPU to any thread that is ready to run, the session's thread first
                // if it was woken on this CPU.
                std::thread::yield_now();
                match answered.try_recv() {
                    Ok(answer) => return Submitted::Answered(answer),
                    Err(oneshot::error::TryRecvError::Empty) if Instant::now() < spin_until => {}
                    Err(_) => break,
                }
            }
        }
        Submitted::Pending(Pending {
            session: self.clone(),
            answered,
            ticket,
            until,
            queued: true,
        })
    }

    /// Runs `job` on the session's thread (see [`submit`](Session::submit)) and waits for its
    /// answer. A request that waits behind a running script for its whole wall-time limit
    /// fails with [`SESSION_BUSY`](super::SESSION_BUSY) and never runs; so does one whose
    /// future is dropped while it waits.
    pub(super) async fn request<T, F>(&self, job: F) -> Result<T, RemoteError>
    where
        T: Send + 'static,
        F: FnOnce(&Session, Turn<'_>) -> Result<T, RemoteError> + Send + 'static,
    {
        match self.submit(job) {
            Submitted::Answered(answer) => answer,
            Submitted::Pending(pending) => pending.answer().await,
        }
    }
}

impl<T> Pending<T> {
    /// Waits for the answer.
    pub(super) async fn answer(mut self) -> Result<T, RemoteError> {
        if !self.ticket.prompt {
            match tokio::time::timeout_at(self.until.into(), &mut self.answered).await {
                Ok(answer) => return self.answered(answer),
                Err(_) if self.session.0.shared.thread.withdraw(self.ticket.id) => {
                    self.queued = false;
                    return Err(self.session.busy());
                }
                // Taken just now: it runs, under a wall-time limit of its own.
                Err(_) => {}
            }
        }
        let answer = (&mut self.answered).await;
        self.answered(answer)
    }

    fn answered(
        &mut self,
        answer: Result<Result<T, RemoteError>, oneshot::error::RecvError>,
    ) -> Result<T, RemoteError> {
        self.queued = false;
        answer.unwrap_or_else(|_| Err(self.session.unanswered()))
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        if self.queued {
            self.session.0.shared.thread.withdraw(self.ticket.id);
        }
    }
}
