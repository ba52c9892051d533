//! Classic mode for the `rpc` framework: remote scripting and administration of a machine,
//! safe by default.
//!
//! RPyC's classic mode hands a client the server's whole Python interpreter. Here the server
//! embeds a script engine ([rhai](https://rhai.rs)) with a persistent scope per connection, and
//! host modules (`os`, `fs`, `process`, `time`, `sys`, files) as services with typed clients:
//! the same power, with limits on every script, an allow-list of modules, and a root directory
//! that file access cannot escape.
//!
//! ```
//! use rpc_classic::{ClassicConfig, ClassicService};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The server: a session per connection (`rpc-classic serve` on the command line).
//! let server = ClassicService::server(&ClassicConfig::default().allow(["time"]))?;
//! let bound = server.bind("127.0.0.1:0").await?;
//! let port = bound.local_addr()?.port();
//! tokio::spawn(bound.serve());
//!
//! // The client.
//! let c = rpc_classic::connect("127.0.0.1", port).await?;
//! c.execute("fn square(x) { x * x }").await?;
//! assert_eq!(c.eval::<i64>("square(7) + 1").await?, 50);
//! let cube = c.teleport("|x| x * x * x").await?;
//! assert_eq!(cube.call_self::<i64>((3,)).await?, 27);
//! assert!(c.modules().time().now().await? > 0.0);
//! // Not allowed by this server: a clear error.
//! assert!(c.modules().os().getcwd().await.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! Scripts run on a thread of each session's own, one at a time per session, under
//! [`ScriptLimits`] (operations, call depth, sizes, wall time); see [`engine`] for what scripts
//! can do with values and objects, [`modules`] for the host modules and the root, and
//! [`transfer`] for uploads and downloads.

#![deny(missing_docs)]

mod client;
mod config;
pub mod engine;
pub mod modules;
mod service;
pub mod transfer;

pub use client::{connect, connect_with, Builtins, Classic, Modules, Namespace, OutputRedirect};
pub use config::{ClassicConfig, ScriptLimits};
pub use service::{ClassicService, Redirect};

/// The port classic servers listen on by default: `rpyc_classic`'s.
pub const DEFAULT_PORT: u16 = 18812;

/// What Python's `rpyc.classic.connect` is told by a classic server (its port is
/// `rpyc_classic`'s, so Python users will try): the `ConnectionRefusedError` it raises says
/// this server runs rhai scripts, not Python, and how to reach it instead.
pub const PYTHON_CLIENT_REFUSAL: &str = "this is an rpc-classic server (Rust): it runs rhai scripts, not \
     Python, so rpyc.classic.connect cannot use it. Use `rpc-classic shell HOST:PORT`, or a Rust client \
     (rpc::classic::connect)";
