//! Dispatch of incoming requests to the root service (and, later, exported objects).
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

use super::inner::Inner;
use crate::error::{RemoteError, RemoteErrorKind};
use crate::protocol::{Op, Request};
use crate::service::{CallResult, Outcome};
use crate::value::{to_value, Value};

pub(super) fn handle_request(inner: &Arc<Inner>, req: Request) {
    let Request {
        seq,
        target,
        op,
        args,
        ..
    } = req;
    inner.requests_received.fetch_add(1, Ordering::Relaxed);
    let span = tracing::debug_span!("request", seq, target, op = ?op);
    let _enter = span.enter();
    let Some(conn) = inner.connection() else {
        // Every handle is gone: the connection is shutting down.
        return;
    };
    let Some(service) = inner.target(target) else {
        let err = RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::UnknownObject",
            format!("no object with id {target} on this side (never exported, or already released)"),
        );
        inner.reply(seq, Err(err));
        return;
    };
    let limit = inner.config.max_in_flight;
    if inner.in_flight.load(Ordering::Relaxed) >= limit {
        let err = RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::Busy",
            format!("too many requests in flight on this connection (limit {limit})"),
        );
        inner.reply(seq, Err(err));
        return;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| match op {
        Op::Call(name) => service.call(&conn, &name, args),
        Op::GetAttr(name) => service.getattr(&conn, &name),
        Op::SetAttr(name) => match <[Value; 1]>::try_from(args) {
            Ok([value]) => service.setattr(&conn, &name, value),
            Err(args) => Outcome::Ready(Err(RemoteError::new(
                RemoteErrorKind::BadArguments,
                "rpc::BadArguments",
                format!("setting '{name}' takes 1 value but {} were given", args.len()),
            ))),
        },
        Op::CallSelf => service.call_self(&conn, args),
        Op::Describe => Outcome::Ready(to_value(&service.describe()).map_err(encode_error)),
        Op::Display => Outcome::Ready(Ok(Value::Str(service.display()))),
    }));
    drop(conn);
    match outcome {
        Ok(Outcome::Ready(result)) => inner.reply(seq, result),
        Ok(Outcome::Pending(fut)) => {
            inner.in_flight.fetch_add(1, Ordering::Relaxed);
            let inner = inner.clone();
            let task = async move {
                let result = AssertUnwindSafe(fut)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|p| Err(panic_error(p)));
                inner.in_flight.fetch_sub(1, Ordering::Relaxed);
                inner.reply(seq, result);
            };
            drop(_enter);
            tokio::spawn(task.instrument(span));
        }
        Err(panic) => inner.reply(seq, Err(panic_error(panic))),
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
