//! Many calls at once, re-entrancy, and calls from both sides.

use std::time::Duration;

use futures::future::join_all;
use rpc::{service, Connection, ConnectionConfig, VoidService};

use crate::harness::{pair, pair_with, ClientService, TestService, Transport, TRANSPORTS};
use crate::raw::guard;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_each_get_their_own_answer() {
    for t in TRANSPORTS {
        let p = pair(t).await;
        let root = p.client.root();
        let calls = (0..1000i64).map(|i| {
            let root = root.clone();
            async move {
                // Mix fast inline calls with ones that finish out of order.
                if i % 3 == 0 {
                    let ms = (1000 - i) as u64 % 7;
                    let s: String = root.call("slow", (ms,)).await.expect("slow");
                    (i, s, format!("slept {ms}"))
                } else {
                    let n: i64 = root.call("test", (i,)).await.expect("test");
                    (i, n.to_string(), (i + 1).to_string())
                }
            }
        });
        let results = join_all(calls).await;
        for (i, got, expected) in results {
            assert_eq!(got, expected, "{t:?}: call {i} got another call's answer");
        }
        assert_eq!(p.client.stats().pending_calls, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_calls_the_client_while_the_clients_call_is_pending() {
    for t in TRANSPORTS {
        let p = pair(t).await;
        let got: i64 = p
            .client
            .root()
            .call("ask_back", (21,))
            .await
            .expect("re-entrant call");
        assert_eq!(got, 42, "{t:?}");
    }
}

/// Two services that bounce a counter between each other: each hop is a call made from inside
/// the other side's call, all on one connection.
struct Bouncer;

#[service]
impl Bouncer {
    async fn exposed_bounce(&self, conn: Connection, n: u32) -> Result<u32, rpc::Error> {
        if n == 0 {
            return Ok(0);
        }
        let below: u32 = conn.root().call("bounce", (n - 1,)).await?;
        Ok(below + 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_entrancy_to_depth_64_without_deadlock() {
    for t in TRANSPORTS {
        let p = pair_with(t, Bouncer, Bouncer, ConnectionConfig::default()).await;
        let depth = tokio::time::timeout(
            Duration::from_secs(20),
            p.client.root().call::<u32>("bounce", (64,)),
        )
        .await
        .expect("no deadlock")
        .expect("bounce");
        assert_eq!(depth, 64, "{t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_does_not_hold_up_fast_ones() {
    let service = TestService::default();
    let (started, release) = (service.started.clone(), service.release.clone());
    let p = pair_with(Transport::Tcp, VoidService, service, ConnectionConfig::default()).await;
    let root = p.client.root();
    let slow = tokio::spawn({
        let root = root.clone();
        async move { root.call::<i64>("gated", (7,)).await }
    });
    // The slow call is running on the server, and stays so until released.
    guard("the slow call starting", started.wait()).await;
    guard("the fast calls", async {
        for i in 0..100 {
            assert_eq!(root.call::<i64>("test", (i,)).await.expect("fast"), i + 1);
        }
    })
    .await;
    // The slow call still runs on the server (`running` itself answers inline, uncounted).
    assert_eq!(root.call::<usize>("running", ()).await.expect("running"), 1);
    assert!(
        !slow.is_finished(),
        "the slow call cannot have finished unreleased"
    );
    release.raise();
    let answer = guard("the slow call", slow).await.expect("task");
    assert_eq!(answer.expect("slow"), 7);
}

#[tokio::test]
async fn client_service_is_reachable_from_the_server_connection() {
    let (client, server) = rpc::memory_pair(ClientService, TestService::default())
        .await
        .expect("pair");
    assert_eq!(server.peer_service_name(), "CLIENT");
    assert_eq!(
        server
            .root()
            .call::<i64>("double", (4,))
            .await
            .expect("server calls client"),
        8
    );
    assert_eq!(
        client
            .root()
            .call::<i64>("test", (4,))
            .await
            .expect("client calls server"),
        5
    );
}
