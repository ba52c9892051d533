//! JSON to the framework's values and back.
//!
//! | JSON | [`Value`] |
//! |---|---|
//! | `null` | `Unit` (also `None` and `()`) |
//! | `true`, `false` | `Bool` |
//! | an integer | `Int` (`i64`), above `i64::MAX` `UInt` (`u64`) |
//! | another number | `Float` |
//! | a string | `Str` |
//! | an array | `Seq` |
//! | an object | `Map` with string keys, in order |
//! | `{"$bytes": "<base64>"}` | `Bytes` (arguments) |
//! | `"<base64>"` | `Bytes` (results) |
//! | `"<ref NAME#ID>"` | an object passed by reference (results) |
//!
//! Results go further than JSON can: a map key that is not a string is written as its JSON
//! text (`1`, `true`, `[1,2]`), and a float that is not finite as the string `NaN`, `inf` or
//! `-inf`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rpc_core::{ObjectRef, Value};
use serde_json::{Map, Number, Value as Json};

/// The key of the one-entry object that stands for bytes in an argument.
pub const BYTES_KEY: &str = "$bytes";

/// Longest piece of an argument quoted back in an error.
const QUOTE_MAX: usize = 40;

/// The command line's JSON arguments as values; an error names the argument (from 1), where
/// in it, and what is wrong.
pub fn arguments(texts: &[String]) -> Result<Vec<Value>, String> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| argument(text).map_err(|why| format!("argument {} ({}): {why}", i + 1, quote(text))))
        .collect()
}

/// One JSON argument as a value.
fn argument(text: &str) -> Result<Value, String> {
    let json: Json = serde_json::from_str(text)
        .map_err(|e| format!("not JSON: {e} (a string needs quotes: '\"text\"')"))?;
    to_value(&json).map_err(|e| e.to_string())
}

/// `text`, shortened to [`QUOTE_MAX`] characters, quoted.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        Some((end, _)) => format!("{:?}…", &text[..end]),
        None => format!("{text:?}"),
    }
}

/// Why a JSON value does not convert, and where in it: `.files[2]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Unconvertible {
    /// The path's steps from the inside out (`[2]`, `.files`).
    path: Vec<String>,
    why: String,
}

impl Unconvertible {
    fn new(why: impl Into<String>) -> Unconvertible {
        Unconvertible {
            path: Vec::new(),
            why: why.into(),
        }
    }

    fn inside(mut self, step: String) -> Unconvertible {
        self.path.push(step);
        self
    }
}

impl fmt::Display for Unconvertible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            f.write_str("at ")?;
            for step in self.path.iter().rev() {
                f.write_str(step)?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.why)
    }
}

/// A JSON value as the framework's (see the table in the module's documentation).
pub fn to_value(json: &Json) -> Result<Value, Unconvertible> {
    Ok(match json {
        Json::Null => Value::Unit,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => number(n)?,
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::Seq(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_value(item).map_err(|e| e.inside(format!("[{i}]"))))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(map) if map.contains_key(BYTES_KEY) => Value::Bytes(bytes(map)?),
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(key, item)| {
                    let value = to_value(item).map_err(|e| e.inside(format!(".{key}")))?;
                    Ok((Value::Str(key.clone()), value))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn number(n: &Number) -> Result<Value, Unconvertible> {
    if let Some(i) = n.as_i64() {
        Ok(Value::Int(i))
    } else if let Some(u) = n.as_u64() {
        Ok(Value::UInt(u))
    } else {
        n.as_f64()
            .map(Value::Float)
            .ok_or_else(|| Unconvertible::new(format!("the number {n} has no value here")))
    }
}

/// The bytes of `{"$bytes": "<base64>"}`.
fn bytes(map: &Map<String, Json>) -> Result<Vec<u8>, Unconvertible> {
    let wrong = |why: &str| Unconvertible::new(format!("{{\"{BYTES_KEY}\": \"<base64>\"}} {why}"));
    if map.len() != 1 {
        return Err(wrong("stands for bytes and has no other keys"));
    }
    let Some(Json::String(text)) = map.get(BYTES_KEY) else {
        return Err(wrong("takes a string"));
    };
    BASE64
        .decode(text)
        .map_err(|e| wrong(&format!("takes standard base64 (with padding): {e}")))
}

/// A value as JSON (see the table in the module's documentation); a reference is written as
/// `reference` names it.
pub fn from_value(value: &Value, reference: &dyn Fn(&ObjectRef) -> String) -> Json {
    match value {
        Value::Unit => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(x) => Number::from_f64(*x).map_or_else(|| Json::String(x.to_string()), Json::Number),
        Value::Str(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(BASE64.encode(b)),
        Value::Seq(items) => Json::Array(items.iter().map(|v| from_value(v, reference)).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (key(k, reference), from_value(v, reference)))
                .collect(),
        ),
        Value::Object(object) => Json::String(reference(object)),
    }
}

/// A map key as a JSON object's: a string as itself, anything else as its JSON text.
fn key(value: &Value, reference: &dyn Fn(&ObjectRef) -> String) -> String {
    match value {
        Value::Str(s) => s.clone(),
        other => from_value(other, reference).to_string(),
    }
}

/// Every object reference in `value`, in order, repeats included.
pub fn references(value: &Value) -> Vec<&ObjectRef> {
    fn walk<'v>(value: &'v Value, out: &mut Vec<&'v ObjectRef>) {
        match value {
            Value::Object(o) => out.push(o),
            Value::Seq(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                walk(k, out);
                walk(v, out);
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

#[cfg(test)]
mod tests;
