//! Boxing, how RPyC tells values from references: every handler's argument tuple and every
//! reply is a `(label, payload)` pair — a brine value, a tuple boxed item by item, the
//! receiver's own object (`LOCAL_REF`), or the sender's (`REMOTE_REF`) named by an id pack.

use std::fmt;

use super::brine::Brine;
use super::message::label;

/// Names an object across the wire: `(name_pack, class_id, instance_id)`. The name pack is the
/// object's class as `module.qualname` (`builtins.method`, `__main__.MyService`); instance id 0
/// means "this id pack is a class", so an instance never has it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdPack {
    /// The class's `module.name`.
    pub name: String,
    /// The class's id (any int; compared only in `isinstance` corner cases).
    pub class_id: i64,
    /// The instance's id (0 for a class).
    pub instance_id: i64,
}

impl IdPack {
    /// Its brine form: `(str, int, int)`.
    pub fn to_brine(&self) -> Brine {
        Brine::Tuple(vec![
            Brine::str(self.name.as_str()),
            Brine::Int(self.class_id),
            Brine::Int(self.instance_id),
        ])
    }

    /// Reads an id pack.
    pub fn from_brine(value: &Brine) -> Result<IdPack, BoxError> {
        match value.as_tuple() {
            Some([name, class_id, instance_id]) => Ok(IdPack {
                name: name
                    .as_str()
                    .ok_or_else(|| BoxError(format!("an id pack's name is a {}", name.type_name())))?
                    .to_owned(),
                class_id: id_int(class_id)?,
                instance_id: id_int(instance_id)?,
            }),
            _ => Err(BoxError(format!(
                "an id pack that is a {} of another shape",
                value.type_name()
            ))),
        }
    }

    /// Whether it names a class rather than an instance.
    pub fn is_class(&self) -> bool {
        self.instance_id == 0
    }
}

fn id_int(value: &Brine) -> Result<i64, BoxError> {
    match value {
        Brine::Int(i) => Ok(*i),
        Brine::BigInt(digits) => Err(BoxError(format!("an object id beyond 64 bits ({digits})"))),
        other => Err(BoxError(format!("an object id that is a {}", other.type_name()))),
    }
}

/// A boxed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Boxed {
    /// Sent by value (label 1).
    Value(Brine),
    /// A tuple holding at least one reference, boxed item by item (label 2).
    Tuple(Vec<Boxed>),
    /// The receiver's own object, which the sender holds a proxy of (label 3).
    Local(IdPack),
    /// The sender's object: the receiver makes (or reuses) a proxy (label 4).
    Remote(IdPack),
}

/// Why a value is not a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxError(pub String);

impl fmt::Display for BoxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an rpyc box: {}", self.0)
    }
}

impl std::error::Error for BoxError {}

impl Boxed {
    /// Its brine form, `(label, payload)`.
    pub fn to_brine(&self) -> Brine {
        let (tag, payload) = match self {
            Boxed::Value(v) => (label::VALUE, v.clone()),
            Boxed::Tuple(items) => (
                label::TUPLE,
                Brine::Tuple(items.iter().map(Boxed::to_brine).collect()),
            ),
            Boxed::Local(id) => (label::LOCAL_REF, id.to_brine()),
            Boxed::Remote(id) => (label::REMOTE_REF, id.to_brine()),
        };
        Brine::Tuple(vec![Brine::Int(tag), payload])
    }

    /// Reads a box, taking its values over (no copy of the bytes and strings it carries).
    pub fn from_brine_owned(value: Brine) -> Result<Boxed, BoxError> {
        let Brine::Tuple(items) = value else {
            return Boxed::from_brine(&value);
        };
        let Ok([tag, payload]) = <[Brine; 2]>::try_from(items) else {
            return Err(BoxError(
                "a tuple of another length instead of (label, payload)".into(),
            ));
        };
        match (tag.as_int(), payload) {
            (Some(label::VALUE), payload) => Ok(Boxed::Value(payload)),
            (Some(label::TUPLE), Brine::Tuple(items)) => items
                .into_iter()
                .map(Boxed::from_brine_owned)
                .collect::<Result<_, _>>()
                .map(Boxed::Tuple),
            (_, payload) => Boxed::from_brine(&Brine::Tuple(vec![tag, payload])),
        }
    }

    /// Reads a box. (Brine's decoder already bounds the nesting depth.)
    pub fn from_brine(value: &Brine) -> Result<Boxed, BoxError> {
        let Some([tag, payload]) = value.as_tuple() else {
            return Err(BoxError(format!(
                "a {} instead of (label, payload)",
                value.type_name()
            )));
        };
        match tag.as_int() {
            Some(label::VALUE) => Ok(Boxed::Value(payload.clone())),
            Some(label::TUPLE) => {
                let items = payload.as_tuple().ok_or_else(|| {
                    BoxError(format!(
                        "a boxed tuple whose payload is a {}",
                        payload.type_name()
                    ))
                })?;
                items
                    .iter()
                    .map(Boxed::from_brine)
                    .collect::<Result<_, _>>()
                    .map(Boxed::Tuple)
            }
            Some(label::LOCAL_REF) => IdPack::from_brine(payload).map(Boxed::Local),
            Some(label::REMOTE_REF) => IdPack::from_brine(payload).map(Boxed::Remote),
            _ => Err(BoxError(format!("an unknown label {tag:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("test hex"))
            .collect()
    }

    #[test]
    fn a_getattr_argument_box_of_trace_12() {
        // GETATTR's arguments: TUPLE(LOCAL_REF ('__main__.MyService', …), VALUE 'fail').
        let wire = hex(
            "11 52 11 11 53 12 08 0e 12 5f 5f 6d 61 69 6e 5f 5f 2e 4d 79 53 65 72 76 69 63 65 16 0e 39 \
             34 36 36 32 32 34 31 39 34 38 33 33 36 16 0f 31 34 30 30 36 30 30 33 37 32 35 35 31 38 34 \
             11 51 08 0d 66 61 69 6c",
        );
        let root = IdPack {
            name: "__main__.MyService".into(),
            class_id: 94662241948336,
            instance_id: 140060037255184,
        };
        let expected = Boxed::Tuple(vec![Boxed::Local(root), Boxed::Value(Brine::str("fail"))]);
        let decoded = Brine::decode(&wire).expect("brine");
        assert_eq!(Boxed::from_brine(&decoded), Ok(expected.clone()));
        assert_eq!(expected.to_brine().encode(), wire);
    }

    #[test]
    fn a_reply_with_a_bound_method_reference() {
        let method = IdPack {
            name: "builtins.method".into(),
            class_id: 140060058227392,
            instance_id: 140060037258560,
        };
        let boxed = Boxed::Remote(method.clone());
        assert_eq!(Boxed::from_brine(&boxed.to_brine()), Ok(boxed));
        assert!(!method.is_class());
    }

    #[test]
    fn malformed_boxes_say_why() {
        let bad = [
            Brine::Int(1),
            Brine::Tuple(vec![Brine::Int(9), Brine::None]),
            Brine::Tuple(vec![Brine::Int(2), Brine::Int(5)]),
            Brine::Tuple(vec![
                Brine::Int(3),
                Brine::Tuple(vec![Brine::Int(1), Brine::Int(2), Brine::Int(3)]),
            ]),
            Brine::Tuple(vec![
                Brine::Int(4),
                Brine::Tuple(vec![
                    Brine::str("x"),
                    Brine::Int(1),
                    Brine::BigInt("99999999999999999999".into()),
                ]),
            ]),
        ];
        for value in bad {
            assert!(Boxed::from_brine(&value).is_err(), "{value:?}");
        }
    }
}
