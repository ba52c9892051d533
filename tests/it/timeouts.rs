//! Timeouts on the paused clock, and peers that go away mid-call.

use std::time::Duration;

use rpc::{ConnectionConfig, Error};

use crate::harness::{pair, pair_with, ClientService, TestService, Transport, TRANSPORTS};
use crate::raw::guard;

#[tokio::test(start_paused = true)]
async fn per_call_and_per_connection_timeouts() {
    let config = ConnectionConfig::default().call_timeout(Some(Duration::from_secs(5)));
    let p = pair_with(Transport::Memory, ClientService, TestService::default(), config).await;
    let root = p.client.root();

    let started = tokio::time::Instant::now();
    let e = root
        .call::<String>("slow", (60_000,))
        .await
        .expect_err("connection default");
    assert!(
        matches!(e, Error::Timeout(d) if d == Duration::from_secs(5)),
        "{e:?}"
    );
    assert_eq!(started.elapsed().as_secs(), 5);

    let e = root
        .with_timeout(Some(Duration::from_millis(100)))
        .call::<String>("slow", (60_000,))
        .await
        .expect_err("per call");
    assert!(
        matches!(e, Error::Timeout(d) if d == Duration::from_millis(100)),
        "{e:?}"
    );

    // A timeout is per call: the next one is fine, and nothing is left pending.
    assert_eq!(
        root.call::<String>("slow", (10,)).await.expect("in time"),
        "slept 10"
    );
    assert_eq!(p.client.stats().pending_calls, 0);

    // `None` waits as long as it takes.
    let s: String = root
        .with_timeout(None)
        .call("slow", (3_600_000,))
        .await
        .expect("no limit");
    assert_eq!(s, "slept 3600000");
}

#[tokio::test(start_paused = true)]
async fn the_connection_timeout_fires_late_by_at_most_an_eighth_and_cancels_on_the_peer() {
    let limit = Duration::from_secs(8);
    let config = ConnectionConfig::default().call_timeout(Some(limit));
    let p = pair_with(Transport::Memory, ClientService, TestService::default(), config).await;
    let root = p.client.root();

    // Calls that start at different moments each get their whole time, and little more.
    let mut calls = Vec::new();
    for i in 0..4u64 {
        let root = root.clone();
        calls.push(tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let e = root
                .call::<String>("slow", (3_600_000,))
                .await
                .expect_err("times out");
            assert!(matches!(e, Error::Timeout(d) if d == limit), "{e:?}");
            (i, started.elapsed())
        }));
        tokio::time::sleep(Duration::from_millis(2_490)).await;
    }
    // At 9.96 s: the first call started 9.96 s ago and timed out; the 3 others still run.
    assert_eq!(root.call::<usize>("running", ()).await.expect("running"), 3);
    for call in calls {
        let (i, waited) = call.await.expect("call task");
        assert!(waited >= limit, "call {i} timed out early, after {waited:?}");
        assert!(
            waited <= limit + limit / 8,
            "call {i} timed out late, after {waited:?}"
        );
    }
    assert_eq!(p.client.stats().pending_calls, 0);
    // The server was told to stop working on them.
    let mut running = usize::MAX;
    for _ in 0..100 {
        running = root.call::<usize>("running", ()).await.expect("running");
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        running, 0,
        "the server stopped working on the calls that timed out"
    );

    // Calls that answer in time never time out, however long the reaper has been ticking.
    for _ in 0..30 {
        assert_eq!(
            root.call::<String>("slow", (1_000,)).await.expect("in time"),
            "slept 1000"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_default_timeout_is_thirty_seconds() {
    assert_eq!(
        ConnectionConfig::default().call_timeout,
        Some(Duration::from_secs(30))
    );
    // Exercised: a pair on the default settings gives up on a call after 30 s (late by at most
    // an eighth), and cancels it on the peer.
    let service = TestService::default();
    let started = service.started.clone();
    let p = pair_with(
        Transport::Memory,
        ClientService,
        service,
        ConnectionConfig::default(),
    )
    .await;
    let root = p.client.root();
    let call = tokio::spawn({
        let root = root.clone();
        async move {
            let t0 = tokio::time::Instant::now();
            (root.call::<i64>("gated", (1,)).await, t0.elapsed())
        }
    });
    tokio::time::timeout(Duration::from_secs(1), started.wait())
        .await
        .expect("the call starting");
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(!call.is_finished(), "the call timed out before 30 s");
    let limit = Duration::from_secs(30);
    let (result, waited) = tokio::time::timeout(2 * limit, call)
        .await
        .expect("the call timed out within a minute")
        .expect("call task");
    assert!(
        matches!(result, Err(Error::Timeout(d)) if d == limit),
        "{result:?}"
    );
    assert!(
        waited >= limit && waited <= limit + limit / 8,
        "timed out after {waited:?}"
    );
    assert_eq!(p.client.stats().pending_calls, 0);
    let mut running = usize::MAX;
    for _ in 0..100 {
        running = root.call::<usize>("running", ()).await.expect("running");
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(running, 0, "the peer stopped working on the call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_dropped_mid_call_fails_the_call_promptly() {
    let service = TestService::default();
    let started = service.started.clone();
    let (client, server) = rpc::memory_pair(ClientService, service).await.expect("pair");
    let root = client.root();
    let call = tokio::spawn(async move { root.call::<i64>("gated", (1,)).await });
    // The call is running on the peer when the peer goes away.
    guard("the call starting", started.wait()).await;
    drop(server);
    let result = guard("the call failing", call).await.expect("task");
    assert!(matches!(result, Err(Error::ConnectionClosed(_))), "{result:?}");
    guard("the close", client.closed()).await;
    let again = client.root().call::<i64>("test", (1,)).await;
    assert!(matches!(again, Err(Error::ConnectionClosed(_))), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_fails_every_pending_call_at_once() {
    for t in TRANSPORTS {
        let p = pair(t).await;
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let root = p.client.root();
                tokio::spawn(async move { root.call::<()>("forever", ()).await })
            })
            .collect();
        crate::harness::eventually("ten calls pending", || p.client.stats().pending_calls == 10).await;
        p.client.close().await;
        for c in calls {
            let r = tokio::time::timeout(Duration::from_secs(5), c)
                .await
                .expect("prompt")
                .expect("task");
            assert!(matches!(r, Err(Error::ConnectionClosed(_))), "{t:?}: {r:?}");
        }
        assert_eq!(p.client.stats().pending_calls, 0);
    }
}
