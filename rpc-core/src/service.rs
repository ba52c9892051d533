//! The object layer's contract: what a service exposes and how calls reach it.
//!
//! Users write `#[service] impl MyService { fn exposed_x(&self, ...) ... }` and the macro
//! implements [`Service`]. Implementing it by hand is possible too: the dispatch gets the method
//! name and positional arguments as [`Value`]s and answers with an [`Outcome`].

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::connection::Connection;
use crate::error::{RemoteError, RemoteErrorKind};
use crate::value::{Capability, Value};

/// The result of one call as the dispatch sees it.
pub type CallResult = Result<Value, RemoteError>;

/// How a service answers a call: at once (a synchronous method, run inline without spawning a
/// task) or with a future the connection runs as its own task.
pub enum Outcome {
    /// The answer is known.
    Ready(CallResult),
    /// The answer comes later.
    Pending(BoxFuture<'static, CallResult>),
}

impl Outcome {
    /// An outcome that runs `fut` as a task.
    pub fn pending(fut: impl std::future::Future<Output = CallResult> + Send + 'static) -> Self {
        Outcome::Pending(Box::pin(fut))
    }
}

/// An object whose exposed members a peer may reach: a connection's root service, or (with
/// netrefs) any object passed by reference.
///
/// Each method receives the connection the request came in on, so a method can call the peer
/// back while its caller is still waiting.
///
/// Every service is a [`Capability`], so a service object can sit in a value's reference slot.
pub trait Service: AsAny + Capability + Send + Sync + 'static {
    /// The service's name, as announced in the handshake (RPyC style: `TestService` -> `TEST`).
    fn name(&self) -> &str;

    /// Other names the service answers to.
    fn aliases(&self) -> Vec<String> {
        Vec::new()
    }

    /// Calls the exposed method `method`.
    fn call(self: Arc<Self>, conn: &Connection, method: &str, args: Vec<Value>) -> Outcome;

    /// Whether `method` is one-way: it sends no reply, and calls of it from one peer run in
    /// the order sent.
    fn is_oneway(&self, _method: &str) -> bool {
        false
    }

    /// Reads the exposed attribute `name`.
    fn getattr(self: Arc<Self>, _conn: &Connection, name: &str) -> Outcome {
        Outcome::Ready(Err(not_exposed(self.name(), name)))
    }

    /// Writes the exposed attribute `name`.
    fn setattr(self: Arc<Self>, _conn: &Connection, name: &str, _value: Value) -> Outcome {
        Outcome::Ready(Err(crate::private::not_settable(self.name(), name)))
    }

    /// Calls the object itself.
    fn call_self(self: Arc<Self>, _conn: &Connection, _args: Vec<Value>) -> Outcome {
        Outcome::Ready(Err(RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc::NotCallable",
            format!("{} is not callable", self.name()),
        )))
    }

    /// Calls the object itself with keyword arguments (a Python peer's `f(1, b=2)` over the
    /// RPyC wire): `args` holds the positional arguments, then one value for each name of
    /// `names`. The default takes none: without names it is [`call_self`](Service::call_self).
    fn call_named(self: Arc<Self>, conn: &Connection, args: Vec<Value>, names: &[String]) -> Outcome {
        if names.is_empty() {
            return self.call_self(conn, args);
        }
        Outcome::Ready(Err(RemoteError::new(
            RemoteErrorKind::BadArguments,
            "rpc::BadArguments",
            format!(
                "{} takes no keyword arguments (got {})",
                self.name(),
                names.join(", ")
            ),
        )))
    }

    /// The class a Python peer (the RPyC wire) is told this object has, if it is one of
    /// Python's own (`builtins.method`, `builtins.function`); `None`, the default, names it
    /// after the service (`rust.NAME`) and lets the peer ask which protocols it supports.
    #[doc(hidden)]
    fn python_class(&self) -> Option<&'static str> {
        None
    }

    /// Lists the exposed methods and attributes.
    fn describe(&self) -> Description {
        Description {
            name: self.name().to_owned(),
            methods: Vec::new(),
            attributes: Vec::new(),
        }
    }

    /// The object's display text (what a peer's [`NetRef::display`](crate::NetRef::display)
    /// shows; RPyC's `str`). `#[service(display)]` makes it the type's `Display`.
    fn display(&self) -> String {
        format!("<{} service>", self.name())
    }

    /// The object's debugging text (what a peer's [`NetRef::repr`](crate::NetRef::repr)
    /// shows; RPyC's `repr`). `#[service(repr)]` makes it the type's `Debug`.
    fn repr(&self) -> String {
        format!("<{} object>", self.name())
    }

    /// Runs when a connection with this service as its root is established.
    fn on_connect(self: Arc<Self>, _conn: Connection) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }

    /// Runs when a connection with this service as its root is closed.
    fn on_disconnect(self: Arc<Self>, _conn: Connection) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// Turns a shared service into `Any`, so an [`Object`](crate::Object) can be downcast to its
/// concrete type. Implemented for every `'static` type.
pub trait AsAny {
    /// The object as `Any`.
    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync>;
}

impl<T: std::any::Any + Send + Sync> AsAny for T {
    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

/// The error for a member that does not exist or is not exposed.
pub fn not_exposed(service: &str, member: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::NotFound,
        "rpc::NotExposed",
        format!("'{member}' is not exposed by {service}"),
    )
}

/// A service that exposes nothing: the root of a side that only calls (RPyC's `VoidService`).
#[derive(Debug, Default, Clone, Copy)]
pub struct VoidService;

impl Service for VoidService {
    fn name(&self) -> &str {
        "VOID"
    }

    fn call(self: Arc<Self>, _conn: &Connection, method: &str, _args: Vec<Value>) -> Outcome {
        Outcome::Ready(Err(not_exposed("VOID", method)))
    }
}

/// What an object exposes, as `describe` reports it (RPyC's `dir` and `inspect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// The object's service name.
    pub name: String,
    /// Exposed methods.
    pub methods: Vec<MethodInfo>,
    /// Exposed attributes.
    pub attributes: Vec<AttributeInfo>,
}

/// One exposed method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodInfo {
    /// Name without the `exposed_` prefix.
    pub name: String,
    /// Parameters as `(name, Rust type)`.
    pub params: Vec<(String, String)>,
    /// The Rust return type.
    pub returns: String,
    /// Whether the method is `async`.
    pub is_async: bool,
    /// Whether the method is one-way (`#[oneway]`): no reply, calls run in send order.
    pub oneway: bool,
    /// The method's doc comment.
    pub doc: String,
}

/// One exposed attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeInfo {
    /// Name without the `exposed_` prefix.
    pub name: String,
    /// The Rust type.
    pub ty: String,
    /// Whether the peer may set it.
    pub settable: bool,
    /// The attribute's doc comment.
    pub doc: String,
}
