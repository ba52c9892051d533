//! Tests of the script engine: conversions, the namespace, errors, limits, teleport, objects,
//! output and re-entrancy.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use rpc_core::{
    memory_pair, service, Callback, Connection, NetRef, Object, Outcome, RemoteError, RemoteErrorKind,
    Service, Value, VoidService,
};

use super::*;

// ---- helpers ------------------------------------------------------------------------------

pub(super) fn limits() -> ScriptLimits {
    ScriptLimits::default()
}

pub(super) fn with_wall_time(wall_time: Duration) -> ScriptLimits {
    ScriptLimits {
        wall_time,
        // Only the clock stops a runaway here (the operation limit would, a little later, on
        // a fast machine sooner).
        max_operations: u64::MAX / 2,
        ..ScriptLimits::default()
    }
}

pub(super) async fn eval(s: &Session, code: &str) -> Result<Value, RemoteError> {
    s.eval(code).await
}

pub(super) async fn execute(s: &Session, code: &str) -> Result<(), RemoteError> {
    s.execute(code).await
}

fn str(s: &str) -> Value {
    Value::Str(s.to_owned())
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (str(k), v.clone())).collect())
}

/// A service that owns a session and exposes it, as the classic service will.
struct Classic {
    session: Session,
}

fn arg_str(args: &[Value], i: usize) -> Result<String, RemoteError> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s.clone()),
        _ => Err(RemoteError::new(
            RemoteErrorKind::BadArguments,
            "test",
            "expected a string",
        )),
    }
}

impl Service for Classic {
    fn name(&self) -> &str {
        "CLASSIC_TEST"
    }

    fn call(self: Arc<Self>, _conn: &Connection, method: &str, args: Vec<Value>) -> Outcome {
        let session = self.session.clone();
        let method = method.to_owned();
        Outcome::pending(async move {
            match method.as_str() {
                "eval" => session.eval(&arg_str(&args, 0)?).await,
                "execute" => session.execute(&arg_str(&args, 0)?).await.map(|()| Value::Unit),
                "teleport" => session
                    .teleport(&arg_str(&args, 0)?)
                    .await
                    .map(|o| Value::Object(o.into())),
                "set" => {
                    let value = args.get(1).cloned().unwrap_or_default();
                    session
                        .set(&arg_str(&args, 0)?, value)
                        .await
                        .map(|()| Value::Unit)
                }
                "get" => Ok(session.get(&arg_str(&args, 0)?).await.unwrap_or_default()),
                "names" => Ok(Value::Seq(
                    session.names().await.into_iter().map(Value::Str).collect(),
                )),
                other => Err(rpc_core::private::not_exposed("CLASSIC_TEST", other)),
            }
        })
    }

    fn on_connect(self: Arc<Self>, conn: Connection) -> BoxFuture<'static, ()> {
        self.session.set_connection(conn);
        Box::pin(async {})
    }

    fn on_disconnect(self: Arc<Self>, _conn: Connection) -> BoxFuture<'static, ()> {
        self.session.close();
        Box::pin(async {})
    }
}

/// A host-module-like object for scripts to call.
struct Calc {
    base: i64,
}

#[service]
impl Calc {
    fn exposed_add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    async fn exposed_slow_double(&self, x: i64) -> i64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        x * 2
    }

    fn exposed_fail(&self) -> Result<i64, std::io::Error> {
        Err(std::io::Error::other("it broke"))
    }

    #[attribute]
    fn exposed_base(&self) -> i64 {
        self.base
    }
}

/// A session served on one end of a memory pair; the client end and the session.
pub(super) async fn served(limits: ScriptLimits) -> (Connection, Connection, Session) {
    let session = Session::new(&limits);
    let classic = Classic {
        session: session.clone(),
    };
    let (client, server) = memory_pair(VoidService, classic).await.unwrap();
    (client, server, session)
}

mod conversions;
mod limits;
mod objects;
mod reentrancy;
