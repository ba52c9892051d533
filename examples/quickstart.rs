//! The RPyC quickstart in Rust: a server and a client in one process.
//!
//! Run: `cargo run --release --example quickstart`
//!
//! Starts a `TestService` server on 127.0.0.1 (a free port), connects, calls a method by name,
//! reads an attribute, shows the errors for a failing and a non-exposed method, and exits.

mod common;

use common::TestService;
use rpc::server::Server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::new(|| TestService).bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    println!("server listening on 127.0.0.1:{port}");

    let conn = rpc::connect("127.0.0.1", port).await?;
    println!("connected to the {} service", conn.peer_service_name());
    let root = conn.root();

    let n: i64 = root.call("test", (11,)).await?;
    println!("root.test(11)                = {n}");
    check(n == 12, "test(11) should be 12")?;

    let a: i64 = root.getattr("the_real_answer_though").await?;
    println!("root.the_real_answer_though  = {a}");
    check(a == 43, "the_real_answer_though should be 43")?;

    let s: String = root.call("slow", (50,)).await?;
    println!("root.slow(50)                = {s:?}");
    check(s == "slept 50 ms", "slow(50) should say it slept 50 ms")?;

    match root.call::<()>("fail", ()).await {
        Err(e) => println!("root.fail()                  -> {e}"),
        Ok(()) => return Err("root.fail() unexpectedly succeeded".into()),
    }
    match root.call::<String>("get_question", ()).await {
        Err(e) => println!("root.get_question()          -> {e}"),
        Ok(q) => return Err(format!("root.get_question() unexpectedly answered {q:?}").into()),
    }

    conn.close().await;
    shutdown.shutdown();
    serving.await??;
    println!("done");
    Ok(())
}

/// The demo is also a check: a wrong answer makes it exit with an error.
fn check(ok: bool, what: &str) -> Result<(), Box<dyn std::error::Error>> {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}
