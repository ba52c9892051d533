//! How the shell shows a value: a string plainly at the top, everything else the way rhai
//! writes it (`[1, "two", 3.0]`, `#{a: 1, "b c": true}`), so a result can be pasted back.

use std::fmt::Write;

use rpc_core::Value;

/// `value` as the shell prints it; `None` for unit, which prints nothing.
pub fn show(value: &Value) -> Option<String> {
    match value {
        Value::Unit => None,
        Value::Str(s) => Some(s.clone()),
        other => {
            let mut out = String::new();
            write_value(&mut out, other);
            Some(out)
        }
    }
}

/// Writes `value` as a rhai literal (where it has one).
fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Unit => out.push_str("()"),
        Value::Bool(b) => push(out, format_args!("{b}")),
        Value::Int(n) => push(out, format_args!("{n}")),
        Value::UInt(n) => push(out, format_args!("{n}")),
        // `{:?}` keeps the point of a whole number: 2.0, not 2.
        Value::Float(x) => push(out, format_args!("{x:?}")),
        Value::Str(s) => push(out, format_args!("{s:?}")),
        Value::Bytes(bytes) => {
            out.push_str("b\"");
            for b in bytes {
                push(out, format_args!("{}", std::ascii::escape_default(*b)));
            }
            out.push('"');
        }
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push_str("#{");
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match key {
                    Value::Str(name) if is_identifier(name) => out.push_str(name),
                    other => write_value(out, other),
                }
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
        Value::Object(object) => push(out, format_args!("<{object:?}>")),
    }
}

fn push(out: &mut String, args: std::fmt::Arguments<'_>) {
    // Writing to a String cannot fail.
    let _ = out.write_fmt(args);
}

/// Whether a map key can stand unquoted: a letter or `_`, then letters, digits, `_`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(value: Value) -> String {
        show(&value).unwrap_or_else(|| "<nothing>".to_owned())
    }

    #[test]
    fn scalars() {
        assert_eq!(show(&Value::Unit), None);
        assert_eq!(shown(Value::Int(42)), "42");
        assert_eq!(shown(Value::UInt(u64::MAX)), u64::MAX.to_string());
        assert_eq!(shown(Value::Float(2.0)), "2.0");
        assert_eq!(shown(Value::Float(0.5)), "0.5");
        assert_eq!(shown(Value::Bool(true)), "true");
        assert_eq!(shown(Value::Str("plain \"text\"".into())), "plain \"text\"");
        assert_eq!(shown(Value::Bytes(vec![b'a', 0, 0xff])), r#"b"a\x00\xff""#);
    }

    #[test]
    fn collections_read_like_rhai() {
        let value = Value::Seq(vec![
            Value::Int(1),
            Value::Str("two".into()),
            Value::Unit,
            Value::Map(vec![
                (Value::Str("a".into()), Value::Float(1.5)),
                (Value::Str("b c".into()), Value::Seq(Vec::new())),
                (Value::Int(3), Value::Bool(false)),
            ]),
        ]);
        assert_eq!(shown(value), r#"[1, "two", (), #{a: 1.5, "b c": [], 3: false}]"#);
        assert_eq!(shown(Value::Map(Vec::new())), "#{}");
    }
}
