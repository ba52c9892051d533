//! Where the servers run. By default on the benchmark's own runtime; with `--split` on a
//! current-thread runtime of their own, on a thread of their own, while the clients run on the
//! main thread's current-thread runtime: the shape of two single-threaded processes.

use std::future::Future;
use std::sync::OnceLock;

/// The servers' runtime, when they have their own.
static SERVER_RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();

/// The harness's runtime: one current-thread runtime with `one_thread`, else a multi-thread
/// runtime with 2 workers; with `split` also starts the servers' own thread (see
/// [`start_server_thread`]).
pub fn harness_runtime(one_thread: bool, split: bool) -> tokio::runtime::Runtime {
    let mut builder = if one_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    let runtime = builder.enable_all().build().expect("tokio runtime");
    if split {
        start_server_thread();
    }
    runtime
}

/// Starts the servers' own runtime on a thread of its own; every server started afterwards
/// runs there. The thread lives as long as the process.
fn start_server_thread() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bench-server".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            tx.send(runtime.handle().clone()).expect("hand over the handle");
            runtime.block_on(std::future::pending::<()>());
        })
        .expect("server thread");
    let handle = rx.recv().expect("server runtime handle");
    SERVER_RUNTIME.set(handle).expect("started once");
}

/// Runs `setup` (which binds and spawns a server) where the servers run, and returns its
/// output. Sockets and tasks it creates belong to that runtime.
pub async fn on_server_side<T, F>(setup: F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    match SERVER_RUNTIME.get() {
        Some(runtime) => runtime.spawn(setup).await.expect("server setup"),
        None => setup.await,
    }
}
