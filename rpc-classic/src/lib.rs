//! Classic mode for the `rpc` framework: remote scripting and administration of a machine,
//! safe by default.
//!
//! RPyC's classic mode hands a client the server's whole Python interpreter. Here the server
//! embeds a script engine ([rhai](https://rhai.rs)) with a persistent scope per connection, and
//! host modules (`os`, `fs`, `process`, `time`, `sys`, files) as services with typed clients:
//! the same power, with limits on every script, an allow-list of modules, and a root directory
//! that file access cannot escape.

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
