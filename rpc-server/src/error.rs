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

/// An error and its causes on one line: `cannot listen on 127.0.0.1:80: permission denied`.
/// (Public as `cli::error_chain`; the registry client names its causes with it too.)
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}
