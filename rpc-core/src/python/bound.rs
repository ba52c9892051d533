//! A method bound to its object: what a Python peer gets for `obj.method` (then calls).

use std::sync::Arc;

use crate::connection::Connection;
use crate::error::{RemoteError, RemoteErrorKind};
use crate::service::{MethodInfo, Outcome, Service};
use crate::value::Value;

/// `obj.method` as a callable object of its own (Python's bound method): calling it calls the
/// method, with keyword arguments matched to the method's parameter names.
pub(crate) struct BoundMethod {
    target: Arc<dyn Service>,
    method: MethodInfo,
}

impl BoundMethod {
    pub(crate) fn new(target: Arc<dyn Service>, method: MethodInfo) -> Self {
        BoundMethod { target, method }
    }

    /// Puts named arguments where the method's parameters are; an `Option` parameter left out
    /// is `None`.
    fn arrange(&self, mut args: Vec<Value>, names: &[String]) -> Result<Vec<Value>, RemoteError> {
        let params = &self.method.params;
        let named = args.split_off(args.len().saturating_sub(names.len()));
        let positional = args.len();
        if positional > params.len() {
            return Err(bad(format!(
                "{}() takes {} arguments but {positional} were given",
                self.method.name,
                params.len()
            )));
        }
        let mut slots: Vec<Option<Value>> = args.into_iter().map(Some).collect();
        slots.resize_with(params.len(), || None);
        for (name, value) in names.iter().zip(named) {
            let Some(at) = params.iter().position(|(p, _)| p == name) else {
                return Err(bad(format!(
                    "{}() got an unexpected keyword argument '{name}'",
                    self.method.name
                )));
            };
            if slots[at].replace(value).is_some() {
                return Err(bad(format!(
                    "{}() got multiple values for argument '{name}'",
                    self.method.name
                )));
            }
        }
        slots
            .into_iter()
            .zip(params)
            .map(|(slot, (name, ty))| match slot {
                Some(v) => Ok(v),
                None if ty.starts_with("Option") => Ok(Value::Unit),
                None => Err(bad(format!(
                    "{}() missing required argument: '{name}'",
                    self.method.name
                ))),
            })
            .collect()
    }
}

fn bad(message: String) -> RemoteError {
    RemoteError::new(RemoteErrorKind::BadArguments, "builtins.TypeError", message)
}

impl Service for BoundMethod {
    fn name(&self) -> &str {
        &self.method.name
    }

    fn call(self: Arc<Self>, _conn: &Connection, method: &str, _args: Vec<Value>) -> Outcome {
        Outcome::Ready(Err(crate::service::not_exposed(&self.method.name, method)))
    }

    fn call_self(self: Arc<Self>, conn: &Connection, args: Vec<Value>) -> Outcome {
        // Python's `obj.greet("ann")` for `fn greet(name, punct: Option<_>)`: trailing `Option`
        // parameters left out are `None`, as with keyword arguments. Fewer arguments only: a
        // full call goes through unchanged (and a service whose description lists no
        // parameters is not second-guessed).
        if args.len() < self.method.params.len() {
            return self.call_named(conn, args, &[]);
        }
        self.target.clone().call(conn, &self.method.name, args)
    }

    fn call_named(self: Arc<Self>, conn: &Connection, args: Vec<Value>, names: &[String]) -> Outcome {
        match self.arrange(args, names) {
            Ok(args) => self.target.clone().call(conn, &self.method.name, args),
            Err(e) => Outcome::Ready(Err(e)),
        }
    }

    fn python_class(&self) -> Option<&'static str> {
        Some("builtins.method")
    }

    fn display(&self) -> String {
        format!("<bound method {}.{}>", self.target.name(), self.method.name)
    }

    fn repr(&self) -> String {
        self.display()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::VoidService;

    fn method(params: &[(&str, &str)]) -> BoundMethod {
        BoundMethod::new(
            Arc::new(VoidService),
            MethodInfo {
                name: "m".into(),
                params: params
                    .iter()
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .collect(),
                returns: "()".into(),
                is_async: false,
                oneway: false,
                doc: String::new(),
            },
        )
    }

    #[test]
    fn keyword_arguments_land_on_their_parameters() {
        let m = method(&[("a", "i64"), ("b", "String"), ("c", "Option<u8>")]);
        let args = vec![Value::Int(1), Value::Str("x".into())];
        let got = m.arrange(args, &["b".into()]).expect("arranged");
        assert_eq!(got, vec![Value::Int(1), Value::Str("x".into()), Value::Unit]);
    }

    #[test]
    fn trailing_option_parameters_may_be_left_out_positionally() {
        let m = method(&[("a", "i64"), ("b", "Option<String>")]);
        let got = m.arrange(vec![Value::Int(1)], &[]).expect("arranged");
        assert_eq!(got, vec![Value::Int(1), Value::Unit]);
        let missing = m.arrange(Vec::new(), &[]).expect_err("a is required");
        assert!(
            missing.message.contains("missing required argument: 'a'"),
            "{missing:?}"
        );
    }

    #[test]
    fn wrong_keyword_arguments_are_type_errors() {
        let m = method(&[("a", "i64")]);
        let unknown = m
            .arrange(vec![Value::Int(1)], &["z".into()])
            .expect_err("refused");
        assert!(
            unknown.message.contains("unexpected keyword argument 'z'"),
            "{unknown:?}"
        );
        let twice = m
            .arrange(vec![Value::Int(1), Value::Int(2)], &["a".into()])
            .expect_err("refused");
        assert!(twice.message.contains("multiple values"), "{twice:?}");
        let missing = m.arrange(Vec::new(), &[]).expect_err("refused");
        assert!(
            missing.message.contains("missing required argument: 'a'"),
            "{missing:?}"
        );
        assert_eq!(missing.type_name, "builtins.TypeError");
    }
}
