//! The server half of the two-terminal demo.
//!
//! Run: `cargo run --example server [PORT] [--one-shot]`, then `cargo run --example client [PORT]`
//! in another terminal. The port defaults to 18861 (RPyC's). It listens on 127.0.0.1 only,
//! serves until Ctrl-C, or serves a single connection and exits with `--one-shot`.

mod common;

use common::TestService;
use rpc::server::Server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 18861u16;
    let mut one_shot = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--one-shot" => one_shot = true,
            other => {
                port = other
                    .parse()
                    .map_err(|_| format!("not a port or flag: {other}"))?
            }
        }
    }
    let server = Server::new(|| TestService).bind(("127.0.0.1", port)).await?;
    println!("serving TestService on {}", server.local_addr()?);
    if one_shot {
        server.serve_one().await?;
        return Ok(());
    }
    // Ctrl-C drains: clients are told, running calls finish, then the connections close.
    server
        .serve_until(async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down: draining the connections");
        })
        .await?;
    Ok(())
}
