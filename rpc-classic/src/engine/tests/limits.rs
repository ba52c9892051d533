//! The limits: wall time, busy sessions, call depth, sizes and operations.

#![allow(clippy::unwrap_used)]

use super::*;

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
