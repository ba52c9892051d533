//! The registry on etcd (`--features etcd`): the store suite on `EtcdStore`, the layout in
//! etcd and what a watch makes of changes made by hand, two registry servers sharing one etcd,
//! and an etcd that goes away and comes back. Each test starts an etcd of its own
//! (Debian's `etcd`, on 127.0.0.1).
#![cfg(feature = "etcd")]

#[path = "naming/server.rs"]
mod server;
#[path = "naming/suite.rs"]
mod suite;

#[path = "etcd/fixture.rs"]
mod fixture;

use std::time::Duration;

use fixture::Etcd;
use futures::stream::{Stream, StreamExt};
use rpc_server::naming::{
    Change, Entry, EtcdConfig, EtcdStore, Filter, Registry, RegistryService, RegistryStore, StoreError,
    StoreResult,
};
use server::start;

/// `etcd` with short timeouts, so that its being down is reported quickly.
fn config(etcd: &Etcd) -> EtcdConfig {
    EtcdConfig::new([etcd.endpoint()])
        .connect_timeout(Duration::from_millis(500))
        .request_timeout(Duration::from_secs(1))
}

async fn connect(etcd: &Etcd, prefix: &str) -> EtcdStore {
    config(etcd)
        .prefix(prefix)
        .connect()
        .await
        .expect("connect to etcd")
}

/// The next item of `changes`, within 10 s.
async fn next<T>(changes: &mut (impl Stream<Item = T> + Unpin)) -> T {
    tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("a change within 10 s")
        .expect("the watch goes on")
}

#[tokio::test]
async fn the_etcd_store_passes_the_store_suite() {
    let etcd = Etcd::start().await;
    let store = connect(&etcd, "/test/registry/").await;
    suite::run_all(&store, "etcd").await;
    assert_eq!(
        store.list(Filter::everything()).await.expect("list"),
        [],
        "every case cleans up"
    );
}

#[tokio::test]
async fn entries_are_json_under_the_prefix_and_changes_by_hand_are_watched() {
    let etcd = Etcd::start().await;
    let store = connect(&etcd, "/a/").await;
    let other = connect(&etcd, "/b/").await;
    let mut raw = etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .expect("a plain etcd client");
    let ttl = Duration::from_millis(1500);
    let entry = Entry::new("home.fan", "rpc://127.0.0.1:1", ["climate"], ttl).expect("entry");
    let stored = store.register(entry, ttl).await.expect("register");
    assert_eq!(
        stored.ttl(),
        Duration::from_secs(2),
        "TTLs round up to whole seconds"
    );

    let kv = raw.get("/a/home.fan", None).await.expect("get");
    let kv = kv.kvs().first().expect("the key /a/home.fan");
    let value: serde_json::Value = serde_json::from_slice(kv.value()).expect("a JSON value");
    assert_eq!(value["uri"], "rpc://127.0.0.1:1");
    assert_eq!(value["metadata"], serde_json::json!(["climate"]));
    assert_eq!(
        u64::try_from(kv.lease()),
        Ok(stored.lease),
        "its lease is the entry's"
    );
    assert_eq!(
        other.list(Filter::everything()).await.expect("list"),
        [],
        "another prefix is another registry"
    );

    // Keys under the prefix that are not entries are skipped, never trusted.
    raw.put("/a/garbage", "not json", None).await.expect("put");
    raw.put(
        "/a/forged",
        r#"{"name":"home.fan","uri":"rpc://x:1","metadata":[],"lease":0,"ttl_ms":1000}"#,
        None,
    )
    .await
    .expect("put");
    raw.put("/a/has space", "{}", None).await.expect("put");
    assert_eq!(
        store.list(Filter::everything()).await.expect("list"),
        std::slice::from_ref(&stored)
    );
    assert_eq!(store.lookup("garbage".into()).await.expect("lookup"), None);
    assert_eq!(store.lookup("forged".into()).await.expect("lookup"), None);
    assert!(
        !store.remove("has space".into(), None).await.expect("remove"),
        "what is not a name is no entry, even to remove"
    );
    let kept = raw.get("/a/has space", None).await.expect("get");
    assert_eq!(kept.kvs().len(), 1);

    // A key deleted by hand while its lease lives was removed; a lease revoked by hand reads
    // as an expiry (etcd keeps no trace of who ended a lease).
    let mut watch = store.watch().await.expect("watch");
    raw.delete("/a/home.fan", None).await.expect("delete by hand");
    assert_eq!(next(&mut watch).await, Ok(Change::Removed(stored.clone())));
    let again = store
        .register(
            Entry::new("home.fan", "rpc://127.0.0.1:2", [""; 0], ttl).expect("entry"),
            ttl,
        )
        .await
        .expect("register");
    assert_eq!(next(&mut watch).await, Ok(Change::Registered(again.clone())));
    let lease = i64::try_from(again.lease).expect("an etcd lease");
    raw.lease_revoke(lease).await.expect("revoke by hand");
    assert_eq!(next(&mut watch).await, Ok(Change::Expired(again)));
    raw.delete("/a/", Some(etcd_client::DeleteOptions::new().with_prefix()))
        .await
        .expect("clean up");
}

#[tokio::test]
async fn two_registry_servers_on_one_etcd_share_their_entries() {
    let etcd = Etcd::start().await;
    let (port_a, _stop_a) = start(RegistryService::new(connect(&etcd, "/shared/").await), 0, None).await;
    let (port_b, _stop_b) = start(RegistryService::new(connect(&etcd, "/shared/").await), 0, None).await;
    assert_ne!(port_a, port_b);
    let a = Registry::connect("127.0.0.1", port_a)
        .await
        .expect("connect to a");
    let b = Registry::connect("127.0.0.1", port_b)
        .await
        .expect("connect to b");
    let mut b_watch = b.watch(Filter::prefix("home.")).await.expect("watch b");

    let ttl = Duration::from_secs(1);
    let thermostat = a
        .register(
            "home.thermostat",
            "rpc://127.0.0.1:18861",
            ["climate", "floor:1"],
            ttl,
        )
        .await
        .expect("register on a");
    let _printer = b
        .register("office.printer", "rpc://127.0.0.1:18862", ["paper"], ttl)
        .await
        .expect("register on b");
    assert_eq!(
        b.lookup("home.thermostat").await.expect("b sees a's entry").uri,
        "rpc://127.0.0.1:18861"
    );
    assert_eq!(
        a.lookup("office.printer").await.expect("a sees b's entry").uri,
        "rpc://127.0.0.1:18862"
    );
    // Twice the TTL: alive only because a's registration refreshes it through a.
    tokio::time::sleep(ttl * 2).await;
    let climate = b
        .list(Filter::everything().with_all(["climate"]))
        .await
        .expect("list on b");
    assert_eq!(climate, [thermostat.entry()]);
    assert_eq!(b.lookup_any(["paper"]).await.expect("any").name, "office.printer");

    // An entry registered on a without a refresher expires, and b's watcher sees it; one
    // removed on a is seen removed.
    let lapsing = a
        .client()
        .await
        .expect("client")
        .register("home.lapsing".into(), "rpc://127.0.0.1:1".into(), vec![], 1000)
        .await
        .expect("register without refreshing");
    let thermostat_entry = thermostat.entry();
    assert!(thermostat.remove().await.expect("remove on a"));
    let mut seen = Vec::new();
    while !seen.iter().any(|c| matches!(c, Change::Expired(_))) {
        seen.push(next(&mut b_watch).await.expect("a change"));
    }
    assert_eq!(
        seen,
        [
            Change::Registered(thermostat_entry.clone()),
            Change::Registered(lapsing.clone()),
            Change::Removed(thermostat_entry),
            Change::Expired(lapsing),
        ]
    );
}

#[tokio::test]
async fn an_etcd_that_goes_away_is_reported_and_registrations_come_back() {
    let mut etcd = Etcd::start().await;
    let endpoint = etcd.endpoint();
    let store = connect(&etcd, "/registry/").await;
    let mut watch = store.watch().await.expect("watch");
    let (port, _stop) = start(RegistryService::new(store.clone()), 0, None).await;
    let reg = Registry::connect("127.0.0.1", port).await.expect("connect");
    let held = reg
        .register("svc", "rpc://127.0.0.1:9", ["x"], Duration::from_secs(1))
        .await
        .expect("register");
    assert_eq!(next(&mut watch).await, Ok(Change::Registered(held.entry())));

    // An etcd that takes connections and answers nothing: a call ends at its request timeout.
    let held_before = held.entry();
    etcd.pause();
    let started = tokio::time::Instant::now();
    assert_unavailable(&store.lookup("svc".into()).await, &endpoint, "did not answer");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Frozen for longer than the time to live: a running etcd counts it (unlike one that
    // restarts), so the lease expires as it wakes, the registration's refresh finds nothing,
    // and it registers again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    etcd.resume();
    let again = wait_for(&store, "svc", |e| e.lease != held_before.lease).await;
    assert_eq!(again.uri, "rpc://127.0.0.1:9");
    assert_eq!(next(&mut watch).await, Ok(Change::Expired(held_before)));
    let lease = again.lease;
    assert_eq!(next(&mut watch).await, Ok(Change::Registered(again)));

    etcd.stop();
    // The watch ends with an error naming etcd.
    assert_unavailable(&next(&mut watch).await, &endpoint, "the watch");
    // Every call fails within its timeouts, naming etcd: on the store, through the registry,
    // and connecting anew.
    let started = tokio::time::Instant::now();
    assert_unavailable(&store.lookup("svc".into()).await, &endpoint, "a read failed");
    let remote = reg.lookup("svc").await.expect_err("the registry's etcd is down");
    assert!(remote.to_string().contains(&endpoint), "{remote}");
    assert_unavailable(&config(&etcd).connect().await, &endpoint, "a read failed");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "three calls failed within their timeouts, not {:?}",
        started.elapsed()
    );
    // Down for longer than the time to live: etcd restarted on its data counts none of it
    // (it extends every lease as it comes back), so the entry is back on its lease.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    etcd.restart().await;
    let back = wait_for(&store, "svc", |_| true).await;
    assert_eq!(back.lease, lease, "the entry is back with its lease");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(held.entry().lease, lease, "and the registration refreshes it");

    // etcd loses its data: the registration's refresh finds nothing, and it registers again.
    let before = held.entry().lease;
    etcd.restart_empty().await;
    let again = wait_for(&store, "svc", |e| e.lease != before).await;
    assert_eq!(again.uri, "rpc://127.0.0.1:9");
    assert_eq!(again.metadata, held.entry().metadata);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while held.entry().lease != again.lease {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the registration follows its new lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let watch = store.watch().await.expect("a new watch once etcd is back");
    drop(watch);
    assert!(held.remove().await.expect("remove"));
}

/// Asserts that `result` is [`StoreError::Unavailable`] naming `endpoint` and saying `what`.
#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(result: &StoreResult<T>, endpoint: &str, what: &str) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(why)) if why.contains(endpoint) && why.contains(what)),
        "{result:?}"
    );
}

/// Waits up to 15 s for the entry `name` to be in `store` as `wanted` says.
async fn wait_for(store: &EtcdStore, name: &str, wanted: impl Fn(&Entry) -> bool) -> Entry {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(entry)) = store.lookup(name.to_owned()).await {
            if wanted(&entry) {
                return entry;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} not as wanted within 15 s: {:?}",
            store.lookup(name.to_owned()).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `rpc-registry --etcd`: two registry processes on one etcd see each other's entries.
#[tokio::test]
async fn two_rpc_registry_processes_share_one_etcd() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let etcd = Etcd::start().await;
    let mut children = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..2 {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rpc-registry"))
            .args(["--host", "127.0.0.1", "--port", "0", "--etcd", &etcd.endpoint()])
            .args(["--etcd-prefix", "/bin-test/"])
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start rpc-registry");
        let stdout = child.stdout.take().expect("piped");
        let line = tokio::time::timeout(
            Duration::from_secs(20),
            BufReader::new(stdout).lines().next_line(),
        )
        .await
        .expect("the address line in time")
        .expect("read")
        .expect("a line");
        let port: u16 = line
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        ports.push(port);
        children.push(child);
    }
    let first = Registry::connect("127.0.0.1", ports[0]).await.expect("first");
    let second = Registry::connect("127.0.0.1", ports[1]).await.expect("second");
    let _held = first
        .register("shared.svc", "rpc://127.0.0.1:7", ["x"], Duration::from_secs(10))
        .await
        .expect("register through the first");
    let seen = second
        .lookup("shared.svc")
        .await
        .expect("lookup through the second");
    assert_eq!(seen.uri, "rpc://127.0.0.1:7");
}
