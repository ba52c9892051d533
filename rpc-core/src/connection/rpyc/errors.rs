//! Errors between the engine's [`RemoteError`] and Python exceptions (vinegar); the mapping is
//! tabled in [`crate::rpyc`]'s documentation.

use crate::error::{RemoteError, RemoteErrorKind};
use crate::python::STOP_ITERATION;
use crate::rpyc::{Brine, RemoteException, Vinegar};

/// Python's built-in exception classes a Rust error type may be named after.
const BUILTIN_EXCEPTIONS: &[&str] = &[
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BlockingIOError",
    "BrokenPipeError",
    "BufferError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "EOFError",
    "Exception",
    "FileExistsError",
    "FileNotFoundError",
    "FloatingPointError",
    "IndexError",
    "InterruptedError",
    "IsADirectoryError",
    "KeyError",
    "LookupError",
    "MemoryError",
    "NotADirectoryError",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PermissionError",
    "RecursionError",
    "ReferenceError",
    "RuntimeError",
    "StopIteration",
    "TimeoutError",
    "TypeError",
    "UnicodeError",
    "ValueError",
    "ZeroDivisionError",
];

/// Rust error types of the standard library and what Python calls them.
const STD_ERRORS: &[(&str, &str)] = &[
    ("ParseIntError", "ValueError"),
    ("ParseFloatError", "ValueError"),
    ("ParseBoolError", "ValueError"),
    ("ParseCharError", "ValueError"),
    // Not UnicodeDecodeError: Python builds it from five arguments, not a message.
    ("Utf8Error", "ValueError"),
    ("FromUtf8Error", "ValueError"),
    ("TryFromIntError", "OverflowError"),
    ("TryFromSliceError", "ValueError"),
    ("AddrParseError", "ValueError"),
    ("Elapsed", "TimeoutError"),
];

/// The Python exception for `error`.
pub(super) fn vinegar(error: &RemoteError) -> Vinegar {
    if error.type_name == STOP_ITERATION {
        return Vinegar::StopIteration;
    }
    let (module, name) = python_class(error);
    let mut traceback = format!("Rust {}: {}", error.type_name, error.message);
    for cause in &error.causes {
        traceback.push_str("\n  caused by: ");
        traceback.push_str(cause);
    }
    Vinegar::Exception(RemoteException {
        module,
        name,
        args: vec![Brine::Str(error.message.clone())],
        attrs: Vec::new(),
        traceback,
    })
}

/// `(module, class)` of the Python exception for `error`.
fn python_class(error: &RemoteError) -> (String, String) {
    let builtin = |name: &str| ("builtins".to_owned(), name.to_owned());
    let ty = error.type_name.as_str();
    if !ty.contains("::") {
        // A Python name already (from a Python peer, or chosen on purpose): kept.
        if let Some((module, name)) = ty.rsplit_once('.') {
            return (module.to_owned(), name.to_owned());
        }
    }
    let last = ty.rsplit("::").next().unwrap_or(ty);
    // Generic arguments are not part of the name Python shows.
    let last = last.split('<').next().unwrap_or(last);
    match error.kind {
        RemoteErrorKind::NotFound => return builtin("AttributeError"),
        RemoteErrorKind::BadArguments => return builtin("TypeError"),
        RemoteErrorKind::Panic => return builtin("RuntimeError"),
        RemoteErrorKind::Cancelled => return builtin("InterruptedError"),
        RemoteErrorKind::Refused => {
            return builtin(match ty {
                "rpc::UnknownObject" => "ReferenceError",
                "rpc::NotCallable" => "TypeError",
                "rpc::ShuttingDown" => "ConnectionRefusedError",
                "rpc::TooLarge" => "ValueError",
                "rpc::Unsupported" => "NotImplementedError",
                _ => "RuntimeError",
            })
        }
        RemoteErrorKind::Application => {}
    }
    if BUILTIN_EXCEPTIONS.contains(&last) {
        return builtin(last);
    }
    if let Some((_, python)) = STD_ERRORS.iter().find(|(rust, _)| *rust == last) {
        return builtin(python);
    }
    if ty.starts_with("std::io::") || ty == "std::io::Error" {
        return builtin("OSError");
    }
    if ty.starts_with("rpc::Timeout") {
        return builtin("TimeoutError");
    }
    // Python shows `module.Class`: the Rust path with dots (`my_crate.errors.Bad`).
    match ty.split('<').next().unwrap_or(ty).rsplit_once("::") {
        Some((module, _)) => (module.replace("::", "."), last.to_owned()),
        None => ("rust".to_owned(), last.to_owned()),
    }
}

/// The error a Python exception becomes on this side.
pub(super) fn remote_error(vinegar: Vinegar) -> RemoteError {
    match vinegar {
        Vinegar::StopIteration => crate::python::stop_iteration(),
        Vinegar::Legacy(text) => RemoteError::new(RemoteErrorKind::Application, "builtins.Exception", text),
        Vinegar::Exception(e) => {
            let kind = match (e.module.as_str(), e.name.as_str()) {
                ("builtins", "AttributeError") => RemoteErrorKind::NotFound,
                ("builtins", "TypeError") => RemoteErrorKind::BadArguments,
                _ => RemoteErrorKind::Application,
            };
            let mut error = RemoteError::new(kind, format!("{}.{}", e.module, e.name), message(&e.args));
            let traceback = e.traceback.trim();
            if !traceback.is_empty() {
                error.causes.push(format!("Python traceback:\n{traceback}"));
            }
            error
        }
    }
}

/// An exception's message as Python's `str(e)` shows it: the one argument, or the tuple.
fn message(args: &[Brine]) -> String {
    match args {
        [] => String::new(),
        [Brine::Str(s)] => s.clone(),
        [one] => python_repr(one),
        many => format!(
            "({})",
            many.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn python_repr(value: &Brine) -> String {
    match value {
        Brine::None => "None".into(),
        Brine::Bool(true) => "True".into(),
        Brine::Bool(false) => "False".into(),
        Brine::Int(i) => i.to_string(),
        Brine::BigInt(digits) => digits.clone(),
        Brine::Float(f) => f.to_string(),
        Brine::Str(s) => format!("'{s}'"),
        Brine::Bytes(b) => format!("b'{}'", b.escape_ascii()),
        Brine::Tuple(items) => format!(
            "({})",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        other => format!("<{}>", other.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(kind: RemoteErrorKind, ty: &str) -> (String, String) {
        python_class(&RemoteError::new(kind, ty, "m"))
    }

    #[test]
    fn rust_errors_become_python_exceptions_where_one_fits() {
        let app = RemoteErrorKind::Application;
        let b = |n: &str| ("builtins".to_owned(), n.to_owned());
        assert_eq!(class_of(app, "core::num::error::ParseIntError"), b("ValueError"));
        assert_eq!(class_of(app, "my_crate::ValueError"), b("ValueError"));
        assert_eq!(class_of(app, "std::io::error::Error"), b("OSError"));
        assert_eq!(
            class_of(RemoteErrorKind::NotFound, "rpc::NotExposed"),
            b("AttributeError")
        );
        assert_eq!(
            class_of(RemoteErrorKind::BadArguments, "rpc::BadArguments"),
            b("TypeError")
        );
        assert_eq!(class_of(RemoteErrorKind::Panic, "rpc::Panic"), b("RuntimeError"));
        assert_eq!(
            class_of(app, "my_crate::errors::Bad<u8>"),
            ("my_crate.errors".to_owned(), "Bad".to_owned())
        );
        assert_eq!(class_of(app, "builtins.KeyError"), b("KeyError"));
    }

    #[test]
    fn python_exceptions_round_trip_through_rust() {
        let python = Vinegar::Exception(RemoteException {
            module: "builtins".into(),
            name: "KeyError".into(),
            args: vec![Brine::Int(5)],
            attrs: Vec::new(),
            traceback: "Traceback ...".into(),
        });
        let error = remote_error(python);
        assert_eq!(error.type_name, "builtins.KeyError");
        assert_eq!(error.message, "5");
        assert!(error.causes[0].contains("Traceback"));
        match vinegar(&error) {
            Vinegar::Exception(e) => {
                assert_eq!((e.module.as_str(), e.name.as_str()), ("builtins", "KeyError"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(vinegar(&crate::python::stop_iteration()), Vinegar::StopIteration);
    }
}
