//! Values between the framework and scripts, both ways.
//!
//! | framework [`Value`]            | script (rhai)                                           |
//! |--------------------------------|---------------------------------------------------------|
//! | `Unit`                         | `()`                                                    |
//! | `Bool`                         | `bool`                                                  |
//! | `Int`                          | `i64`                                                   |
//! | `UInt` (above `i64::MAX`)      | an error: scripts have no integer that large            |
//! | `Float`                        | `f64`                                                   |
//! | `Str`                          | string (a script `char` comes back as a one-char `Str`) |
//! | `Bytes`                        | blob                                                    |
//! | `Seq`                          | array                                                   |
//! | `Map`, every key a string      | object map (rhai sorts its keys)                        |
//! | `Map` with a non-string key    | an array of `[key, value]` pairs                        |
//! | `Object`                       | an `Object` (see `objects.rs`)                          |
//! | (a teleported function of this session) | its function pointer                          |
//! | `Object` (a callable script fn)| a function pointer or closure (see `teleport.rs`)       |
//!
//! Other script types (timestamps, ranges, ...) do not cross: converting them is an error.
//! Nesting is limited to [`MAX_DEPTH`] levels both ways.

use rhai::{Array, Blob, Dynamic, FnPtr, Map, INT};
use rpc_core::{Object, Value};

use super::objects::ScriptObject;
use super::teleport::ScriptFunction;
use super::Shared;

/// Deepest nesting of arrays and maps a conversion accepts (the framework's own default).
pub const MAX_DEPTH: usize = rpc_core::value::DEFAULT_MAX_DEPTH;

/// A framework value as a script value.
pub(crate) fn to_dynamic(value: Value, shared: &Shared) -> Result<Dynamic, String> {
    to_dynamic_at(value, shared, 0)
}

fn to_dynamic_at(value: Value, shared: &Shared, depth: usize) -> Result<Dynamic, String> {
    if depth > MAX_DEPTH {
        return Err(format!("a value nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match value {
        Value::Unit => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(b),
        Value::Int(i) => Dynamic::from_int(i as INT),
        Value::UInt(u) => {
            return Err(format!(
                "the integer {u} is over the largest script integer ({})",
                INT::MAX
            ))
        }
        Value::Float(x) => Dynamic::from_float(x),
        Value::Str(s) => Dynamic::from(s),
        Value::Bytes(b) => Dynamic::from_blob(b),
        Value::Seq(items) => {
            let array = items
                .into_iter()
                .map(|v| to_dynamic_at(v, shared, depth + 1))
                .collect::<Result<Array, _>>()?;
            Dynamic::from_array(array)
        }
        Value::Map(entries) if entries.iter().all(|(k, _)| matches!(k, Value::Str(_))) => {
            let mut map = Map::new();
            for (k, v) in entries {
                if let Value::Str(k) = k {
                    map.insert(k.into(), to_dynamic_at(v, shared, depth + 1)?);
                }
            }
            Dynamic::from_map(map)
        }
        Value::Map(entries) => {
            let pairs = entries
                .into_iter()
                .map(|(k, v)| {
                    let pair: Array = vec![
                        to_dynamic_at(k, shared, depth + 2)?,
                        to_dynamic_at(v, shared, depth + 2)?,
                    ];
                    Ok(Dynamic::from_array(pair))
                })
                .collect::<Result<Array, String>>()?;
            Dynamic::from_array(pairs)
        }
        Value::Object(object) => {
            // A teleported function of this very session comes back as the function itself.
            if let Some(f) = object.local().and_then(|o| o.downcast::<ScriptFunction>()) {
                if f.belongs_to(shared) {
                    return Ok(Dynamic::from(f.fn_ptr().clone()));
                }
            }
            Dynamic::from(ScriptObject(object))
        }
    })
}

/// A script value as a framework value.
pub(crate) fn to_value(value: Dynamic, shared: &Shared) -> Result<Value, String> {
    to_value_at(value, shared, 0)
}

fn to_value_at(value: Dynamic, shared: &Shared, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("a value nested deeper than {MAX_DEPTH} levels"));
    }
    let value = value.flatten();
    if value.is_unit() {
        return Ok(Value::Unit);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::Int(i));
    }
    if let Ok(x) = value.as_float() {
        return Ok(Value::Float(x));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Value::Str(c.to_string()));
    }
    if value.is_string() {
        return Ok(Value::Str(value.into_string().unwrap_or_default()));
    }
    if value.is_blob() {
        return Ok(Value::Bytes(value.cast::<Blob>()));
    }
    if value.is_array() {
        let array = value.cast::<Array>();
        return array
            .into_iter()
            .map(|v| to_value_at(v, shared, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Seq);
    }
    if value.is_map() {
        let map = value.cast::<Map>();
        // rhai does not check the size of a map grown by `m[key] = value`.
        let max = shared.limits().max_map_size;
        if max > 0 && map.len() > max {
            return Err(format!(
                "a map over the size limit of {max} entries ({} entries)",
                map.len()
            ));
        }
        return map
            .into_iter()
            .map(|(k, v)| Ok((Value::Str(k.to_string()), to_value_at(v, shared, depth + 1)?)))
            .collect::<Result<Vec<_>, String>>()
            .map(Value::Map);
    }
    if value.is::<ScriptObject>() {
        return Ok(Value::Object(value.cast::<ScriptObject>().0));
    }
    if value.is_fnptr() {
        let f = value.cast::<FnPtr>();
        let session = shared
            .session()
            .ok_or_else(|| "the session is closed: its functions cannot be passed on".to_owned())?;
        let object = Object::new(ScriptFunction::new(session, f));
        return Ok(Value::Object(object.into()));
    }
    Err(format!(
        "a script value of type {} cannot be passed to the peer",
        value.type_name()
    ))
}

/// Script values to framework values, for a call's arguments.
pub(crate) fn to_values(
    values: impl IntoIterator<Item = Dynamic>,
    shared: &Shared,
) -> Result<Vec<Value>, String> {
    values.into_iter().map(|v| to_value(v, shared)).collect()
}

/// Framework values to script values, for a call's arguments.
pub(crate) fn to_dynamics(values: Vec<Value>, shared: &Shared) -> Result<Vec<Dynamic>, String> {
    values.into_iter().map(|v| to_dynamic(v, shared)).collect()
}
