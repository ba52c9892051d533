use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Point,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Pair(i8, String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Nested {
    name: String,
    items: Vec<BTreeMap<String, Option<Vec<u16>>>>,
    shape: Shape,
    shapes: Vec<Shape>,
    tuple: (u8, char, bool),
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    plain_bytes: Vec<u8>,
    big: u64,
    map: HashMap<u32, String>,
    unit: (),
}

fn sample() -> Nested {
    let mut m = BTreeMap::new();
    m.insert("a".to_owned(), Some(vec![1, 2, 65535]));
    m.insert("b".to_owned(), None);
    Nested {
        name: "n".into(),
        items: vec![m, BTreeMap::new()],
        shape: Shape::Rect { w: 3, h: 4 },
        shapes: vec![Shape::Point, Shape::Circle(1.5), Shape::Pair(-1, "x".into())],
        tuple: (7, 'é', true),
        blob: vec![0, 255, 3],
        plain_bytes: vec![1, 2, 3],
        big: u64::MAX,
        map: [(1, "one".to_owned())].into_iter().collect(),
        unit: (),
    }
}

#[test]
fn typed_round_trip() {
    let v = to_value(&sample()).expect("to");
    let back: Nested = from_value(v).expect("from");
    assert_eq!(back, sample());
}

#[test]
fn typed_round_trip_through_the_wire_form() {
    use crate::protocol::Message;
    let value = to_value(&sample()).expect("to");
    let mut buf = Vec::new();
    Message::Reply { seq: 1, value }
        .encode_into(&mut buf)
        .expect("encode");
    let Message::Reply { value, .. } = Message::decode(&buf).expect("decode") else {
        panic!("not a reply")
    };
    assert_eq!(from_value::<Nested>(value).expect("from"), sample());
}

#[test]
fn byte_vectors_become_bytes() {
    assert_eq!(
        to_value(&vec![1u8, 2, 3]).expect("to"),
        Value::Bytes(vec![1, 2, 3])
    );
    assert_eq!(to_value(&Vec::<u8>::new()).expect("to"), Value::Seq(vec![]));
    assert_eq!(
        to_value(&vec![1u16, 2]).expect("to"),
        Value::Seq(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(
        to_value(&(1u8, 2u8)).expect("to"),
        Value::Seq(vec![Value::Int(1), Value::Int(2)])
    );
    let back: Vec<u8> = from_value(Value::Seq(vec![Value::Int(4)])).expect("seq of ints");
    assert_eq!(back, vec![4]);
}

#[test]
fn shapes_of_the_dynamic_form() {
    assert_eq!(to_value(&Shape::Point).expect("to"), Value::Str("Point".into()));
    assert_eq!(
        to_value(&Shape::Circle(2.0)).expect("to"),
        Value::Map(vec![(Value::Str("Circle".into()), Value::Float(2.0))])
    );
    assert_eq!(to_value(&Some(5)).expect("to"), Value::Int(5));
    assert_eq!(to_value(&None::<i32>).expect("to"), Value::Unit);
    assert_eq!(from_value::<Option<i32>>(Value::Unit).expect("from"), None);
}

#[test]
fn clear_type_errors() {
    let err = from_value::<i64>(Value::Str("x".into())).expect_err("mismatch");
    assert_eq!(err.to_string(), "invalid type: string \"x\", expected i64");
    let err = from_value::<u8>(Value::Int(300)).expect_err("range");
    assert!(err.to_string().contains("300"), "{err}");
    let err = from_value::<(i64, i64)>(Value::Seq(vec![Value::Int(1)])).expect_err("short");
    assert!(err.to_string().contains("invalid length 1"), "{err}");
}

#[test]
fn value_is_its_own_serde_type() {
    let v = to_value(&sample()).expect("to");
    assert_eq!(to_value(&v).expect("again"), v);
    assert_eq!(from_value::<Value>(v.clone()).expect("identity"), v);
}
