//! The store test suite: every `RegistryStore` must pass it (the memory store in
//! `tests/naming.rs`, etcd in `tests/etcd.rs`). Each case uses names under its own prefix,
//! so cases can share one store (one etcd).

use std::time::{Duration, Instant};

use futures::stream::{BoxStream, StreamExt};
use rpc_server::naming::{Change, Entry, Filter, RegistryStore, StoreError, StoreResult};

/// Time to live of the cases that wait for expiry: long enough for etcd's lease granularity.
pub const SHORT_TTL: Duration = Duration::from_secs(2);
/// Time to live of entries that must not expire during a case.
pub const LONG_TTL: Duration = Duration::from_secs(60);
/// How long an expired entry may take to go (etcd checks leases every half second or so).
const EXPIRY_SLACK: Duration = Duration::from_secs(6);

fn entry(name: &str, tags: &[&str], ttl: Duration) -> Entry {
    Entry::new(
        name,
        format!("rpc://127.0.0.1:1/{name}"),
        tags.iter().copied(),
        ttl,
    )
    .expect("a valid entry")
}

async fn next_change(watch: &mut BoxStream<'static, StoreResult<Change>>) -> Change {
    tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("a change within 10 s")
        .expect("the watch goes on")
        .expect("no lag")
}

/// Register, look up, replace, refresh: leases decide who holds a name.
pub async fn register_lookup_replace(store: &dyn RegistryStore, p: &str) {
    let name = format!("{p}.svc");
    let first = store
        .register(entry(&name, &["a"], LONG_TTL), LONG_TTL)
        .await
        .expect("register");
    assert_ne!(first.lease, 0);
    assert_eq!(first.ttl(), LONG_TTL);
    let found = store
        .lookup(name.clone())
        .await
        .expect("lookup")
        .expect("registered");
    assert_eq!(found, first);
    assert_eq!(store.lookup(format!("{p}.nothing")).await.expect("lookup"), None);
    store
        .refresh(name.clone(), first.lease)
        .await
        .expect("refresh by the holder");
    let second = store
        .register(entry(&name, &["b"], LONG_TTL), LONG_TTL)
        .await
        .expect("register again");
    assert_ne!(second.lease, first.lease);
    assert_eq!(
        store.lookup(name.clone()).await.expect("lookup"),
        Some(second.clone())
    );
    assert_eq!(
        store.refresh(name.clone(), first.lease).await,
        Err(StoreError::Replaced(name.clone()))
    );
    store
        .refresh(name.clone(), second.lease)
        .await
        .expect("refresh by the new holder");
    assert_eq!(
        store.refresh(format!("{p}.nothing"), second.lease).await,
        Err(StoreError::NotFound(format!("{p}.nothing")))
    );
    assert!(store.remove(name, None).await.expect("clean up"));
}

/// Remove: by name, or only if the lease still holds it; watchers see it.
pub async fn remove_and_watch(store: &dyn RegistryStore, p: &str) {
    let name = format!("{p}.svc");
    let mut watch = store.watch().await.expect("watch");
    let registered = store
        .register(entry(&name, &["x"], LONG_TTL), LONG_TTL)
        .await
        .expect("register");
    let wrong = registered.lease.wrapping_add(1);
    assert!(
        !store.remove(name.clone(), Some(wrong)).await.expect("remove"),
        "another lease removes nothing"
    );
    assert!(store
        .remove(name.clone(), Some(registered.lease))
        .await
        .expect("remove"));
    assert!(
        !store.remove(name.clone(), None).await.expect("remove"),
        "already gone"
    );
    assert_eq!(store.lookup(name.clone()).await.expect("lookup"), None);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let change = next_change(&mut watch).await;
        if change.name() == name {
            seen.push(change);
        }
    }
    assert_eq!(seen[0], Change::Registered(registered.clone()));
    assert_eq!(seen[1], Change::Removed(registered));
}

/// An entry not refreshed expires (and watchers see `Expired`); a refreshed one lives on.
pub async fn expiry(store: &dyn RegistryStore, p: &str) {
    let lapsing = format!("{p}.lapsing");
    let kept = format!("{p}.kept");
    let mut watch = store.watch().await.expect("watch");
    let gone = store
        .register(entry(&lapsing, &[], SHORT_TTL), SHORT_TTL)
        .await
        .expect("register");
    let alive = store
        .register(entry(&kept, &[], SHORT_TTL), SHORT_TTL)
        .await
        .expect("register");
    let until = Instant::now() + SHORT_TTL + EXPIRY_SLACK;
    let mut expired = None;
    while Instant::now() < until && expired.is_none() {
        store
            .refresh(kept.clone(), alive.lease)
            .await
            .expect("refresh the kept one");
        if let Ok(Some(Ok(change))) = tokio::time::timeout(SHORT_TTL / 4, watch.next()).await {
            if change.name() == lapsing && matches!(change, Change::Expired(_)) {
                expired = Some(change);
            }
        }
    }
    assert_eq!(
        expired,
        Some(Change::Expired(gone)),
        "the unrefreshed entry expired"
    );
    assert_eq!(store.lookup(lapsing.clone()).await.expect("lookup"), None);
    assert!(
        store.lookup(kept.clone()).await.expect("lookup").is_some(),
        "the refreshed one lives"
    );
    assert_eq!(
        store.refresh(lapsing.clone(), 1).await,
        Err(StoreError::NotFound(lapsing))
    );
    assert!(store.remove(kept, None).await.expect("clean up"));
}

/// Listing by prefix, pattern, all-of and any-of tags; a bad pattern is a clear error.
pub async fn list_filters(store: &dyn RegistryStore, p: &str) {
    let specs: [(&str, &[&str]); 4] = [
        ("home.thermostat", &["climate", "floor:1"]),
        ("home.fan", &["climate", "floor:2"]),
        ("home.lamp", &["light", "floor:1"]),
        ("office.printer", &["paper"]),
    ];
    for (name, tags) in specs {
        store
            .register(entry(&format!("{p}.{name}"), tags, LONG_TTL), LONG_TTL)
            .await
            .expect("register");
    }
    let names = |found: Vec<Entry>| -> Vec<String> {
        found
            .into_iter()
            .map(|e| e.name.trim_start_matches(&format!("{p}.")).to_owned())
            .collect()
    };
    let all = store.list(Filter::prefix(format!("{p}."))).await.expect("list");
    assert_eq!(
        names(all),
        ["home.fan", "home.lamp", "home.thermostat", "office.printer"]
    );
    let home = store
        .list(Filter::prefix(format!("{p}.home.")))
        .await
        .expect("list");
    assert_eq!(names(home), ["home.fan", "home.lamp", "home.thermostat"]);
    let climate_1 = Filter::prefix(format!("{p}.")).with_all(["climate", "floor:1"]);
    assert_eq!(
        names(store.list(climate_1).await.expect("list")),
        ["home.thermostat"]
    );
    let any = Filter::prefix(format!("{p}.")).with_any(["light", "paper"]);
    assert_eq!(
        names(store.list(any).await.expect("list")),
        ["home.lamp", "office.printer"]
    );
    let pattern = Filter::regex(format!("^{}\\.home\\.(fan|lamp)$", regex_escape(p)));
    assert_eq!(
        names(store.list(pattern).await.expect("list")),
        ["home.fan", "home.lamp"]
    );
    match store.list(Filter::regex("(unclosed")).await {
        Err(StoreError::Invalid(why)) => assert!(why.contains("(unclosed"), "{why}"),
        other => panic!("a bad pattern listed {other:?}"),
    }
    for (name, _) in specs {
        assert!(store.remove(format!("{p}.{name}"), None).await.expect("clean up"));
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = !c.is_alphanumeric() && c != '_';
            special.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

/// Every case, each under its own prefix below `prefix`.
pub async fn run_all(store: &dyn RegistryStore, prefix: &str) {
    register_lookup_replace(store, &format!("{prefix}.a")).await;
    remove_and_watch(store, &format!("{prefix}.b")).await;
    list_filters(store, &format!("{prefix}.c")).await;
    expiry(store, &format!("{prefix}.d")).await;
}
