//! Teleported functions, bound objects, client callbacks and netrefs, output.

#![allow(clippy::unwrap_used)]

use super::*;

// ---- teleport -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn teleported_functions_are_callable_locally_and_through_netrefs() {
    let (client, server, session) = served(limits()).await;

    // Directly through Service::call_self.
    let cube = session.teleport("|x| x * x * x").await.unwrap();
    let described = cube.service().describe();
    assert_eq!(described.methods[0].name, "__call__");
    assert_eq!(
        described.methods[0].params,
        [("x".to_owned(), "Dynamic".to_owned())]
    );
    // Answered at once (Ready) when the session's thread is quick, else Pending.
    let answer = match cube.service().clone().call_self(&server, vec![Value::Int(3)]) {
        Outcome::Ready(answer) => answer,
        Outcome::Pending(fut) => fut.await,
    };
    assert_eq!(answer.unwrap(), Value::Int(27));

    // Through the peer: the client teleports a closure and a `fn`.
    let root = client.root();
    let cube: NetRef = root.call("teleport", ("|x| x * x * x",)).await.unwrap();
    assert_eq!(cube.call_self::<i64>((3,)).await.unwrap(), 27);
    let d = cube.describe().await.unwrap();
    assert_eq!(d.methods[0].params[0].0, "x");
    let add: NetRef = root.call("teleport", ("fn add(a, b) { a + b }",)).await.unwrap();
    assert_eq!(add.call_self::<i64>((2, 40)).await.unwrap(), 42);
    assert_eq!(add.display().await.unwrap(), "fn add(a, b)");
    // The `fn` joined the namespace; a closure with a capture keeps it.
    assert_eq!(root.call::<i64>("eval", ("add(1, 2)",)).await.unwrap(), 3);
    let plus: NetRef = root.call("teleport", ("let k = 10; |x| x + k",)).await.unwrap();
    assert_eq!(plus.call_self::<i64>((5,)).await.unwrap(), 15);
    // A closure returned by eval crosses as a callable too.
    let inc: NetRef = root.call("eval", ("|x| x + 1",)).await.unwrap();
    assert_eq!(inc.call_self::<i64>((1,)).await.unwrap(), 2);
    // Script errors and limits inside a teleported call.
    let err = add.call_self::<i64>((1,)).await.unwrap_err();
    assert!(
        err.as_remote().unwrap().message.contains("Function not found"),
        "{err:?}"
    );
    assert!(session
        .teleport("1 + 1")
        .await
        .unwrap_err()
        .message
        .contains("teleport: expected a closure"));

    // Freed when the last NetRef goes.
    drop((cube, add, plus, inc));
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().exported_objects > 0 {
        assert!(
            Instant::now() < deadline,
            "the teleported functions were not released"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- objects ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn scripts_call_bound_local_objects() {
    let (_client, _server, session) = served(limits()).await;
    session.bind("calc", Object::new(Calc { base: 100 }).into());
    assert_eq!(eval(&session, "calc.add(2, 3)").await.unwrap(), Value::Int(5));
    assert_eq!(
        eval(&session, "calc.slow_double(21)").await.unwrap(),
        Value::Int(42)
    );
    assert_eq!(eval(&session, "calc.base + 1").await.unwrap(), Value::Int(101));
    assert_eq!(eval(&session, r#"calc["base"]"#).await.unwrap(), Value::Int(100));
    assert_eq!(
        eval(&session, r#"invoke(calc, "add", [1, 1])"#).await.unwrap(),
        Value::Int(2)
    );
    assert_eq!(eval(&session, "type_of(calc)").await.unwrap(), str("Object"));
    let err = eval(&session, "\ncalc.fail()").await.unwrap_err();
    assert!(
        err.message.contains("method fail failed") && err.message.contains("it broke"),
        "{err:?}"
    );
    let err = eval(&session, "calc.nope()").await.unwrap_err();
    assert!(err.message.contains("nope"), "{err:?}");
    // Bound names are constants, listed among the names.
    assert!(session.set("calc", Value::Int(1)).await.is_err());
    assert!(session.names().await.contains(&"calc".to_owned()));
    // A session without a connection says why it cannot call a local object.
    let lonely = Session::new(&limits());
    lonely.bind("calc", Object::new(Calc { base: 1 }).into());
    let err = eval(&lonely, "calc.add(1, 2)").await.unwrap_err();
    assert!(err.message.contains("no connection"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_call_client_callbacks_and_netrefs() {
    let (client, _server, _session) = served(limits()).await;
    let root = client.root();
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = heard.clone();
    let notify = Callback::new(move |s: String| h.lock().push(s));
    root.call::<()>("set", ("notify", notify)).await.unwrap();
    root.call::<()>("execute", (r#"notify("from the server")"#,))
        .await
        .unwrap();
    root.call::<()>("execute", (r#"notify.call_self("again")"#,))
        .await
        .unwrap();
    assert_eq!(*heard.lock(), ["from the server", "again"]);

    // Arguments and results are converted both ways.
    let shout = Callback::new(|s: String, n: i64| vec![s.to_uppercase(); usize::try_from(n).unwrap_or(0)]);
    root.call::<()>("set", ("shout", shout)).await.unwrap();
    let v: Vec<String> = root.call("eval", (r#"shout("hey", 2)"#,)).await.unwrap();
    assert_eq!(v, ["HEY", "HEY"]);

    // A callback's error reaches the script, which reports it.
    let failing =
        Callback::new(|| -> Result<i64, std::io::Error> { Err(std::io::Error::other("client says no")) });
    root.call::<()>("set", ("failing", failing)).await.unwrap();
    let err = root.call::<i64>("eval", ("failing()",)).await.unwrap_err();
    assert!(
        err.as_remote().unwrap().message.contains("client says no"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wall_time_stops_a_wait_on_a_slow_remote_call() {
    let (client, _server, _session) = served(with_wall_time(Duration::from_millis(300))).await;
    let root = client.root();
    let slow = Callback::new(|| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        1_i64
    });
    root.call::<()>("set", ("slow", slow)).await.unwrap();
    let start = Instant::now();
    let err = root.call::<i64>("eval", ("slow()",)).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(err.as_remote().unwrap().type_name, SCRIPT_LIMIT, "{err:?}");
}

// ---- output -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn output_goes_to_the_sink_and_back() {
    let s = Session::new(&limits());
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = lines.clone();
    s.set_output(Some(Arc::new(move |line| l.lock().push(line))));
    execute(&s, "print(\"hello\"); print(40 + 2);\ndebug(\"dbg\");")
        .await
        .unwrap();
    assert_eq!(*lines.lock(), ["hello", "42", "[line 2] \"dbg\""]);
    s.set_output(None);
    execute(&s, "print(\"to the log\")").await.unwrap();
    assert_eq!(lines.lock().len(), 3);
}
