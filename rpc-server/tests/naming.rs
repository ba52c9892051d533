//! The registry: the store suite on the embedded store, and the service over loopback TCP
//! (registrations kept alive and removed, watches, authenticated writers, a registry that
//! restarts or is down).

mod naming {
    pub mod suite;
}

use std::sync::Arc;
use std::time::Duration;

use futures::stream::StreamExt;
use naming::suite;
use rpc_core::{ConnectOptions, Error, RemoteErrorKind, SharedSecret};
use rpc_server::auth::OptionalSecret;
use rpc_server::naming::{Access, Change, Filter, MemoryStore, Registry, RegistryService};
use rpc_server::{Server, ShutdownHandle};

#[tokio::test]
async fn the_memory_store_passes_the_store_suite() {
    let store = MemoryStore::new();
    suite::run_all(&store, "memory").await;
    assert!(store.is_empty(), "every case cleans up");
}

#[tokio::test]
async fn a_full_memory_store_refuses_new_names() {
    let store = MemoryStore::with_capacity(2);
    let ttl = suite::LONG_TTL;
    for name in ["a", "b"] {
        let e = rpc_server::naming::Entry::new(name, "rpc://h:1", [""; 0], ttl).expect("entry");
        rpc_server::naming::RegistryStore::register(&store, e, ttl)
            .await
            .expect("room");
    }
    let again = rpc_server::naming::Entry::new("a", "rpc://h:2", [""; 0], ttl).expect("entry");
    rpc_server::naming::RegistryStore::register(&store, again, ttl)
        .await
        .expect("replacing needs no room");
    let third = rpc_server::naming::Entry::new("c", "rpc://h:3", [""; 0], ttl).expect("entry");
    let full = rpc_server::naming::RegistryStore::register(&store, third, ttl).await;
    assert!(
        matches!(full, Err(rpc_server::naming::StoreError::Invalid(ref why)) if why.contains("full")),
        "{full:?}"
    );
}

/// A registry server on 127.0.0.1 (on `port`, or a free one); its port and its stop handle.
async fn start(service: RegistryService, port: u16, secret: Option<SharedSecret>) -> (u16, ShutdownHandle) {
    let mut server = Server::shared(Arc::new(service));
    if let Some(secret) = secret {
        server = server.authenticator(OptionalSecret(secret));
    }
    let bound = server.bind(("127.0.0.1", port)).await.expect("bind");
    let port = bound.local_addr().expect("addr").port();
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());
    (port, stop)
}

#[tokio::test]
async fn registrations_live_while_held_and_watchers_see_every_change() {
    let (port, _stop) = start(RegistryService::new(MemoryStore::new()), 0, None).await;
    let reg = Registry::connect("127.0.0.1", port).await.expect("connect");
    let mut watch = reg.watch(Filter::prefix("home.")).await.expect("watch");
    let ttl = Duration::from_millis(600);
    let thermostat = reg
        .register(
            "home.thermostat",
            "rpc://127.0.0.1:18861",
            ["climate", "floor:1"],
            ttl,
        )
        .await
        .expect("register");
    let fan = reg
        .register("home.fan", "rpc://127.0.0.1:18862", ["climate"], ttl)
        .await
        .expect("register");
    let _other = reg
        .register("office.printer", "rpc://127.0.0.1:18863", ["paper"], ttl)
        .await
        .expect("register");
    // Three times the TTL: alive only because the registrations refresh them.
    tokio::time::sleep(ttl * 3).await;
    assert_eq!(
        reg.lookup("home.thermostat").await.expect("lookup").uri,
        "rpc://127.0.0.1:18861"
    );
    let climate = reg
        .list(Filter::prefix("home.").with_all(["climate"]))
        .await
        .expect("list");
    assert_eq!(climate.len(), 2);
    // lookup_any takes the equivalent servers in turn.
    let a = reg.lookup_any(["climate"]).await.expect("one").name;
    let b = reg.lookup_any(["climate"]).await.expect("one").name;
    assert_ne!(a, b, "two lookups in a row spread over both");
    let missing = reg.lookup("home.door").await.expect_err("not registered");
    assert!(
        missing.to_string().contains("home.door") && missing.to_string().contains(&port.to_string()),
        "{missing}"
    );
    let none = reg.lookup_any(["nothing"]).await.expect_err("no such tag");
    assert!(none.to_string().contains("nothing"), "{none}");

    let fan_entry = fan.entry();
    drop(fan);
    let mut changes = Vec::new();
    while changes.len() < 3 {
        let change = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("a change in time")
            .expect("watching")
            .expect("a change");
        changes.push(change);
    }
    assert!(matches!(&changes[0], Change::Registered(e) if e.name == "home.thermostat"));
    assert!(matches!(&changes[1], Change::Registered(e) if e.name == "home.fan"));
    assert_eq!(
        changes[2],
        Change::Removed(fan_entry),
        "dropping a registration removes it"
    );
    assert!(thermostat.remove().await.expect("remove"));
    assert_eq!(reg.try_lookup("home.thermostat").await.expect("lookup"), None);
}

#[tokio::test]
async fn an_entry_nobody_refreshes_expires_and_is_watched_going() {
    let (port, _stop) = start(RegistryService::new(MemoryStore::new()), 0, None).await;
    let reg = Registry::connect("127.0.0.1", port).await.expect("connect");
    let mut watch = reg.watch(Filter::everything()).await.expect("watch");
    // The typed client registers without a refresher.
    let client = reg.client().await.expect("client");
    let entry = client
        .register("lapsing".into(), "rpc://127.0.0.1:1".into(), vec![], 300)
        .await
        .expect("register");
    let mut last = None;
    while !matches!(last, Some(Change::Expired(_))) {
        last = Some(
            tokio::time::timeout(Duration::from_secs(5), watch.next())
                .await
                .expect("expiry in time")
                .expect("watching")
                .expect("a change"),
        );
    }
    assert_eq!(last, Some(Change::Expired(entry)));
    assert_eq!(reg.try_lookup("lapsing").await.expect("lookup"), None);

    // An abandoned registration (what a crash leaves) expires too, and is not removed.
    let crashed = reg
        .register(
            "crashed",
            "rpc://127.0.0.1:2",
            [""; 0],
            Duration::from_millis(300),
        )
        .await
        .expect("register");
    let entry = crashed.entry();
    crashed.abandon();
    let mut last = None;
    while !matches!(&last, Some(Change::Expired(e)) if e.name == "crashed") {
        let change = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("expiry in time")
            .expect("watching")
            .expect("a change");
        assert!(
            !matches!(change, Change::Removed(_)),
            "an abandoned entry is not removed"
        );
        last = Some(change);
    }
    assert_eq!(last, Some(Change::Expired(entry)));
}

#[tokio::test]
async fn a_name_registered_again_is_not_taken_back_by_the_first_holder() {
    let (port, _stop) = start(RegistryService::new(MemoryStore::new()), 0, None).await;
    let reg = Registry::connect("127.0.0.1", port).await.expect("connect");
    let ttl = Duration::from_millis(300);
    let first = reg
        .register("svc", "rpc://127.0.0.1:1", ["v1"], ttl)
        .await
        .expect("first");
    let second = reg
        .register("svc", "rpc://127.0.0.1:2", ["v2"], ttl)
        .await
        .expect("second");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !first.is_lost() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first registration noticed it lost the name"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(first);
    tokio::time::sleep(ttl).await;
    assert_eq!(reg.lookup("svc").await.expect("lookup").uri, "rpc://127.0.0.1:2");
    assert_eq!(second.entry().uri, "rpc://127.0.0.1:2");
}

#[tokio::test]
async fn with_a_secret_only_authenticated_clients_write_and_anyone_reads() {
    let secret = SharedSecret::new(b"registry secret").with_label("registrar");
    let service = RegistryService::new(MemoryStore::new()).writers(Access::Authenticated);
    let (port, _stop) = start(service, 0, Some(secret.clone())).await;
    let ttl = Duration::from_secs(10);

    let anonymous = Registry::connect("127.0.0.1", port)
        .await
        .expect("anyone connects");
    let refused = anonymous
        .register("home.thermostat", "rpc://evil:1", [""; 0], ttl)
        .await
        .expect_err("an anonymous registration");
    match &refused {
        Error::Remote(r) => {
            assert_eq!(r.kind, RemoteErrorKind::Refused);
            assert!(r.message.contains("authenticated"), "{}", r.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        anonymous.remove("home.thermostat").await.is_err(),
        "nor may it remove"
    );

    let trusted = Registry::connect_with("127.0.0.1", port, ConnectOptions::new().secret(secret))
        .await
        .expect("the secret's holder connects");
    let _entry = trusted
        .register("home.thermostat", "rpc://127.0.0.1:18861", ["climate"], ttl)
        .await
        .expect("an authenticated registration");
    assert_eq!(
        anonymous
            .lookup("home.thermostat")
            .await
            .expect("anyone reads")
            .uri,
        "rpc://127.0.0.1:18861"
    );

    let wrong = ConnectOptions::new().secret(SharedSecret::new(b"a guess"));
    let e = Registry::connect_with("127.0.0.1", port, wrong)
        .await
        .expect_err("a wrong secret");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[tokio::test]
async fn a_registry_that_is_down_is_named_in_the_error() {
    let port = {
        let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("probe");
        probe.local_addr().expect("addr").port()
    };
    let e = tokio::time::timeout(Duration::from_secs(10), Registry::connect("127.0.0.1", port))
        .await
        .expect("fails within the timeout")
        .expect_err("nobody listens");
    let text = e.to_string();
    assert!(
        text.contains("registry") && text.contains(&format!("127.0.0.1:{port}")),
        "{text}"
    );
}

#[tokio::test]
async fn registrations_come_back_after_the_registry_restarts() {
    let (port, stop) = start(RegistryService::new(MemoryStore::new()), 0, None).await;
    let reg = Registry::connect("127.0.0.1", port).await.expect("connect");
    let held = reg
        .register("svc", "rpc://127.0.0.1:9", ["x"], Duration::from_millis(600))
        .await
        .expect("register");
    stop.shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A new registry, empty, on the same port.
    let (_, _stop) = start(RegistryService::new(MemoryStore::new()), port, None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(entry)) = reg.try_lookup("svc").await {
            assert_eq!(entry.uri, "rpc://127.0.0.1:9");
            assert_eq!(
                held.entry().lease,
                entry.lease,
                "the registration follows its new lease"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "registered again within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
