//! Python's own rpyc client (6.0.2 from PyPI, unmodified) against a Rust server: the issue's
//! snippet, every line asserted, and the object tables empty on the Rust side afterwards.

use std::time::Duration;

use super::service::{rust_server, tables_empty};
use super::venv::{run_file, shown};

const SNIPPET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/scripts/client_snippet.py"
);

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn the_issue_snippet_passes_against_the_rust_server() {
    let (server, seen) = rust_server().await;
    let port = server.local_addr().expect("addr").port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let out = run_file(SNIPPET, &[port.to_string()], Duration::from_secs(60)).await;
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "OK",
        "{}",
        shown(&out)
    );
    tables_empty(&seen).await;
    stop.shutdown();
    serving.await.expect("join").expect("served");
}
