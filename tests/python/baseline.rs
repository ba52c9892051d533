//! The fixtures of issue 15's interop suite, checked against Python alone: the issue's client
//! snippet (`scripts/client_snippet.py`, every line asserted) passes against the same service
//! written in Python with rpyc's ThreadedServer (`scripts/service.py`). The Rust server must
//! pass the same script once it speaks the rpyc wire; this keeps the script honest meanwhile.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::venv::{assert_script_ok, python};

const SERVICE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/scripts/service.py");
const SNIPPET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/scripts/client_snippet.py"
);

/// rpyc's own ThreadedServer with the test service, on 127.0.0.1; the child and its port.
pub(super) async fn python_server() -> (tokio::process::Child, u16) {
    let python = tokio::task::spawn_blocking(python).await.expect("venv");
    let mut child = tokio::process::Command::new(python)
        .arg(SERVICE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python server");
    let stdout = child.stdout.take().expect("piped");
    let line = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .expect("the Python server's port line in time")
    .expect("read")
    .expect("a line");
    let port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn the_issue_snippet_passes_against_rpycs_own_server() {
    let (_server, port) = python_server().await;
    assert_script_ok(SNIPPET, port).await;
}
