//! Values and references between the engine's [`Value`] and RPyC's boxes (the table is in
//! [`crate::rpyc`]'s documentation). Our export ids go out plus one: RPyC's instance id 0 means
//! "a class".

use std::sync::Arc;

use crate::connection::inner::Inner;
use crate::object::Referent;
use crate::rpyc::{Boxed, Brine, IdPack};
use crate::value::{ObjectRef, Value, WireContext, WireRef};

/// The name of a class of ours that Python does not know: `rust.<service name>`.
const MODULE: &str = "rust";

/// Why a value cannot cross.
pub(super) type Refusal = (&'static str, String);

/// The box of `value`; its objects are exported (counted) as they are met.
pub(super) fn boxed(inner: &Inner, value: &Value) -> Result<Boxed, Refusal> {
    Ok(match value {
        Value::Unit => Boxed::Value(Brine::None),
        Value::Bool(b) => Boxed::Value(Brine::Bool(*b)),
        Value::Int(i) => Boxed::Value(Brine::Int(*i)),
        Value::UInt(u) => Boxed::Value(match i64::try_from(*u) {
            Ok(i) => Brine::Int(i),
            Err(_) => Brine::BigInt(u.to_string()),
        }),
        Value::Float(f) => Boxed::Value(Brine::Float(*f)),
        Value::Str(s) => Boxed::Value(Brine::Str(s.clone())),
        Value::Bytes(b) => Boxed::Value(Brine::Bytes(b.clone())),
        Value::Seq(items) => tuple(items.iter().map(|v| boxed(inner, v)).collect::<Result<_, _>>()?),
        Value::Map(entries) => tuple(
            entries
                .iter()
                .map(|(k, v)| Ok(tuple(vec![boxed(inner, k)?, boxed(inner, v)?])))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(object) => reference(inner, object)?,
    })
}

/// A tuple of boxes: one brine value if none of them is a reference.
pub(super) fn tuple(items: Vec<Boxed>) -> Boxed {
    if items.iter().all(|b| matches!(b, Boxed::Value(_))) {
        let values = items
            .into_iter()
            .map(|b| match b {
                Boxed::Value(v) => v,
                _ => Brine::None,
            })
            .collect();
        return Boxed::Value(Brine::Tuple(values));
    }
    Boxed::Tuple(items)
}

/// A reference: to one of our objects (exported, counted), or back to one of Python's.
fn reference(inner: &Inner, object: &ObjectRef) -> Result<Boxed, Refusal> {
    let wire = WireContext::export(inner, object).map_err(|e| ("builtins.MemoryError", e))?;
    match wire {
        WireRef::Sender(id) => {
            let name = class_name(object);
            Ok(Boxed::Remote(IdPack {
                class_id: class_id(&name),
                name,
                instance_id: wire_id(id),
            }))
        }
        WireRef::Receiver(id) => inner
            .rpyc_state()
            .and_then(|s| s.idpack(id))
            .map(Boxed::Local)
            .ok_or_else(|| {
                (
                    "builtins.ReferenceError",
                    format!("Python object {id} is no longer held"),
                )
            }),
    }
}

/// Our export id `id` on the wire: RPyC instance ids are never 0 (0 means "a class").
pub(super) fn wire_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX - 1) + 1
}

/// The export id an RPyC instance id of ours stands for.
pub(super) fn export_id(instance_id: i64) -> Option<u64> {
    u64::try_from(instance_id).ok()?.checked_sub(1)
}

/// What Python is told an object of ours is: one of its builtins classes when the object
/// acts as one (a bound method, a function), else `rust.<service name>`.
fn class_name(object: &ObjectRef) -> String {
    match object.referent() {
        Some(Referent::Local(o)) => match o.service().python_class() {
            Some(builtin) => builtin.to_owned(),
            None => format!("{MODULE}.{}", o.service().name()),
        },
        _ => format!("{MODULE}.FORWARD"),
    }
}

/// A class id for `name`: any int serves, equal names get equal ids (FNV-1a, 62 bits).
fn class_id(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash >> 2) as i64
}

/// The value a box carries; Python's objects become proxies (counted receipts), ours come
/// back as themselves.
pub(super) fn unboxed(inner: &Arc<Inner>, boxed: Boxed) -> Result<Value, Refusal> {
    match boxed {
        Boxed::Value(brine) => value_of(brine),
        Boxed::Tuple(items) => items
            .into_iter()
            .map(|b| unboxed(inner, b))
            .collect::<Result<_, _>>()
            .map(Value::Seq),
        Boxed::Local(pack) => local(inner, &pack).map(Value::Object),
        Boxed::Remote(pack) => {
            if pack.instance_id <= 0 {
                return Err((
                    "builtins.TypeError",
                    format!("{} is a Python class, which cannot cross to Rust", pack.name),
                ));
            }
            let id = pack.instance_id as u64;
            let proxy = WireContext::import(&**inner, WireRef::Sender(id))
                .ok_or_else(|| ("builtins.ConnectionError", "the connection is closing".to_owned()))?;
            // After the proxy exists: a release of an older proxy forgets the id pack only
            // if no proxy is live (see `Inner::release_import`).
            if let Some(state) = inner.rpyc_state() {
                state.remember(id, pack);
            }
            Ok(Value::Object(proxy))
        }
    }
}

/// One of our objects, named by the id pack we gave out.
pub(super) fn local(inner: &Arc<Inner>, pack: &IdPack) -> Result<ObjectRef, Refusal> {
    export_id(pack.instance_id)
        .and_then(|id| WireContext::import(&**inner, WireRef::Receiver(id)))
        .ok_or_else(|| {
            (
                "builtins.ReferenceError",
                format!(
                    "{} (id {}) is not an object this side gave out",
                    pack.name, pack.instance_id
                ),
            )
        })
}

/// A brine value as a [`Value`].
pub(super) fn value_of(brine: Brine) -> Result<Value, Refusal> {
    Ok(match brine {
        Brine::None => Value::Unit,
        Brine::Bool(b) => Value::Bool(b),
        Brine::Int(i) => Value::Int(i),
        Brine::BigInt(digits) => match digits.parse::<u64>() {
            Ok(u) => Value::UInt(u),
            Err(_) => {
                return Err((
                    "builtins.OverflowError",
                    format!("int {digits} does not fit 64 bits, the widest Rust integer here"),
                ))
            }
        },
        Brine::Float(f) => Value::Float(f),
        Brine::Str(s) => Value::Str(s),
        Brine::Bytes(b) => Value::Bytes(b),
        Brine::Tuple(items) | Brine::FrozenSet(items) => {
            Value::Seq(items.into_iter().map(value_of).collect::<Result<_, _>>()?)
        }
        other => {
            return Err((
                "builtins.TypeError",
                format!("a Python {} has no Rust counterpart here", other.type_name()),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_never_zero_and_map_back() {
        assert_eq!(wire_id(0), 1);
        assert_eq!(export_id(1), Some(0));
        assert_eq!(export_id(0), None);
        assert_eq!(export_id(-5), None);
        assert_eq!(export_id(wire_id(41)), Some(41));
    }

    #[test]
    fn python_values_map_to_rust_ones_or_are_refused_by_name() {
        assert_eq!(
            value_of(Brine::BigInt("18446744073709551615".into())),
            Ok(Value::UInt(u64::MAX))
        );
        let (ty, _) = value_of(Brine::BigInt("1180591620717411303424".into())).expect_err("refused");
        assert_eq!(ty, "builtins.OverflowError");
        assert_eq!(
            value_of(Brine::FrozenSet(vec![Brine::Int(1)])),
            Ok(Value::Seq(vec![Value::Int(1)]))
        );
        let (ty, msg) = value_of(Brine::Complex(1.0, 2.0)).expect_err("refused");
        assert_eq!(ty, "builtins.TypeError");
        assert!(msg.contains("complex"), "{msg}");
    }

    #[test]
    fn class_ids_are_stable_and_positive() {
        assert_eq!(class_id("rust.TEST"), class_id("rust.TEST"));
        assert_ne!(class_id("rust.TEST"), class_id("rust.NOTES"));
        assert!(class_id("builtins.method") > 0);
    }
}
