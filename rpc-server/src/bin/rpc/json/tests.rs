use super::*;

fn arg(text: &str) -> Result<Value, String> {
    arguments(&[text.to_owned()]).map(|mut v| v.remove(0))
}

fn out(value: &Value) -> String {
    from_value(value, &|_| "<ref ?>".to_owned()).to_string()
}

#[test]
fn every_json_type_becomes_a_value() {
    assert_eq!(arg("null"), Ok(Value::Unit));
    assert_eq!(arg("true"), Ok(Value::Bool(true)));
    assert_eq!(arg("-7"), Ok(Value::Int(-7)));
    assert_eq!(arg("18446744073709551615"), Ok(Value::UInt(u64::MAX)));
    assert_eq!(arg("2.5"), Ok(Value::Float(2.5)));
    assert_eq!(arg("\"hi\""), Ok(Value::Str("hi".into())));
    assert_eq!(
        arg("[1, [\"a\"]]"),
        Ok(Value::Seq(vec![
            Value::Int(1),
            Value::Seq(vec![Value::Str("a".into())])
        ]))
    );
    assert_eq!(
        arg("{\"b\": 1, \"a\": null}"),
        Ok(Value::Map(vec![
            (Value::Str("b".into()), Value::Int(1)),
            (Value::Str("a".into()), Value::Unit),
        ])),
        "keys keep their order"
    );
    assert_eq!(
        arg("{\"$bytes\": \"AAEC/w==\"}"),
        Ok(Value::Bytes(vec![0, 1, 2, 255]))
    );
    assert_eq!(arg("{\"$bytes\": \"\"}"), Ok(Value::Bytes(vec![])));
}

#[test]
fn bad_arguments_are_named_and_located() {
    let e = arguments(&["1".into(), "{oops".into()]).expect_err("not JSON");
    assert!(e.starts_with("argument 2 (\"{oops\"): not JSON"), "{e}");
    assert!(e.contains("quotes"), "says how to write a string: {e}");

    let e = arg("hello").expect_err("a bare word");
    assert!(e.starts_with("argument 1 (\"hello\"): not JSON"), "{e}");

    let e = arg("{\"files\": [1, {\"$bytes\": \"!!\"}]}").expect_err("bad base64");
    assert!(
        e.contains("at .files[1]: {\"$bytes\": \"<base64>\"} takes standard base64"),
        "{e}"
    );
    let e = arg("{\"$bytes\": 5}").expect_err("not a string");
    assert!(e.ends_with("takes a string"), "{e}");
    let e = arg("{\"$bytes\": \"\", \"x\": 1}").expect_err("other keys");
    assert!(e.contains("no other keys"), "{e}");

    let long = format!("\"{}", "x".repeat(100));
    let e = arg(&long).expect_err("unterminated");
    assert!(
        e.len() < 200 && e.contains('…'),
        "long arguments are shortened: {e}"
    );
}

#[test]
fn values_become_json() {
    assert_eq!(out(&Value::Unit), "null");
    assert_eq!(out(&Value::Bool(false)), "false");
    assert_eq!(out(&Value::Int(i64::MIN)), i64::MIN.to_string());
    assert_eq!(out(&Value::UInt(u64::MAX)), u64::MAX.to_string());
    assert_eq!(out(&Value::Float(2.0)), "2.0");
    assert_eq!(out(&Value::Float(f64::NAN)), "\"NaN\"");
    assert_eq!(out(&Value::Float(f64::NEG_INFINITY)), "\"-inf\"");
    assert_eq!(out(&Value::Str("a\"b".into())), "\"a\\\"b\"");
    assert_eq!(out(&Value::Bytes(vec![0, 1, 2, 255])), "\"AAEC/w==\"");
    let map = Value::Map(vec![
        (Value::Str("z".into()), Value::Seq(vec![Value::Int(1)])),
        (Value::Int(7), Value::Unit),
        (Value::Seq(vec![Value::Bool(true)]), Value::Unit),
    ]);
    assert_eq!(out(&map), "{\"z\":[1],\"7\":null,\"[true]\":null}");
}

#[test]
fn arguments_come_back_as_they_went() {
    for text in [
        "null",
        "[1,-2,3.5,\"x\",true]",
        "{\"b\":{\"a\":[]},\"a\":18446744073709551615}",
    ] {
        let value = arg(text).expect(text);
        assert_eq!(out(&value), text);
    }
}

#[test]
fn references_are_found_everywhere() {
    assert!(references(&Value::Seq(vec![Value::Int(1), Value::Map(vec![])])).is_empty());
}
