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

/// A sequence whose elements are bytes until they are not (an untagged enum serializes its
/// content as is).
#[derive(Serialize)]
#[serde(untagged)]
enum ByteOrText {
    Byte(u8),
    Text(String),
}

/// A sequence serialized from an iterator that does not know its length.
struct Unsized(u8);

impl Serialize for Unsized {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0).filter(|_| true))
    }
}

#[test]
fn collected_sequences_become_bytes_only_if_all_bytes() {
    let data: Vec<u8> = (0..=255).cycle().take(70_000).collect();
    assert_eq!(to_value(&data).expect("converts"), Value::Bytes(data.clone()));
    assert_eq!(to_value(&data[..]).expect("converts"), Value::Bytes(data.clone()));
    assert_eq!(
        to_value(&Vec::<u8>::new()).expect("converts"),
        Value::Seq(Vec::new())
    );
    assert_eq!(to_value(&vec![7u8]).expect("converts"), Value::Bytes(vec![7]));
    assert_eq!(
        to_value(&Unsized(5)).expect("converts"),
        Value::Bytes(vec![0, 1, 2, 3, 4])
    );
    assert_eq!(to_value(&Unsized(0)).expect("converts"), Value::Seq(Vec::new()));
    let mixed = vec![
        ByteOrText::Byte(1),
        ByteOrText::Byte(2),
        ByteOrText::Text("x".into()),
        ByteOrText::Byte(3),
    ];
    assert_eq!(
        to_value(&mixed).expect("converts"),
        Value::Seq(vec![
            Value::Int(1),
            Value::Int(2),
            Value::Str("x".into()),
            Value::Int(3)
        ])
    );
    let text_first = vec![ByteOrText::Text("x".into()), ByteOrText::Byte(3)];
    assert_eq!(
        to_value(&text_first).expect("converts"),
        Value::Seq(vec![Value::Str("x".into()), Value::Int(3)])
    );
    assert_eq!(
        to_value(&vec![300u16, 1]).expect("converts"),
        Value::Seq(vec![Value::Int(300), Value::Int(1)])
    );
}

/// How fast 1 MiB of a plain `&[u8]` becomes a `Value` (run with `--release --ignored`).
#[test]
#[ignore]
fn plain_byte_slice_speed() {
    let data = vec![3u8; 1 << 20];
    let mut times: Vec<f64> = (0..50)
        .map(|_| {
            let t = std::time::Instant::now();
            let v = to_value(&data[..]).expect("converts");
            let e = t.elapsed().as_secs_f64() * 1e6;
            assert!(matches!(v, Value::Bytes(ref b) if b.len() == data.len()));
            e
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let mut dec: Vec<f64> = (0..50)
        .map(|_| {
            let v = Value::Bytes(data.clone());
            let t = std::time::Instant::now();
            let back: Vec<u8> = from_value(v).expect("converts");
            let e = t.elapsed().as_secs_f64() * 1e6;
            assert_eq!(back.len(), data.len());
            e
        })
        .collect();
    dec.sort_by(f64::total_cmp);
    println!(
        "to_value(&[u8] 1 MiB): median {:.1} us; from_value::<Vec<u8>>: {:.1} us",
        times[25], dec[25]
    );
}
