//! Callbacks: local closures the peer calls back, now or later, often, concurrently, nested.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use parking_lot::Mutex;
use rpc::{service, Callback, Connection, ConnectionConfig, Error, RemoteErrorKind, VoidService};

use crate::harness::{eventually, pair_with, Pair, Transport, TRANSPORTS};

/// What a failing callback returns.
#[derive(Debug, thiserror::Error)]
#[error("the client refuses {0}")]
pub struct Refusal(i64);

/// A server that calls its clients back.
#[derive(Default)]
pub struct EventHub {
    subscribers: Mutex<Vec<Callback>>,
}

#[service]
impl EventHub {
    /// RPyC's tutorial: a remote `map` with a local function.
    async fn exposed_map(&self, f: Callback, xs: Vec<i64>) -> Result<Vec<i64>, Error> {
        let mut out = Vec::with_capacity(xs.len());
        for x in xs {
            out.push(f.call((x,)).await?);
        }
        Ok(out)
    }

    /// Calls `f` `n` times, `parallel` at a time; returns the sum of what it answered.
    async fn exposed_hammer(&self, f: Callback, n: usize, parallel: usize) -> Result<i64, Error> {
        let mut sum = 0;
        let mut left = n;
        while left > 0 {
            let batch = left.min(parallel);
            let calls = (0..batch).map(|i| f.call::<i64>((i as i64,)));
            for r in join_all(calls).await {
                sum += r?;
            }
            left -= batch;
        }
        Ok(sum)
    }

    /// Keeps the callback to call it later.
    fn exposed_subscribe(&self, on_event: Callback) {
        self.subscribers.lock().push(on_event);
    }

    /// Sends an event to every subscriber; returns how many got it.
    async fn exposed_emit(&self, event: String) -> Result<usize, Error> {
        let subscribers = self.subscribers.lock().clone();
        for s in &subscribers {
            s.call::<()>((event.clone(),)).await?;
        }
        Ok(subscribers.len())
    }

    fn exposed_unsubscribe_all(&self) {
        self.subscribers.lock().clear();
    }

    /// Calls `f` and reports how it failed, if it did.
    async fn exposed_try_call(&self, f: Callback, x: i64) -> String {
        match f.call::<i64>((x,)).await {
            Ok(v) => format!("ok {v}"),
            Err(Error::Remote(e)) => format!("{:?}: {}", e.kind, e.message),
            Err(other) => format!("local: {other}"),
        }
    }

    /// Passes `n` to `f`, which may call back in here: a ping-pong `n` levels deep.
    async fn exposed_ping(&self, f: Callback, n: u32) -> Result<u32, Error> {
        if n == 0 {
            return Ok(0);
        }
        let below: u32 = f.call((n - 1,)).await?;
        Ok(below + 1)
    }

    /// Passes the caller's callback `f` on, as an argument, to the caller's callback `g`.
    async fn exposed_pass_on(&self, f: Callback, g: Callback, x: i64) -> Result<i64, Error> {
        g.call((f, x)).await
    }

    fn exposed_exported(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }
}

async fn hub_pair(t: Transport) -> Pair {
    pair_with(t, VoidService, EventHub::default(), ConnectionConfig::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_map_with_a_local_closure() {
    for t in TRANSPORTS {
        let p = hub_pair(t).await;
        let cube = p.client.callback(|x: i64| x * x * x);
        let cubes: Vec<i64> = p
            .client
            .root()
            .call("map", (cube, vec![1, 2, 3]))
            .await
            .expect("map");
        assert_eq!(cubes, vec![1, 8, 27], "{t:?}");
        // Async closures and several arguments work too.
        let add = Callback::new(|a: i64| async move {
            tokio::task::yield_now().await;
            a + 100
        });
        let got: Vec<i64> = p
            .client
            .root()
            .call("map", (add, vec![1]))
            .await
            .expect("async map");
        assert_eq!(got, vec![101]);
        eventually("the server released both callbacks", || {
            p.client.stats().exported_objects == 0
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_callback_is_called_after_the_call_returned() {
    for t in TRANSPORTS {
        let p = hub_pair(t).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let on_event = Callback::new(move |ev: String| {
            let _ = tx.send(ev);
        });
        p.client
            .root()
            .call::<()>("subscribe", (on_event,))
            .await
            .expect("subscribe");
        assert_eq!(p.client.stats().exported_objects, 1, "the server keeps it");
        for ev in ["one", "two"] {
            assert_eq!(
                p.client.root().call::<usize>("emit", (ev,)).await.expect("emit"),
                1
            );
        }
        assert_eq!(rx.recv().await.as_deref(), Some("one"));
        assert_eq!(rx.recv().await.as_deref(), Some("two"));
        p.client
            .root()
            .call::<()>("unsubscribe_all", ())
            .await
            .expect("unsubscribe");
        for _ in 0..500 {
            if p.client.stats().exported_objects == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(
            p.client.stats().exported_objects,
            0,
            "{t:?}: released after the server dropped it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_called_a_hundred_thousand_times() {
    let p = hub_pair(Transport::Tcp).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let f = Callback::new(move |x: i64| {
        counter.fetch_add(1, Ordering::Relaxed);
        x
    });
    let n = 100_000usize;
    let sum: i64 = p
        .client
        .root()
        .with_timeout(Some(Duration::from_secs(120)))
        .call("hammer", (f, n, 64))
        .await
        .expect("hammer");
    assert_eq!(calls.load(Ordering::Relaxed), n);
    let per_batch: i64 = (0..64).sum();
    assert_eq!(
        sum,
        per_batch * (n as i64 / 64) + (0..(n as i64 % 64)).sum::<i64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_panicking_callbacks_give_the_server_remote_errors() {
    for t in TRANSPORTS {
        let p = hub_pair(t).await;
        let root = p.client.root();
        let refuse = Callback::new(|x: i64| if x < 0 { Err(Refusal(x)) } else { Ok(x) });
        let got: String = root.call("try_call", (refuse.clone(), 5)).await.expect("ok");
        assert_eq!(got, "ok 5");
        let got: String = root.call("try_call", (refuse, -1)).await.expect("answered");
        assert_eq!(got, "Application: the client refuses -1");
        let boom = Callback::new(|_x: i64| -> i64 { panic!("callback boom") });
        let got: String = root.call("try_call", (boom, 1)).await.expect("answered");
        assert_eq!(
            got,
            format!("{:?}: method panicked: callback boom", RemoteErrorKind::Panic)
        );
        let wrong = Callback::new(|s: String| s);
        let got: String = root.call("try_call", (wrong, 1)).await.expect("answered");
        assert!(
            got.starts_with("BadArguments: callback(): argument 1 `a`"),
            "{got}"
        );
        // Both sides keep serving.
        let id = Callback::new(|x: i64| x);
        assert_eq!(
            root.call::<String>("try_call", (id, 7)).await.expect("alive"),
            "ok 7",
            "{t:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_nest_sixty_four_deep_on_one_connection() {
    for t in TRANSPORTS {
        let p = hub_pair(t).await;
        let root = p.client.root();
        // The client's callback calls the server's `ping` again, passing itself on, which
        // calls the callback... A recursive callback gets itself as its first argument.
        let r = root.clone();
        let bounce = Callback::recursive(move |me: Callback, n: u32| {
            let root = r.clone();
            async move { root.call::<u32>("ping", (me, n)).await }
        });
        let depth = tokio::time::timeout(Duration::from_secs(30), root.call::<u32>("ping", (bounce, 64)))
            .await
            .expect("no deadlock")
            .expect("ping");
        // Each level counts once on the server and the client forwards unchanged.
        assert_eq!(depth, 64, "{t:?}");
        // Holding itself only while it runs, it is released like any callback.
        eventually("the recursive callback released", || {
            p.client.stats().exported_objects == 0
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_passed_on_arrives_home_as_itself() {
    for t in TRANSPORTS {
        let p = hub_pair(t).await;
        let double = Callback::new(|x: i64| 2 * x);
        // `g` receives `f` back from the server: it is this side's own closure again, and
        // calling it runs it here without a round trip.
        let g = Callback::new(|f: Callback, x: i64| async move {
            assert!(
                f.netref().is_none(),
                "a callback sent home is the original, not a proxy"
            );
            f.call::<i64>((x,)).await
        });
        let got: i64 = p
            .client
            .root()
            .call("pass_on", (double, g, 21))
            .await
            .expect("passed on");
        assert_eq!(got, 42, "{t:?}");
        eventually("both callbacks released", || {
            p.client.stats().exported_objects == 0
        })
        .await;
    }
}
