//! Objects in scripts: a framework object (a local service object or a peer's object behind a
//! `NetRef`) is a script value of type `Object`:
//!
//! * `obj.method(a, b)` calls the object's method `method` (any name the script engine itself
//!   does not define for every value; `invoke(obj, "name", [args])` reaches any name);
//! * `obj.call_self(a, b)` calls the object itself (a callback, a teleported function; rhai
//!   keeps `obj.call(..)` for function pointers);
//! * `obj.attr` and `obj["attr"]` read an attribute (`getattr(obj, "attr")` too);
//! * `name(a, b)` calls the object itself when `name` is a bound object or an object set in the
//!   session's namespace ([`Session::set`](super::Session::set)).
//!
//! Every such call blocks the script's thread until the answer comes (through the session's
//! [`wait`](Shared::wait), which keeps the wall-time limit and runs re-entrant requests).

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult, NativeCallContext, Position};
use rpc_core::{ObjectRef, Outcome, Value};

use super::convert;
use super::limits::runtime_error;
use super::Shared;

/// A framework object as a script value (rhai type name `Object`).
#[derive(Clone)]
pub(crate) struct ScriptObject(pub(crate) ObjectRef);

impl fmt::Debug for ScriptObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<object {:?}>", self.0)
    }
}

/// What a script does with an object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    /// Calls a method.
    Call(&'a str),
    /// Calls the object itself.
    CallSelf,
    /// Reads an attribute.
    GetAttr(&'a str),
}

/// Registers the `Object` type, its functions and the hook that turns unknown method calls on
/// objects (and calls of named objects) into calls of the objects.
pub(crate) fn register(engine: &mut Engine, shared: &std::sync::Arc<Shared>) {
    engine.register_type_with_name::<ScriptObject>("Object");
    engine.register_fn("to_string", |o: &mut ScriptObject| format!("{o:?}"));
    engine.register_fn("to_debug", |o: &mut ScriptObject| format!("{o:?}"));

    let s = shared.clone();
    engine.register_fn(
        "invoke",
        move |ctx: NativeCallContext<'_>, o: ScriptObject, method: &str, args: Array| {
            call_object(&s, &o.0, Op::Call(method), args, ctx.call_position())
        },
    );
    // `getattr(obj, "name")` and `obj["name"]` read the same attribute.
    let s = shared.clone();
    engine.register_fn(
        "getattr",
        move |ctx: NativeCallContext<'_>, o: ScriptObject, name: &str| read_attribute(&ctx, &s, &o, name),
    );
    let s = shared.clone();
    engine.register_indexer_get(
        move |ctx: NativeCallContext<'_>, o: &mut ScriptObject, name: &str| read_attribute(&ctx, &s, o, name),
    );

    let s = shared.clone();
    #[allow(deprecated)] // volatile, not deprecated: the only hook for arbitrary method names
    engine.on_missing_function(move |name, args, is_method, _ctx| {
        if is_method {
            let Some(target) = args
                .first()
                .and_then(|a| a.read_lock::<ScriptObject>().map(|o| o.0.clone()))
            else {
                return Ok(None);
            };
            let rest = args[1..].iter().map(|a| (**a).clone()).collect();
            let op = if name == "call_self" {
                Op::CallSelf
            } else {
                Op::Call(name)
            };
            call_object(&s, &target, op, rest, Position::NONE).map(Some)
        } else {
            let Some(target) = s.callable(name) else {
                return Ok(None);
            };
            let all = args.iter().map(|a| (**a).clone()).collect();
            call_object(&s, &target, Op::CallSelf, all, Position::NONE).map(Some)
        }
    });
}

/// Reads the attribute `name` of a script's object.
fn read_attribute(
    ctx: &NativeCallContext<'_>,
    shared: &Shared,
    object: &ScriptObject,
    name: &str,
) -> Result<Dynamic, Box<EvalAltResult>> {
    call_object(
        shared,
        &object.0,
        Op::GetAttr(name),
        Vec::new(),
        ctx.call_position(),
    )
}

/// Runs one operation on an object for a script: converts the arguments, makes the call (a
/// local object's method through its `Service`, a peer's through its `NetRef`), waits for the
/// answer under the wall-time limit and converts it back.
pub(crate) fn call_object(
    shared: &Shared,
    object: &ObjectRef,
    op: Op<'_>,
    args: Array,
    pos: Position,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let what = match op {
        Op::Call(m) => format!("method {m}"),
        Op::CallSelf => "the call".to_owned(),
        Op::GetAttr(a) => format!("attribute {a}"),
    };
    let args =
        convert::to_values(args, shared).map_err(|e| runtime_error(format!("{what}: argument: {e}"), pos))?;
    let result: Result<Value, String> = if let Some(local) = object.local() {
        let conn = shared.connection().ok_or_else(|| {
            runtime_error(
                format!("{what}: this session has no connection, so it cannot call local objects"),
                pos,
            )
        })?;
        let service = local.service().clone();
        let outcome = match op {
            Op::Call(m) => service.call(&conn, m, args),
            Op::CallSelf => service.call_self(&conn, args),
            Op::GetAttr(a) => service.getattr(&conn, a),
        };
        let answer = match outcome {
            Outcome::Ready(r) => r,
            Outcome::Pending(fut) => shared.wait(fut, pos)?,
        };
        answer.map_err(|e| format!("{}: {}", e.type_name, e.message))
    } else if let Some(netref) = object.remote() {
        let answer = match op {
            Op::Call(m) => shared.wait(netref.call_value(m, args), pos)?,
            Op::CallSelf => shared.wait(netref.call_self_value(args), pos)?,
            Op::GetAttr(a) => shared.wait(netref.getattr_value(a), pos)?,
        };
        answer.map_err(|e| match e {
            rpc_core::Error::Remote(e) => format!("{}: {}", e.type_name, e.message),
            other => other.to_string(),
        })
    } else {
        Err("an object reference this side cannot resolve".to_owned())
    };
    let value = result.map_err(|e| runtime_error(format!("{what} failed: {e}"), pos))?;
    convert::to_dynamic(value, shared).map_err(|e| runtime_error(format!("{what}: result: {e}"), pos))
}
