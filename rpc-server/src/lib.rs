//! Servers for the `rpc` framework.
//!
//! A [`Server`] accepts connections on TCP or a Unix socket and gives each its root service:
//! a fresh instance per connection ([`Server::new`]) or one shared instance
//! ([`Server::shared`]), and the objects it publishes by name ([`BoundServer::publish`],
//! reached at [`BoundServer::uri`] with the name). It limits how many connections it serves at once and shuts down
//! gracefully through a [`ShutdownHandle`]. Sockets still in their handshake have a quota and
//! a deadline of their own and take no connection slot; a client that finds every slot taken
//! is told "server full"; connections silent for the idle timeout (10 minutes by default) are
//! closed (see [`ServerConfig`]). TLS ([`Server::tls`]) and an [`auth::Authenticator`]
//! ([`Server::authenticator`], e.g. a shared secret) check each client before the protocol
//! starts; what they verify is the connection's credentials.
//!
//! With the `cli` feature (on by default; off for the `rpc` facade), [`cli`] has the pieces of
//! a server binary's command line, which the `rpc-server` binary is made of.
//!
//! ```
//! use rpc_core::service;
//! use rpc_server::Server;
//!
//! struct Echo;
//!
//! #[service]
//! impl Echo {
//!     fn exposed_echo(&self, s: String) -> String {
//!         s
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::new(|| Echo).bind("127.0.0.1:0").await?;
//! let port = server.local_addr()?.port();
//! let stop = server.shutdown_handle();
//! let serving = tokio::spawn(server.serve());
//!
//! let conn = rpc_core::connect("127.0.0.1", port).await?;
//! let s: String = conn.root().call("echo", ("hi",)).await?;
//! assert_eq!(s, "hi");
//!
//! stop.shutdown();
//! serving.await??;
//! conn.closed().await;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod auth;
#[cfg(feature = "cli")]
pub mod cli;
mod error;
mod foreign;
mod listener;
pub mod naming;
mod publish;
mod rewind;
mod server;
pub mod tls;

pub use error::{Error, Result};
pub use foreign::DEFAULT_RPYC_REFUSAL;
pub use server::{
    BoundServer, Server, ServerConfig, ShutdownHandle, ThreadedServer, DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEPALIVE,
};
