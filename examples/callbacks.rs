//! Callbacks in both directions: RPyC's remote `map` with a local closure, and a server that
//! pushes events to a subscribed client.
//!
//! Run: `cargo run --example callbacks`
//!
//! Starts a server on 127.0.0.1 (a free port), passes it a closure to map over a list, then
//! subscribes to its events and triggers three of them; each one runs the client's closure on
//! the client. Exits by itself.

use parking_lot::Mutex;
use rpc::server::Server;
use rpc::{service, Callback, Error};

/// Calls its clients back.
#[derive(Default)]
struct EventHub {
    subscribers: Mutex<Vec<Callback>>,
}

#[service]
impl EventHub {
    /// Applies the caller's function to every item, calling back once per item.
    async fn exposed_map(&self, f: Callback, xs: Vec<i64>) -> Result<Vec<i64>, Error> {
        let mut out = Vec::with_capacity(xs.len());
        for x in xs {
            out.push(f.call((x,)).await?);
        }
        Ok(out)
    }

    /// Keeps the callback, to call it on every later event.
    fn exposed_subscribe(&self, on_event: Callback) {
        self.subscribers.lock().push(on_event);
    }

    /// Pushes an event to every subscriber.
    async fn exposed_publish(&self, event: String) -> Result<usize, Error> {
        let subscribers = self.subscribers.lock().clone();
        for s in &subscribers {
            s.call::<()>((event.clone(),)).await?;
        }
        Ok(subscribers.len())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hub = std::sync::Arc::new(EventHub::default());
    let server = Server::shared(hub).bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());

    let conn = rpc::connect("127.0.0.1", port).await?;
    let root = conn.root();

    // The closure runs here, on the client, once for every item the server maps.
    let cubes: Vec<i64> = root
        .call("map", (conn.callback(|x: i64| x * x * x), vec![1, 2, 3]))
        .await?;
    println!("map(cube, [1, 2, 3]) = {cubes:?}");

    // The server keeps this closure and calls it on every event, long after `subscribe` returned.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on_event = conn.callback(move |event: String| {
        let _ = tx.send(event);
    });
    root.call::<()>("subscribe", (on_event,)).await?;
    for event in ["started", "progress 50%", "finished"] {
        let delivered: usize = root.call("publish", (event,)).await?;
        let received = rx.recv().await.ok_or("the event never arrived")?;
        println!("published {event:?} to {delivered} subscriber(s); the client's closure got {received:?}");
    }

    conn.close().await;
    stop.shutdown();
    serving.await??;
    Ok(())
}
