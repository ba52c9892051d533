//! Named objects (issue 14): a side's `Published` table, `Connection::lookup`, and the server's
//! `publish`/`unpublish`/`uri`, over the in-memory pair for the logic and loopback TCP and a
//! Unix socket end to end; `rpc://` URIs reach them through `lookup_direct`.
//!
//! Unpublishing a name makes later lookups fail; references already handed out keep working
//! (the table is how peers find an object, not what keeps it alive).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rpc::core::protocol::{Message, Op, Request, PROTOCOL_VERSION};
use rpc::server::{BoundServer, Server, ShutdownHandle};
use rpc::transport::{connect_direct, lookup_direct};
use rpc::{
    service, ConnectOptions, Error, NameError, NetRef, Object, Published, RemoteErrorKind, Scheme, Uri,
    UriError, VoidService,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{eventually, Live, TestService};
use crate::raw::{frame_of, guard, raw_greeting, read_message, remote};

/// A published object: reads its value; counts live instances.
struct Sensor {
    value: f64,
    _live: Option<Live>,
}

impl Sensor {
    fn object(value: f64) -> Object {
        Object::new(Sensor { value, _live: None })
    }

    fn counted(value: f64, live: &Arc<AtomicUsize>) -> Object {
        Object::new(Sensor {
            value,
            _live: Some(Live::new(live)),
        })
    }
}

#[service]
impl Sensor {
    fn exposed_read(&self) -> f64 {
        self.value
    }
}

async fn read(sensor: &NetRef) -> f64 {
    guard("read", sensor.call::<f64>("read", ())).await.expect("read")
}

/// A client and a server over the in-memory pair; the server publishes `published`.
async fn memory_pair(published: &Published) -> (rpc::Connection, rpc::Connection) {
    rpc::memory_pair_with(
        ConnectOptions::new(),
        ConnectOptions::new()
            .service(TestService::default())
            .published(published.clone()),
    )
    .await
    .expect("memory pair")
}

/// A bound server's URI, port, and the handle that stops it; serving in a task.
async fn serve(bound: BoundServer) -> (Uri, ShutdownHandle) {
    let uri = bound.uri();
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());
    (uri, stop)
}

/// Publishes a kitchen sensor (21.5) on `bound` and serves it: the sensor's URI, and the
/// handle that stops the server.
async fn serve_kitchen(bound: BoundServer) -> (Uri, ShutdownHandle) {
    bound
        .publish("sensor.kitchen", Sensor::object(21.5))
        .expect("publish");
    let (uri, stop) = serve(bound).await;
    (uri.with_object("sensor.kitchen").expect("name"), stop)
}

async fn tcp_server() -> BoundServer {
    Server::new(TestService::default)
        .bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

#[tokio::test]
async fn a_lookup_gives_the_published_object_once_per_object() {
    let live = Arc::new(AtomicUsize::new(0));
    let published = Published::new();
    published
        .publish("sensor.kitchen", Sensor::counted(21.5, &live))
        .expect("publish");
    let (client, server) = memory_pair(&published).await;

    let first = client.lookup("sensor.kitchen").await.expect("lookup");
    let second = client.lookup("sensor.kitchen").await.expect("lookup again");
    assert_eq!(first, second, "one proxy per remote object");
    assert_eq!(read(&first).await, 21.5);
    assert_eq!(server.stats().exported_objects, 1);

    drop((first, second));
    eventually("the lookup's export is released", || {
        server.stats().exported_objects == 0
    })
    .await;
    assert_eq!(live.load(Ordering::SeqCst), 1, "the table still holds the object");
    drop(published.unpublish("sensor.kitchen"));
    assert_eq!(live.load(Ordering::SeqCst), 0, "nothing else did");
}

#[tokio::test]
async fn unknown_names_are_remote_errors_naming_only_the_name_asked() {
    let published = Published::new();
    published
        .publish("private.vault", Sensor::object(1.0))
        .expect("publish");
    let (client, _server) = memory_pair(&published).await;

    let err = remote(client.lookup("sensor.attic").await);
    assert_eq!(err.kind, RemoteErrorKind::NotFound);
    assert_eq!(err.type_name, "rpc::UnknownName");
    assert_eq!(err.message, r#"no object is published as "sensor.attic""#);
    assert!(!err.to_string().contains("vault"), "lists no other name: {err}");
    assert!(err.causes.is_empty());
}

#[tokio::test]
async fn a_peer_without_a_table_says_it_publishes_nothing() {
    let (client, _server) = rpc::memory_pair(VoidService, TestService::default())
        .await
        .expect("memory pair");
    let err = remote(client.lookup("anything").await);
    assert_eq!(err.kind, RemoteErrorKind::NotFound);
    assert_eq!(err.type_name, "rpc::NothingPublished");
    assert!(
        err.message.contains("this peer publishes no named objects"),
        "{err}"
    );
}

#[tokio::test]
async fn names_no_object_can_have_fail_before_they_are_sent() {
    let (client, _server) = memory_pair(&Published::new()).await;
    let cases = [
        ("", NameError::Empty),
        ("a b", NameError::Forbidden { ch: ' ', at: 1 }),
        (&"n".repeat(257), NameError::TooLong { len: 257 }),
    ];
    for (name, expected) in cases {
        match client.lookup(name).await {
            Err(Error::Name(e)) => assert_eq!(e, expected),
            other => panic!("expected a name error for {name:?}, got {other:?}"),
        }
    }
    assert_eq!(client.stats().pending_calls, 0);
}

#[tokio::test]
async fn lookups_go_both_ways() {
    let mine = Published::new();
    mine.publish("callback.sink", Sensor::object(7.0))
        .expect("publish");
    let (client, server) = rpc::memory_pair_with(
        ConnectOptions::new().published(mine),
        ConnectOptions::new().service(TestService::default()),
    )
    .await
    .expect("memory pair");
    let sink = server
        .lookup("callback.sink")
        .await
        .expect("the server looks up the client's");
    assert_eq!(read(&sink).await, 7.0);
    let err = remote(client.lookup("callback.sink").await);
    assert_eq!(
        err.type_name, "rpc::NothingPublished",
        "the server publishes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_objects_are_reached_by_lookup_and_by_uri_over_tcp() {
    let bound = tcp_server().await;
    bound
        .publish("sensor.kitchen", Sensor::object(21.5))
        .expect("publish kitchen");
    bound
        .publish(
            "sensor.cellar",
            Arc::new(Sensor {
                value: 12.0,
                _live: None,
            }),
        )
        .expect("publish cellar");
    assert!(matches!(
        bound.publish("sensor.kitchen", Sensor::object(0.0)),
        Err(NameError::Taken(name)) if name == "sensor.kitchen"
    ));
    assert_eq!(bound.publish("", Sensor::object(0.0)), Err(NameError::Empty));
    let port = bound.local_addr().expect("addr").port();
    let (uri, stop) = serve(bound).await;
    assert_eq!(uri.to_string(), format!("rpc://127.0.0.1:{port}"));

    let conn = guard("connect", connect_direct(&uri, ConnectOptions::new()))
        .await
        .expect("connect by URI");
    assert_eq!(conn.root().call::<i64>("test", (1,)).await.expect("root"), 2);
    let kitchen = conn.lookup("sensor.kitchen").await.expect("lookup kitchen");
    let cellar = conn.lookup("sensor.cellar").await.expect("lookup cellar");
    assert_eq!((read(&kitchen).await, read(&cellar).await), (21.5, 12.0));

    for (name, value) in [("sensor.kitchen", 21.5), ("sensor.cellar", 12.0)] {
        let text = format!("rpc://127.0.0.1:{port}/{name}");
        let by_uri = guard(
            "lookup by URI",
            lookup_direct(&text.parse().expect("URI"), ConnectOptions::new()),
        )
        .await
        .expect("lookup by URI");
        assert_eq!(read(&by_uri).await, value, "{text}");
        assert_ne!(by_uri.connection().id(), conn.id(), "a connection of its own");
    }
    let root = lookup_direct(&uri, ConnectOptions::new())
        .await
        .expect("root by URI");
    assert_eq!(root.call::<i64>("test", (2,)).await.expect("root call"), 3);

    let missing: Uri = format!("rpc://127.0.0.1:{port}/sensor.attic")
        .parse()
        .expect("URI");
    let err = remote(lookup_direct(&missing, ConnectOptions::new()).await);
    assert!(err.message.contains(r#""sensor.attic""#), "{err}");
    stop.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpublishing_refuses_new_lookups_and_keeps_handed_out_references() {
    let bound = tcp_server().await;
    let table = bound.published();
    let (named, stop) = serve_kitchen(bound).await;

    let held = lookup_direct(&named, ConnectOptions::new())
        .await
        .expect("lookup");
    assert!(table.unpublish("sensor.kitchen").is_some());
    assert!(table.unpublish("sensor.kitchen").is_none());

    let err = remote(held.connection().lookup("sensor.kitchen").await);
    assert_eq!(err.type_name, "rpc::UnknownName");
    let err = remote(lookup_direct(&named, ConnectOptions::new()).await);
    assert_eq!(err.type_name, "rpc::UnknownName");
    assert_eq!(read(&held).await, 21.5, "a reference handed out keeps working");
    stop.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_published_after_serve_started_are_found() {
    let bound = tcp_server().await;
    let table = bound.published();
    let (uri, stop) = serve(bound).await;
    let conn = connect_direct(&uri, ConnectOptions::new())
        .await
        .expect("connect");
    assert_eq!(remote(conn.lookup("late").await).type_name, "rpc::UnknownName");

    table
        .publish("late", Sensor::object(3.0))
        .expect("publish while serving");
    let late = conn.lookup("late").await.expect("found on the same connection");
    assert_eq!(read(&late).await, 3.0);
    let fresh = lookup_direct(&uri.with_object("late").expect("name"), ConnectOptions::new())
        .await
        .expect("found by a new client");
    assert_eq!(read(&fresh).await, 3.0);
    stop.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_from_lookup_holds_its_connection() {
    let disconnects = Arc::new(AtomicUsize::new(0));
    let counted = disconnects.clone();
    let bound = Server::new(move || TestService {
        disconnects: counted.clone(),
        ..TestService::default()
    })
    .bind("127.0.0.1:0")
    .await
    .expect("bind");
    let (named, stop) = serve_kitchen(bound).await;
    let kitchen = lookup_direct(&named, ConnectOptions::new())
        .await
        .expect("lookup");
    // The helper's own handle is gone; the reference's keeps the connection open.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!kitchen.connection().is_closed());
    assert_eq!(read(&kitchen).await, 21.5);
    assert_eq!(disconnects.load(Ordering::SeqCst), 0);

    // Closed when the last reference goes.
    drop(kitchen);
    eventually("the server sees the client go", || {
        disconnects.load(Ordering::SeqCst) == 1
    })
    .await;
    stop.shutdown();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_unix_uris_reach_published_objects() {
    let dir = std::env::temp_dir().join(format!("rpc-published-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("app.sock");
    let _ = std::fs::remove_file(&path);
    let bound = Server::new(TestService::default)
        .bind_unix(&path)
        .expect("bind unix");
    let (named, stop) = serve_kitchen(bound).await;
    assert_eq!(named.scheme(), Scheme::RpcUnix);
    let text = format!("rpc+unix://{}#sensor.kitchen", path.display());
    assert_eq!(named.to_string(), text);
    assert_eq!(text.parse::<Uri>().expect("URI"), named);

    let kitchen = guard("lookup over unix", lookup_direct(&named, ConnectOptions::new()))
        .await
        .expect("lookup");
    assert_eq!(read(&kitchen).await, 21.5);
    let root = lookup_direct(&named.root(), ConnectOptions::new())
        .await
        .expect("root");
    assert_eq!(root.call::<i64>("test", (4,)).await.expect("root call"), 5);
    stop.shutdown();
    drop((kitchen, root));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn uris_that_cannot_be_reached_directly_say_why() {
    for text in ["rpcname:home.thermostat", "rpcmeta:climate"] {
        let uri: Uri = text.parse().expect("URI");
        let err = connect_direct(&uri, ConnectOptions::new()).await.expect_err(text);
        assert!(matches!(err, Error::Uri(UriError::NeedsRegistry(_))), "{err:?}");
        assert!(err.to_string().contains("resolve through a registry"), "{err}");
        let err = lookup_direct(&uri, ConnectOptions::new()).await.expect_err(text);
        assert!(matches!(err, Error::Uri(UriError::NeedsRegistry(_))), "{err:?}");
    }
    // No TLS settings: refused before any byte is sent (no port is listening here).
    let uri: Uri = "rpc+tls://127.0.0.1:9/x".parse().expect("URI");
    match connect_direct(&uri, ConnectOptions::new()).await {
        Err(Error::Tls(msg)) => assert!(msg.contains("ConnectOptions::tls"), "{msg}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

/// Reads and drops one frame.
async fn skip_frame(s: &mut (impl AsyncReadExt + Unpin)) {
    let mut header = [0u8; 4];
    s.read_exact(&mut header).await.expect("frame header");
    let mut payload = vec![0u8; u32::from_le_bytes(header) as usize];
    s.read_exact(&mut payload).await.expect("frame payload");
}

fn lookup_request(seq: u64, target: u64, name: String) -> Vec<u8> {
    frame_of(&Message::Request(Request {
        seq,
        target,
        op: Op::Lookup(name),
        args: vec![],
        flags: 0,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_made_lookups_of_another_target_or_an_oversized_name_are_refused() {
    let (named, stop) = serve_kitchen(tcp_server().await).await;
    let port = named.port().expect("a TCP URI");
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    raw.write_all(&raw_greeting()).await.expect("greeting");
    let mut preamble = [0u8; 12];
    raw.read_exact(&mut preamble).await.expect("preamble");
    skip_frame(&mut raw).await; // the server's hello

    // The first object exported on a connection gets id 1.
    raw.write_all(&lookup_request(1, 0, "sensor.kitchen".into()))
        .await
        .expect("send");
    skip_frame(&mut raw).await; // the reply, carrying the reference
    raw.write_all(&lookup_request(2, 1, "sensor.kitchen".into()))
        .await
        .expect("send");
    raw.write_all(&lookup_request(3, 0, "n".repeat(300)))
        .await
        .expect("send");
    for (seq, type_name, needle) in [
        (2, "rpc::BadLookup", "asked of the root"),
        (3, "rpc::UnknownName", "an object name of 300 bytes"),
    ] {
        match guard("an error reply", read_message(&mut raw)).await {
            Message::Error { seq: got, error } => {
                assert_eq!(got, seq);
                assert_eq!(error.type_name, type_name);
                assert!(error.message.contains(needle), "{error}");
                assert!(
                    !error.message.contains("nnnn"),
                    "the long name is not echoed: {error}"
                );
            }
            other => panic!("expected an error reply, got {other:?}"),
        }
    }
    stop.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_peer_is_refused_at_the_handshake() {
    assert_eq!(PROTOCOL_VERSION, 3, "named objects came with version 3");
    // A version-2 client reaching a server: the server sends its preamble and closes.
    let bound = tcp_server().await;
    let port = bound.local_addr().expect("addr").port();
    let (_uri, stop) = serve(bound).await;
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let v2 = rpc::core::protocol::Preamble { version: 2 }.to_bytes();
    raw.write_all(&v2).await.expect("v2 preamble");
    let got = crate::raw::read_until_closed(&mut raw).await;
    crate::raw::assert_greeting_only(&got);
    stop.shutdown();

    // A client reaching a version-2 server: the version mismatch error, naming both.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let peer = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        s.write_all(&v2).await.expect("write");
        crate::raw::read_until_closed(&mut s).await
    });
    let uri = Uri::tcp("127.0.0.1", port)
        .expect("URI")
        .with_object("x")
        .expect("name");
    match guard("lookup", lookup_direct(&uri, ConnectOptions::new())).await {
        Err(Error::VersionMismatch { local: 3, peer: 2 }) => {}
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    guard("raw peer", peer).await.expect("raw peer");
}

#[tokio::test]
async fn the_blocking_facade_looks_up_published_objects_too() {
    let bound = tcp_server().await;
    let port = bound.local_addr().expect("addr").port();
    let (_uri, _stop) = serve_kitchen(bound).await;
    let value = tokio::task::spawn_blocking(move || {
        let conn = rpc::blocking::connect("127.0.0.1", port).expect("connect");
        let sensor = conn.lookup("sensor.kitchen").expect("lookup");
        let missing = conn.lookup("sensor.attic").expect_err("not published");
        assert!(missing.to_string().contains("sensor.attic"), "{missing}");
        sensor.call::<f64>("read", ()).expect("read")
    })
    .await
    .expect("join");
    assert_eq!(value, 21.5);
}
