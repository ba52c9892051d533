//! Objects by reference: netrefs, identity, typed clients, distributed reference counting,
//! and peers that forge references.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rpc::core::protocol::{Message, Op, Request, ROOT_ID};
use rpc::{service, Connection, ConnectionConfig, Error, NetRef, Object, RemoteErrorKind, VoidService};
use tokio::io::AsyncWriteExt;

use crate::harness::{pair_with, Pair, Transport, TRANSPORTS};
use crate::raw::{assert_closed_with, frame_of, guard, hand_driven, read_message, read_until_closed};

/// A file-like object that lives on the server.
pub struct RemoteFile {
    name: String,
    data: Mutex<Vec<u8>>,
}

#[service]
impl RemoteFile {
    fn exposed_write(&self, bytes: Vec<u8>) {
        self.data.lock().extend_from_slice(&bytes);
    }

    fn exposed_read(&self) -> Vec<u8> {
        self.data.lock().clone()
    }

    #[attribute]
    fn exposed_name(&self) -> String {
        self.name.clone()
    }
}

/// Hands out files by reference.
#[derive(Default)]
pub struct FileStore {
    shared: Mutex<Option<Arc<RemoteFile>>>,
}

#[service]
impl FileStore {
    /// Opens a fresh file: it is returned by reference.
    fn exposed_open(&self, name: String) -> RemoteFile {
        RemoteFile {
            name,
            data: Mutex::new(Vec::new()),
        }
    }

    /// The same file object every time.
    fn exposed_shared(&self) -> Object {
        let mut shared = self.shared.lock();
        let file = shared.get_or_insert_with(|| {
            Arc::new(RemoteFile {
                name: "shared".into(),
                data: Mutex::default(),
            })
        });
        Object::from(file.clone())
    }

    /// Several references inside one result.
    fn exposed_open_many(&self, n: usize) -> Vec<Object> {
        (0..n)
            .map(|i| {
                Object::new(RemoteFile {
                    name: format!("f{i}"),
                    data: Mutex::default(),
                })
            })
            .collect()
    }

    /// Whether `file` is the shared file itself (a reference sent home arrives as the original).
    fn exposed_is_shared(&self, file: Object) -> bool {
        let shared = self.shared.lock();
        match (file.downcast::<RemoteFile>(), shared.as_ref()) {
            (Some(f), Some(s)) => Arc::ptr_eq(&f, s),
            _ => false,
        }
    }

    /// Reads a file the caller holds a reference to, wherever it lives.
    async fn exposed_read_other(&self, file: NetRef) -> Result<Vec<u8>, Error> {
        file.call("read", ()).await
    }

    /// How many objects this side exports on the calling connection.
    fn exposed_exported(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }
}

async fn store_pair(t: Transport) -> Pair {
    pair_with(t, VoidService, FileStore::default(), ConnectionConfig::default()).await
}

/// Waits (bounded) until the server exports `n` objects on this connection.
async fn server_exports_settle(root: &NetRef, n: usize) {
    for _ in 0..500 {
        if root.call::<usize>("exported", ()).await.expect("exported") == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the server never got down to {n} exported objects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_object_stays_on_the_server_and_is_freed_on_drop() {
    for t in TRANSPORTS {
        let p = store_pair(t).await;
        let root = p.client.root();
        let f: NetRef = root.call("open", ("a.txt",)).await.expect("open");
        assert_ne!(f.id(), ROOT_ID);
        f.call::<()>("write", (b"hi".to_vec(),)).await.expect("write");
        f.call::<()>("write", (b" there".to_vec(),)).await.expect("write");
        assert_eq!(f.call::<Vec<u8>>("read", ()).await.expect("read"), b"hi there");
        assert_eq!(f.getattr::<String>("name").await.expect("attr"), "a.txt");
        assert_eq!(f.display().await.expect("display"), "<REMOTEFILE service>");
        let d = f.describe().await.expect("describe");
        assert_eq!(d.name, "REMOTEFILE");
        assert_eq!(p.client.stats().imported_objects, 1);
        assert_eq!(root.call::<usize>("exported", ()).await.expect("exported"), 1);

        let clone = f.clone();
        drop(f);
        assert_eq!(
            clone
                .call::<Vec<u8>>("read", ())
                .await
                .expect("a clone keeps it alive"),
            b"hi there"
        );
        drop(clone);
        server_exports_settle(&root, 0).await;
        assert_eq!(p.client.stats().imported_objects, 0, "{t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_survives_round_trips() {
    for t in TRANSPORTS {
        let p = store_pair(t).await;
        let root = p.client.root();
        let a: NetRef = root.call("shared", ()).await.expect("shared");
        let b: NetRef = root.call("shared", ()).await.expect("shared again");
        assert_eq!(a, b, "the same remote object gives equal NetRefs");
        // NetRef hashes by (connection, object id), which never change: the lint's worry
        // (interior mutability behind the key) does not apply.
        #[allow(clippy::mutable_key_type)]
        let mut set = std::collections::HashSet::new();
        set.insert(a.clone());
        assert!(set.contains(&b));
        assert_eq!(p.client.stats().imported_objects, 1, "one proxy for both");
        let other: NetRef = root.call("open", ("x",)).await.expect("open");
        assert_ne!(a, other);

        assert!(
            root.call::<bool>("is_shared", (a.clone(),))
                .await
                .expect("sent home"),
            "{t:?}"
        );
        assert!(!root
            .call::<bool>("is_shared", (other.clone(),))
            .await
            .expect("sent home"));

        // The server sent the shared file twice; both sendings are released together.
        drop((a, b, other, set));
        server_exports_settle(&root, 0).await;
    }
}

#[tokio::test]
async fn references_inside_typed_results() {
    let p = store_pair(Transport::Memory).await;
    let files: Vec<NetRef> = p.client.root().call("open_many", (3,)).await.expect("many");
    assert_eq!(files.len(), 3);
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f.getattr::<String>("name").await.expect("name"), format!("f{i}"));
    }
    #[derive(serde::Deserialize)]
    struct Named {
        file: NetRef,
    }
    let value = rpc::Value::Map(vec![(
        rpc::Value::Str("file".into()),
        rpc::to_value(&files[0]).expect("a NetRef is a value"),
    )]);
    let named: Named = rpc::from_value(value).expect("struct with a NetRef field");
    assert_eq!(named.file, files[0]);
    drop((files, named));
    server_exports_settle(&p.client.root(), 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_clients_check_calls_at_compile_time() {
    for t in TRANSPORTS {
        let p = store_pair(t).await;
        let store = FileStoreClient::new(p.client.root());
        let file: RemoteFileClient = store.open("typed.txt".into()).await.expect("open");
        file.write(b"abc".to_vec()).await.expect("write");
        assert_eq!(file.read().await.expect("read"), b"abc");
        assert_eq!(file.name().await.expect("attribute"), "typed.txt");
        // The dynamic API works on the same object.
        assert_eq!(
            file.netref().call::<Vec<u8>>("read", ()).await.expect("dynamic"),
            b"abc"
        );
        let shared: RemoteFileClient = rpc::from_value(
            rpc::to_value(
                &p.client
                    .root()
                    .call::<NetRef>("shared", ())
                    .await
                    .expect("shared"),
            )
            .expect("value"),
        )
        .expect("client from a NetRef");
        assert_eq!(shared.name().await.expect("attribute"), "shared");
        shared.write(b"xyz".to_vec()).await.expect("write");
        assert_eq!(shared.read().await.expect("read"), b"xyz");
        // A method returning `Object` gives the typed client a `NetRef` (the same object).
        let again: NetRef = store.shared().await.expect("typed shared");
        assert_eq!(again.call::<Vec<u8>>("read", ()).await.expect("read"), b"xyz");
        assert_eq!(&again, shared.netref(), "the same object, the same reference");
        drop(again);
        // Our own object is not the server's: refused as an argument of the wrong side.
        match store.is_shared(Object::new(VoidService)).await {
            Err(Error::Remote(e)) => {
                assert_eq!(e.kind, RemoteErrorKind::BadArguments, "{t:?}");
                assert!(
                    e.message
                        .contains("expected an object of this side, got a reference to the peer's object"),
                    "{}",
                    e.message
                );
            }
            other => panic!("expected a refused argument, got {other:?}"),
        }
        drop(shared);
        drop(file);
        server_exports_settle(&p.client.root(), 0).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_netrefs_created_and_dropped_leave_the_tables_empty() {
    let p = store_pair(Transport::Tcp).await;
    let root = p.client.root();
    for i in 0..10_000u32 {
        let f: NetRef = root.call("open", (format!("f{i}"),)).await.expect("open");
        if i % 1000 == 0 {
            f.call::<()>("write", (vec![1u8],)).await.expect("write");
        }
    }
    server_exports_settle(&root, 0).await;
    assert_eq!(p.client.stats().imported_objects, 0);
    assert_eq!(p.client.stats().exported_objects, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_netref_passed_to_a_third_party_is_forwarded() {
    let (client1, _server1) = rpc::memory_pair(VoidService, FileStore::default())
        .await
        .expect("pair 1");
    let (client2, _server2) = rpc::memory_pair(VoidService, FileStore::default())
        .await
        .expect("pair 2");
    let f: NetRef = client1.root().call("open", ("far",)).await.expect("open");
    f.call::<()>("write", (b"from afar".to_vec(),))
        .await
        .expect("write");
    // Server 2 reads a file of server 1 through this client.
    let got: Vec<u8> = client2
        .root()
        .call("read_other", (f.clone(),))
        .await
        .expect("forwarded");
    assert_eq!(got, b"from afar");
    // Server 2 let go of the forwarder when its call ended.
    for _ in 0..500 {
        if client2.stats().exported_objects == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(client2.stats().exported_objects, 0);
    assert_eq!(
        client1.stats().imported_objects,
        1,
        "the client still holds the file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_a_released_or_closed_reference_is_a_clear_error() {
    let p = store_pair(Transport::Memory).await;
    let f: NetRef = p.client.root().call("open", ("gone",)).await.expect("open");
    p.client.close().await;
    let e = f.call::<Vec<u8>>("read", ()).await.expect_err("closed");
    assert!(matches!(e, Error::ConnectionClosed(_)), "{e:?}");
    assert_eq!(
        p.client.stats().imported_objects,
        0,
        "a closed connection frees its tables"
    );
}

#[tokio::test]
async fn the_export_table_is_bounded() {
    let config = ConnectionConfig::default().max_exported_objects(3);
    let p = pair_with(Transport::Memory, VoidService, FileStore::default(), config).await;
    let root = p.client.root();
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(
            root.call::<NetRef>("open", (format!("{i}"),))
                .await
                .expect("room"),
        );
    }
    let e = root
        .call::<NetRef>("open", ("one too many",))
        .await
        .expect_err("full");
    match e {
        Error::Remote(r) => {
            assert_eq!(r.kind, RemoteErrorKind::Refused);
            assert!(
                r.message
                    .contains("too many objects exported on this connection (limit 3)"),
                "{r}"
            );
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    drop(held);
    server_exports_settle(&root, 0).await;
    root.call::<NetRef>("open", ("room again",))
        .await
        .expect("room after releases");
}

#[tokio::test]
async fn forged_references_reach_nothing() {
    let (conn, mut raw) = hand_driven(ConnectionConfig::default()).await;
    // A call on an object id this side never gave out.
    let req = Request {
        seq: 1,
        target: 777,
        op: Op::Call("test".into()),
        args: vec![],
        flags: 0,
    };
    raw.write_all(&frame_of(&Message::Request(req)))
        .await
        .expect("send");
    match read_message(&mut raw).await {
        Message::Error { seq: 1, error } => {
            assert_eq!(error.kind, RemoteErrorKind::Refused);
            assert!(error.message.contains("no object with id 777"), "{error}");
        }
        other => panic!("expected an error reply, got {other:?}"),
    }
    // A reference to one of "our" objects that we never sent: forged by hand on the wire.
    let mut payload = Vec::new();
    let req = Request {
        seq: 2,
        target: ROOT_ID,
        op: Op::Call("test".into()),
        args: vec![rpc::Value::Int(0)],
        flags: 0,
    };
    Message::Request(req).encode_into(&mut payload).expect("encode");
    // The last argument byte pair is the Int tag and value; swap in ReceiverRef(555).
    payload.truncate(payload.len() - 4);
    payload.extend_from_slice(&[1, 10, 0xab, 0x04, 0]);
    let mut framed = (payload.len() as u32).to_le_bytes().to_vec();
    framed.extend_from_slice(&payload);
    raw.write_all(&framed).await.expect("send forged");
    match read_message(&mut raw).await {
        Message::Error { seq: 2, error } => {
            assert_eq!(error.kind, RemoteErrorKind::Refused);
            assert!(error.message.contains("reference to object 555"), "{error}");
        }
        other => panic!("expected an error reply, got {other:?}"),
    }
    assert!(
        !conn.is_closed(),
        "a refused request does not close the connection"
    );
    // A release of an object never exported closes the connection, saying why.
    raw.write_all(&frame_of(&Message::Release { refs: vec![(999, 1)] }))
        .await
        .expect("send");
    guard("the close", conn.closed()).await;
    let reason = conn.close_reason().expect("reason");
    assert!(reason.to_string().contains("release of object 999"), "{reason}");
    assert_closed_with(&read_until_closed(&mut raw).await, "release of object 999");
}
