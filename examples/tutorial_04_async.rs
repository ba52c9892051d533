//! Tutorial 4 (RPyC part 4): asynchronous results. `rpc::async_(&root, "m").call::<T>(args)`
//! sends at once and returns an `AsyncResult<T>`: poll it, attach a callback, await it, let it
//! expire, or drop it (the call then runs on without us).
//!
//! Run: `cargo run --release --example tutorial_04_async`
//!
//! Page: `docs/tutorial/04-async.md`. Starts a server on 127.0.0.1 (a free port), checks every
//! outcome, and exits (in about a second).

#[path = "common/check.rs"]
mod check;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use check::check;
use rpc::server::Server;
use rpc::{service, Error};

/// Slow work, shared by every connection.
#[derive(Default)]
struct Oven {
    baked: AtomicUsize,
}

#[service]
impl Oven {
    /// Bakes for `ms` milliseconds (without blocking anyone), then says what it baked.
    async fn exposed_bake(&self, what: String, ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.baked.fetch_add(1, Ordering::SeqCst);
        format!("{what}, baked {ms} ms")
    }

    /// Always fails.
    fn exposed_burn(&self) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("the oven is on fire"))
    }

    /// How many bakes have finished.
    #[attribute]
    fn exposed_baked(&self) -> usize {
        self.baked.load(Ordering::SeqCst)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::shared(Arc::new(Oven::default()))
        .bind("127.0.0.1:0")
        .await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let conn = rpc::connect("127.0.0.1", port).await?;
    let root = conn.root();

    // Sent now; the result type is named once, at the call.
    let bread = rpc::async_(&root, "bake").call::<String>(("bread", 200))?;
    println!(
        "just sent: {bread}, ready {}, value {:?}",
        bread.ready(),
        bread.value()
    );
    check(!bread.ready() && bread.value().is_none(), "pending at first")?;
    // A callback gets the typed outcome when it arrives (on a runtime task: keep it short).
    let (tx, rx) = tokio::sync::oneshot::channel();
    bread.add_callback(move |outcome: rpc::Result<String>| {
        let _ = tx.send(outcome);
    });
    let text = bread.clone().await?; // an AsyncResult is a Future too
    let from_callback = rx.await??;
    println!("awaited {text:?}; the callback got {from_callback:?}; now {bread}");
    check(
        text == "bread, baked 200 ms" && from_callback == text,
        "the value arrives",
    )?;
    check(bread.ready() && bread.error().is_none(), "ready, no error")?;

    // An error settles the result too.
    let burnt = rpc::async_(&root, "burn").call::<()>(())?;
    let Err(e) = burnt.wait().await else {
        return Err("burn should fail".into());
    };
    println!(
        "burn -> {e}; error() is {:?}",
        burnt.error().map(|e| e.to_string())
    );
    check(burnt.ready() && burnt.error().is_some(), "ready with an error")?;

    // An expiry: a result not settled by then is expired, and its late reply dropped.
    let cake = rpc::async_(&root, "bake")
        .with_expiry(Some(Duration::from_millis(100)))
        .call::<String>(("cake", 5_000))?;
    let late = cake.wait().await;
    println!(
        "cake with a 100 ms expiry -> {late:?}; expired {}",
        cake.expired()
    );
    check(
        matches!(late, Err(Error::Expired)) && cake.expired(),
        "the cake expired",
    )?;
    // set_expiry on a pending result; timed() gives every call of a reference one.
    let pie = rpc::async_(&root, "bake").call::<String>(("pie", 5_000))?;
    pie.set_expiry(Some(Duration::from_millis(50)));
    let quick = rpc::timed(&root, Duration::from_secs(5));
    let toast = quick.call::<String>("bake", ("toast", 10))?.await?;
    println!("pie -> {:?}; timed toast -> {toast:?}", pie.wait().await.err());
    check(
        pie.expired() && toast == "toast, baked 10 ms",
        "set_expiry and timed",
    )?;

    // Dropping every handle detaches the call: it still runs on the server, unwatched.
    let before: usize = root.getattr("baked").await?;
    drop(rpc::async_(&root, "bake").call::<String>(("bun", 100))?);
    let mut after = before;
    for _ in 0..100 {
        after = root.getattr("baked").await?;
        if after > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("after dropping the bun's result: {before} -> {after} bakes finished");
    check(
        after == before + 1 && conn.stats().pending_calls == 0,
        "the bun baked anyway",
    )?;

    conn.close().await;
    stop.shutdown();
    serving.await??;
    Ok(())
}
