//! Vinegar, how RPyC sends exceptions: `((module, class), args, attrs, traceback_text)`, or
//! the int `1` for `StopIteration`, or a bare `str` (a legacy string exception).

use super::brine::Brine;

/// An exception as it crosses the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Vinegar {
    /// `StopIteration` (the int 1 on the wire).
    StopIteration,
    /// A legacy string exception.
    Legacy(String),
    /// An exception record.
    Exception(RemoteException),
}

/// An exception record: Python re-raises `module.name(*args)` with `attrs` set on it and the
/// traceback text appended to its message.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteException {
    /// The exception class's module (`"builtins"` for Python's own exceptions).
    pub module: String,
    /// The exception class's name.
    pub name: String,
    /// Its `args` (Python shows one str argument as the message).
    pub args: Vec<Brine>,
    /// Attributes to set on it.
    pub attrs: Vec<(String, Brine)>,
    /// The remote traceback text Python appends under "Remote Traceback".
    pub traceback: String,
}

impl RemoteException {
    /// A `builtins.<name>(message)` with `traceback` as its remote traceback text.
    pub fn builtin(name: &str, message: impl Into<String>, traceback: impl Into<String>) -> Self {
        RemoteException {
            module: "builtins".into(),
            name: name.into(),
            args: vec![Brine::Str(message.into())],
            attrs: Vec::new(),
            traceback: traceback.into(),
        }
    }
}

impl Vinegar {
    /// The brine value that carries it.
    pub fn to_brine(&self) -> Brine {
        match self {
            Vinegar::StopIteration => Brine::Int(1),
            Vinegar::Legacy(text) => Brine::Str(text.clone()),
            Vinegar::Exception(e) => Brine::Tuple(vec![
                Brine::Tuple(vec![Brine::str(e.module.as_str()), Brine::str(e.name.as_str())]),
                Brine::Tuple(e.args.clone()),
                Brine::Tuple(
                    e.attrs
                        .iter()
                        .map(|(k, v)| Brine::Tuple(vec![Brine::str(k.as_str()), v.clone()]))
                        .collect(),
                ),
                Brine::str(e.traceback.as_str()),
            ]),
        }
    }

    /// Reads a vinegar value; `None` if `value` has none of its shapes.
    pub fn from_brine(value: &Brine) -> Option<Vinegar> {
        match value {
            Brine::Int(1) => Some(Vinegar::StopIteration),
            Brine::Str(text) => Some(Vinegar::Legacy(text.clone())),
            Brine::Tuple(items) => {
                let [class, args, attrs, traceback] = items.as_slice() else {
                    return None;
                };
                let [module, name] = class.as_tuple()? else {
                    return None;
                };
                let attrs = attrs
                    .as_tuple()?
                    .iter()
                    .map(|pair| match pair.as_tuple()? {
                        [k, v] => Some((k.as_str()?.to_owned(), v.clone())),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Vinegar::Exception(RemoteException {
                    module: module.as_str()?.to_owned(),
                    name: name.as_str()?.to_owned(),
                    args: args.as_tuple()?.to_vec(),
                    attrs,
                    traceback: traceback.as_str()?.to_owned(),
                }))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_value_error_reads_back() {
        // Trace 12's exception, with its traceback shortened.
        let wire = Brine::Tuple(vec![
            Brine::Tuple(vec![Brine::str("builtins"), Brine::str("ValueError")]),
            Brine::Tuple(vec![Brine::str("bad value"), Brine::Int(7)]),
            Brine::Tuple(vec![Brine::Tuple(vec![
                Brine::str("_remote_version"),
                Brine::str("6.0.2"),
            ])]),
            Brine::str("Traceback (most recent call last): ..."),
        ]);
        let Some(Vinegar::Exception(e)) = Vinegar::from_brine(&wire) else {
            panic!("not read as an exception record");
        };
        assert_eq!((e.module.as_str(), e.name.as_str()), ("builtins", "ValueError"));
        assert_eq!(e.args, vec![Brine::str("bad value"), Brine::Int(7)]);
        assert_eq!(e.attrs, vec![("_remote_version".to_owned(), Brine::str("6.0.2"))]);
        assert_eq!(Vinegar::Exception(e).to_brine(), wire);
    }

    #[test]
    fn the_short_forms_and_non_exceptions() {
        assert_eq!(Vinegar::from_brine(&Brine::Int(1)), Some(Vinegar::StopIteration));
        assert_eq!(Vinegar::StopIteration.to_brine(), Brine::Int(1));
        assert_eq!(
            Vinegar::from_brine(&Brine::str("old")),
            Some(Vinegar::Legacy("old".into()))
        );
        assert_eq!(Vinegar::from_brine(&Brine::Int(2)), None);
        assert_eq!(Vinegar::from_brine(&Brine::Tuple(vec![Brine::None; 4])), None);
        let e = RemoteException::builtin("ConnectionRefusedError", "go away", "<traceback denied>");
        let round = Vinegar::from_brine(&Vinegar::Exception(e.clone()).to_brine());
        assert_eq!(round, Some(Vinegar::Exception(e)));
    }
}
