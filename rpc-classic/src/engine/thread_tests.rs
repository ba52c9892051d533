//! Tests of the session's thread: one per session, reused, ending when idle, closed or dropped
//! and started again on demand; requests that give up waiting never run.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rpc_core::{NetRef, RemoteError, Value};

use super::tests::{eval, execute, limits, served, with_wall_time};
use super::*;

/// Until `done` holds, or fails after 5 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `code` evaluated on `s` in a task of its own.
fn spawn_eval(s: &Session, code: &'static str) -> tokio::task::JoinHandle<Result<Value, RemoteError>> {
    let s = s.clone();
    tokio::spawn(async move { eval(&s, code).await })
}

/// Collects the session's output lines.
fn lines_of(s: &Session) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    s.set_output(Some(Arc::new(move |line| sink.lock().push(line))));
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn one_thread_runs_every_request_of_a_session() {
    let (client, _server, session) = served(limits()).await;
    // The output sink runs on the thread that runs the script: it notes which one.
    let seen = Arc::new(Mutex::new(Vec::<(ThreadId, Option<String>)>::new()));
    let note = seen.clone();
    session.set_output(Some(Arc::new(move |_| {
        let me = std::thread::current();
        note.lock().push((me.id(), me.name().map(str::to_owned)));
    })));
    let root = client.root();
    for i in 0..10_i64 {
        let v: i64 = root
            .call("eval", (format!("print({i}); {i} * 2"),))
            .await
            .unwrap();
        assert_eq!(v, i * 2);
    }
    root.call::<()>("execute", ("fn f(x) { print(x); x }",))
        .await
        .unwrap();
    let f: NetRef = root.call("teleport", ("|x| f(x) + 1",)).await.unwrap();
    assert_eq!(f.call_self::<i64>((1,)).await.unwrap(), 2);
    root.call::<()>("set", ("v", 5_i64)).await.unwrap();
    assert_eq!(root.call::<i64>("get", ("v",)).await.unwrap(), 5);

    let seen = seen.lock();
    assert_eq!(seen.len(), 11);
    let (first, name) = &seen[0];
    assert!(seen.iter().all(|(id, _)| id == first), "{seen:?}");
    assert_ne!(*first, std::thread::current().id());
    assert_eq!(name.as_deref(), Some("rpc-classic-script"));
    assert_eq!(session.0.shared.thread.started(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_thread_ends_and_the_next_request_starts_another() {
    let s = Session::with_idle(&limits(), Duration::from_millis(100));
    let thread = s.0.shared.thread.clone();
    assert!(!thread.alive(), "no thread before the first request");
    execute(&s, "let kept = 40; fn plus(x) { x + 1 }").await.unwrap();
    let inc = s.teleport("|x| plus(x)").await.unwrap();
    assert_eq!(thread.started(), 1);
    eventually("the idle thread's end", || !thread.alive()).await;

    // The scope and the functions outlive the thread.
    assert_eq!(eval(&s, "plus(kept) + 1").await.unwrap(), Value::Int(42));
    assert_eq!(thread.started(), 2);
    eventually("the idle thread's end", || !thread.alive()).await;
    let inc = inc.downcast::<ScriptFunction>().unwrap();
    let answer = match s.call_function(inc.fn_ptr(), vec![Value::Int(1)]) {
        Submitted::Answered(answer) => answer,
        Submitted::Pending(pending) => pending.answer().await,
    };
    assert_eq!(answer.unwrap(), Value::Int(2));
    assert_eq!(thread.started(), 3);
    eventually("the idle thread's end", || !thread.alive()).await;
    assert_eq!(s.get("kept").await, Some(Value::Int(40)));
    assert_eq!(thread.started(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_gave_up_waiting_never_runs() {
    let wall = Duration::from_millis(300);
    let s = Session::new(&with_wall_time(wall));
    let lines = lines_of(&s);
    let start = Instant::now();
    // `a` runs first, then `b` (queued behind it): `c` waits behind both, longer than its own
    // wall time, and gives up while `b` runs.
    let a = spawn_eval(&s, r#"print("a"); loop {}"#);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let b = spawn_eval(&s, r#"print("b"); loop {}"#);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waited = Instant::now();
    let err = eval(&s, r#"print("c"); 1"#).await.unwrap_err();
    assert_eq!(err.type_name, SESSION_BUSY, "{err:?}");
    assert!(err.message.contains("busy"), "{err:?}");
    assert!(waited.elapsed() >= wall, "gave up after {:?}", waited.elapsed());
    // One whose caller stops waiting (a cancelled request) is withdrawn too.
    let dropped = tokio::time::timeout(Duration::from_millis(20), eval(&s, r#"print("d"); 2"#)).await;
    assert!(dropped.is_err(), "it ran while b was running: {dropped:?}");

    assert_eq!(a.await.unwrap().unwrap_err().type_name, SCRIPT_LIMIT);
    assert_eq!(b.await.unwrap().unwrap_err().type_name, SCRIPT_LIMIT);
    assert!(start.elapsed() >= wall * 2);
    // The session goes on; neither `c` nor `d` ever ran.
    assert_eq!(eval(&s, r#"print("e"); 3"#).await.unwrap(), Value::Int(3));
    assert_eq!(*lines.lock(), ["a", "b", "e"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_refuses_queued_requests_and_ends_the_thread() {
    let s = Session::new(&with_wall_time(Duration::from_millis(500)));
    let lines = lines_of(&s);
    let running = spawn_eval(&s, "loop {}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let queued = spawn_eval(&s, r#"print("queued"); 1"#);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let closed = Instant::now();
    s.close();
    let err = queued.await.unwrap().unwrap_err();
    assert_eq!(err.type_name, SESSION_BUSY);
    assert!(err.message.contains("closed"), "{err:?}");
    assert!(
        closed.elapsed() < Duration::from_millis(300),
        "{:?}",
        closed.elapsed()
    );
    assert_eq!(running.await.unwrap().unwrap_err().type_name, SCRIPT_LIMIT);
    let thread = s.0.shared.thread.clone();
    eventually("the closed session's thread's end", || !thread.alive()).await;
    assert!(lines.lock().is_empty());
    assert_eq!(eval(&s, "1").await.unwrap_err().type_name, SESSION_BUSY);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_session_lets_its_thread_end() {
    let s = Session::new(&limits());
    assert_eq!(eval(&s, "1").await.unwrap(), Value::Int(1));
    let thread = s.0.shared.thread.clone();
    assert!(thread.alive());
    drop(s);
    eventually("the dropped session's thread's end", || !thread.alive()).await;
}
