//! What a session shares with its engine's hooks, and how evaluations run on the session's
//! thread: as the owner of the scope, or nested in the owner's wait on a call (see the module
//! docs of `engine`).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, Position, Scope, AST};
use rpc_core::{Connection, ObjectRef};

use super::limits::{self, runtime_error};
use super::objects::ScriptObject;
use super::thread::ScriptThread;
use super::{Inner, OutputSink, RhaiResult, Session, MAX_FUNCTIONS, MAX_NESTED};
use crate::ScriptLimits;

/// What the engine's hooks share with the session (everything but the engine itself).
pub(crate) struct Shared {
    pub(super) limits: ScriptLimits,
    pub(super) session: Weak<Inner>,
    pub(super) epoch: Instant,
    /// The running evaluation's deadline, in nanoseconds since `epoch` (`u64::MAX`: none).
    pub(super) deadline: AtomicU64,
    pub(super) output: RwLock<Option<OutputSink>>,
    pub(super) conn: RwLock<Option<Connection>>,
    /// The session's functions (an AST without statements).
    pub(super) lib: RwLock<Arc<AST>>,
    pub(super) bound: RwLock<BTreeMap<String, ObjectRef>>,
    /// Objects callable by name: bound ones and those set through `Session::set`.
    pub(super) callables: RwLock<HashMap<String, ObjectRef>>,
    /// Scope changes to make when the owner next holds the scope: (name, value, constant).
    pub(super) pending: Mutex<Vec<(String, Dynamic, bool)>>,
    /// The thread that runs the session's requests, and their queue.
    pub(super) thread: Arc<ScriptThread>,
    /// How many nested requests are running.
    pub(super) nested: AtomicUsize,
}

/// An evaluation to run.
pub(super) enum Work {
    /// A script.
    Eval(AST),
    /// A call of a session function.
    Call(FnPtr, Vec<Dynamic>),
}

impl Shared {
    /// The session, while it lives.
    pub(crate) fn session(&self) -> Option<Session> {
        self.session.upgrade().map(Session)
    }

    pub(crate) fn limits(&self) -> &ScriptLimits {
        &self.limits
    }

    pub(crate) fn connection(&self) -> Option<Connection> {
        self.conn.read().clone()
    }

    pub(crate) fn callable(&self, name: &str) -> Option<ObjectRef> {
        self.callables.read().get(name).cloned()
    }

    pub(crate) fn lib(&self) -> Arc<AST> {
        self.lib.read().clone()
    }

    /// True once the session is closed.
    pub(super) fn closed(&self) -> bool {
        self.thread.is_closed()
    }

    /// One line of script output, to the sink or the log.
    pub(crate) fn output(&self, line: &str) {
        let sink = self.output.read().clone();
        match sink {
            Some(sink) => sink(line.to_owned()),
            None => tracing::debug!(target: "rpc_classic::script", "{line}"),
        }
    }

    pub(super) fn set_deadline(&self, deadline: Option<Instant>) {
        let nanos = deadline.map_or(u64::MAX, |d| {
            u64::try_from(d.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX - 1)
        });
        self.deadline.store(nanos, Ordering::Release);
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        match self.deadline.load(Ordering::Acquire) {
            u64::MAX => None,
            nanos => Some(self.epoch + Duration::from_nanos(nanos)),
        }
    }

    /// True once the running evaluation's wall time is up.
    pub(crate) fn past_deadline(&self) -> bool {
        self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    /// Adds the functions `ast` defines to the session's namespace.
    pub(super) fn add_functions(&self, ast: &AST) -> Result<(), String> {
        if !ast.has_functions() {
            return Ok(());
        }
        let mut lib = self.lib.write();
        let merged = lib.merge(&ast.clone_functions_only());
        let count = merged.iter_functions().count();
        if count > MAX_FUNCTIONS {
            return Err(format!(
                "the session's namespace is full ({MAX_FUNCTIONS} functions)"
            ));
        }
        *lib = Arc::new(merged);
        Ok(())
    }

    /// Makes the scope changes requested while it was held.
    pub(super) fn apply_pending(&self, scope: &mut Scope<'static>) {
        if self.closed() {
            scope.clear();
            return;
        }
        let pending = std::mem::take(&mut *self.pending.lock());
        for (name, value, constant) in pending {
            if constant {
                while scope.contains(&name) {
                    let _ = scope.remove::<Dynamic>(&name);
                }
                scope.push_constant_dynamic(name, value);
            } else if scope.is_constant(&name) != Some(true) {
                scope.set_or_push(name, value);
            }
        }
    }

    /// A scope for a nested evaluation: the bound objects.
    fn fresh_scope(&self) -> Scope<'static> {
        let mut scope = Scope::new();
        for (name, object) in self.bound.read().iter() {
            scope.push_constant_dynamic(name.clone(), Dynamic::from(ScriptObject(object.clone())));
        }
        scope
    }

    /// Runs `work` on this thread, in `scope`.
    pub(super) fn run_work(&self, engine: &Engine, scope: &mut Scope<'static>, work: Work) -> RhaiResult {
        let lib = self.lib();
        match work {
            Work::Eval(ast) => {
                let value = engine.eval_ast_with_scope::<Dynamic>(scope, &lib.merge(&ast))?;
                self.add_functions(&ast)
                    .map_err(|e| runtime_error(e, Position::NONE))?;
                Ok(value)
            }
            Work::Call(fn_ptr, args) => fn_ptr.call::<Dynamic>(engine, &lib, args),
        }
    }

    /// Runs `work` nested, at `depth`, in a fresh scope.
    pub(super) fn run_nested(&self, engine: &Engine, depth: usize, work: Work) -> RhaiResult {
        if depth >= MAX_NESTED {
            return Err(limits::nesting_error());
        }
        self.run_work(engine, &mut self.fresh_scope(), work)
            .map_err(|e| match *e {
                EvalAltResult::ErrorVariableNotFound(name, pos) => EvalAltResult::ErrorVariableNotFound(
                    format!(
                        "{name} (this evaluation is nested in a script that waits on a call, and does \
                         not see that script's variables)"
                    ),
                    pos,
                )
                .into(),
                other => other.into(),
            })
    }

    /// What a nested `get` sees of `name`: a value set meanwhile, or a named object.
    pub(super) fn nested_lookup(&self, name: &str) -> Option<Dynamic> {
        let pending = self.pending.lock();
        let last = pending.iter().rev().find(|(n, ..)| n == name);
        last.map(|(_, v, _)| v.clone()).or_else(|| {
            self.callables
                .read()
                .get(name)
                .map(|o| Dynamic::from(ScriptObject(o.clone())))
        })
    }

    /// The names a request sees without the scope: named objects and values set meanwhile.
    pub(super) fn names_outside(&self) -> Vec<String> {
        let mut names: Vec<String> = self.callables.read().keys().cloned().collect();
        names.extend(self.pending.lock().iter().map(|(n, ..)| n.clone()));
        names
    }

    /// Waits for `fut` (a script's call of an object) on the session's thread: until it is
    /// done, or the wall time is up (then it is dropped, which cancels a remote call).
    /// Requests queued meanwhile run here, nested.
    pub(crate) fn wait<F: Future>(&self, fut: F, pos: Position) -> Result<F::Output, Box<EvalAltResult>> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            runtime_error(
                "a script's call of an object needs a tokio runtime on its thread",
                pos,
            )
        })?;
        let deadline = self.deadline();
        let _waiting = self.thread.waiting();
        let late = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        let mut late = std::pin::pin!(late);
        let mut fut = std::pin::pin!(fut);
        loop {
            while let Some(entry) = self.thread.next_nested() {
                self.run_entry_nested(entry);
            }
            let step = handle.block_on(async {
                tokio::select! {
                    biased;
                    out = fut.as_mut() => Some(Ok(out)),
                    () = late.as_mut() => Some(Err(limits::wall_time_error(pos))),
                    () = self.thread.nudged() => None,
                }
            });
            if let Some(done) = step {
                return done;
            }
        }
    }

    /// Runs a queued request nested in the running one's wait.
    fn run_entry_nested(&self, entry: super::thread::Entry) {
        // The running request holds the session, so it is there.
        let Some(session) = self.session() else {
            return;
        };
        let depth = self.nested.fetch_add(1, Ordering::AcqRel);
        entry.run_nested(&session, depth);
        self.nested.fetch_sub(1, Ordering::AcqRel);
    }
}
