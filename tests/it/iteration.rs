//! Remote iteration: a `RemoteIter` pulled in growing batches, released on drop.

use std::time::Duration;

use futures::StreamExt;
use rpc::{service, Connection, RemoteIter, VoidService};

struct Numbers;

#[service]
impl Numbers {
    fn exposed_count(&self, n: u64) -> RemoteIter<u64> {
        RemoteIter::new(0..n)
    }

    fn exposed_words(&self) -> RemoteIter<String> {
        let words = futures::stream::iter(["a", "b", "c"]).then(|w| async move {
            tokio::task::yield_now().await;
            w.to_owned()
        });
        RemoteIter::from_stream(words)
    }

    fn exposed_endless(&self) -> RemoteIter<u64> {
        RemoteIter::new(0..)
    }
}

async fn pair() -> (Connection, Connection) {
    rpc::memory_pair(VoidService, Numbers).await.expect("pair")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_arrive_in_growing_batches() {
    let (client, server) = pair().await;
    let before = server.stats().requests_received;
    let items: RemoteIter<u64> = client.root().call("count", (5_000u64,)).await.expect("count");
    let got: Vec<u64> = items.map(|r| r.expect("item")).collect().await;
    assert_eq!(got, (0..5_000).collect::<Vec<_>>());
    // 1 call + batches of 1, 2, 4, ..., 1024, 1024, 1024: far fewer round trips than items.
    let requests = server.stats().requests_received - before;
    assert!(requests <= 16, "{requests} requests for 5,000 items");
    for _ in 0..500 {
        if server.stats().exported_objects == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        server.stats().exported_objects,
        0,
        "the exhausted iterator was released"
    );
}

#[tokio::test]
async fn streams_and_empty_sequences() {
    let (client, _server) = pair().await;
    let words: RemoteIter<String> = client.root().call("words", ()).await.expect("words");
    let got: Vec<String> = words.map(|r| r.expect("item")).collect().await;
    assert_eq!(got, ["a", "b", "c"]);
    let none: RemoteIter<u64> = client.root().call("count", (0u64,)).await.expect("count");
    assert_eq!(none.count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_releases_the_remote_iterator() {
    let (client, server) = pair().await;
    let mut items: RemoteIter<u64> = client.root().call("endless", ()).await.expect("endless");
    for expected in 0..100 {
        assert_eq!(items.next().await.expect("more").expect("item"), expected);
    }
    assert_eq!(server.stats().exported_objects, 1);
    drop(items);
    for _ in 0..500 {
        if server.stats().exported_objects == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(server.stats().exported_objects, 0);
    assert_eq!(client.stats().imported_objects, 0);
}

#[tokio::test]
async fn a_wrong_item_type_is_a_clear_error() {
    let (client, _server) = pair().await;
    let mut items: RemoteIter<String> = client.root().call("count", (3u64,)).await.expect("count");
    let e = items.next().await.expect("an item").expect_err("not a string");
    assert!(e.to_string().contains("an item of the remote iterator"), "{e}");
}
