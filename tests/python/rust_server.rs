//! Python's own rpyc client (6.0.2 from PyPI, unmodified) against a Rust server: the issue's
//! snippet, every line asserted, and the object tables empty on the Rust side afterwards.

use super::service::run_against_rust_server;

const SNIPPET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/scripts/client_snippet.py"
);

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn the_issue_snippet_passes_against_the_rust_server() {
    run_against_rust_server(SNIPPET).await;
}
