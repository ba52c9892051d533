//! [`UriError`]: why a text is not a [`Uri`](super::Uri).

use super::Scheme;
use crate::name::NameError;
use crate::protocol::MAX_NAME_LEN;

/// Why a text is not a [`Uri`](super::Uri), or a URI cannot be used where it was given.
///
/// Each malformed form has its own variant; the message shows the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// The text has no `scheme:` at all.
    #[error(
        "invalid URI: no scheme (expected rpc://HOST:PORT, rpc+tls://HOST:PORT, rpc+unix:///PATH, \
         rpcname:NAME or rpcmeta:TAG,...)"
    )]
    MissingScheme,
    /// The scheme is none of `rpc`, `rpc+tls`, `rpc+unix`, `rpcname`, `rpcmeta`.
    #[error("invalid URI: unknown scheme {0:?} (expected rpc, rpc+tls, rpc+unix, rpcname or rpcmeta)")]
    UnknownScheme(String),
    /// A network or socket scheme without the `//` after its colon (`rpc:host:1`).
    #[error("invalid URI: {0}: URIs start with {0}://")]
    MissingSlashes(Scheme),
    /// The text is longer than [`MAX_URI_LEN`](super::MAX_URI_LEN) bytes.
    #[error("invalid URI: {0} bytes long (at most {max})", max = super::MAX_URI_LEN)]
    TooLong(usize),
    /// `rpcname://` or `rpcmeta://`: those schemes take no `//`.
    #[error("invalid URI: {0}: URIs have no // ({0}:...)")]
    UnexpectedSlashes(Scheme),
    /// A control character, or whitespace outside a socket path: no URI holds one (and none
    /// is trimmed).
    #[error("invalid URI: {ch:?} at byte {at} (URIs hold no whitespace or control characters)")]
    Forbidden {
        /// The character.
        ch: char,
        /// Its byte offset in the text.
        at: usize,
    },
    /// Nothing between `//` and the port.
    #[error("invalid URI: no host (rpc://HOST:PORT)")]
    MissingHost,
    /// The host is neither a DNS name nor an IP address.
    #[error("invalid URI: invalid host {0:?} (a DNS name, an IPv4 address, or an IPv6 address in brackets)")]
    InvalidHost(String),
    /// An IPv6 address without its brackets (`rpc://::1:18861`).
    #[error("invalid URI: an IPv6 host goes in brackets (rpc://[::1]:18861)")]
    UnbracketedIpv6,
    /// No `:PORT` after the host.
    #[error("invalid URI: no port (rpc://HOST:PORT)")]
    MissingPort,
    /// The port is not a number.
    #[error("invalid URI: invalid port {0:?} (a number from 1 to 65535)")]
    InvalidPort(String),
    /// The port is 0 or above 65535.
    #[error("invalid URI: port {0} is out of range (1 to 65535)")]
    PortOutOfRange(String),
    /// Something other than `/NAME` after the port (`rpc://host:1?x`).
    #[error("invalid URI: unexpected {0:?} after the port (only /NAME may follow)")]
    TrailingJunk(String),
    /// A `rpc+unix://` path that is not absolute (`rpc+unix://run/app.sock`).
    #[error(
        "invalid URI: the socket path {0:?} is not absolute (rpc+unix:///run/app.sock: three \
         slashes)"
    )]
    RelativePath(String),
    /// The object name (after `/`, after `#`, or of `rpcname:`) breaks the rules of names.
    #[error("invalid URI: {0}")]
    Name(#[from] NameError),
    /// `rpcmeta:` with no tag, or an empty one (`rpcmeta:a,,b`).
    #[error("invalid URI: empty tag (rpcmeta:TAG1,TAG2)")]
    EmptyTag,
    /// A tag longer than the names' bound, or one holding whitespace, a control character or a
    /// comma.
    #[error(
        "invalid URI: invalid tag {0:?} (at most {MAX_NAME_LEN} bytes; no whitespace, control \
         characters or commas)"
    )]
    InvalidTag(String),
    /// A path or a name that a URI cannot carry, since it has no escapes: a socket path with
    /// `#`, or one that is not UTF-8.
    #[error("no URI can name {0} (URIs have no escapes)")]
    Unrepresentable(String),
    /// An `rpcname:` or `rpcmeta:` URI given where only a direct address will do: such URIs
    /// name a registry entry, not a server.
    #[error(
        "{0}: URIs resolve through a registry: use rpc::connect_uri or rpc::lookup_uri, which \
         resolve them first"
    )]
    NeedsRegistry(Scheme),
    /// An object name asked of an `rpcname:` or `rpcmeta:` URI, which names no server.
    #[error("{0}: URIs name a registry entry and carry no object name")]
    NoObject(Scheme),
}
