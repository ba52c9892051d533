//! Tests of the script engine: conversions, the namespace, errors, limits, teleport, objects,
//! output and re-entrancy.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use rpc_core::{
    memory_pair, service, Callback, Connection, NetRef, Object, Outcome, RemoteError, RemoteErrorKind,
    Service, Value, VoidService,
};

use super::*;

// ---- helpers ------------------------------------------------------------------------------

pub(super) fn limits() -> ScriptLimits {
    ScriptLimits::default()
}

pub(super) fn with_wall_time(wall_time: Duration) -> ScriptLimits {
    ScriptLimits {
        wall_time,
        // Only the clock stops a runaway here (the operation limit would, a little later, on
        // a fast machine sooner).
        max_operations: u64::MAX / 2,
        ..ScriptLimits::default()
    }
}

pub(super) async fn eval(s: &Session, code: &str) -> Result<Value, RemoteError> {
    s.eval(code).await
}

pub(super) async fn execute(s: &Session, code: &str) -> Result<(), RemoteError> {
    s.execute(code).await
}

fn str(s: &str) -> Value {
    Value::Str(s.to_owned())
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (str(k), v.clone())).collect())
}

/// A service that owns a session and exposes it, as the classic service will.
struct Classic {
    session: Session,
}

fn arg_str(args: &[Value], i: usize) -> Result<String, RemoteError> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s.clone()),
        _ => Err(RemoteError::new(
            RemoteErrorKind::BadArguments,
            "test",
            "expected a string",
        )),
    }
}

impl Service for Classic {
    fn name(&self) -> &str {
        "CLASSIC_TEST"
    }

    fn call(self: Arc<Self>, _conn: &Connection, method: &str, args: Vec<Value>) -> Outcome {
        let session = self.session.clone();
        let method = method.to_owned();
        Outcome::pending(async move {
            match method.as_str() {
                "eval" => session.eval(&arg_str(&args, 0)?).await,
                "execute" => session.execute(&arg_str(&args, 0)?).await.map(|()| Value::Unit),
                "teleport" => session
                    .teleport(&arg_str(&args, 0)?)
                    .await
                    .map(|o| Value::Object(o.into())),
                "set" => {
                    let value = args.get(1).cloned().unwrap_or_default();
                    session
                        .set(&arg_str(&args, 0)?, value)
                        .await
                        .map(|()| Value::Unit)
                }
                "get" => Ok(session.get(&arg_str(&args, 0)?).await.unwrap_or_default()),
                "names" => Ok(Value::Seq(
                    session.names().await.into_iter().map(Value::Str).collect(),
                )),
                other => Err(rpc_core::private::not_exposed("CLASSIC_TEST", other)),
            }
        })
    }

    fn on_connect(self: Arc<Self>, conn: Connection) -> BoxFuture<'static, ()> {
        self.session.set_connection(conn);
        Box::pin(async {})
    }

    fn on_disconnect(self: Arc<Self>, _conn: Connection) -> BoxFuture<'static, ()> {
        self.session.close();
        Box::pin(async {})
    }
}

/// A host-module-like object for scripts to call.
struct Calc {
    base: i64,
}

#[service]
impl Calc {
    fn exposed_add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    async fn exposed_slow_double(&self, x: i64) -> i64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        x * 2
    }

    fn exposed_fail(&self) -> Result<i64, std::io::Error> {
        Err(std::io::Error::other("it broke"))
    }

    #[attribute]
    fn exposed_base(&self) -> i64 {
        self.base
    }
}

/// A session served on one end of a memory pair; the client end and the session.
pub(super) async fn served(limits: ScriptLimits) -> (Connection, Connection, Session) {
    let session = Session::new(&limits);
    let classic = Classic {
        session: session.clone(),
    };
    let (client, server) = memory_pair(VoidService, classic).await.unwrap();
    (client, server, session)
}

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

// ---- limits -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_loop_stops_at_the_wall_time_while_other_sessions_run() {
    let wall = Duration::from_millis(1_000);
    let looping = Session::new(&with_wall_time(wall));
    let other = Session::new(&limits());
    let start = Instant::now();
    let runaway = tokio::spawn({
        let looping = looping.clone();
        async move { eval(&looping, "loop {}").await }
    });
    // Meanwhile another session evaluates, repeatedly, without waiting for the first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..5 {
        let t = Instant::now();
        assert_eq!(
            eval(&other, &format!("{i} * 2")).await.unwrap(),
            Value::Int(i * 2)
        );
        assert!(
            // Well under the wall time: not queued behind the loop (loose, for a busy machine).
            t.elapsed() < Duration::from_millis(700),
            "the other session waited"
        );
    }
    let err = runaway.await.unwrap().unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.type_name, SCRIPT_LIMIT);
    assert_eq!(
        err.message.split(" (").next().unwrap(),
        "the script ran longer than its wall-time limit of 1s"
    );
    assert!(
        took >= wall && took < wall + Duration::from_millis(1_500),
        "{took:?}"
    );
    // The session survives its limit.
    assert_eq!(eval(&looping, "40 + 2").await.unwrap(), Value::Int(42));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_eval_on_a_busy_session_waits_behind_the_first() {
    let s = Session::new(&with_wall_time(Duration::from_millis(300)));
    let first = tokio::spawn({
        let s = s.clone();
        async move { eval(&s, "loop {}").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    assert_eq!(eval(&s, "7").await.unwrap(), Value::Int(7));
    assert!(start.elapsed() >= Duration::from_millis(150), "it did not wait");
    assert_eq!(first.await.unwrap().unwrap_err().type_name, SCRIPT_LIMIT);
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_recursion_stops_at_the_call_depth() {
    let s = Session::new(&ScriptLimits {
        max_call_levels: 16,
        ..ScriptLimits::default()
    });
    execute(&s, "fn down(n) { down(n + 1) }").await.unwrap();
    let err = eval(&s, "down(0)").await.unwrap_err();
    assert_eq!(err.type_name, SCRIPT_LIMIT);
    assert!(err.message.starts_with("call depth over 16"), "{err:?}");
    // The default depth runs on the session's thread without overflowing its stack.
    let s = Session::new(&limits());
    execute(&s, "fn down(n) { if n == 0 { 0 } else { 1 + down(n - 1) } }")
        .await
        .unwrap();
    let max = i64::try_from(ScriptLimits::default().max_call_levels).unwrap() - 2;
    assert_eq!(eval(&s, &format!("down({max})")).await.unwrap(), Value::Int(max));
}

#[tokio::test(flavor = "multi_thread")]
async fn size_and_operation_limits_stop_scripts() {
    let s = Session::new(&ScriptLimits {
        max_string_size: 1000,
        max_array_size: 100,
        max_map_size: 10,
        max_operations: 10_000,
        ..ScriptLimits::default()
    });
    let err = eval(&s, r#"let s = "x"; loop { s += s; }"#).await.unwrap_err();
    assert_eq!(err.type_name, SCRIPT_LIMIT);
    assert!(
        err.message
            .starts_with("a string over the size limit of 1000 bytes"),
        "{err:?}"
    );
    let err = eval(&s, "let a = []; loop { a.push(1); }").await.unwrap_err();
    assert!(
        err.message
            .starts_with("an array over the size limit of 100 elements"),
        "{err:?}"
    );
    let err = eval(&s, "let m = #{}; for i in 0..100 { m.set(`k${i}`, i); }")
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("a map over the size limit of 10 entries"),
        "{err:?}"
    );
    // rhai does not check `m[key] = value`; the map is refused when it would leave the script.
    let err = eval(&s, "let m = #{}; for i in 0..20 { m[`k${i}`] = i; } m")
        .await
        .unwrap_err();
    assert!(
        err.message.contains("a map over the size limit of 10 entries"),
        "{err:?}"
    );
    let err = eval(&s, "let i = 0; while i < 1000000 { i += 1; }")
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("too many operations (limit 10000)"),
        "{err:?}"
    );
    // A huge value from the client is refused too.
    s.set("big", str(&"y".repeat(2000))).await.unwrap();
    let err = eval(&s, "big + big").await.unwrap_err();
    assert_eq!(err.type_name, SCRIPT_LIMIT, "{err:?}");
}

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
