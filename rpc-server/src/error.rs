//! The error type of this crate.

/// Errors of servers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Accepting or configuring a socket failed.
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    /// A connection failed.
    #[error("connection failed")]
    Connection(#[from] rpc_core::Error),
    /// An object could not be published under a name (see `BoundServer::publish`).
    #[error(transparent)]
    Name(#[from] rpc_core::NameError),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes on one line (public as `cli::error_chain`; the registry client
/// names its causes with it too).
pub use rpc_core::error_chain;
