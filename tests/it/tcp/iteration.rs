//! Remote iteration over loopback TCP: a stream dropped with part of a batch unread, one
//! dropped while a batch is on its way, and a connection closed (by either side) with a stream
//! open. Each time the iterator is freed on the server (its source dropped) and both sides'
//! object tables go back to 0.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use rpc::server::Server;
use rpc::{service, Connection, ConnectionConfig, Error, RemoteIter, VoidService};

use super::{connect, settles};
use crate::harness::{eventually, Live};
use crate::raw::{guard, start};

/// Serves iterators whose sources are counted while they live, and keeps the server side of
/// every connection to read its counters after the client has gone.
#[derive(Default)]
struct Producer {
    sources: Arc<AtomicUsize>,
    conns: Mutex<Vec<Connection>>,
}

#[service]
impl Producer {
    /// 0, 1, 2, ... without end.
    fn exposed_endless(&self) -> RemoteIter<u64> {
        // The closure holds the counter for as long as the source lives.
        let live = Live::new(&self.sources);
        RemoteIter::new((0..).inspect(move |_| {
            let _ = &live;
        }))
    }

    /// `ready` items, then nothing until the consumer gives up.
    fn exposed_gated(&self, ready: u64) -> RemoteIter<u64> {
        let live = Live::new(&self.sources);
        let items = futures::stream::iter(0..ready).chain(futures::stream::pending());
        RemoteIter::from_stream(items.inspect(move |_| {
            let _ = &live;
        }))
    }

    fn exposed_exported(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }

    /// Requests running on this side as tasks (this synchronous one is not counted).
    fn exposed_running(&self, conn: &Connection) -> usize {
        conn.stats().running_requests
    }

    fn on_connect(&self, conn: &Connection) {
        self.conns.lock().push(conn.clone());
    }
}

/// A server serving `producer` and a client connected to it.
async fn setup(producer: &Arc<Producer>) -> (crate::raw::Running, Connection) {
    let server = start(Server::shared(producer.clone())).await;
    let client = connect(server.port, VoidService, ConnectionConfig::default()).await;
    (server, client)
}

/// The server side of the one connection `producer` has seen.
fn server_side(producer: &Producer) -> Connection {
    let conns = producer.conns.lock();
    assert_eq!(conns.len(), 1, "one connection");
    conns[0].clone()
}

/// Waits until the server exports nothing on `client`'s connection, the client imports
/// nothing, and every source was dropped.
async fn all_released(client: &Connection, producer: &Producer) {
    let root = client.root();
    settles("the server released the iterator", || async {
        root.call::<usize>("exported", ()).await.expect("exported") == 0
    })
    .await;
    assert_eq!(client.stats().imported_objects, 0);
    assert_eq!(client.stats().exported_objects, 0);
    eventually("the source dropped", || {
        producer.sources.load(Ordering::SeqCst) == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_part_way_through_a_batch_is_released_on_both_sides() {
    let producer = Arc::new(Producer::default());
    let (_server, client) = setup(&producer).await;
    let mut items: RemoteIter<u64> = guard("endless", client.root().call("endless", ()))
        .await
        .expect("endless");
    // Batches of 1, 2, 4, ..., 64 bring 127 items: the 100th is part-way through the last.
    for expected in 0..100u64 {
        let got = guard("an item", items.next())
            .await
            .expect("more items")
            .expect("an item");
        assert_eq!(got, expected);
    }
    // The call and 7 batches; nothing fetched ahead.
    let server_conn = server_side(&producer);
    assert_eq!(server_conn.stats().requests_received, 1 + 7);
    assert_eq!(server_conn.stats().exported_objects, 1);
    assert_eq!(client.stats().imported_objects, 1);
    assert_eq!(producer.sources.load(Ordering::SeqCst), 1);
    drop(items);
    all_released(&client, &producer).await;
    assert_eq!(server_conn.stats().exported_objects, 0);
    assert_eq!(server_conn.stats().running_requests, 0);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_while_a_batch_is_on_its_way_cancels_the_fetch() {
    let producer = Arc::new(Producer::default());
    let (_server, client) = setup(&producer).await;
    let root = client.root();
    let mut items: RemoteIter<u64> = guard("gated", root.call("gated", (3u64,))).await.expect("gated");
    // Batches of 1 and 2 bring the 3 ready items.
    for expected in 0..3u64 {
        let got = guard("an item", items.next())
            .await
            .expect("more items")
            .expect("an item");
        assert_eq!(got, expected);
    }
    // The batch of 4 waits on the server for items that never come.
    let waited = tokio::time::timeout(Duration::from_millis(100), items.next()).await;
    assert!(waited.is_err(), "no fourth item: {waited:?}");
    assert_eq!(client.stats().pending_calls, 1, "the fetch is on its way");
    settles("the fetch running on the server", || async {
        root.call::<usize>("running", ()).await.expect("running") == 1
    })
    .await;
    drop(items);
    // The fetch was cancelled on the server, and the iterator released.
    settles("the fetch cancelled on the server", || async {
        root.call::<usize>("running", ()).await.expect("running") == 0
    })
    .await;
    all_released(&client, &producer).await;
    assert_eq!(client.stats().pending_calls, 0);
    client.close().await;
}

#[derive(Debug, Clone, Copy)]
enum Closer {
    Client,
    Server,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_with_a_stream_open_frees_both_tables() {
    for closer in [Closer::Client, Closer::Server] {
        let producer = Arc::new(Producer::default());
        let (_server, client) = setup(&producer).await;
        let mut items: RemoteIter<u64> = guard("endless", client.root().call("endless", ()))
            .await
            .expect("endless");
        for expected in 0..10u64 {
            let got = guard("an item", items.next())
                .await
                .expect("more items")
                .expect("an item");
            assert_eq!(got, expected);
        }
        let server_conn = server_side(&producer);
        assert_eq!(server_conn.stats().exported_objects, 1, "{closer:?}");
        assert_eq!(client.stats().imported_objects, 1, "{closer:?}");
        match closer {
            Closer::Client => client.close().await,
            Closer::Server => server_conn.close().await,
        }
        guard("the client side closed", client.closed()).await;
        guard("the server side closed", server_conn.closed()).await;
        assert_eq!(client.stats().imported_objects, 0, "{closer:?}");
        assert_eq!(client.stats().exported_objects, 0, "{closer:?}");
        assert_eq!(server_conn.stats().exported_objects, 0, "{closer:?}");
        assert_eq!(server_conn.stats().imported_objects, 0, "{closer:?}");
        eventually("the source dropped", || {
            producer.sources.load(Ordering::SeqCst) == 0
        })
        .await;
        // 10 of 15 fetched items were read: the rest are still delivered, then the stream fails.
        let mut rest = Vec::new();
        let mut failure = None;
        for _ in 0..10 {
            match guard("the stream after the close", items.next()).await {
                Some(Ok(item)) => rest.push(item),
                Some(Err(e)) => failure = Some(e),
                None => break,
            }
        }
        assert_eq!(rest, (10..15).collect::<Vec<u64>>(), "{closer:?}");
        let failure = failure.expect("the stream reports the close");
        assert!(
            matches!(failure, Error::ConnectionClosed(_)),
            "{closer:?}: {failure:?}"
        );
        assert!(
            guard("the end", items.next()).await.is_none(),
            "{closer:?}: a failed stream ends"
        );
        drop(items);
        producer.conns.lock().clear();
    }
}
