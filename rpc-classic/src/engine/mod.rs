//! The script engine of classic mode: one [`Session`] per connection, a persistent
//! [rhai](https://rhai.rs) scope and function namespace, under [`ScriptLimits`].
//!
//! # Scripts and objects
//!
//! Script values and framework [`Value`]s convert both ways (see `convert.rs` for the table:
//! integers are `i64`, a `UInt` over `i64::MAX` is an error, a map with a non-string key
//! becomes an array of `[key, value]` pairs, a script function pointer or closure crosses as a
//! callable [`ScriptFunction`]). An object (a bound host module, a client's callback, any
//! `NetRef`) is a script value of type `Object`: `obj.method(args)`, `obj.attr`,
//! `obj.call_self(args)` (the object itself); a bound object or an object set through
//! [`Session::set`] is also callable by name: `notify("hi")`. Bound objects are global
//! constants: `os.getcwd()`.
//!
//! # Threading
//!
//! Each session runs its requests (`eval`, `execute`, `teleport`, teleported calls, `get`,
//! `set`, `names`) on a thread of its own, the *session's thread*. It starts at the session's
//! first request, with a stack that fits the call-depth limit at every nesting level, and
//! takes the requests from the session's queue one at a time, as the *owner* of the scope:
//! it compiles and runs the script there, so no tokio worker ever waits for a script, however
//! long or large. After 30 s without a request the thread ends (the scope and functions stay
//! with the session) and the next request starts another; [`close`](Session::close) and
//! dropping the session end it too. The session's methods are `async`: they queue the request
//! and await its answer, and they need a tokio runtime (a script's calls of objects block the
//! session's thread on the runtime of the request that runs it).
//!
//! A session that had a request in the last 30 s holds its thread: the stack's address space,
//! and as much of it as its deepest script touched.
//!
//! Waking the session's thread and then the waiting task again costs two thread wake-ups, more
//! than a short script itself. So a request that the idle thread takes at once is polled for
//! its answer for up to 20 µs before its task goes to sleep, the polling thread yielding the
//! CPU at each turn (to the session's thread first, if it was woken on the same CPU): a short
//! script answers within that, and its task is neither put to sleep nor woken; a teleported
//! call answered that way replies at once, without a task of its own. A request that has to
//! wait does not poll, and nothing polls while the session is idle.
//!
//! One evaluation runs at a time per session. Another request on the same session:
//!
//! * while the running script *computes*, waits in the queue, up to its own wall-time limit,
//!   then fails with [`SESSION_BUSY`] and is taken out of the queue: it never runs later (nor
//!   does a request whose caller stops waiting for it, a cancelled call);
//! * while the running script *waits on a call of an object* (a `NetRef`, a callback, a host
//!   module's async method), runs **nested inside it**: the wait takes the queued requests
//!   and runs them on the session's thread, then goes back to waiting. This is what makes
//!   re-entrancy work: a script calls a client closure, the closure calls `eval` on the same
//!   session, the nested `eval` runs and answers, the closure returns, the script goes on.
//!   A request still queued when the wait ends runs after the script, as the owner.
//!   Sessions of other connections are independent throughout.
//!
//! A nested evaluation sees the session's functions (those the outer script defines too) and
//! its bound and namespace-set objects, and shares the outer script's deadline; it does **not**
//! see the session's other variables (the outer script holds them) and runs in a scope of its
//! own, dropped when it ends: its `let`s do not persist, its `fn`s do. Nested `get` sees bound
//! and namespace-set objects only, nested `set` takes effect when the outer script ends, nested
//! `names` lists functions and objects. Nesting goes [`MAX_NESTED`] levels deep at most.
//!
//! # Limits
//!
//! Every evaluation (an `eval`, `execute`, teleported call, nested evaluation) has the
//! operation, call-depth and size limits of [`ScriptLimits`]; the wall-time limit runs from the
//! start of the outermost evaluation and also stops a wait on a slow remote call (which is then
//! cancelled). A script over a limit fails with a [`SCRIPT_LIMIT`] error naming it; the session
//! goes on. Other script failures are [`SCRIPT_ERROR`]s with `(line N, column M)`.

mod convert;
mod limits;
mod objects;
mod request;
mod shared;
mod teleport;
#[cfg(test)]
mod tests;
mod thread;
#[cfg(test)]
mod thread_tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, Scope, AST};
use rpc_core::{Connection, Object, ObjectRef, RemoteError, RemoteErrorKind, Value};

pub use convert::MAX_DEPTH;
pub use limits::{SCRIPT_ERROR, SCRIPT_LIMIT};
pub use teleport::ScriptFunction;

use crate::ScriptLimits;
use limits::remote_error;
use objects::ScriptObject;
use request::Submitted;
pub(crate) use shared::Shared;
use shared::Work;
use thread::{Job, ScriptThread, Turn};

/// The type name of the error for a request that waited for a session's running script for its
/// whole wall-time limit, or that came to a closed session.
pub const SESSION_BUSY: &str = "rpc_classic::SessionBusy";
/// How deep re-entrant evaluations nest.
pub const MAX_NESTED: usize = 4;
/// Most functions a session's namespace holds (closures included).
pub const MAX_FUNCTIONS: usize = 10_000;

/// Where a session's script output goes: one call per `print` or `debug` line.
pub type OutputSink = Arc<dyn Fn(String) + Send + Sync>;

type RhaiResult = Result<Dynamic, Box<EvalAltResult>>;

/// A connection's script session: a persistent scope and function namespace, bound objects,
/// limits. Cheap to clone (clones share the session).
#[derive(Clone)]
pub struct Session(Arc<Inner>);

struct Inner {
    engine: Engine,
    shared: Arc<Shared>,
    /// The persistent scope; the session's thread holds it while it runs a request.
    scope: Mutex<Scope<'static>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The thread holds no reference to the session while idle: let it end now.
        self.shared.thread.shut_down();
    }
}

impl Session {
    /// A new session with these limits.
    pub fn new(limits: &ScriptLimits) -> Session {
        Session::with_idle(limits, thread::IDLE_EXIT)
    }

    /// A new session whose thread ends after `idle` without a request.
    fn with_idle(limits: &ScriptLimits, idle: Duration) -> Session {
        Session(Arc::new_cyclic(|me| {
            let shared = Arc::new(Shared {
                limits: limits.clone(),
                session: me.clone(),
                epoch: Instant::now(),
                deadline: AtomicU64::new(u64::MAX),
                output: RwLock::new(None),
                conn: RwLock::new(None),
                lib: RwLock::new(Arc::new(AST::empty())),
                bound: RwLock::new(BTreeMap::new()),
                callables: RwLock::new(HashMap::new()),
                pending: Mutex::new(Vec::new()),
                thread: Arc::new(ScriptThread::new(stack_size(limits), idle)),
                nested: AtomicUsize::new(0),
            });
            Inner {
                engine: limits::engine(limits, &shared),
                shared,
                scope: Mutex::new(Scope::new()),
            }
        }))
    }

    /// The session's limits.
    pub fn limits(&self) -> &ScriptLimits {
        &self.0.shared.limits
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.0.shared
    }

    /// The connection whose local objects (bound host modules) scripts call: a local object's
    /// methods take the connection of the call. The session keeps it (a clone keeps the
    /// connection open) until [`close`](Session::close).
    pub fn set_connection(&self, conn: Connection) {
        *self.0.shared.conn.write() = Some(conn);
    }

    /// Ends the session: drops its connection, objects, variables, functions and output sink;
    /// queued and later requests fail, and its thread ends. Call it from the service's
    /// `on_disconnect` (it does not block: a running script's variables go when it ends).
    pub fn close(&self) {
        let shared = &self.0.shared;
        shared.thread.shut_down();
        *shared.conn.write() = None;
        *shared.output.write() = None;
        shared.bound.write().clear();
        shared.callables.write().clear();
        shared.pending.lock().clear();
        *shared.lib.write() = Arc::new(AST::empty());
        if let Some(mut scope) = self.0.scope.try_lock() {
            scope.clear();
        }
    }

    /// Makes `object` a global constant of the session's scripts under `name`:
    /// `name.method(args)`, `name.attr`, `name(args)` (the object itself). Replaces an earlier
    /// binding or variable of that name. Never blocks: a running script sees it from its next
    /// evaluation on.
    pub fn bind(&self, name: &str, object: ObjectRef) {
        let shared = &self.0.shared;
        shared.bound.write().insert(name.to_owned(), object.clone());
        shared.callables.write().insert(name.to_owned(), object.clone());
        let value = Dynamic::from(ScriptObject(object));
        shared.pending.lock().push((name.to_owned(), value, true));
        if let Some(mut scope) = self.0.scope.try_lock() {
            shared.apply_pending(&mut scope);
        }
    }

    /// Runs `code` in the session's scope and returns the value of its last expression.
    /// Variables it declares at top level and functions it defines stay in the session.
    /// Compiled and run on the session's thread (see the module's docs).
    pub async fn eval(&self, code: &str) -> Result<Value, RemoteError> {
        let code = code.to_owned();
        self.request(move |s, turn| {
            let value = s.evaluate(turn, Work::Eval(s.compile(&code)?))?;
            s.value_of(value, "the script's result")
        })
        .await
    }

    /// Runs `code` like [`eval`](Session::eval), ignoring its value.
    pub async fn execute(&self, code: &str) -> Result<(), RemoteError> {
        let code = code.to_owned();
        self.request(move |s, turn| s.evaluate(turn, Work::Eval(s.compile(&code)?)).map(drop))
            .await
    }

    /// The value of the session's variable `name`, or its function `name` as a callable
    /// [`ScriptFunction`]; `None` if there is neither (or the variable's value cannot cross).
    pub async fn get(&self, name: &str) -> Option<Value> {
        self.try_get(name).await.ok().flatten()
    }

    /// Like [`get`](Session::get), with the reason a value cannot be given.
    pub async fn try_get(&self, name: &str) -> Result<Option<Value>, RemoteError> {
        let name = name.to_owned();
        self.request(move |s, turn| {
            let found = match turn {
                Turn::Owner(scope) => scope.get(&name).cloned(),
                Turn::Nested(_) => s.0.shared.nested_lookup(&name),
            };
            match found {
                Some(value) => s.value_of(value, &name).map(Some),
                None => Ok(s.function(&name).map(|f| Value::Object(f.into()))),
            }
        })
        .await
    }

    /// Sets the session's variable `name` (an object value also becomes callable as
    /// `name(args)`). Fails for a bound name.
    pub async fn set(&self, name: &str, value: Value) -> Result<(), RemoteError> {
        let shared = &self.0.shared;
        if shared.bound.read().contains_key(name) {
            return Err(script_error(format!(
                "{name} is a bound object and cannot be replaced"
            )));
        }
        let object = match &value {
            Value::Object(o) => Some(o.clone()),
            _ => None,
        };
        let dynamic = convert::to_dynamic(value, shared).map_err(|e| {
            RemoteError::new(
                RemoteErrorKind::BadArguments,
                SCRIPT_ERROR,
                format!("{name}: {e}"),
            )
        })?;
        let owned = name.to_owned();
        self.request(move |s, turn| {
            match turn {
                Turn::Owner(scope) => {
                    if scope.is_constant(&owned) == Some(true) {
                        return Err(script_error(format!("{owned} is a constant")));
                    }
                    scope.set_or_push(owned, dynamic);
                }
                // Takes effect when the running script ends.
                Turn::Nested(_) => s.0.shared.pending.lock().push((owned, dynamic, false)),
            }
            Ok(())
        })
        .await?;
        let mut callables = shared.callables.write();
        match object {
            Some(o) => callables.insert(name.to_owned(), o),
            None => callables.remove(name),
        };
        Ok(())
    }

    /// The session's variables (bound objects included) and functions, sorted; none once it
    /// is closed.
    pub async fn names(&self) -> Vec<String> {
        let shared = &self.0.shared;
        let listed = self
            .request(|s, turn| {
                Ok(match turn {
                    Turn::Owner(scope) => scope.iter_raw().map(|(n, ..)| n.to_owned()).collect(),
                    Turn::Nested(_) => s.0.shared.names_outside(),
                })
            })
            .await;
        let mut names = match listed {
            Ok(names) => names,
            // (`close` may still be letting go of them.)
            Err(_) if shared.closed() => return Vec::new(),
            Err(_) => shared.names_outside(),
        };
        let lib = shared.lib();
        names.extend(
            lib.iter_functions()
                .filter(|f| !is_anonymous(f.name))
                .map(|f| f.name.to_owned()),
        );
        names.sort();
        names.dedup();
        names
    }

    /// Defines `source` (a closure `|x| ..` or a `fn name(..) {..}`) in the session and returns
    /// a callable object for it (see [`ScriptFunction`]).
    pub async fn teleport(&self, source: &str) -> Result<Object, RemoteError> {
        let source = source.to_owned();
        let fn_ptr = self.request(move |s, turn| s.define(turn, &source)).await?;
        Ok(Object::new(ScriptFunction::new(self.clone(), fn_ptr)))
    }

    /// Sends script `print`/`debug` output to `sink` (a line per call), or with `None` back to
    /// the server's log (`tracing`, debug level, target `rpc_classic::script`). The sink runs on
    /// the session's thread: it should not block for long.
    pub fn set_output(&self, sink: Option<OutputSink>) {
        *self.0.shared.output.write() = sink;
    }

    /// Calls the session's function `fn_ptr` with `args` (a teleported call): its answer if
    /// the session's thread gave it at once, or the request to wait for.
    fn call_function(&self, fn_ptr: &FnPtr, args: Vec<Value>) -> Submitted<Value> {
        let args = match convert::to_dynamics(args, &self.0.shared) {
            Ok(args) => args,
            Err(e) => {
                return Submitted::Answered(Err(RemoteError::new(
                    RemoteErrorKind::BadArguments,
                    SCRIPT_ERROR,
                    format!("argument: {e}"),
                )))
            }
        };
        let fn_ptr = fn_ptr.clone();
        self.submit(move |s, turn| {
            let value = s.evaluate(turn, Work::Call(fn_ptr, args))?;
            s.value_of(value, "the function's result")
        })
    }

    /// The parameters of the function `fn_ptr` (its curried ones left out).
    pub(crate) fn params_of(&self, fn_ptr: &FnPtr) -> Vec<String> {
        let lib = self.0.shared.lib();
        let curried = fn_ptr.curry().len();
        let found = lib
            .iter_functions()
            .find(|f| f.name == fn_ptr.fn_name() && f.params.len() >= curried);
        found.map_or_else(Vec::new, |f| {
            f.params[curried..].iter().map(|p| (*p).to_owned()).collect()
        })
    }

    /// The session's function `name` as a callable object.
    fn function(&self, name: &str) -> Option<Object> {
        let lib = self.0.shared.lib();
        if is_anonymous(name) || !lib.iter_functions().any(|f| f.name == name) {
            return None;
        }
        let fn_ptr = FnPtr::new(name).ok()?;
        Some(Object::new(ScriptFunction::new(self.clone(), fn_ptr)))
    }

    /// Defines the closure or function `source` (on the session's thread): its pointer.
    fn define(&self, turn: Turn<'_>, source: &str) -> Result<FnPtr, RemoteError> {
        let ast = self.compile(source)?;
        let trimmed = source.trim_start();
        if trimmed.starts_with("fn ") || trimmed.starts_with("private fn ") {
            let mut names: Vec<String> = ast
                .iter_functions()
                .filter(|f| !is_anonymous(f.name))
                .map(|f| f.name.to_owned())
                .collect();
            names.dedup();
            let [name] = names.as_slice() else {
                return Err(script_error(
                    "teleport: the source must define exactly one function",
                ));
            };
            let name = name.clone();
            let _defined = self.evaluate(turn, Work::Eval(ast))?;
            FnPtr::new(name).map_err(|e| remote_error(&e, self.limits()))
        } else {
            let value = self.evaluate(turn, Work::Eval(ast))?;
            let type_name = value.type_name();
            value.try_cast::<FnPtr>().ok_or_else(|| {
                script_error(format!(
                    "teleport: expected a closure `|x| ..` or a function `fn name(..) {{..}}`, the source gave a {type_name}"
                ))
            })
        }
    }

    fn compile(&self, code: &str) -> Result<AST, RemoteError> {
        self.0.engine.compile(code).map_err(|e| {
            let e: Box<EvalAltResult> = e.into();
            remote_error(&e, self.limits())
        })
    }

    fn value_of(&self, value: Dynamic, what: &str) -> Result<Value, RemoteError> {
        convert::to_value(value, &self.0.shared).map_err(|e| script_error(format!("{what}: {e}")))
    }

    fn busy(&self) -> RemoteError {
        let message = if self.0.shared.closed() {
            "the session is closed".to_owned()
        } else {
            format!(
                "the session is busy: another script ran on it for the whole wall-time limit ({:?}) of this request",
                self.limits().wall_time
            )
        };
        RemoteError::new(RemoteErrorKind::Refused, SESSION_BUSY, message)
    }

    /// The error of a request whose answer never came: the session closed while it was
    /// queued, or it failed on the session's thread.
    fn unanswered(&self) -> RemoteError {
        if self.0.shared.closed() {
            return self.busy();
        }
        RemoteError::new(
            RemoteErrorKind::Panic,
            "rpc_classic::ScriptPanic",
            "the session's thread failed while running this request",
        )
    }

    /// Runs `work` where `turn` says (on the session's thread).
    fn evaluate(&self, turn: Turn<'_>, work: Work) -> Result<Dynamic, RemoteError> {
        let shared = &self.0.shared;
        let result = match turn {
            Turn::Owner(scope) => shared.run_work(&self.0.engine, scope, work),
            Turn::Nested(depth) => shared.run_nested(&self.0.engine, depth, work),
        };
        result.map_err(|e| remote_error(&e, &shared.limits))
    }

    /// Runs `job` as the owner of the scope, under the wall-time limit (on the session's
    /// thread).
    fn run_owned(&self, job: Job) {
        let shared = &self.0.shared;
        let mut scope = self.0.scope.lock();
        shared.apply_pending(&mut scope);
        shared.set_deadline(Some(Instant::now() + shared.limits.wall_time));
        job(self, Turn::Owner(&mut scope));
        shared.set_deadline(None);
        shared.apply_pending(&mut scope);
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("limits", self.limits())
            .field("closed", &self.0.shared.closed())
            .finish_non_exhaustive()
    }
}

/// The stack of a script's thread: room for the call-depth limit at each nesting level (rhai
/// takes about 50 KiB a level in a debug build, 6 KiB in a release build), 8 MiB at least.
fn stack_size(limits: &ScriptLimits) -> usize {
    let per_level: usize = if cfg!(debug_assertions) {
        64 << 10
    } else {
        16 << 10
    };
    let levels = limits
        .max_call_levels
        .saturating_add(8)
        .saturating_mul(MAX_NESTED + 1);
    levels
        .saturating_mul(per_level)
        .saturating_add(4 << 20)
        .clamp(8 << 20, 1 << 30)
}

/// A script error of this module's own (no position).
fn script_error(message: impl Into<String>) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Application, SCRIPT_ERROR, message)
}

/// Whether `name` is one rhai gives a closure.
fn is_anonymous(name: &str) -> bool {
    name.starts_with("anon$")
}
