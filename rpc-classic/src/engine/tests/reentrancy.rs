//! Re-entrant evaluation on the session running its caller, and closing.

#![allow(clippy::unwrap_used)]

use super::*;

// ---- re-entrancy --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_callback_may_eval_on_the_session_running_its_caller() {
    let (client, _server, session) = served(limits()).await;
    let root = client.root();
    root.call::<()>("execute", ("fn square(x) { x * x } let outer_var = 5;",))
        .await
        .unwrap();
    // The client's closure evaluates on the same session while the script waits on it.
    let r = root.clone();
    let nested = Callback::new(move |x: i64| {
        let r = r.clone();
        async move { r.call::<i64>("eval", (format!("square({x}) + 1"),)).await }
    });
    root.call::<()>("set", ("nested", nested)).await.unwrap();
    let v: i64 = tokio::time::timeout(
        Duration::from_secs(5),
        root.call("eval", ("let a = nested(7); a * 10",)),
    )
    .await
    .expect("deadlock")
    .unwrap();
    assert_eq!(v, 500);
    // Nested, on the session's one thread.
    assert_eq!(session.0.shared.thread.started(), 1);

    // A nested eval sees functions and named objects, not the outer script's variables; its
    // `fn`s persist, its `let`s do not.
    let r = root.clone();
    let probe = Callback::new(move |code: String| {
        let r = r.clone();
        async move { r.call_value("eval", vec![Value::Str(code)]).await }
    });
    root.call::<()>("set", ("probe", probe)).await.unwrap();
    let err = root
        .call::<Value>("eval", (r#"probe("outer_var")"#,))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("outer_var"), "{err}");
    assert!(
        err.to_string().contains("does not see that script's variables"),
        "{err}"
    );
    let v: i64 = root
        .call(
            "eval",
            (r#"probe("fn cube(x) { x * x * x } let tmp = 1; cube(2)")"#,),
        )
        .await
        .unwrap();
    assert_eq!(v, 8);
    assert_eq!(root.call::<i64>("eval", ("cube(3)",)).await.unwrap(), 27);
    assert!(root.call::<i64>("eval", ("tmp",)).await.is_err());
    // Session namespace calls from inside a script work too: set takes effect after it.
    let r = root.clone();
    let setter = Callback::new(move |x: i64| {
        let r = r.clone();
        async move { r.call::<()>("set", ("from_nested", x)).await }
    });
    root.call::<()>("set", ("setter", setter)).await.unwrap();
    root.call::<()>("execute", ("setter(11)",)).await.unwrap();
    assert_eq!(root.call::<i64>("eval", ("from_nested",)).await.unwrap(), 11);
}

#[tokio::test(flavor = "multi_thread")]
async fn re_entrant_nesting_is_bounded() {
    let (client, _server, _session) = served(limits()).await;
    let root = client.root();
    // Each level calls back into the session, which calls the client again: endless, so the
    // nesting limit must stop it.
    let r = root.clone();
    let again = Callback::new(move |n: i64| {
        let r = r.clone();
        async move { r.call::<i64>("eval", (format!("again({})", n + 1),)).await }
    });
    root.call::<()>("set", ("again", again)).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), root.call::<i64>("eval", ("again(0)",)))
        .await
        .expect("deadlock")
        .unwrap_err();
    assert!(err.to_string().contains("nested deeper than 4"), "{err:#}");
    // And the session still serves.
    assert_eq!(root.call::<i64>("eval", ("1",)).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_connection_closes_the_session() {
    let (client, server, session) = served(limits()).await;
    session.bind("calc", Object::new(Calc { base: 1 }).into());
    session.set("x", Value::Int(1)).await.unwrap();
    client.close().await;
    server.closed().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while eval(&session, "1").await.is_ok() {
        assert!(Instant::now() < deadline, "the session stayed open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = eval(&session, "1").await.unwrap_err();
    assert_eq!(err.type_name, SESSION_BUSY);
    assert!(err.message.contains("closed"));
    assert!(session.names().await.is_empty());
}
