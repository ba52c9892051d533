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
//! `eval`, `execute`, teleported calls and `get`/`set`/`names` BLOCK: run them on the blocking
//! pool (`spawn_blocking`), inside a tokio runtime (a script's calls of objects use
//! `Handle::block_on` on it). One evaluation runs at a time per session, on a thread of its own
//! whose stack fits the call-depth limit (the *owner*; the calling thread waits for it).
//! Another request on the same session:
//!
//! * while the running script *computes*, waits for it, up to its own wall-time limit, then
//!   fails with [`SESSION_BUSY`];
//! * while the running script *waits on a call of an object* (a `NetRef`, a callback, a host
//!   module's async method), runs **nested inside it**: the request is handed to the owner's
//!   thread, which runs it there and then goes back to waiting. This is what makes re-entrancy
//!   work: a script calls a client closure, the closure calls `eval` on the same session, the
//!   nested `eval` runs and answers, the closure returns, the script goes on. Sessions of other
//!   connections are independent throughout.
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
mod shared;
mod teleport;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, Position, Scope, AST};
use rpc_core::{Connection, Object, ObjectRef, RemoteError, RemoteErrorKind, Value};
use tokio::sync::mpsc;

pub use convert::MAX_DEPTH;
pub use limits::{SCRIPT_ERROR, SCRIPT_LIMIT};
pub use teleport::ScriptFunction;

use crate::ScriptLimits;
use limits::{remote_error, runtime_error};
use objects::ScriptObject;
pub(crate) use shared::Shared;
use shared::Work;

/// The type name of the error for a request that waited for a session's running script for its
/// whole wall-time limit, or that came to a closed session.
pub const SESSION_BUSY: &str = "rpc_classic::SessionBusy";
/// How deep re-entrant evaluations nest.
pub const MAX_NESTED: usize = 4;
/// Most functions a session's namespace holds (closures included).
pub const MAX_FUNCTIONS: usize = 10_000;
/// How long a waiting request sleeps between two looks at the session.
const POLL: Duration = Duration::from_millis(5);

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
    /// The persistent scope; whoever holds it is the session's owner (runs its evaluation).
    scope: Mutex<Scope<'static>>,
}

/// The scope, as a request can see it.
enum Scoped<T> {
    Done(T),
    /// The owner waits on a call: the request is nested.
    Nested,
    Busy,
}

impl Session {
    /// A new session with these limits.
    pub fn new(limits: &ScriptLimits) -> Session {
        Session(Arc::new_cyclic(|me| {
            let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
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
                closed: AtomicBool::new(false),
                waits: Mutex::new(0),
                jobs_tx,
                jobs_rx: tokio::sync::Mutex::new(jobs_rx),
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
    /// later requests fail. Call it from the service's `on_disconnect` (it does not block: a
    /// running script's variables go when it ends).
    pub fn close(&self) {
        let shared = &self.0.shared;
        shared.closed.store(true, Ordering::Release);
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
    /// Blocking (see the module's docs).
    pub fn eval(&self, code: &str) -> Result<Value, RemoteError> {
        let value = self.run(Work::Eval(self.compile(code)?))?;
        self.value_of(value, "the script's result")
    }

    /// Runs `code` like [`eval`](Session::eval), ignoring its value.
    pub fn execute(&self, code: &str) -> Result<(), RemoteError> {
        self.run(Work::Eval(self.compile(code)?)).map(drop)
    }

    /// The value of the session's variable `name`, or its function `name` as a callable
    /// [`ScriptFunction`]; `None` if there is neither (or the variable's value cannot cross).
    pub fn get(&self, name: &str) -> Option<Value> {
        self.try_get(name).ok().flatten()
    }

    /// Like [`get`](Session::get), with the reason a value cannot be given.
    pub fn try_get(&self, name: &str) -> Result<Option<Value>, RemoteError> {
        let shared = &self.0.shared;
        let found = match self.with_scope(|scope| scope.get(name).cloned()) {
            Scoped::Done(found) => found,
            Scoped::Nested => {
                let pending = shared.pending.lock();
                let last = pending.iter().rev().find(|(n, ..)| n == name);
                last.map(|(_, v, _)| v.clone()).or_else(|| {
                    shared
                        .callables
                        .read()
                        .get(name)
                        .map(|o| Dynamic::from(ScriptObject(o.clone())))
                })
            }
            Scoped::Busy => return Err(self.busy()),
        };
        match found {
            Some(value) => self.value_of(value, name).map(Some),
            None => Ok(self.function(name).map(|f| Value::Object(f.into()))),
        }
    }

    /// Sets the session's variable `name` (an object value also becomes callable as
    /// `name(args)`). Fails for a bound name.
    pub fn set(&self, name: &str, value: Value) -> Result<(), RemoteError> {
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
        let set = self.with_scope(|scope| {
            if scope.is_constant(name) == Some(true) {
                return Err(script_error(format!("{name} is a constant")));
            }
            scope.set_or_push(name, dynamic.clone());
            Ok(())
        });
        match set {
            Scoped::Done(r) => r?,
            Scoped::Nested => shared.pending.lock().push((name.to_owned(), dynamic, false)),
            Scoped::Busy => return Err(self.busy()),
        }
        let mut callables = shared.callables.write();
        match object {
            Some(o) => callables.insert(name.to_owned(), o),
            None => callables.remove(name),
        };
        Ok(())
    }

    /// The session's variables (bound objects included) and functions, sorted.
    pub fn names(&self) -> Vec<String> {
        let shared = &self.0.shared;
        let mut names: Vec<String> =
            match self.with_scope(|s| s.iter_raw().map(|(n, ..)| n.to_owned()).collect()) {
                Scoped::Done(names) => names,
                Scoped::Nested | Scoped::Busy => {
                    let mut names: Vec<String> = shared.callables.read().keys().cloned().collect();
                    names.extend(shared.pending.lock().iter().map(|(n, ..)| n.clone()));
                    names
                }
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
    pub fn teleport(&self, source: &str) -> Result<Object, RemoteError> {
        let ast = self.compile(source)?;
        let trimmed = source.trim_start();
        let fn_ptr = if trimmed.starts_with("fn ") || trimmed.starts_with("private fn ") {
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
            let _defined = self.run(Work::Eval(ast))?;
            FnPtr::new(name).map_err(|e| remote_error(&e, self.limits()))?
        } else {
            let value = self.run(Work::Eval(ast))?;
            let type_name = value.type_name();
            value.try_cast::<FnPtr>().ok_or_else(|| {
                script_error(format!(
                    "teleport: expected a closure `|x| ..` or a function `fn name(..) {{..}}`, the source gave a {type_name}"
                ))
            })?
        };
        Ok(Object::new(ScriptFunction::new(self.clone(), fn_ptr)))
    }

    /// Sends script `print`/`debug` output to `sink` (a line per call), or with `None` back to
    /// the server's log (`tracing`, debug level, target `rpc_classic::script`). The sink runs on
    /// the script's thread: it should not block for long.
    pub fn set_output(&self, sink: Option<OutputSink>) {
        *self.0.shared.output.write() = sink;
    }

    /// Calls the session's function `fn_ptr` with `args` (a teleported call).
    pub(crate) fn call_function(&self, fn_ptr: &FnPtr, args: Vec<Value>) -> Result<Value, RemoteError> {
        let args = convert::to_dynamics(args, &self.0.shared).map_err(|e| {
            RemoteError::new(
                RemoteErrorKind::BadArguments,
                SCRIPT_ERROR,
                format!("argument: {e}"),
            )
        })?;
        let value = self.run(Work::Call(fn_ptr.clone(), args))?;
        self.value_of(value, "the function's result")
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
        let message = if self.0.shared.closed.load(Ordering::Acquire) {
            "the session is closed".to_owned()
        } else {
            format!(
                "the session is busy: another script ran on it for the whole wall-time limit ({:?}) of this request",
                self.limits().wall_time
            )
        };
        RemoteError::new(RemoteErrorKind::Refused, SESSION_BUSY, message)
    }

    /// Runs `work` as the owner on a thread of its own, whose stack fits the call-depth limit
    /// and the nested evaluations (a blocking-pool thread's 2 MiB hold about 32 levels of
    /// script calls in a debug build).
    fn run_owned_on_thread(&self, scope: &mut Scope<'static>, work: Work) -> RhaiResult {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let stack = stack_size(&self.0.shared.limits);
        std::thread::scope(|threads| {
            let thread = std::thread::Builder::new()
                .name("rpc-classic-script".to_owned())
                .stack_size(stack)
                .spawn_scoped(threads, move || {
                    let _runtime = runtime.as_ref().map(|r| r.enter());
                    self.run_owned(scope, work)
                });
            match thread {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|_| Err(runtime_error("the script's thread panicked", Position::NONE))),
                Err(e) => Err(runtime_error(
                    format!("cannot start a thread for the script: {e}"),
                    Position::NONE,
                )),
            }
        })
    }

    /// Runs `f` on the scope: at once if it is free, nested if the owner waits on a call,
    /// otherwise once the owner is done (up to the wall-time limit).
    fn with_scope<T>(&self, f: impl FnOnce(&mut Scope<'static>) -> T) -> Scoped<T> {
        let shared = &self.0.shared;
        let until = Instant::now() + shared.limits.wall_time;
        loop {
            if shared.closed.load(Ordering::Acquire) {
                return Scoped::Busy;
            }
            if let Some(mut scope) = self.0.scope.try_lock() {
                shared.apply_pending(&mut scope);
                return Scoped::Done(f(&mut scope));
            }
            if *shared.waits.lock() > 0 {
                return Scoped::Nested;
            }
            if Instant::now() >= until {
                return Scoped::Busy;
            }
            if let Some(mut scope) = self.0.scope.try_lock_for(POLL) {
                shared.apply_pending(&mut scope);
                return Scoped::Done(f(&mut scope));
            }
        }
    }

    /// Runs `work` as the owner, or nested in the owner's wait (see the module's docs).
    fn run(&self, work: Work) -> Result<Dynamic, RemoteError> {
        let shared = &self.0.shared;
        let limits = &shared.limits;
        let until = Instant::now() + limits.wall_time;
        let mut work = work;
        loop {
            if shared.closed.load(Ordering::Acquire) {
                return Err(self.busy());
            }
            if let Some(mut scope) = self.0.scope.try_lock() {
                return self
                    .run_owned_on_thread(&mut scope, work)
                    .map_err(|e| remote_error(&e, limits));
            }
            work = match shared.try_submit(work) {
                Ok(reply) => {
                    let patience = limits.wall_time * 2 + Duration::from_secs(1);
                    return match reply.recv_timeout(patience) {
                        Ok(result) => result.map_err(|e| remote_error(&e, limits)),
                        Err(_) => Err(script_error(
                            "the re-entrant evaluation got no answer from the running script",
                        )),
                    };
                }
                Err(work) => work,
            };
            if Instant::now() >= until {
                return Err(self.busy());
            }
            if let Some(mut scope) = self.0.scope.try_lock_for(POLL) {
                return self
                    .run_owned_on_thread(&mut scope, work)
                    .map_err(|e| remote_error(&e, limits));
            }
        }
    }

    fn run_owned(&self, scope: &mut Scope<'static>, work: Work) -> RhaiResult {
        let shared = &self.0.shared;
        shared.apply_pending(scope);
        shared.set_deadline(Some(Instant::now() + shared.limits.wall_time));
        let result = shared.run_work(&self.0.engine, scope, work);
        shared.set_deadline(None);
        shared.apply_pending(scope);
        result
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("limits", self.limits())
            .field("closed", &self.0.shared.closed.load(Ordering::Relaxed))
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
