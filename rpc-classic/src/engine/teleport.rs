//! Teleported functions: a script function or closure of a session as a callable object.
//!
//! [`Session::teleport`](super::Session::teleport) defines the function in the session and
//! returns a [`ScriptFunction`]; a script value that is a function pointer or a closure
//! becomes one too when it crosses to the peer (the result of `eval("|x| x + 1")`, a closure a
//! script passes to a client's method, `namespace().get("square")`). Calling it runs the
//! function in its session, under the session's limits, like an `eval`. The object keeps the
//! session alive; it goes when the last reference to it does (the function's code stays in the
//! session's namespace until the session ends).

use std::sync::Arc;

use rhai::FnPtr;
use rpc_core::{Connection, Description, MethodInfo, Outcome, RemoteError, RemoteErrorKind, Service, Value};

use super::{Session, Shared, Submitted};

/// A script function of a session, callable by the peer: `call_self(args)` (or the method
/// `__call__`) runs it.
pub struct ScriptFunction {
    session: Session,
    fn_ptr: FnPtr,
    params: Vec<String>,
}

impl ScriptFunction {
    /// A callable for `fn_ptr`, a function of `session`.
    pub(crate) fn new(session: Session, fn_ptr: FnPtr) -> ScriptFunction {
        let params = session.params_of(&fn_ptr);
        ScriptFunction {
            session,
            fn_ptr,
            params,
        }
    }

    /// The function pointer it calls.
    pub(crate) fn fn_ptr(&self) -> &FnPtr {
        &self.fn_ptr
    }

    /// True if it is a function of the session that `shared` belongs to.
    pub(crate) fn belongs_to(&self, shared: &Shared) -> bool {
        std::ptr::eq(self.session.shared(), shared)
    }

    /// The parameters' names.
    pub fn params(&self) -> &[String] {
        &self.params
    }

    /// `fn square(x)`, or `|x|` for a closure.
    fn signature(&self) -> String {
        let params = self.params.join(", ");
        if self.fn_ptr.is_anonymous() {
            format!("|{params}|")
        } else {
            format!("fn {}({params})", self.fn_ptr.fn_name())
        }
    }

    /// Runs the function: answered at once when its session's thread answers within a few
    /// microseconds, without the task an async answer takes.
    fn run(&self, args: Vec<Value>) -> Outcome {
        match self.session.call_function(&self.fn_ptr, args) {
            Submitted::Answered(answer) => Outcome::Ready(answer),
            Submitted::Pending(pending) => Outcome::pending(pending.answer()),
        }
    }
}

impl Service for ScriptFunction {
    fn name(&self) -> &str {
        "SCRIPT_FUNCTION"
    }

    fn call(self: Arc<Self>, _conn: &Connection, method: &str, args: Vec<Value>) -> Outcome {
        if method == "__call__" {
            self.run(args)
        } else {
            Outcome::Ready(Err(RemoteError::new(
                RemoteErrorKind::NotFound,
                "rpc::NotExposed",
                format!("a script function has no method {method} (call it, or its method __call__)"),
            )))
        }
    }

    fn call_self(self: Arc<Self>, _conn: &Connection, args: Vec<Value>) -> Outcome {
        self.run(args)
    }

    fn describe(&self) -> Description {
        Description {
            name: self.name().to_owned(),
            methods: vec![MethodInfo {
                name: "__call__".to_owned(),
                params: self
                    .params
                    .iter()
                    .map(|p| (p.clone(), "Dynamic".to_owned()))
                    .collect(),
                returns: "Dynamic".to_owned(),
                is_async: false,
                oneway: false,
                doc: format!(
                    "The script function `{}` (call the object itself).",
                    self.signature()
                ),
            }],
            attributes: Vec::new(),
        }
    }

    fn display(&self) -> String {
        self.signature()
    }

    fn repr(&self) -> String {
        format!("<script function {}>", self.signature())
    }
}
