//! Dispatch of incoming requests to the root service, exported objects, and the table of
//! published ones.
//!
//! A synchronous method answers inline on the reader task; anything that returns a future runs
//! as its own task, so a slow call never holds up the others and a callback may re-enter the
//! connection at any depth. A panic becomes a remote error for that call only.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::FutureExt;
use tracing::Instrument;

use super::inner::{Budget, Inner};
use super::Connection;
use crate::error::{Error, RemoteError, RemoteErrorKind, Result};
use crate::object::Object;
use crate::protocol::{OpRef, RequestIn, FLAG_ONEWAY, MAX_NAME_LEN};
use crate::python;
use crate::service::{CallResult, Outcome};
use crate::value::{to_value, Value};

/// `budget` is what the request was decoded under; `last`: no other request is waiting to be
/// read, so an answer ready at once may be written straight away (see `direct`). `conn` holds
/// a user-level handle for the reader's current run of frames, taken at the first request that
/// needs it. Fails (closing the connection) only for a one-way call that must be refused.
pub(super) fn handle_request(
    inner: &Arc<Inner>,
    req: RequestIn<'_>,
    budget: &Budget,
    last: bool,
    conn: &mut Option<Connection>,
) -> Result<()> {
    let RequestIn {
        seq,
        target,
        op,
        args,
        flags,
    } = req;
    inner.requests_received.fetch_add(1, Ordering::Relaxed);
    let asked_oneway = flags & FLAG_ONEWAY != 0;
    if args.over {
        let err = over_budget(inner, budget);
        if asked_oneway {
            // No reply can carry the refusal: the peer learns it from the close.
            return Err(Error::Limit(format!("one-way call refused: {}", err.message)));
        }
        answer(inner, seq, false, Err(err));
        return Ok(());
    }
    let (args, weight) = (args.values, args.weight);
    if let OpRef::Call(name)
    | OpRef::GetAttr(name)
    | OpRef::SetAttr(name)
    | OpRef::Lookup(name)
    | OpRef::Member(name)
    | OpRef::Special(name)
    | OpRef::Compare(name) = op
    {
        if name.len() > MAX_NAME_LEN {
            // No service has such a member, no object such a name; and the name must not
            // reach errors and logs.
            let (type_name, what) = match op {
                OpRef::Lookup(_) => ("rpc::UnknownName", "an object name"),
                _ => ("rpc::UnknownMember", "a member name"),
            };
            let err = RemoteError::new(
                RemoteErrorKind::NotFound,
                type_name,
                format!("{what} of {} bytes (at most {MAX_NAME_LEN})", name.len()),
            );
            answer(inner, seq, asked_oneway, Err(err));
            return Ok(());
        }
    }
    let span = tracing::debug_span!("request", seq, target, op = ?op);
    let _enter = span.enter();
    if conn.is_none() {
        *conn = inner.connection();
    }
    let Some(conn) = conn.as_ref() else {
        // Every handle is gone: the connection is shutting down.
        return Ok(());
    };
    let Some(service) = inner.target(target) else {
        let err = RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::UnknownObject",
            format!("no object with id {target} on this side (never exported, or already released)"),
        );
        answer(inner, seq, asked_oneway, Err(err));
        return Ok(());
    };
    if inner.liveness.draining() {
        // Sent before our `Closing` reached the peer: refused, not started.
        let err = RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::ShuttingDown",
            "this side is shutting down and takes no new calls",
        );
        answer(inner, seq, asked_oneway, Err(err));
        return Ok(());
    }
    let limit = inner.config.max_in_flight;
    if inner.in_flight.load(Ordering::Relaxed) >= limit {
        let err = RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::Busy",
            format!("too many requests in flight on this connection (limit {limit})"),
        );
        answer(inner, seq, asked_oneway, Err(err));
        return Ok(());
    }
    let declared_oneway = matches!(op, OpRef::Call(name) if service.is_oneway(name));
    if declared_oneway && !asked_oneway {
        // A plain call of a one-way method is acknowledged at once; the method runs in order.
        inner.reply(seq, Ok(Value::Unit));
    }
    let oneway = asked_oneway || declared_oneway;
    let outcome = catch_unwind(AssertUnwindSafe(|| match op {
        OpRef::Call(name) => service.call(conn, name, args),
        OpRef::GetAttr(name) => service.getattr(conn, name),
        OpRef::SetAttr(name) => match <[Value; 1]>::try_from(args) {
            Ok([value]) => service.setattr(conn, name, value),
            Err(args) => Outcome::Ready(Err(RemoteError::new(
                RemoteErrorKind::BadArguments,
                "rpc::BadArguments",
                format!("setting '{name}' takes 1 value but {} were given", args.len()),
            ))),
        },
        OpRef::CallSelf => service.call_self(conn, args),
        OpRef::Describe => Outcome::Ready(to_value(&service.describe()).map_err(encode_error)),
        OpRef::Display => Outcome::Ready(Ok(Value::Str(service.display()))),
        OpRef::Repr => Outcome::Ready(Ok(Value::Str(service.repr()))),
        OpRef::Lookup(name) => Outcome::Ready(super::lookup::answer(inner, target, name)),
        OpRef::Identity => Outcome::Ready(Ok(Value::Object(Object::from_arc(service).into()))),
        OpRef::Member(name) => python::member(service, conn, name),
        OpRef::CallNamed(names) => service.call_named(conn, args, names),
        OpRef::Special(name) => python::special(service, conn, name, args),
        OpRef::Inspect => Outcome::Ready(python::inspect(&service)),
        OpRef::Hash => Outcome::Ready(python::hash(&service)),
        OpRef::Dir => Outcome::Ready(python::dir(&service)),
        OpRef::Compare(op) => python::compare(service, conn, op, args),
        OpRef::Items => Outcome::Ready(Err(RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::Unsupported",
            "fetching items is asked of a Python container, not of a Rust object",
        ))),
    }));
    let fut = match outcome {
        Ok(Outcome::Ready(result)) if !oneway => {
            inner.reply_with(seq, result, last);
            return Ok(());
        }
        Ok(Outcome::Ready(result)) => {
            answer(inner, seq, oneway, result);
            return Ok(());
        }
        Err(panic) => {
            answer(inner, seq, oneway, Err(panic_error(panic)));
            return Ok(());
        }
        Ok(Outcome::Pending(fut)) => fut,
    };
    // The arguments live on in the task (or the queue): their weight counts against the
    // pending-work budget until it ends.
    let in_flight = InFlight::start(inner, (!oneway).then_some(seq), weight);
    let run = async move {
        let result = AssertUnwindSafe(fut)
            .catch_unwind()
            .await
            .unwrap_or_else(|p| Err(panic_error(p)));
        in_flight.finish(|inner| {
            // The only request running: no other answer is about to join this one, so it may
            // be written straight away (see `direct`), without waking the writer.
            let alone = inner.in_flight.load(Ordering::Relaxed) == 1;
            answer_with(inner, seq, oneway, result, alone);
        });
    }
    .instrument(span.clone());
    drop(_enter);
    if oneway {
        // One-way calls to one object run one after another, in the order sent.
        inner.enqueue_oneway(target, Box::pin(run));
    } else {
        inner.spawn_request(seq, run);
    }
    Ok(())
}

/// The refusal of a request whose arguments went over the budget they were decoded under.
fn over_budget(inner: &Inner, budget: &Budget) -> RemoteError {
    let limit = budget.limits.max_decoded_size;
    if budget.by_pending {
        let held = inner.pending_bytes.load(Ordering::Relaxed);
        let total = inner.config.pending_bytes_limit();
        RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::Busy",
            format!(
                "the arguments would take the work pending on this connection over its budget of \
                 {total} bytes ({held} bytes are held by running and queued requests); retry later"
            ),
        )
    } else {
        RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::TooLarge",
            format!("the arguments decode to more than the budget of {limit} bytes"),
        )
    }
}

/// Sends the answer, or for a one-way call only logs a failure.
fn answer(inner: &Arc<Inner>, seq: u64, oneway: bool, result: CallResult) {
    answer_with(inner, seq, oneway, result, false);
}

/// Like [`answer`]; with `direct`, the reply is written straight away if the writer is idle.
fn answer_with(inner: &Arc<Inner>, seq: u64, oneway: bool, result: CallResult, direct: bool) {
    match (oneway, result) {
        (false, result) => inner.reply_with(seq, result, direct),
        (true, Ok(_)) => {}
        (true, Err(e)) => tracing::warn!(error = %e, "one-way call failed"),
    }
}

/// Counts a request running as a task (or queued, for a one-way call), and the weight of its
/// arguments; both drop when the task ends or is aborted.
struct InFlight {
    inner: Option<Arc<Inner>>,
    /// The request's sequence number, for requests that can be cancelled.
    seq: Option<u64>,
    weight: usize,
}

impl InFlight {
    fn start(inner: &Arc<Inner>, seq: Option<u64>, weight: usize) -> Self {
        inner.in_flight.fetch_add(1, Ordering::Relaxed);
        inner.pending_bytes.fetch_add(weight, Ordering::Relaxed);
        InFlight {
            inner: Some(inner.clone()),
            seq,
            weight,
        }
    }

    /// The request finished: `send` its answer, then stop counting it. In this order, so that
    /// a drain waiting for the count to reach zero closes the connection only after the
    /// answer is queued ahead of its `Close` (the other order lost the reply of a call that
    /// ended during a drain, now and then).
    fn finish(mut self, send: impl FnOnce(&Arc<Inner>)) {
        if let Some(inner) = self.inner.take() {
            send(&inner);
            inner.request_done(self.seq, self.weight);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.request_done(self.seq, self.weight);
        }
    }
}

/// Turns a caught panic into the remote error the caller sees.
pub(crate) fn panic_error(panic: Box<dyn Any + Send>) -> RemoteError {
    let message = if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    };
    tracing::error!(%message, "service method panicked");
    RemoteError::new(
        RemoteErrorKind::Panic,
        "rpc::Panic",
        format!("method panicked: {message}"),
    )
}

fn encode_error(e: crate::value::ValueError) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Application,
        "rpc::EncodeError",
        format!("cannot encode the result: {e}"),
    )
}

/// Sends the answer to request `seq`.
pub(super) fn reply_message(seq: u64, result: CallResult) -> crate::protocol::Message {
    match result {
        Ok(value) => crate::protocol::Message::Reply { seq, value },
        Err(error) => crate::protocol::Message::Error { seq, error },
    }
}
