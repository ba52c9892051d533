//! A GUI-style main loop that hands long work to a worker process and gets the result back on
//! its own thread — without a GUI toolkit.
//!
//! Run: `cargo run --example worker`
//!
//! The program starts itself again as a child (`--worker`) that serves over its stdin/stdout.
//! The main loop ticks every 100 ms while the child runs a 2-second task started with
//! `async_`; the result arrives through `add_callback` and is delivered on the main loop's
//! thread by a `Dispatcher`. The tick count shows the loop never blocked. Exits by itself.

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpc::blocking::{self, Dispatcher};
use rpc::{service, ConnectOptions};

/// The worker's service: slow, blocking work.
struct Worker;

#[service]
impl Worker {
    /// Works for `ms` milliseconds (on the blocking pool, not the runtime's threads).
    #[blocking]
    fn exposed_crunch(&self, ms: u64) -> String {
        std::thread::sleep(Duration::from_millis(ms));
        format!("crunched for {ms} ms in process {}", std::process::id())
    }
}

fn worker() -> Result<(), Box<dyn std::error::Error>> {
    blocking::serve_stdio(ConnectOptions::new().service(Worker))?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--worker") {
        return worker();
    }
    let mut child = Command::new(std::env::current_exe()?);
    child.arg("--worker");
    let conn = blocking::connect_subproc(child, ConnectOptions::new())?;
    println!("main: started worker, service {}", conn.peer_service_name());

    let dispatcher = Dispatcher::new();
    let main_thread = std::thread::current().id();
    let (done_tx, done_rx) = mpsc::channel::<(Result<String, String>, bool)>();
    let started = Instant::now();
    let result = conn.root().async_::<String>("crunch", (2_000u64,))?;
    result.add_callback(dispatcher.deliver(move |outcome: rpc::Result<String>| {
        let on_main = std::thread::current().id() == main_thread;
        let outcome = outcome.map_err(|e| format!("the task failed: {e}"));
        let _ = done_tx.send((outcome, on_main));
    }));

    // The "event loop": tick every 100 ms, run whatever the dispatcher has for us.
    let mut ticks = 0u32;
    let (outcome, on_main) = loop {
        dispatcher.run_pending();
        if let Ok(done) = done_rx.try_recv() {
            break done;
        }
        if ticks > 100 {
            return Err("the worker's result never arrived".into());
        }
        std::thread::sleep(Duration::from_millis(100));
        ticks += 1;
    };
    let text = outcome?;
    println!(
        "main: result {text:?} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !text.starts_with("crunched for 2000 ms") {
        return Err(format!("the worker answered {text:?}").into());
    }
    println!("main: delivered on the main thread: {on_main}; the loop ticked {ticks} times meanwhile");
    if !on_main || ticks < 15 {
        return Err("the result was not delivered on the main loop, or the loop was blocked".into());
    }
    conn.close();
    Ok(())
}
