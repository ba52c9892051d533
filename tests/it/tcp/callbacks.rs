//! Callbacks of three to eight arguments over loopback TCP: called at once, concurrently, kept
//! and called after the call that passed them returned, async and fallible ones, and called
//! with the wrong number of arguments. Every callback is released when the server lets go.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::join_all;
use parking_lot::Mutex;
use rpc::server::Server;
use rpc::{service, Callback, Connection, ConnectionConfig, Error, RemoteErrorKind, VoidService};
use serde::{Deserialize, Serialize};

use super::connect;
use crate::harness::eventually;
use crate::raw::{guard, start};

/// A struct argument among the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    x: i32,
    y: i32,
}

/// Calls its clients back with several arguments.
#[derive(Default)]
struct Caller {
    kept: Mutex<Option<Callback>>,
}

#[service]
impl Caller {
    async fn exposed_three(&self, f: Callback, s: String, n: i64, bytes: Vec<u8>) -> Result<String, Error> {
        f.call((s, n, bytes)).await
    }

    async fn exposed_eight(&self, f: Callback) -> Result<String, Error> {
        let args = (
            1u8,
            -2i16,
            3u32,
            -4i64,
            5.5f64,
            "six",
            vec![Some(7i32), None],
            Point { x: 8, y: -8 },
        );
        f.call(args).await
    }

    /// Calls `f(i, -i, "i")` for `i` in `0..n`, `parallel` at a time; sums the answers.
    async fn exposed_hammer(&self, f: Callback, n: i64, parallel: usize) -> Result<i64, Error> {
        let mut sum = 0;
        let mut next = 0;
        while next < n {
            let batch: Vec<i64> = (next..n).take(parallel).collect();
            next += batch.len() as i64;
            let calls = batch.iter().map(|&i| f.call::<i64>((i, -i, i.to_string())));
            for r in join_all(calls).await {
                sum += r?;
            }
        }
        Ok(sum)
    }

    /// Calls `f` with `a` and `b` only, and reports how that went.
    async fn exposed_two_of_three(&self, f: Callback, a: i64, b: i64) -> String {
        match f.call::<i64>((a, b)).await {
            Ok(v) => format!("ok {v}"),
            Err(Error::Remote(e)) => format!("{:?}: {}", e.kind, e.message),
            Err(other) => format!("local: {other}"),
        }
    }

    fn exposed_keep(&self, f: Callback) {
        *self.kept.lock() = Some(f);
    }

    async fn exposed_call_kept(&self, a: String, b: u32, c: bool) -> Result<String, Error> {
        let f = self.kept.lock().clone();
        match f {
            Some(f) => f.call((a, b, c)).await,
            None => Ok("nothing kept".to_owned()),
        }
    }

    fn exposed_forget(&self) {
        self.kept.lock().take();
    }

    fn exposed_imported(&self, conn: &Connection) -> usize {
        conn.stats().imported_objects
    }
}

async fn caller_pair() -> (crate::raw::Running, Connection) {
    let server = start(Server::new(Caller::default)).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    (server, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_of_three_and_eight_arguments() {
    let (_server, conn) = caller_pair().await;
    let root = conn.root();
    let three = Callback::new(|s: String, n: i64, bytes: Vec<u8>| format!("{s}/{n}/{bytes:?}"));
    let got: String = guard("three", root.call("three", (three, "a", -7, vec![1u8, 2, 255])))
        .await
        .expect("three");
    assert_eq!(got, "a/-7/[1, 2, 255]");
    #[allow(clippy::too_many_arguments)]
    fn show(a: u8, b: i16, c: u32, d: i64, e: f64, f: String, g: Vec<Option<i32>>, h: Point) -> String {
        format!("{a} {b} {c} {d} {e} {f} {g:?} {h:?}")
    }
    let eight = Callback::new(show);
    let got: String = guard("eight", root.call("eight", (eight,))).await.expect("eight");
    assert_eq!(got, "1 -2 3 -4 5.5 six [Some(7), None] Point { x: 8, y: -8 }");
    eventually("every callback released", || conn.stats().exported_objects == 0).await;
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallible_async_callbacks_and_wrong_arity() {
    let (_server, conn) = caller_pair().await;
    let root = conn.root();
    let picky = Callback::new(|s: String, n: i64, bytes: Vec<u8>| async move {
        tokio::task::yield_now().await;
        if n < 0 {
            Err(std::io::Error::other(format!("{s} refuses {n}")))
        } else {
            Ok(format!("{s}{n}:{}", bytes.len()))
        }
    });
    let got: String = guard(
        "three",
        root.call("three", (picky.clone(), "ok", 3, vec![0u8; 5])),
    )
    .await
    .expect("three");
    assert_eq!(got, "ok3:5");
    let e = guard(
        "three",
        root.call::<String>("three", (picky, "bob", -3, vec![0u8])),
    )
    .await
    .expect_err("refused");
    match e {
        Error::Remote(r) => {
            assert_eq!(r.kind, RemoteErrorKind::Application);
            assert_eq!(r.type_name, "std::io::error::Error");
            assert_eq!(r.message, "bob refuses -3");
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    let add3 = Callback::new(|a: i64, b: i64, c: i64| a + b + c);
    let got: String = guard("two_of_three", root.call("two_of_three", (add3, 1, 2)))
        .await
        .expect("answered");
    assert_eq!(got, "BadArguments: callback() takes 3 arguments but 2 were given");
    eventually("every callback released", || conn.stats().exported_objects == 0).await;
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_argument_callback_called_concurrently() {
    let (_server, conn) = caller_pair().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let f = Callback::new(move |i: i64, minus: i64, text: String| {
        counter.fetch_add(1, Ordering::SeqCst);
        assert_eq!(minus, -i);
        let parsed: i64 = text.parse().expect("a number");
        parsed + i
    });
    let n = 2_000i64;
    let sum: i64 = guard("hammer", conn.root().call("hammer", (f, n, 32usize)))
        .await
        .expect("hammer");
    assert_eq!(calls.load(Ordering::SeqCst), n as usize);
    assert_eq!(sum, 2 * (0..n).sum::<i64>());
    eventually("the callback released", || conn.stats().exported_objects == 0).await;
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_three_argument_callback_is_called_after_the_call_returned() {
    let (_server, conn) = caller_pair().await;
    let root = conn.root();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let f = Callback::new(move |a: String, b: u32, c: bool| {
        let _ = tx.send((a.clone(), b, c));
        format!("{a}:{b}:{c}")
    });
    guard("keep", root.call::<()>("keep", (f,))).await.expect("keep");
    assert_eq!(conn.stats().exported_objects, 1, "the server holds it");
    assert_eq!(
        guard("imported", root.call::<usize>("imported", ()))
            .await
            .expect("imported"),
        1
    );
    for (a, b, c) in [("one", 1u32, true), ("two", 2, false)] {
        let got: String = guard("call_kept", root.call("call_kept", (a, b, c)))
            .await
            .expect("called later");
        assert_eq!(got, format!("{a}:{b}:{c}"));
        assert_eq!(
            guard("the callback's report", rx.recv()).await,
            Some((a.to_owned(), b, c))
        );
    }
    guard("forget", root.call::<()>("forget", ()))
        .await
        .expect("forget");
    eventually("released after the server dropped it", || {
        conn.stats().exported_objects == 0
    })
    .await;
    assert_eq!(
        guard("imported", root.call::<usize>("imported", ()))
            .await
            .expect("imported"),
        0
    );
    conn.close().await;
}
