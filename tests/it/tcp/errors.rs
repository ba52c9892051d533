//! Remote errors over loopback TCP: the remote type name, message and whole cause chain (in
//! order) of sync, async and blocking methods; a panic; and a callback's error that crosses
//! the connection twice and comes back unchanged.

use rpc::server::Server;
use rpc::{service, Callback, ConnectionConfig, Error, RemoteError, RemoteErrorKind, VoidService};

use super::connect;
use crate::raw::{guard, start, start_server};

/// The innermost cause.
#[derive(Debug, thiserror::Error)]
#[error("the disk is full")]
pub struct DiskFull;

/// The middle of the chain.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the journal")]
pub struct JournalError(#[source] DiskFull);

/// The error a method returns: two causes deep.
#[derive(Debug, thiserror::Error)]
#[error("cannot save {0}")]
pub struct SaveError(String, #[source] JournalError);

fn save_error(name: &str) -> SaveError {
    SaveError(name.to_owned(), JournalError(DiskFull))
}

/// What a client's callback fails with.
#[derive(Debug, thiserror::Error)]
#[error("the client refuses {0}")]
pub struct Refusal(i64, #[source] std::io::Error);

struct Saver;

#[service]
impl Saver {
    fn exposed_save(&self, name: String) -> Result<(), SaveError> {
        Err(save_error(&name))
    }

    async fn exposed_save_later(&self, name: String) -> Result<u64, SaveError> {
        tokio::task::yield_now().await;
        Err(save_error(&name))
    }

    #[blocking]
    fn exposed_save_blocking(&self, name: String) -> Result<String, SaveError> {
        Err(save_error(&name))
    }

    /// Calls the caller's callback and passes its error on with `?`.
    async fn exposed_ask(&self, f: Callback, x: i64) -> Result<i64, Error> {
        f.call((x,)).await
    }
}

fn remote<T: std::fmt::Debug>(result: rpc::Result<T>) -> (RemoteError, String) {
    match result {
        Err(e @ Error::Remote(_)) => {
            let shown = format!("{e:#}");
            (e.as_remote().expect("a remote error").clone(), shown)
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_error_keeps_its_type_message_and_cause() {
    let server = start_server(ConnectionConfig::default()).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let (e, shown) = remote(guard("fail", conn.root().call::<()>("fail", ())).await);
    assert_eq!(e.kind, RemoteErrorKind::Application);
    assert_eq!(e.type_name, "it::harness::Failure");
    assert_eq!(e.message, "the operation failed");
    assert_eq!(e.causes, ["disk on fire"]);
    assert_eq!(e.to_string(), "remote it::harness::Failure: the operation failed");
    assert_eq!(
        shown,
        "remote it::harness::Failure: the operation failed: disk on fire"
    );
    // A panic is a remote error of its own kind; the connection goes on.
    let (e, _) = remote(guard("boom", conn.root().call::<i64>("boom", ())).await);
    assert_eq!(e.kind, RemoteErrorKind::Panic);
    assert_eq!(e.message, "method panicked: boom");
    assert!(e.causes.is_empty());
    assert_eq!(
        guard("alive", conn.root().call::<i64>("test", (1,)))
            .await
            .expect("alive"),
        2
    );
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cause_chain_arrives_whole_and_in_order_from_every_kind_of_method() {
    let server = start(Server::new(|| Saver)).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let root = conn.root();
    let results = [
        remote(guard("save", root.call::<()>("save", ("a.txt",))).await),
        remote(guard("save_later", root.call::<u64>("save_later", ("a.txt",))).await),
        remote(guard("save_blocking", root.call::<String>("save_blocking", ("a.txt",))).await),
    ];
    for (e, shown) in results {
        assert_eq!(e.kind, RemoteErrorKind::Application);
        assert_eq!(e.type_name, "it::tcp::errors::SaveError");
        assert_eq!(e.message, "cannot save a.txt");
        assert_eq!(e.causes, ["cannot write the journal", "the disk is full"]);
        assert_eq!(
            shown,
            "remote it::tcp::errors::SaveError: cannot save a.txt: cannot write the journal: \
             the disk is full"
        );
    }
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_error_crosses_twice_and_comes_back_unchanged() {
    let server = start(Server::new(|| Saver)).await;
    let conn = connect(server.port, VoidService, ConnectionConfig::default()).await;
    let picky = Callback::new(|x: i64| {
        if x < 0 {
            Err(Refusal(x, std::io::Error::other("negative numbers")))
        } else {
            Ok(x * 2)
        }
    });
    assert_eq!(
        guard("ask", conn.root().call::<i64>("ask", (picky.clone(), 21)))
            .await
            .expect("answered"),
        42
    );
    // The server's `?` sends the callback's error back as it came.
    let (e, shown) = remote(guard("ask", conn.root().call::<i64>("ask", (picky, -1))).await);
    assert_eq!(e.kind, RemoteErrorKind::Application);
    assert_eq!(e.type_name, "it::tcp::errors::Refusal");
    assert_eq!(e.message, "the client refuses -1");
    assert_eq!(e.causes, ["negative numbers"]);
    assert_eq!(
        shown,
        "remote it::tcp::errors::Refusal: the client refuses -1: negative numbers"
    );
    conn.close().await;
}
