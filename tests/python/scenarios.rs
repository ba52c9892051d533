//! More of Python's own rpyc client (6.0.2, unmodified) against the Rust test service: one
//! script per theme under `scripts/scenario_*.py`, every line asserted on the Python side, and
//! the server's object tables empty afterwards.

use std::time::Duration;

use super::service::{rust_server, tables_empty};
use super::venv::{run_file, shown};

/// Serves the Rust test service, runs `scripts/<script>` against it, asserts it printed `OK`,
/// then that the server's connections ended with empty tables.
async fn scenario(script: &str) {
    let path = format!("{}/tests/python/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let (server, seen) = rust_server().await;
    let port = server.local_addr().expect("addr").port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let out = run_file(&path, &[port.to_string()], Duration::from_secs(60)).await;
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

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn python_arguments_reach_rust_types() {
    scenario("scenario_arguments.py").await;
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn rust_errors_and_refusals_are_python_exceptions_and_the_connection_lives_on() {
    scenario("scenario_errors.py").await;
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn python_callbacks_run_concurrently_and_reentrantly() {
    scenario("scenario_concurrency.py").await;
}
