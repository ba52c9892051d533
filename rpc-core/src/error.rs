//! Error types: [`Error`] for everything that can fail locally, and [`RemoteError`], the
//! serde struct that carries a failure of the peer across the wire.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::frame::FrameError;
use crate::name::NameError;
use crate::uri::UriError;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a connection or a call.
///
/// Failures of the peer arrive as [`Error::Remote`]; every other variant is local (transport,
/// framing, protocol, timeouts, value conversion).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    /// The byte stream did not hold valid frames.
    #[error("invalid frame")]
    Frame(#[from] FrameError),
    /// A frame did not hold a valid message, or a message broke the protocol's rules.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer does not speak this protocol, or the handshake failed.
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The peer speaks another version of the protocol.
    #[error("protocol version mismatch: this side speaks version {local}, the peer speaks {peer}")]
    VersionMismatch {
        /// Our [`PROTOCOL_VERSION`](crate::protocol::PROTOCOL_VERSION).
        local: u32,
        /// The version the peer announced.
        peer: u32,
    },
    /// The connection is closed (or was lost) before the call could complete.
    #[error("connection closed")]
    ConnectionClosed(#[source] Option<Arc<Error>>),
    /// The peer closed the connection because of an error, which it names.
    #[error("the peer closed the connection: {0}")]
    PeerClosed(String),
    /// No reply arrived in time.
    #[error("call timed out after {0:?}")]
    Timeout(Duration),
    /// A blocking call of the `blocking` facade (or a blocking wait on an asynchronous result)
    /// timed out while callbacks for a `blocking::Dispatcher` waited undelivered in its queue: the reply
    /// may have been waiting on them. The facade reports it in place of [`Error::Timeout`] (the
    /// async API never does); [`Error::is_timeout`] is true for both. Run the dispatcher
    /// (`run_pending`, `run_for`) or make the call from its thread, whose waits run it.
    #[error(
        "call timed out after {limit:?}; {callbacks} callback(s) for a Dispatcher were waiting \
         undelivered (the oldest for {oldest:?}): run the Dispatcher (run_pending/run_for) or \
         make the call from its thread"
    )]
    TimeoutUndelivered {
        /// The timeout that expired.
        limit: Duration,
        /// How many peer callbacks were queued, not yet run, in live dispatchers.
        callbacks: usize,
        /// How long the oldest of them had been waiting.
        oldest: Duration,
    },
    /// An asynchronous result expired before its reply arrived.
    #[error("the result expired before the reply arrived")]
    Expired,
    /// The peer answered with an error.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A local value could not be converted to the wire form.
    #[error("cannot encode value: {0}")]
    Encode(String),
    /// A received value did not fit the requested Rust type.
    #[error("cannot decode value: {0}")]
    Decode(String),
    /// A configured limit was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// Nothing came from the peer for the keepalive deadline: it was declared dead and the
    /// connection closed (the reason of its calls' [`Error::ConnectionClosed`]).
    #[error("the peer was silent for {0:?} (the keepalive deadline) and was declared dead")]
    DeadPeer(Duration),
    /// The peer is shutting down gracefully: it takes no new calls (those already running
    /// finish). The text is the peer's reason.
    #[error("the peer is shutting down and takes no new calls: {0}")]
    PeerClosing(String),
    /// The peer's hello lacks a protocol feature this needs (named).
    #[error("the peer does not support {0}")]
    Unsupported(String),
    /// TLS failed: a certificate or key could not be loaded, or the TLS handshake failed (an
    /// untrusted, expired or wrong-host certificate, a peer that does not speak TLS). The
    /// message carries rustls' reason.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// An authenticator refused the peer, or the peer refused us (a wrong shared secret, a
    /// missing credential, a malformed or truncated exchange).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// A name no object can be published or looked up under, or one already taken.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A text is not a [`Uri`](crate::Uri), or a URI was given where it cannot be used (an
    /// `rpcname:` URI to a function that connects directly).
    #[error(transparent)]
    Uri(#[from] UriError),
}

impl Clone for Error {
    /// Clones the error; an I/O error keeps its kind and message (its source is not cloneable).
    fn clone(&self) -> Self {
        match self {
            Error::Io(e) => Error::Io(std::io::Error::new(e.kind(), e.to_string())),
            Error::Frame(e) => Error::Frame(e.clone()),
            Error::Protocol(m) => Error::Protocol(m.clone()),
            Error::Handshake(m) => Error::Handshake(m.clone()),
            Error::VersionMismatch { local, peer } => Error::VersionMismatch {
                local: *local,
                peer: *peer,
            },
            Error::ConnectionClosed(r) => Error::ConnectionClosed(r.clone()),
            Error::PeerClosed(m) => Error::PeerClosed(m.clone()),
            Error::Timeout(d) => Error::Timeout(*d),
            Error::TimeoutUndelivered {
                limit,
                callbacks,
                oldest,
            } => Error::TimeoutUndelivered {
                limit: *limit,
                callbacks: *callbacks,
                oldest: *oldest,
            },
            Error::Expired => Error::Expired,
            Error::Remote(e) => Error::Remote(e.clone()),
            Error::Encode(m) => Error::Encode(m.clone()),
            Error::Decode(m) => Error::Decode(m.clone()),
            Error::Limit(m) => Error::Limit(m.clone()),
            Error::DeadPeer(d) => Error::DeadPeer(*d),
            Error::PeerClosing(m) => Error::PeerClosing(m.clone()),
            Error::Unsupported(m) => Error::Unsupported(m.clone()),
            Error::Tls(m) => Error::Tls(m.clone()),
            Error::Auth(m) => Error::Auth(m.clone()),
            Error::Name(e) => Error::Name(e.clone()),
            Error::Uri(e) => Error::Uri(e.clone()),
        }
    }
}

/// At most `max` characters of a peer's text, for errors and logs (a peer controls the length).
pub(crate) fn shortened(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}... ({} bytes in all)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}

/// An error and its causes on one line: `cannot listen on 127.0.0.1:80: permission denied`.
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

impl Error {
    /// This error and its causes on one line (see [`error_chain`]).
    pub fn chain(&self) -> String {
        error_chain(self)
    }

    /// The remote error, if this is one.
    pub fn as_remote(&self) -> Option<&RemoteError> {
        match self {
            Error::Remote(e) => Some(e),
            _ => None,
        }
    }

    /// True if no reply arrived in time: [`Error::Timeout`] or [`Error::TimeoutUndelivered`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_) | Error::TimeoutUndelivered { .. })
    }

    /// True if this error means the connection is gone.
    pub fn is_connection_closed(&self) -> bool {
        matches!(self, Error::ConnectionClosed(_) | Error::PeerClosed(_))
    }
}

/// What kind of failure a [`RemoteError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// The method or attribute does not exist or is not exposed.
    NotFound,
    /// Wrong number or types of arguments.
    BadArguments,
    /// The method ran and returned an error.
    Application,
    /// The method panicked.
    Panic,
    /// The request was refused: unknown object, unsupported operation, a limit.
    Refused,
    /// The request was cancelled before it completed.
    Cancelled,
}

/// A failure on the peer, as it crosses the wire: the remote type name, its message and the
/// messages of its cause chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteError {
    /// What kind of failure this is.
    pub kind: RemoteErrorKind,
    /// The Rust type name of the error on the peer (e.g. `my_crate::MyError`).
    #[serde(deserialize_with = "crate::value::budget::deserialize_string")]
    pub type_name: String,
    /// The error's own message (its `Display`).
    #[serde(deserialize_with = "crate::value::budget::deserialize_string")]
    pub message: String,
    /// Messages of the error's `source()` chain, outermost first.
    #[serde(deserialize_with = "crate::value::budget::deserialize_strings")]
    pub causes: Vec<String>,
}

impl RemoteError {
    /// A new remote error without causes.
    pub fn new(kind: RemoteErrorKind, type_name: impl Into<String>, message: impl Into<String>) -> Self {
        RemoteError {
            kind,
            type_name: type_name.into(),
            message: message.into(),
            causes: Vec::new(),
        }
    }

    /// Captures an application error, its type name and its cause chain.
    pub fn from_error<E: std::error::Error + ?Sized>(type_name: &str, err: &E) -> Self {
        let mut causes = Vec::new();
        let mut source = err.source();
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        RemoteError {
            kind: RemoteErrorKind::Application,
            type_name: type_name.to_owned(),
            message: err.to_string(),
            causes,
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "remote {}: {}", self.type_name, self.message)?;
        if f.alternate() {
            for c in &self.causes {
                write!(f, ": {c}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for RemoteError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn cause_chain_is_captured() {
        let e = Outer(std::io::Error::other("inner"));
        let r = RemoteError::from_error("Outer", &e);
        assert_eq!(r.message, "outer");
        assert_eq!(r.causes, vec!["inner".to_owned()]);
        assert_eq!(r.to_string(), "remote Outer: outer");
        assert_eq!(format!("{r:#}"), "remote Outer: outer: inner");
    }
}
