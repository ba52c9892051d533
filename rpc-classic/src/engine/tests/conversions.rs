//! Values both ways, the namespace, and script errors.

#![allow(clippy::unwrap_used)]

use super::*;

// ---- conversions --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn values_go_in_and_come_back_unchanged() {
    let s = Session::new(&limits());
    let cases = vec![
        (Value::Unit, "()"),
        (Value::Bool(true), "bool"),
        (Value::Int(-42), "i64"),
        (Value::Int(i64::MAX), "i64"),
        (Value::Float(2.5), "f64"),
        (str("héllo"), "string"),
        (Value::Bytes(vec![0, 1, 255]), "blob"),
        (
            Value::Seq(vec![
                Value::Int(1),
                str("a"),
                Value::Seq(vec![Value::Bool(false)]),
            ]),
            "array",
        ),
        (
            map(&[
                ("a", Value::Int(1)),
                ("b", Value::Seq(vec![map(&[("c", Value::Bytes(vec![7]))])])),
            ]),
            "map",
        ),
    ];
    for (value, type_name) in cases {
        s.set("v", value.clone()).await.unwrap();
        assert_eq!(eval(&s, "type_of(v)").await.unwrap(), str(type_name), "{value:?}");
        assert_eq!(eval(&s, "v").await.unwrap(), value, "round trip of {type_name}");
        assert_eq!(s.get("v").await, Some(value));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn script_values_come_out_as_framework_values() {
    let s = Session::new(&limits());
    let v = eval(
        &s,
        r#"[(), true, 3, 1.5, "s", 'c', blob(2, 9), #{ z: [1, #{ y: 2 }], a: () }]"#,
    )
    .await
    .unwrap();
    let expected = Value::Seq(vec![
        Value::Unit,
        Value::Bool(true),
        Value::Int(3),
        Value::Float(1.5),
        str("s"),
        str("c"),
        Value::Bytes(vec![9, 9]),
        // rhai sorts a map's keys.
        map(&[
            ("a", Value::Unit),
            ("z", Value::Seq(vec![Value::Int(1), map(&[("y", Value::Int(2))])])),
        ]),
    ]);
    assert_eq!(v, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_values_are_converted_as_documented() {
    let s = Session::new(&limits());
    // A map with a non-string key becomes an array of [key, value] pairs.
    let pairs = Value::Map(vec![(Value::Int(1), str("one")), (Value::Int(2), str("two"))]);
    s.set("m", pairs).await.unwrap();
    assert_eq!(eval(&s, "m[1][1]").await.unwrap(), str("two"));
    // An unsigned integer over i64::MAX does not fit a script integer.
    let err = s.set("big", Value::UInt(u64::MAX)).await.unwrap_err();
    assert!(err.message.contains("over the largest script integer"), "{err:?}");
    // A script value with no framework counterpart fails to cross, naming its type.
    let err = eval(&s, "timestamp()").await.unwrap_err();
    assert_eq!(err.type_name, SCRIPT_ERROR);
    assert!(err.message.contains("timestamp"), "{err:?}");
    // Too deep a value is refused rather than overflowing the stack.
    let err = eval(&s, "let a = []; for i in 0..200 { a = [a]; } a")
        .await
        .unwrap_err();
    assert!(err.message.contains("nested deeper than"), "{err:?}");
}

// ---- the namespace ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn execute_defines_functions_eval_uses_them() {
    let s = Session::new(&limits());
    execute(&s, "fn square(x) { x * x }").await.unwrap();
    assert_eq!(eval(&s, "square(7) + 1").await.unwrap(), Value::Int(50));
    execute(&s, "let total = square(3);").await.unwrap();
    assert_eq!(eval(&s, "total += 1; total").await.unwrap(), Value::Int(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_get_set_and_names() {
    let s = Session::new(&limits());
    s.set("greeting", str("hi")).await.unwrap();
    execute(&s, "let count = 2; fn twice(x) { x * 2 }").await.unwrap();
    assert_eq!(s.get("count").await, Some(Value::Int(2)));
    assert_eq!(s.get("greeting").await, Some(str("hi")));
    assert_eq!(s.get("missing").await, None);
    assert_eq!(s.names().await, ["count", "greeting", "twice"]);
    assert_eq!(eval(&s, r#"greeting + " there""#).await.unwrap(), str("hi there"));
    // A function read from the namespace is a callable object.
    let Some(Value::Object(f)) = s.get("twice").await else {
        panic!("twice is not an object")
    };
    let f = f.local().unwrap().downcast::<ScriptFunction>().unwrap();
    assert_eq!(f.params(), ["x"]);
}

// ---- errors -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn script_errors_carry_line_and_column() {
    let s = Session::new(&limits());
    let err = eval(&s, "let x = 1;\nx + nope").await.unwrap_err();
    assert_eq!(err.kind, RemoteErrorKind::Application);
    assert_eq!(err.type_name, SCRIPT_ERROR);
    assert!(err.message.contains("Variable not found: nope"), "{err:?}");
    assert!(err.message.ends_with("(line 2, column 5)"), "{err:?}");

    let err = eval(&s, "let y = ;").await.unwrap_err();
    assert!(err.message.starts_with("Syntax error"), "{err:?}");
    assert!(err.message.contains("line 1, column"), "{err:?}");

    let err = eval(&s, r#"throw "custom""#).await.unwrap_err();
    assert!(err.message.contains("custom"), "{err:?}");
    // The session goes on.
    assert_eq!(eval(&s, "1 + 1").await.unwrap(), Value::Int(2));
}
