//! Tutorial 3 (RPyC part 3): closures passed to the peer. The server's `map(f, items)` calls
//! the client's closure once per item; the same through the blocking facade, where the
//! blocking call serves the callbacks on the caller's thread while it waits; and a recursion
//! through the server with `Callback::recursive`.
//!
//! Run: `cargo run --release --example tutorial_03_callbacks`
//!
//! Page: `docs/tutorial/03-callbacks.md`. Starts a server on 127.0.0.1 (a free port), checks
//! every answer, and exits.

#[path = "common/check.rs"]
mod check;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use check::check;
use rpc::blocking::{self, Dispatcher};
use rpc::server::Server;
use rpc::{service, Callback, Error};

/// Calls its callers back.
struct Mapper;

#[service]
impl Mapper {
    /// RPyC's `map`: applies the caller's `f` to every item, one call back per item.
    async fn exposed_map(&self, f: Callback, items: Vec<i64>) -> Result<Vec<i64>, Error> {
        let mut out = Vec::with_capacity(items.len());
        for x in items {
            out.push(f.call((x,)).await?);
        }
        Ok(out)
    }

    /// `n * f(n - 1)`, or 1: a factorial whose every step goes back to the caller.
    async fn exposed_times(&self, f: Callback, n: u64) -> Result<u64, Error> {
        if n <= 1 {
            return Ok(1);
        }
        Ok(n * f.call::<u64>((n - 1,)).await?)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::new(|| Mapper).bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let conn = rpc::connect("127.0.0.1", port).await?;
    let root = conn.root();

    // The closure runs here, on the client, each time the server calls it.
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let square = conn.callback(move |x: i64| {
        counted.fetch_add(1, Ordering::SeqCst);
        x * x
    });
    let squares: Vec<i64> = root.call("map", (square, vec![1, 2, 3])).await?;
    println!(
        "map(square, [1, 2, 3]) = {squares:?}, the closure ran {} times",
        calls.load(Ordering::SeqCst)
    );
    check(
        squares == [1, 4, 9] && calls.load(Ordering::SeqCst) == 3,
        "map squares",
    )?;

    // Recursion through the server: the closure gets its own callback first and passes it on.
    let root2 = root.clone();
    let factorial = Callback::recursive(move |me: Callback, n: u64| {
        let root = root2.clone();
        async move { root.call::<u64>("times", (me, n)).await }
    });
    let f5: u64 = root.call("times", (factorial, 5u64)).await?;
    println!("times(factorial, 5) = {f5}");
    check(f5 == 120, "5! is 120")?;

    // The blocking facade, on a thread of its own (never block a runtime thread).
    let blocking_side = std::thread::spawn(move || blocking_map(port));
    tokio::task::spawn_blocking(move || blocking_side.join())
        .await?
        .map_err(|_| "the blocking thread panicked")??;

    conn.close().await;
    stop.shutdown();
    serving.await??;
    Ok(())
}

/// `map` from ordinary code: the callback's body runs on this thread, inside the blocking call.
fn blocking_map(port: u16) -> Result<(), String> {
    let dispatcher = Dispatcher::new(); // belongs to this thread
    let conn = blocking::connect("127.0.0.1", port).map_err(|e| e.to_string())?;
    let me = std::thread::current().id();
    let elsewhere = Arc::new(AtomicUsize::new(0));
    let seen = elsewhere.clone();
    let cube = dispatcher.callback(move |x: i64| {
        if std::thread::current().id() != me {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        x * x * x
    });
    // Blocks this thread; while it waits it runs the dispatcher's queue: the three calls of `cube`.
    let cubes: Vec<i64> = conn
        .root()
        .call("map", (cube, vec![1, 2, 3]))
        .map_err(|e| e.to_string())?;
    let off_thread = elsewhere.load(Ordering::SeqCst);
    println!("blocking map(cube, [1, 2, 3]) = {cubes:?}, callbacks run off this thread: {off_thread}");
    conn.close();
    if cubes != [1, 8, 27] || off_thread != 0 {
        return Err("the blocking map should cube on the caller's thread".into());
    }
    Ok(())
}
