//! End-to-end tests of the `rpc` facade: one binary, one module per area. Each scenario runs
//! over the in-memory pair and, where it matters, over loopback TCP.

mod async_results;
mod bad_input;
mod batching;
mod blocking;
mod blocking_dispatch;
mod bulk;
mod callbacks;
mod calls;
mod concurrency;
mod events;
mod faults;
mod harness;
mod hostile;
mod iteration;
mod liveness;
mod netrefs;
mod published;
mod raw;
mod rpyc_server;
mod server;
mod soak;
mod tcp;
mod timeouts;
mod tls;
