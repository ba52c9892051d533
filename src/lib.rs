//! `rpc`: remote objects that feel local.
//!
//! A symmetric RPC framework in the spirit of RPyC. Two peers share one connection; each may
//! expose a root service, and either may call the other at any time, including from inside a
//! call of the other side.
//!
//! ```
//! use rpc::service;
//! use rpc::server::Server;
//!
//! struct TestService;
//!
//! #[service]
//! impl TestService {
//!     fn exposed_test(&self, num: i64) -> i64 {
//!         1 + num
//!     }
//!     #[attribute]
//!     fn exposed_the_real_answer_though(&self) -> i64 {
//!         43
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::new(|| TestService).bind("127.0.0.1:0").await?;
//! let port = server.local_addr()?.port();
//! tokio::spawn(server.serve());
//!
//! let conn = rpc::connect("127.0.0.1", port).await?;
//! let n: i64 = conn.root().call("test", (11,)).await?;
//! let a: i64 = conn.root().getattr("the_real_answer_though").await?;
//! assert_eq!((n, a), (12, 43));
//! # Ok(())
//! # }
//! ```
//!
//! The facade re-exports [`rpc_core`] (protocol, values, connections, services) at its root and
//! as [`core`], [`rpc_server`] as [`server`], and [`rpc_classic`] (remote scripting and
//! administration) as [`classic`].

#![deny(missing_docs)]

pub use rpc_classic as classic;
pub use rpc_core as core;
pub use rpc_core::*;
pub use rpc_server as server;

/// Python's own `rpyc`, both ways: a Rust program calls a Python rpyc server
/// ([`connect`](rpyc::connect)), and Python's rpyc clients call Rust services served with
/// [`Server::rpyc`](crate::server::Server::rpyc). The wire layers (framing, brine, boxing,
/// vinegar) are [`rpc_core::rpyc`].
pub mod rpyc {
    pub use rpc_core::rpyc::*;
    pub use rpc_core::transport::rpyc::{connect, connect_stream, connect_with, fetch, Client};
}

/// Naming and discovery: the registry client ([`Registry`](naming::Registry)), its service
/// and stores, UDP discovery (see [`rpc_server::naming`]).
pub mod naming {
    pub use rpc_server::naming::*;
}

/// Connects to the server a URI names: `rpc://host:port`, `rpc+tls://…`, `rpc+unix:///path`,
/// or `rpcname:NAME` / `rpcmeta:TAG,…` through the client's registry (`RPC_REGISTRY`, else
/// discovery if `RPC_DISCOVERY` is set, else localhost:18811).
pub use rpc_server::naming::connect_uri;
/// [`connect_uri`] with [`ConnectOptions`] (TLS, a secret, the service this side exposes).
pub use rpc_server::naming::connect_uri_with;
/// The object a URI names: a server's root, one of its published objects
/// (`rpc://host:port/NAME`), or what a registry entry names.
pub use rpc_server::naming::lookup_uri;
/// [`lookup_uri`] with [`ConnectOptions`].
pub use rpc_server::naming::lookup_uri_with;

/// TLS: [`ClientTls`] for [`ConnectOptions::tls`], [`ServerTls`](tls::ServerTls)
/// for [`server::Server::tls`], the PEM helpers, and `rustls` itself.
pub mod tls {
    pub use rpc_core::transport::tls::*;
    pub use rpc_server::tls::*;
}

/// Authentication before the protocol starts: the shared-secret challenge
/// ([`SharedSecret`]), the server's [`Authenticator`](auth::Authenticator)
/// trait, and what a connection knows of its peer ([`Credentials`]).
pub mod auth {
    pub use rpc_core::{CertificateIdentity, Credentials, PeerInfo, SharedSecret};
    pub use rpc_server::auth::*;
}
