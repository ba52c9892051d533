//! Claims checked over loopback TCP (127.0.0.1, port 0) with the real clock, which the other
//! modules check over the in-memory pipe only: call timeouts and cancellation, remote
//! iteration, asynchronous results, remote error chains, references passed to a third peer,
//! callbacks with several arguments, the blocking facade and its dispatcher, and a real
//! `serve_stdio` child process. One file per area; this one holds what they share.
//!
//! Bounds on elapsed time are loose on purpose: at least the configured time, and well under
//! the 5 s guard, so that a busy two-core machine cannot make them fail.

mod async_results;
mod blocking;
mod callbacks;
mod errors;
mod iteration;
mod netrefs;
#[cfg(target_os = "linux")]
mod stdio;
mod timeouts;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rpc::server::{Server, ShutdownHandle};
use rpc::{service, Connection, ConnectionConfig, Service};

use crate::harness::Live;
use crate::raw::{guard, GUARD};

/// Connects to the loopback server on `port`, serving `service`, with `config`.
pub(crate) async fn connect<S: Service>(port: u16, service: S, config: ConnectionConfig) -> Connection {
    guard(
        "connecting over loopback TCP",
        rpc::connect_with(
            "127.0.0.1",
            port,
            rpc::ConnectOptions::new().service(service).config(config),
        ),
    )
    .await
    .expect("connect over loopback TCP")
}

/// Polls the async condition `done` until it holds, for at most about 5 s.
pub(crate) async fn settles<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..500 {
        if guard(what, done()).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen within 5 s");
}

/// A server on a runtime of its own (two worker threads of its own): for a client that is not
/// async, and for a server that blocks a thread on purpose without slowing the test's runtime.
/// Shut down when dropped.
/// Nothing of this connection runs on the server any more (`running` answered inline, so it
/// does not count itself), and a next call `test(x)` is answered.
pub(crate) async fn nothing_left_running(root: &rpc::NetRef, x: i64) {
    assert_eq!(
        guard("running", root.call::<usize>("running", ()))
            .await
            .expect("running"),
        0
    );
    assert_eq!(
        guard("the next call", root.call::<i64>("test", (x,)))
            .await
            .expect("the next call succeeds"),
        x + 1
    );
}

pub(crate) struct ServerThread {
    pub(crate) port: u16,
    stop: ShutdownHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    pub(crate) fn start(server: Server) -> ServerThread {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the server's runtime");
            runtime.block_on(async move {
                let bound = server.bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                let port = bound.local_addr().expect("local addr").port();
                tx.send((port, bound.shutdown_handle())).expect("report the port");
                bound.serve().await.expect("serve");
            });
            // A method still blocking a thread must not keep this thread alive.
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        let (port, stop) = rx.recv_timeout(GUARD).expect("the server thread started");
        ServerThread {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// Shuts the server down (closing its connections) and waits, bounded, for its thread.
    pub(crate) fn stop(mut self) {
        self.stop.shutdown();
        let thread = self.thread.take().expect("stopped once");
        for _ in 0..500 {
            if thread.is_finished() {
                thread.join().expect("the server thread ended cleanly");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the server thread did not end within 5 s of its shutdown");
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.stop.shutdown();
    }
}

/// Runs `f` on a thread of its own and waits for it at most `limit`, passing its panic on: a
/// blocking call that hangs fails the test instead of hanging it.
pub(crate) fn run_bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => {
            thread.join().expect("the thread ended after sending its result");
            out
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{what} ended without a result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// A service whose calls are slow in the two ways that matter for timeouts: one that waits
/// until it is cancelled, and one that cannot be cancelled.
#[derive(Default)]
pub struct Stall {
    /// `forever` calls that started.
    pub started: Arc<AtomicUsize>,
    /// `forever` calls running now (a drop guard counts them down when cancelled).
    pub waiting: Arc<AtomicUsize>,
    /// `stall` calls that returned.
    pub stalled: Arc<AtomicUsize>,
}

#[service]
impl Stall {
    /// Waits until cancelled.
    async fn exposed_forever(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
        let _running = Live::new(&self.waiting);
        futures::future::pending::<()>().await
    }

    /// Blocks the connection's reader for `ms` (a synchronous method runs inline on it): a
    /// `Cancel` cannot stop it, so its reply is sent however late it is.
    fn exposed_stall(&self, ms: u64) -> String {
        std::thread::sleep(Duration::from_millis(ms));
        self.stalled.fetch_add(1, Ordering::SeqCst);
        format!("stalled {ms}")
    }

    async fn exposed_slow(&self, ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        format!("slept {ms}")
    }

    fn exposed_test(&self, x: i64) -> i64 {
        x + 1
    }

    /// Requests of the calling connection running on this side as tasks (this synchronous
    /// one runs inline and is not counted).
    fn exposed_running(&self, conn: &Connection) -> usize {
        conn.stats().running_requests
    }
}
