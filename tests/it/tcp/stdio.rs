//! A real `serve_stdio` child process: this test binary runs itself again as the child (the
//! test below, with `RPC_TEST_STDIO_CHILD=1`), which serves a service over its stdin and
//! stdout; the parent talks to it through `rpc::connect_subproc`. Checked: calls, calls back
//! into the parent over the same pipes, a megabyte each way, a remote error, and that the child
//! sees the parent go (close, or the last handle dropped), returns from `serve_stdio` cleanly
//! and exits.
//!
//! libtest writes "\nrunning 1 test\n" to the child's stdout before any test code runs, which
//! the parent would take for a broken preamble; a `sh` pipeline between the two drops the lines
//! up to that banner and copies the rest unchanged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rpc::{service, Connection, Error, RemoteErrorKind};

use crate::harness::ClientService;
use crate::raw::guard;

/// Set in the child's environment: serve instead of testing.
const CHILD: &str = "RPC_TEST_STDIO_CHILD";
/// Where the child writes how `serve_stdio` ended.
const MARKER: &str = "RPC_TEST_STDIO_MARKER";
/// A child the parent forgot still ends after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(30);

/// The child's service.
struct Worker;

#[service]
impl Worker {
    fn exposed_pid(&self) -> u32 {
        std::process::id()
    }

    fn exposed_add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    /// Calls the parent's service back while the parent waits.
    async fn exposed_ask_parent(&self, conn: Connection, x: i64) -> Result<i64, Error> {
        conn.root().call("double", (x,)).await
    }

    fn exposed_reverse(&self, bytes: rpc::serde_bytes::ByteBuf) -> rpc::serde_bytes::ByteBuf {
        let mut bytes = bytes.into_vec();
        bytes.reverse();
        rpc::serde_bytes::ByteBuf::from(bytes)
    }

    #[blocking]
    fn exposed_crunch(&self, ms: u64) -> String {
        std::thread::sleep(Duration::from_millis(ms));
        format!("crunched {ms}")
    }

    fn exposed_fail(&self) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("the child fails"))
    }
}

/// The child's side: serves over stdin and stdout until the parent goes, then says how it
/// ended in the marker file.
fn serve_as_child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the child's runtime");
    let served = runtime.block_on(async {
        tokio::time::timeout(
            CHILD_LIFETIME,
            rpc::serve_stdio(rpc::ConnectOptions::new().service(Worker)),
        )
        .await
    });
    let outcome = match served {
        Ok(Ok(())) => "served".to_owned(),
        Ok(Err(e)) => format!("serve_stdio failed: {e}"),
        Err(_) => "the parent never went".to_owned(),
    };
    if let Some(marker) = std::env::var_os(MARKER) {
        std::fs::write(marker, &outcome).expect("write the marker");
    }
    // The blocking stdin reader of a child that timed out must not keep it alive.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// This test's name as libtest knows it (the module path without the crate).
fn own_name() -> String {
    let module = module_path!();
    let (_, path) = module.split_once("::").expect("a module path inside the crate");
    format!("{path}::a_serve_stdio_child_serves_its_parent_and_exits_when_it_goes")
}

/// The command that starts this binary as a child serving over stdio, behind the filter that
/// drops libtest's banner.
fn child_command(marker: &Path) -> tokio::process::Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        // `read` takes a byte at a time from a pipe: nothing after the banner is lost. A
        // second `cat` drains what the child prints once the parent stopped reading.
        .arg(
            r#""$0" "$@" | { while IFS= read -r line; do case "$line" in "running "*) break;; esac; done; cat; cat >/dev/null; }"#,
        )
        .arg(exe)
        .args(["--exact", &own_name(), "--nocapture"])
        .env(CHILD, "1")
        .env(MARKER, marker);
    command
}

/// Whether process `pid` has exited (gone, or a zombie waiting to be reaped).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the command name's closing parenthesis.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// Waits (bounded) for the marker, then for the child to exit; returns the marker's text.
async fn child_ended(marker: &Path, pid: u32) -> String {
    let mut outcome = None;
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(marker) {
            if !text.is_empty() {
                outcome = Some(text);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let outcome = outcome.expect("the child returned from serve_stdio within 5 s");
    for _ in 0..500 {
        if exited(pid) {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the child {pid} did not exit within 5 s of returning from serve_stdio");
}

/// How the parent lets go of the child.
#[derive(Debug, Clone, Copy)]
enum Ending {
    Close,
    Drop,
}

async fn parent(ending: Ending) {
    let marker: PathBuf =
        std::env::temp_dir().join(format!("rpc-stdio-child-{}-{ending:?}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let conn = guard(
        "starting the child",
        rpc::connect_subproc(
            child_command(&marker),
            rpc::ConnectOptions::new().service(ClientService),
        ),
    )
    .await
    .expect("the child started and shook hands");
    assert_eq!(conn.peer_service_name(), "WORKER");
    let root = conn.root();
    let pid: u32 = guard("pid", root.call("pid", ())).await.expect("pid");
    assert_ne!(pid, std::process::id(), "served by another process");
    assert!(!exited(pid));
    assert_eq!(
        guard("add", root.call::<i64>("add", (2, 3))).await.expect("add"),
        5
    );
    assert_eq!(
        guard("ask_parent", root.call::<i64>("ask_parent", (21,)))
            .await
            .expect("the child called the parent back"),
        42
    );
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let back: rpc::serde_bytes::ByteBuf = guard(
        "reverse",
        root.call("reverse", (rpc::serde_bytes::Bytes::new(&data),)),
    )
    .await
    .expect("a megabyte each way");
    let mut expected = data;
    expected.reverse();
    assert!(back.into_vec() == expected, "the megabyte came back reversed");
    assert_eq!(
        guard("crunch", root.call::<String>("crunch", (50,)))
            .await
            .expect("crunch"),
        "crunched 50"
    );
    let e = guard("fail", root.call::<()>("fail", ()))
        .await
        .expect_err("fails");
    let r = e.as_remote().expect("a remote error");
    assert_eq!(r.kind, RemoteErrorKind::Application);
    assert_eq!(r.message, "the child fails");
    match ending {
        Ending::Close => conn.close().await,
        Ending::Drop => drop((root, conn)),
    }
    let outcome = child_ended(&marker, pid).await;
    let _ = std::fs::remove_file(&marker);
    assert_eq!(outcome, "served", "{ending:?}: serve_stdio returned cleanly");
}

#[test]
fn a_serve_stdio_child_serves_its_parent_and_exits_when_it_goes() {
    if std::env::var_os(CHILD).is_some() {
        serve_as_child();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for ending in [Ending::Close, Ending::Drop] {
            parent(ending).await;
        }
    });
}
