//! Tutorial 2 (RPyC part 2): objects returned by reference stay where they live, calls on them
//! go home, dropping the last reference frees them, and a reference sent back to its owner
//! arrives as the original object.
//!
//! Run: `cargo run --release --example tutorial_02_netrefs`
//!
//! Page: `docs/tutorial/02-netrefs.md`. Starts a server on 127.0.0.1 (a free port), checks
//! every answer and both object tables (`conn.stats()`), and exits.

#[path = "common/check.rs"]
mod check;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use check::check;
use parking_lot::Mutex;
use rpc::server::Server;
use rpc::{service, Connection, NetRef, Object};

/// A counter that lives on the server.
struct Counter {
    name: String,
    count: AtomicU64,
}

impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counter({}: {})", self.name, self.count.load(Ordering::SeqCst))
    }
}

#[service(display)]
impl Counter {
    /// Adds one and returns the new count.
    fn exposed_incr(&self) -> u64 {
        self.count.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// Hands out counters by reference.
#[derive(Default)]
struct Registry {
    shared: Mutex<Option<Arc<Counter>>>,
}

#[service]
impl Registry {
    /// A new counter; returning a `#[service]` type sends it by reference.
    fn exposed_new_counter(&self, name: String) -> Counter {
        let count = AtomicU64::new(0);
        Counter { name, count }
    }

    /// The same counter every time, as an `Object` (a reference to a shared `Arc`).
    fn exposed_shared(&self) -> Object {
        let mut shared = self.shared.lock();
        let counter = shared.get_or_insert_with(|| {
            let count = AtomicU64::new(0);
            Arc::new(Counter {
                name: "shared".into(),
                count,
            })
        });
        Object::from(counter.clone())
    }

    /// Whether `counter` is the shared counter itself: a reference that comes home arrives as
    /// the original object.
    fn exposed_is_shared(&self, counter: Object) -> bool {
        match (counter.downcast::<Counter>(), self.shared.lock().as_ref()) {
            (Some(c), Some(s)) => Arc::ptr_eq(&c, s),
            _ => false,
        }
    }

    /// How many objects the server holds for the calling connection.
    fn exposed_held(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::new(Registry::default).bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let conn = rpc::connect("127.0.0.1", port).await?;
    let root = conn.root();

    // The counter stays on the server; every call on `c` runs there.
    let c: NetRef = root.call("new_counter", ("clicks",)).await?;
    for _ in 0..2 {
        c.call::<u64>("incr", ()).await?;
    }
    let n: u64 = c.call("incr", ()).await?;
    let shown = c.display().await?;
    println!("incr x3 -> {n}; the server shows it as {shown}");
    check(
        n == 3 && shown == "Counter(clicks: 3)",
        "the counter counts on the server",
    )?;

    // Both object tables: we import one object, the server exports one for us.
    let held: usize = root.call("held", ()).await?;
    println!(
        "client imports {}, server exports {held}",
        conn.stats().imported_objects
    );
    check(
        conn.stats().imported_objects == 1 && held == 1,
        "one object, one reference",
    )?;

    // The same object received twice gives equal NetRefs; sent home, it is the original.
    let a: NetRef = root.call("shared", ()).await?;
    let b: NetRef = root.call("shared", ()).await?;
    let home: bool = root.call("is_shared", (a.clone(),)).await?;
    let other: bool = root.call("is_shared", (c.clone(),)).await?;
    println!(
        "a == b: {}; a is the shared counter: {home}; c is: {other}",
        a == b
    );
    check(a == b && home && !other, "identity survives the round trip")?;

    // Dropping the last clone of every reference frees the objects on the server.
    drop((a, b, c));
    let mut held = usize::MAX;
    for _ in 0..200 {
        held = root.call("held", ()).await?;
        if held == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = conn.stats();
    println!(
        "after drop: client imports {}, server exports {held}",
        stats.imported_objects
    );
    check(held == 0 && stats.imported_objects == 0, "every object freed")?;

    conn.close().await;
    stop.shutdown();
    serving.await??;
    Ok(())
}
