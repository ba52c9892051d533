//! References passed to a third peer over loopback TCP: a client holds a document of server A
//! and hands it to server B, which reads it through the client (now and later, after the call
//! that passed it returned). The document is freed on A when the last holder lets go, including
//! when B goes away holding it; when A's connection closes, B's reference fails with a clear
//! error. Both tables of every connection go back to 0.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rpc::server::Server;
use rpc::{service, Connection, ConnectionConfig, Error, NetRef, RemoteErrorKind, VoidService};

use super::{connect, settles};
use crate::harness::{eventually, Live};
use crate::raw::{guard, start};

/// A document that lives on its server, counted while it lives.
pub struct Document {
    text: Mutex<String>,
    _live: Live,
}

#[service]
impl Document {
    fn exposed_append(&self, more: String) {
        self.text.lock().push_str(&more);
    }

    fn exposed_read(&self) -> String {
        self.text.lock().clone()
    }
}

/// Opens documents, and reads (or keeps) documents that live elsewhere.
#[derive(Default)]
struct Library {
    documents: Arc<AtomicUsize>,
    kept: Mutex<Option<NetRef>>,
}

#[service]
impl Library {
    fn exposed_open(&self, text: String) -> Document {
        Document {
            text: Mutex::new(text),
            _live: Live::new(&self.documents),
        }
    }

    /// Reads a document the caller holds a reference to, wherever it lives.
    async fn exposed_read_other(&self, doc: NetRef) -> Result<String, Error> {
        doc.call("read", ()).await
    }

    /// Keeps a reference to read it later.
    fn exposed_keep(&self, doc: NetRef) {
        *self.kept.lock() = Some(doc);
    }

    async fn exposed_read_kept(&self) -> Result<String, Error> {
        let doc = self.kept.lock().clone();
        match doc {
            Some(doc) => doc.call("read", ()).await,
            None => Ok("nothing kept".to_owned()),
        }
    }

    fn exposed_forget(&self) {
        self.kept.lock().take();
    }

    fn exposed_exported(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }

    fn exposed_imported(&self, conn: &Connection) -> usize {
        conn.stats().imported_objects
    }
}

/// Waits until the server behind `conn` exports `n` objects on it.
async fn exports_settle(conn: &Connection, n: usize) {
    let root = conn.root();
    settles("the server's exports settled", || async {
        root.call::<usize>("exported", ()).await.expect("exported") == n
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_passed_to_a_third_peer_is_freed_when_that_peer_goes() {
    let a = Arc::new(Library::default());
    let server_a = start(Server::shared(a.clone())).await;
    let server_b = start(Server::shared(Arc::new(Library::default()))).await;
    let to_a = connect(server_a.port, VoidService, ConnectionConfig::default()).await;
    let to_b = connect(server_b.port, VoidService, ConnectionConfig::default()).await;

    let doc: NetRef = guard("open", to_a.root().call("open", ("from afar",)))
        .await
        .expect("open");
    guard("append", doc.call::<()>("append", (", over TCP",)))
        .await
        .expect("append");
    // B reads A's document through this client.
    let got: String = guard("read_other", to_b.root().call("read_other", (doc.clone(),)))
        .await
        .expect("forwarded");
    assert_eq!(got, "from afar, over TCP");
    // B let go of it when its call ended; A's document is still held by this client.
    eventually("the forwarder released", || to_b.stats().exported_objects == 0).await;
    assert_eq!(to_a.stats().imported_objects, 1);
    assert_eq!(a.documents.load(Ordering::SeqCst), 1);

    // B keeps it; this client lets go of its own reference; the document lives on.
    guard("keep", to_b.root().call::<()>("keep", (doc.clone(),)))
        .await
        .expect("keep");
    assert_eq!(to_b.stats().exported_objects, 1, "the forwarder B holds");
    assert_eq!(
        guard("imported", to_b.root().call::<usize>("imported", ()))
            .await
            .expect("imported"),
        1
    );
    drop(doc);
    assert_eq!(
        to_a.stats().imported_objects,
        1,
        "the forwarder holds A's document"
    );
    exports_settle(&to_a, 1).await;
    assert_eq!(
        guard("read_kept", to_b.root().call::<String>("read_kept", ()))
            .await
            .expect("read later"),
        "from afar, over TCP"
    );
    assert_eq!(a.documents.load(Ordering::SeqCst), 1);

    // B goes away holding it: its connection closes, the forwarder goes, and A frees the
    // document.
    drop(server_b);
    guard("B's connection closed", to_b.closed()).await;
    assert_eq!(to_b.stats().exported_objects, 0);
    assert_eq!(to_b.stats().imported_objects, 0);
    eventually("this client let go of A's document", || {
        to_a.stats().imported_objects == 0
    })
    .await;
    exports_settle(&to_a, 0).await;
    eventually("A freed the document", || a.documents.load(Ordering::SeqCst) == 0).await;
    assert!(!to_a.is_closed());
    to_a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_owner_connection_frees_its_objects_and_fails_the_third_peer_clearly() {
    let a = Arc::new(Library::default());
    let server_a = start(Server::shared(a.clone())).await;
    let server_b = start(Server::shared(Arc::new(Library::default()))).await;
    let to_a = connect(server_a.port, VoidService, ConnectionConfig::default()).await;
    let to_b = connect(server_b.port, VoidService, ConnectionConfig::default()).await;
    let mut docs = Vec::new();
    for i in 0..3 {
        let doc: NetRef = guard("open", to_a.root().call("open", (format!("doc {i}"),)))
            .await
            .expect("open");
        docs.push(doc);
    }
    assert_eq!(a.documents.load(Ordering::SeqCst), 3);
    guard("keep", to_b.root().call::<()>("keep", (docs[1].clone(),)))
        .await
        .expect("keep");
    assert_eq!(
        guard("read_kept", to_b.root().call::<String>("read_kept", ()))
            .await
            .expect("read"),
        "doc 1"
    );

    // The connection to A closes while this client and B hold A's documents.
    to_a.close().await;
    assert_eq!(to_a.stats().imported_objects, 0);
    eventually("A freed every document of the closed connection", || {
        a.documents.load(Ordering::SeqCst) == 0
    })
    .await;
    let e = guard("read_kept", to_b.root().call::<String>("read_kept", ()))
        .await
        .expect_err("the document's connection is closed");
    match e {
        Error::Remote(r) => {
            assert_eq!(r.kind, RemoteErrorKind::Application);
            assert_eq!(r.type_name, "rpc::ForwardFailed");
            assert_eq!(r.message, "connection closed");
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    let e = guard("read", docs[0].call::<String>("read", ()))
        .await
        .expect_err("closed");
    assert!(matches!(e, Error::ConnectionClosed(_)), "{e:?}");
    drop(docs);
    // B still holds the forwarder until it forgets it; then nothing is left on B's connection.
    assert_eq!(to_b.stats().exported_objects, 1);
    guard("forget", to_b.root().call::<()>("forget", ()))
        .await
        .expect("forget");
    eventually("the forwarder released", || to_b.stats().exported_objects == 0).await;
    assert_eq!(to_b.stats().imported_objects, 0);
    to_b.close().await;
}
