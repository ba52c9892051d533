//! The fixtures of issue 15's interop suite, checked against Python alone: the issue's client
//! snippet (`scripts/client_snippet.py`, every line asserted) passes against the same service
//! written in Python with rpyc's ThreadedServer (`scripts/service.py`). The Rust server passes
//! the same script (`rust_server.rs`); passing against Python's own server keeps it honest.

use std::process::Stdio;

use super::port_child;
use super::venv::{assert_script_ok, python};

const SERVICE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/scripts/service.py");
const SNIPPET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/scripts/client_snippet.py"
);

/// rpyc's own ThreadedServer with the test service, on 127.0.0.1; the child and its port.
pub(super) async fn python_server() -> (tokio::process::Child, u16) {
    let python = tokio::task::spawn_blocking(python).await.expect("venv");
    port_child::start(&python, SERVICE, Stdio::null(), Stdio::null()).await
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn the_issue_snippet_passes_against_rpycs_own_server() {
    let (_server, port) = python_server().await;
    assert_script_ok(SNIPPET, port).await;
}
