//! Replicated properties and signals: replicas read and follow their owner's values in order,
//! slow subscribers lag without slowing the source or anyone else, and every subscriber is
//! freed when it goes.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use rpc::events::{Event, Property, PropertyReplica, Signal, SignalReplica, Subscription};
use rpc::{service, Callback, Connection, ConnectionConfig, VoidService};
use tokio::time::timeout;

use crate::harness::{pair_with, Pair, Transport, TRANSPORTS};

/// The longest any single wait of these tests may take.
const PATIENCE: Duration = Duration::from_secs(20);

/// A server owning a property and a signal.
struct Station {
    temperature: Property<u64>,
    ticks: Signal<u64>,
}

#[service]
impl Station {
    #[attribute]
    fn exposed_temperature(&self) -> Property<u64> {
        self.temperature.clone()
    }

    fn exposed_ticks(&self) -> Signal<u64> {
        self.ticks.clone()
    }

    fn exposed_exported(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }

    fn exposed_imported(&self, conn: &Connection) -> usize {
        conn.stats().imported_objects
    }
}

async fn station_pair(t: Transport, temperature: &Property<u64>, ticks: &Signal<u64>) -> Pair {
    let station = Station {
        temperature: temperature.clone(),
        ticks: ticks.clone(),
    };
    pair_with(t, VoidService, station, ConnectionConfig::default()).await
}

/// The next event, within [`PATIENCE`].
async fn next<T>(events: &mut Subscription<T>) -> Event<T> {
    timeout(PATIENCE, events.next())
        .await
        .expect("an event in time")
        .expect("the subscription goes on")
}

/// Polls `check` until it holds, for at most ten seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..2_000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{what}: still not the case after 10 s");
}

/// Waits until nothing is left of any subscription or replica on either side of `client`'s
/// connection, and no subscriber on the owner.
async fn assert_all_freed(t: Transport, client: &Connection, subscribers: impl Fn() -> usize) {
    let root = client.root();
    let mut last = None;
    for _ in 0..2_000 {
        let server_exported: usize = root.call("exported", ()).await.expect("exported");
        let server_imported: usize = root.call("imported", ()).await.expect("imported");
        let stats = client.stats();
        let now = (
            server_exported,
            server_imported,
            stats.exported_objects,
            stats.imported_objects,
            subscribers(),
        );
        if now == (0, 0, 0, 0, 0) {
            return;
        }
        last = Some(now);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "{t:?}: (server exported, server imported, client exported, client imported, subscribers) \
         stayed at {last:?}"
    );
}

/// A subscriber that takes `delay` over each event and records them all.
fn recording_callback(delay: Duration, seen: Arc<Mutex<Vec<Event<u64>>>>) -> Callback {
    Callback::new(move |event: Event<u64>| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(delay).await;
            seen.lock().push(event);
        }
    })
}

/// Checks that a lagging subscriber saw a lag marker and its values in strictly increasing
/// order (nothing repeated, nothing reordered).
fn assert_lagged_in_order(who: &str, events: &[Event<u64>]) {
    assert!(
        events.iter().any(|e| matches!(e, Event::Lagged(n) if *n > 0)),
        "{who} saw no lag marker: {events:?}"
    );
    let values: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Value(v) => Some(*v),
            Event::Lagged(_) => None,
        })
        .collect();
    assert!(values.windows(2).all(|w| w[0] < w[1]), "{who}: {values:?}");
}

/// Runs `emits` on a blocking thread: a source that blocked would trip the guard.
async fn emit_guarded(what: &str, emits: impl FnOnce() + Send + 'static) {
    timeout(PATIENCE, tokio::task::spawn_blocking(emits))
        .await
        .unwrap_or_else(|_| panic!("{what} blocked"))
        .expect("the emitting thread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_reads_the_value_then_follows_every_change() {
    for t in TRANSPORTS {
        let temperature = Property::new(20u64);
        let ticks = Signal::new();
        let p = station_pair(t, &temperature, &ticks).await;
        let root = p.client.root();
        let replica: PropertyReplica<u64> = root.getattr("temperature").await.expect("temperature");
        // The typed client gives a replica too, of the same object.
        let typed = StationClient::new(root.clone())
            .temperature()
            .await
            .expect("typed");
        assert_eq!(replica.netref(), typed.netref(), "{t:?}: one object, sent twice");
        assert_eq!(root.call::<usize>("exported", ()).await.expect("exported"), 1);
        assert_eq!(replica.get().await.expect("get"), 20);

        let mut changes = replica.subscribe().await.expect("subscribe");
        assert_eq!(
            next(&mut changes).await,
            Event::Value(20),
            "{t:?}: the current value first"
        );
        for v in 21..=120 {
            temperature.set(v);
        }
        for v in 21..=120 {
            assert_eq!(next(&mut changes).await, Event::Value(v), "{t:?}");
        }
        assert_eq!(replica.get().await.expect("get"), 120);
        assert_eq!(temperature.get(), 120);
        assert_eq!(temperature.subscriber_count(), 1);

        drop((changes, replica, typed));
        assert_all_freed(t, &p.client, || temperature.subscriber_count()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_while_the_value_changes_loses_and_repeats_nothing() {
    const LAST: u64 = 5_000;
    for t in TRANSPORTS {
        // Room for every change: no subscriber may lag here.
        let temperature = Property::with_capacity(0u64, 1 << 16);
        let p = station_pair(t, &temperature, &Signal::new()).await;
        let replica: PropertyReplica<u64> = p.client.root().getattr("temperature").await.expect("get");
        let mut subscriptions = vec![replica.subscribe().await.expect("subscribe")];
        let source = temperature.clone();
        let setter = tokio::spawn(async move {
            for v in 1..=LAST {
                source.set(v);
                if v % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        // Subscribe while the setter runs, remotely and on the owner's side.
        for i in 0..6 {
            tokio::time::sleep(Duration::from_millis(3)).await;
            if i % 2 == 0 {
                subscriptions.push(replica.subscribe().await.expect("subscribe"));
            } else {
                subscriptions.push(temperature.subscribe());
            }
        }
        timeout(PATIENCE, setter)
            .await
            .expect("setter in time")
            .expect("setter");
        for (i, s) in subscriptions.iter_mut().enumerate() {
            let Event::Value(mut expected) = next(s).await else {
                panic!("{t:?}: subscription {i} lagged");
            };
            while expected < LAST {
                expected += 1;
                assert_eq!(next(s).await, Event::Value(expected), "{t:?}: subscription {i}");
            }
        }
        drop((subscriptions, replica));
        assert_all_freed(t, &p.client, || temperature.subscriber_count()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_reaches_every_subscriber_of_every_connection() {
    for t in TRANSPORTS {
        let temperature = Property::new(0u64);
        let ticks = Signal::new();
        let a = station_pair(t, &temperature, &ticks).await;
        let b = station_pair(t, &temperature, &ticks).await;
        let on_a: SignalReplica<u64> = a.client.root().call("ticks", ()).await.expect("ticks");
        let on_b: SignalReplica<u64> = b.client.root().call("ticks", ()).await.expect("ticks");
        let mut subscriptions = vec![
            on_a.subscribe().await.expect("first on a"),
            on_a.subscribe().await.expect("second on a"),
            on_b.subscribe().await.expect("on b"),
        ];
        assert_eq!(ticks.subscriber_count(), 3);
        for v in 0..200 {
            ticks.emit(v);
        }
        for (i, s) in subscriptions.iter_mut().enumerate() {
            for v in 0..200 {
                assert_eq!(next(s).await, Event::Value(v), "{t:?}: subscription {i}");
            }
        }

        // A subscriber id only means something on its own connection.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let callback = recording_callback(Duration::ZERO, seen.clone());
        let id: u64 = on_a
            .netref()
            .call("subscribe", (callback,))
            .await
            .expect("raw subscribe");
        assert!(!on_b
            .netref()
            .call::<bool>("unsubscribe", (id,))
            .await
            .expect("refused"));
        ticks.emit(1_000);
        eventually("the raw subscriber got the event", || {
            let got = seen.lock().clone();
            async move { got == [Event::Value(1_000)] }
        })
        .await;
        assert!(on_a
            .netref()
            .call::<bool>("unsubscribe", (id,))
            .await
            .expect("unsubscribe"));

        drop((subscriptions, on_a, on_b));
        assert_all_freed(t, &a.client, || ticks.subscriber_count()).await;
        assert_all_freed(t, &b.client, || ticks.subscriber_count()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_lags_while_the_source_and_a_fast_one_go_on() {
    for t in TRANSPORTS {
        let ticks = Signal::with_capacity(1_024);
        let p = station_pair(t, &Property::new(0), &ticks).await;
        let replica: SignalReplica<u64> = p.client.root().call("ticks", ()).await.expect("ticks");

        // Slow one: a callback that sleeps over each event.
        let slow_callback = Arc::new(Mutex::new(Vec::new()));
        let callback = recording_callback(Duration::from_millis(20), slow_callback.clone());
        let raw_id: u64 = replica
            .netref()
            .call("subscribe", (callback,))
            .await
            .expect("subscribe");
        // Slow two: a subscription read slowly.
        let slow_reader = Arc::new(Mutex::new(Vec::new()));
        let mut slow = replica.subscribe().await.expect("subscribe");
        let seen = slow_reader.clone();
        let reader = tokio::spawn(async move {
            while let Some(event) = slow.next().await {
                seen.lock().push(event);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });

        // 10,000 events in one go: far more than the slow ones can take or the owner keeps.
        let source = ticks.clone();
        emit_guarded("emit", move || (0..10_000).for_each(|v| source.emit(v))).await;

        // A fast subscriber alongside receives everything, in order. The bursts stay within
        // the owner's capacity, so only a slow subscriber can fall behind by more.
        let mut fast = replica.subscribe().await.expect("subscribe");
        for burst in 0..40u64 {
            let start = 10_000 + burst * 250;
            let source = ticks.clone();
            emit_guarded("emit", move || (start..start + 250).for_each(|v| source.emit(v))).await;
            for v in start..start + 250 {
                assert_eq!(
                    next(&mut fast).await,
                    Event::Value(v),
                    "{t:?}: the fast subscriber"
                );
            }
        }

        for (who, seen) in [("slow callback", &slow_callback), ("slow reader", &slow_reader)] {
            eventually(who, || {
                let lagged = seen.lock().iter().any(|e| matches!(e, Event::Lagged(_)));
                async move { lagged }
            })
            .await;
            assert_lagged_in_order(who, &seen.lock());
        }

        assert!(replica
            .netref()
            .call::<bool>("unsubscribe", (raw_id,))
            .await
            .expect("unsubscribe"));
        reader.abort();
        let _ = reader.await;
        drop((fast, replica));
        assert_all_freed(t, &p.client, || ticks.subscriber_count()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_never_waits_for_a_slow_subscriber() {
    for t in TRANSPORTS {
        let temperature = Property::new(0u64);
        let p = station_pair(t, &temperature, &Signal::new()).await;
        let replica: PropertyReplica<u64> = p.client.root().getattr("temperature").await.expect("get");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let callback = recording_callback(Duration::from_millis(20), seen.clone());
        let id: u64 = replica
            .netref()
            .call("subscribe", (callback,))
            .await
            .expect("subscribe");

        let source = temperature.clone();
        emit_guarded("set", move || (1..=10_000).for_each(|v| source.set(v))).await;
        assert_eq!(replica.get().await.expect("get"), 10_000, "{t:?}");

        eventually("the slow subscriber lagged", || {
            let lagged = seen.lock().iter().any(|e| matches!(e, Event::Lagged(_)));
            async move { lagged }
        })
        .await;
        assert_eq!(
            seen.lock()[0],
            Event::Value(0),
            "{t:?}: the value at subscribe time first"
        );
        assert_lagged_in_order("slow callback", &seen.lock());

        assert!(replica
            .netref()
            .call::<bool>("unsubscribe", (id,))
            .await
            .expect("unsubscribe"));
        drop(replica);
        assert_all_freed(t, &p.client, || temperature.subscriber_count()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_subscription_stops_delivery_and_frees_the_subscriber() {
    for t in TRANSPORTS {
        let temperature = Property::new(0u64);
        let p = station_pair(t, &temperature, &Signal::new()).await;
        let root = p.client.root();
        let replica: PropertyReplica<u64> = root.getattr("temperature").await.expect("get");
        let mut kept = replica.subscribe().await.expect("subscribe");
        let mut dropped = replica.subscribe().await.expect("subscribe");
        assert_eq!(next(&mut dropped).await, Event::Value(0));
        assert_eq!(temperature.subscriber_count(), 2);
        assert_eq!(p.client.stats().exported_objects, 2, "{t:?}: one callback each");

        drop(dropped);
        // The owner stops the subscriber and releases its callback: nothing can reach it now.
        let client = p.client.clone();
        eventually("the dropped subscriber is gone", || {
            let gone = temperature.subscriber_count() == 1 && client.stats().exported_objects == 1;
            let root = root.clone();
            async move { gone && root.call::<usize>("imported", ()).await.expect("imported") == 1 }
        })
        .await;

        // The other one is unaffected.
        temperature.set(1);
        assert_eq!(next(&mut kept).await, Event::Value(0));
        assert_eq!(next(&mut kept).await, Event::Value(1));

        // An explicit unsubscribe is confirmed by the owner.
        timeout(PATIENCE, kept.unsubscribe())
            .await
            .expect("in time")
            .expect("unsubscribe");
        drop(replica);
        assert_all_freed(t, &p.client, || temperature.subscriber_count()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_drops_a_subscriber_whose_callback_fails() {
    #[derive(Debug, thiserror::Error)]
    #[error("not interested")]
    struct NotInterested;

    for t in TRANSPORTS {
        let ticks = Signal::new();
        let p = station_pair(t, &Property::new(0), &ticks).await;
        let replica: SignalReplica<u64> = p.client.root().call("ticks", ()).await.expect("ticks");
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let refuse = Callback::new(move |_event: Event<u64>| {
            counter.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(NotInterested)
        });
        let _id: u64 = replica
            .netref()
            .call("subscribe", (refuse,))
            .await
            .expect("subscribe");
        // A replica of the wrong type: its events do not decode, so its callback fails too.
        let mistyped: SignalReplica<String> = p.client.root().call("ticks", ()).await.expect("ticks");
        let mut wrong = mistyped.subscribe().await.expect("subscribe");
        assert_eq!(ticks.subscriber_count(), 2);

        ticks.emit(1);
        eventually("both failing subscribers are dropped", || {
            let n = ticks.subscriber_count();
            async move { n == 0 }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{t:?}");
        let end = timeout(PATIENCE, wrong.next())
            .await
            .expect("the stream ends in time");
        assert_eq!(end, None, "{t:?}: the wrong-typed subscription ended");

        drop((wrong, mistyped, replica));
        assert_all_freed(t, &p.client, || ticks.subscriber_count()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_connection_ends_every_subscriber() {
    for t in TRANSPORTS {
        let temperature = Property::new(7u64);
        let ticks = Signal::new();
        let p = station_pair(t, &temperature, &ticks).await;
        let root = p.client.root();
        let property: PropertyReplica<u64> = root.getattr("temperature").await.expect("get");
        let signal: SignalReplica<u64> = root.call("ticks", ()).await.expect("ticks");
        let mut on_property = property.subscribe().await.expect("subscribe");
        let mut on_signal = signal.subscribe().await.expect("subscribe");
        assert_eq!(next(&mut on_property).await, Event::Value(7));
        assert_eq!(temperature.subscriber_count() + ticks.subscriber_count(), 2);

        timeout(PATIENCE, p.client.close()).await.expect("closed in time");
        eventually("the owner's subscribers ended", || {
            let n = temperature.subscriber_count() + ticks.subscriber_count();
            async move { n == 0 }
        })
        .await;
        for s in [&mut on_property, &mut on_signal] {
            let end = timeout(PATIENCE, s.next())
                .await
                .expect("the stream ends in time");
            assert_eq!(end, None, "{t:?}");
        }
        assert_eq!(p.client.stats().exported_objects, 0);
        // Sets after the close reach no one and do not fail.
        temperature.set(8);
        ticks.emit(8);
    }
}

#[tokio::test]
async fn the_owner_follows_its_own_property_and_signal() {
    let temperature = Property::with_capacity(1u64, 4);
    let mut changes = temperature.subscribe();
    temperature.set(2);
    assert_eq!(next(&mut changes).await, Event::Value(1));
    assert_eq!(next(&mut changes).await, Event::Value(2));

    let ticks = Signal::with_capacity(4);
    let mut events = ticks.subscribe();
    assert_eq!(ticks.subscriber_count(), 1);
    for v in 0..10u64 {
        ticks.emit(v);
    }
    // Four kept, the six oldest dropped and counted.
    assert_eq!(next(&mut events).await, Event::Lagged(6));
    for v in 6..10 {
        assert_eq!(next(&mut events).await, Event::Value(v));
    }
    drop(events);
    assert_eq!(ticks.subscriber_count(), 0);
    // A subscription ends when its source goes.
    drop(temperature);
    assert_eq!(timeout(PATIENCE, changes.next()).await.expect("in time"), None);
}
