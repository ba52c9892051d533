//! Tutorial 1 (RPyC part 1): a service, its exposed methods and attributes, calls by name,
//! `getattr`/`setattr`, the typed client, and remote errors.
//!
//! Run: `cargo run --release --example tutorial_01_services`
//!
//! Page: `docs/tutorial/01-services.md`. Starts a server on 127.0.0.1 (a free port), calls it
//! by name and through the typed client, checks every answer, and exits.

#[path = "common/check.rs"]
mod check;

use std::sync::atomic::{AtomicI64, Ordering};

use check::check;
use rpc::server::Server;
use rpc::{service, Error, RemoteErrorKind};

/// What `divide` returns for a zero divisor.
#[derive(Debug, thiserror::Error)]
#[error("cannot divide {0} by zero")]
struct DivideByZero(i64);

/// One calculator per connection; its name is `CALCULATOR` (RPyC's rule: no `Service` suffix).
#[derive(Default)]
struct CalculatorService {
    memory: AtomicI64,
}

#[service]
impl CalculatorService {
    /// Exposed by its prefix: reachable as `add` and as `exposed_add`.
    fn exposed_add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    /// Exposed by the attribute, without the prefix. An `Err` reaches the caller.
    #[exposed]
    fn divide(&self, a: i64, b: i64) -> Result<i64, DivideByZero> {
        a.checked_div(b).ok_or(DivideByZero(a))
    }

    /// A readable attribute...
    #[attribute]
    fn exposed_memory(&self) -> i64 {
        self.memory.load(Ordering::SeqCst)
    }

    /// ...that the peer may also set: `setattr("memory", v)`.
    #[setter]
    fn exposed_set_memory(&self, v: i64) {
        self.memory.store(v, Ordering::SeqCst);
    }

    /// Neither prefixed nor marked: the peer cannot reach it.
    #[allow(dead_code)]
    fn reset(&self) {
        self.memory.store(0, Ordering::SeqCst);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::new(CalculatorService::default)
        .bind("127.0.0.1:0")
        .await?;
    let port = server.local_addr()?.port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());

    let conn = rpc::connect("127.0.0.1", port).await?;
    check(
        conn.peer_service_name() == "CALCULATOR",
        "the service is named CALCULATOR",
    )?;
    let root = conn.root();

    // By name, with or without the prefix; the result type is named at the call.
    let sum = root.call::<i64>("add", (2, 3)).await?;
    let same = root.call::<i64>("exposed_add", (2, 3)).await?;
    println!("add(2, 3) = {sum}, exposed_add(2, 3) = {same}");
    check(sum == 5 && same == 5, "add(2, 3) should be 5")?;

    // Attributes: read, write, read again.
    root.setattr("memory", 42).await?;
    let memory: i64 = root.getattr("memory").await?;
    println!("memory after setattr = {memory}");
    check(memory == 42, "memory should be 42 after setattr")?;

    // The typed client the macro generated: the same methods, checked at compile time.
    let calc = CalculatorServiceClient::new(root.clone());
    calc.set_memory(7).await?;
    let quotient = calc.divide(21, 3).await?;
    println!(
        "typed: divide(21, 3) = {quotient}, memory = {}",
        calc.memory().await?
    );
    check(quotient == 7 && calc.memory().await? == 7, "typed client answers")?;

    // An `Err` of the method arrives as Error::Remote, with the remote type name and message.
    match calc.divide(1, 0).await {
        Err(Error::Remote(e)) => {
            println!("divide(1, 0) -> {} ({})", e.message, e.type_name);
            check(e.kind == RemoteErrorKind::Application, "an application error")?;
            check(e.message == "cannot divide 1 by zero", "the method's own message")?;
        }
        other => return Err(format!("divide(1, 0) answered {other:?}").into()),
    }

    // Only what is exposed is reachable.
    match root.call::<()>("reset", ()).await {
        Err(Error::Remote(e)) if e.kind == RemoteErrorKind::NotFound => println!("reset() -> {e}"),
        other => return Err(format!("reset() should be unreachable, got {other:?}").into()),
    }
    let d = root.describe().await?;
    let methods: Vec<&str> = d.methods.iter().map(|m| m.name.as_str()).collect();
    println!("{} exposes methods {methods:?}", d.name);
    check(methods == ["add", "divide"], "exactly add and divide are exposed")?;

    conn.close().await;
    stop.shutdown();
    serving.await??;
    Ok(())
}
