//! Tutorial 5 (Pyro5's warehouse): one warehouse shared by every visitor, who store and take
//! items; one-way calls for the guest book, a batch of calls in one frame, and the contents
//! pulled item by item with remote iteration.
//!
//! Run: `cargo run --release --example tutorial_05_warehouse`
//!
//! Page: `docs/tutorial/05-warehouse.md`. Starts a server on 127.0.0.1 (a free port), sends
//! two visitors, checks the warehouse after each, and exits.

#[path = "common/check.rs"]
mod check;

use std::sync::Arc;
use std::time::Duration;

use check::check;
use parking_lot::Mutex;
use rpc::prelude::*;
use rpc::server::Server;
use rpc::{service, Batch, RemoteIter};

/// What `take` returns for an item that is not there.
#[derive(Debug, thiserror::Error)]
#[error("there is no {0} in the warehouse")]
struct NotInStock(String);

/// The warehouse: one for everybody (`Server::shared`).
struct Warehouse {
    contents: Mutex<Vec<String>>,
    guestbook: Mutex<Vec<String>>,
}

#[service]
impl Warehouse {
    /// What is in the warehouse now.
    fn exposed_list_contents(&self) -> Vec<String> {
        self.contents.lock().clone()
    }

    /// Takes `item` out.
    fn exposed_take(&self, name: String, item: String) -> Result<(), NotInStock> {
        let mut contents = self.contents.lock();
        let at = contents.iter().position(|i| *i == item);
        contents.remove(at.ok_or(NotInStock(item.clone()))?);
        println!("  warehouse: {name} took the {item}");
        Ok(())
    }

    /// Puts `item` in.
    fn exposed_store(&self, name: String, item: String) {
        println!("  warehouse: {name} stored the {item}");
        self.contents.lock().push(item);
    }

    /// One-way: the caller gets no reply and does not wait.
    #[oneway]
    fn exposed_sign(&self, name: String) {
        self.guestbook.lock().push(name);
    }

    /// Who signed the guest book.
    fn exposed_guestbook(&self) -> Vec<String> {
        self.guestbook.lock().clone()
    }

    /// The contents as a remote iterator: the caller pulls them in batches.
    fn exposed_browse(&self) -> RemoteIter<String> {
        RemoteIter::new(self.contents.lock().clone())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let contents = ["chair", "bike", "flashlight", "laptop", "couch"].map(String::from);
    let warehouse = Arc::new(Warehouse {
        contents: Mutex::new(contents.to_vec()),
        guestbook: Mutex::default(),
    });
    let server = Server::shared(warehouse.clone()).bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());

    // Janet: plain calls through the typed client, and a one-way call.
    let janet = rpc::connect("127.0.0.1", port).await?;
    let w = WarehouseClient::new(janet.root());
    w.store("Janet".into(), "camera".into()).await?;
    w.take("Janet".into(), "laptop".into()).await?;
    w.sign("Janet".into())?; // one-way: not async, returns once queued
    let missing = w.take("Janet".into(), "piano".into()).await.err();
    println!(
        "Janet takes a piano -> {:?}",
        missing.as_ref().map(|e| e.to_string())
    );
    check(missing.is_some(), "there is no piano")?;

    // Jeff, another connection to the same warehouse: a batch, one frame, results in order.
    let jeff = rpc::connect("127.0.0.1", port).await?;
    let root = jeff.root();
    root.call_oneway("sign", ("Jeff",))?;
    let mut batch = Batch::new(&jeff);
    batch
        .call(&root, "take", ("Jeff", "camera")) // Janet's camera
        .call(&root, "take", ("Jeff", "laptop")) // Janet took it: fails, alone
        .call(&root, "store", ("Jeff", "guitar"))
        .call(&root, "list_contents", ());
    let results = batch.send().await?;
    results.get::<()>(0)?;
    let failed = results.get::<()>(1).err().map(|e| e.to_string());
    let after: Vec<String> = results.get(3)?;
    println!(
        "Jeff's batch: {} results; take(laptop) -> {failed:?}",
        results.len()
    );
    check(failed.is_some(), "the laptop is gone")?;
    check(
        after == ["chair", "bike", "flashlight", "couch", "guitar"],
        "the contents after both",
    )?;

    // Remote iteration: the items stay on the server and are pulled as the stream is read.
    let mut items: RemoteIter<String> = root.call("browse", ()).await?;
    let mut browsed = Vec::new();
    while let Some(item) = items.next().await {
        browsed.push(item?);
    }
    println!("Jeff browses: {browsed:?}");
    check(browsed == after, "browsing shows the contents")?;

    // One-way calls have no reply to wait for: poll until both signatures are in.
    let mut book = Vec::new();
    for _ in 0..100 {
        book = root.call::<Vec<String>>("guestbook", ()).await?;
        if book.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("guest book: {book:?}");
    book.sort();
    check(book == ["Janet", "Jeff"], "both signed")?;

    janet.close().await;
    jeff.close().await;
    stop.shutdown();
    serving.await??;
    Ok(())
}
