//! Interop with Python's own `rpyc` package (pinned in `requirements.txt`, installed from
//! PyPI into a virtual environment the tests make themselves). They need `python3` with the
//! `venv` module and PyPI, so they are ignored by a plain `cargo test`; CI runs them with
//! `cargo test --test python -- --ignored`. The tests that send rpyc frames from Rust alone
//! (`v5_client`) need no Python and run with a plain `cargo test`.

mod baseline;
mod port_child;
mod refusal;
mod rust_client;
mod rust_server;
mod scenarios;
mod service;
mod v5_client;
mod venv;
