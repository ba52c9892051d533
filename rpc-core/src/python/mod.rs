//! Python's object model over any service: what a Python peer on the RPyC wire asks of an
//! object beyond calls and attributes — a method as a callable object, the implicit protocols
//! (`len`, iteration, `in`, `x[k]`, `==`), `dir`, `hash` — answered from what the service
//! already declares, so one `#[service]` type serves both wires unchanged.
//!
//! A Rust type takes part in a Python protocol by exposing a method named after it:
//! `#[exposed] fn __len__(&self) -> usize`, `__getitem__`, `__contains__`, `__iter__` and
//! `__next__` (end with [`stop_iteration`]), `__eq__`. A [`RemoteIter`](crate::RemoteIter)
//! is a Python iterator as it is.

mod bound;

use std::sync::Arc;

pub(crate) use bound::BoundMethod;

use crate::connection::Connection;
use crate::error::{RemoteError, RemoteErrorKind};
use crate::object::Object;
use crate::service::{not_exposed, CallResult, Description, MethodInfo, Outcome, Service};
use crate::value::Value;

/// The error that ends a Python iteration (`__next__` past the last item); the RPyC wire
/// sends it as Python's `StopIteration`.
pub fn stop_iteration() -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Application,
        STOP_ITERATION,
        "the iterator is exhausted",
    )
}

/// The type name [`stop_iteration`] carries.
pub(crate) const STOP_ITERATION: &str = "builtins.StopIteration";

/// A description that lists only Python protocol methods, for objects that are not
/// `#[service]` types.
pub(crate) fn protocols(name: &str, dunders: &[&str]) -> Description {
    Description {
        name: name.to_owned(),
        methods: dunders
            .iter()
            .map(|d| MethodInfo {
                name: (*d).to_owned(),
                params: Vec::new(),
                returns: String::new(),
                is_async: false,
                oneway: false,
                doc: String::new(),
            })
            .collect(),
        attributes: Vec::new(),
    }
}

/// Whether `name` is one of Python's special (`__x__`) names.
pub(crate) fn is_dunder(name: &str) -> bool {
    name.len() > 4 && name.starts_with("__") && name.ends_with("__")
}

/// `obj.name` from Python: a method of the object, bound to it as a callable object, or else
/// the attribute. The `exposed_` prefix may be given or not.
pub(crate) fn member(service: Arc<dyn Service>, conn: &Connection, name: &str) -> Outcome {
    let plain = name.strip_prefix("exposed_").unwrap_or(name);
    if is_dunder(plain) {
        // `__class__`, `__dict__` and the like: Python asks them of every netref; they are not
        // members of a Rust object (the protocols go through `Special`).
        return Outcome::Ready(Err(not_exposed(service.name(), plain)));
    }
    let description = service.describe();
    if let Some(method) = description.methods.into_iter().find(|m| m.name == plain) {
        let bound = BoundMethod::new(service, method);
        return Outcome::Ready(Ok(Value::Object(Object::from_arc(Arc::new(bound)).into())));
    }
    service.getattr(conn, plain)
}

/// `len(obj)`, `iter(obj)`, `obj[k]`...: the protocol method, if the object declares it.
pub(crate) fn special(service: Arc<dyn Service>, conn: &Connection, name: &str, args: Vec<Value>) -> Outcome {
    if !is_dunder(name) {
        // An ordinary method called in one step (what an rpyc client sends for `obj.name(...)`
        // when the method is known): as a call by name.
        let plain = name.strip_prefix("exposed_").unwrap_or(name);
        return service.call(conn, plain, args);
    }
    let declared = service.describe().methods.iter().any(|m| m.name == name);
    if !declared {
        return Outcome::Ready(Err(RemoteError::new(
            RemoteErrorKind::NotFound,
            "rpc::NotExposed",
            format!("{} does not support {name}", service.name()),
        )));
    }
    service.call(conn, name, args)
}

/// The protocols an object's class supports, for Python's `INSPECT`: `(name, doc)` pairs of
/// the dunder methods it declares, and `__call__` if it is callable.
pub(crate) fn inspect(service: &Arc<dyn Service>) -> CallResult {
    let mut out: Vec<Value> = service
        .describe()
        .methods
        .into_iter()
        .filter(|m| is_dunder(&m.name))
        .map(|m| pair(m.name, m.doc))
        .collect();
    if service.python_class().is_some() {
        out.push(pair("__call__".into(), String::new()));
    }
    Ok(Value::Seq(out))
}

fn pair(name: String, doc: String) -> Value {
    let doc = if doc.is_empty() {
        Value::Unit
    } else {
        Value::Str(doc)
    };
    Value::Seq(vec![Value::Str(name), doc])
}

/// `dir(obj)`: the exposed methods and attributes, sorted.
pub(crate) fn dir(service: &Arc<dyn Service>) -> CallResult {
    let description = service.describe();
    let mut names: Vec<String> = description
        .methods
        .into_iter()
        .map(|m| m.name)
        .chain(description.attributes.into_iter().map(|a| a.name))
        .collect();
    names.sort();
    names.dedup();
    Ok(Value::Seq(names.into_iter().map(Value::Str).collect()))
}

/// `hash(obj)`: the object's identity, stable while it lives.
pub(crate) fn hash(service: &Arc<dyn Service>) -> CallResult {
    let address = Arc::as_ptr(service) as *const () as usize;
    // Python hashes are ints; keep it positive and within 63 bits.
    Ok(Value::Int((address as u64 >> 3) as i64 & i64::MAX))
}

/// `obj == other` and the other comparisons: the object's own `__eq__` (or `__lt__`...) if
/// it declares one, else identity for `==` and `!=`.
pub(crate) fn compare(service: Arc<dyn Service>, conn: &Connection, op: &str, args: Vec<Value>) -> Outcome {
    let declared = service.describe().methods.iter().any(|m| m.name == op);
    if declared {
        return service.call(conn, op, args);
    }
    let same = match args.first() {
        Some(Value::Object(other)) => other
            .local()
            .is_some_and(|o| std::ptr::addr_eq(Arc::as_ptr(o.service()), Arc::as_ptr(&service))),
        _ => false,
    };
    Outcome::Ready(match op {
        "__eq__" => Ok(Value::Bool(same)),
        "__ne__" => Ok(Value::Bool(!same)),
        _ => Err(RemoteError::new(
            RemoteErrorKind::BadArguments,
            "builtins.TypeError",
            format!("{} does not support {op}", service.name()),
        )),
    })
}
