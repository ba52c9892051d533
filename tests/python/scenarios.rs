//! More of Python's own rpyc client (6.0.2, unmodified) against the Rust test service: one
//! script per theme under `scripts/scenario_*.py`, every line asserted on the Python side, and
//! the server's object tables empty afterwards.

use super::service::run_against_rust_server;

/// Runs `scripts/<script>` against the Rust test service (see `run_against_rust_server`).
async fn scenario(script: &str) {
    let path = format!("{}/tests/python/scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    run_against_rust_server(&path).await;
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
