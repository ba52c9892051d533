//! [`Uri`]: where a server, one of its published objects, or a registry entry is; parsed in
//! `parse.rs`, its errors in `error.rs`.

mod error;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::Ipv6Addr;
use std::path::Path;

pub use error::UriError;

use crate::error::shortened;
use crate::name::{check_name, problem, Problem};

/// Longest text parsed as a URI, in bytes: far above any real one (a host is at most 253
/// bytes, a name 256), and a bound on what a registry's answer can make this side parse.
pub const MAX_URI_LEN: usize = 4096;

/// The scheme of a [`Uri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `rpc://HOST:PORT[/NAME]`: TCP.
    Rpc,
    /// `rpc+tls://HOST:PORT[/NAME]`: TLS over TCP.
    RpcTls,
    /// `rpc+unix:///PATH[#NAME]`: a Unix domain socket.
    RpcUnix,
    /// `rpcname:NAME`: a registry entry by name.
    RpcName,
    /// `rpcmeta:TAG,...`: a registry entry by its tags.
    RpcMeta,
}

impl Scheme {
    /// The scheme as written, without its colon: `rpc`, `rpc+tls`, `rpc+unix`, `rpcname`,
    /// `rpcmeta`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Rpc => "rpc",
            Scheme::RpcTls => "rpc+tls",
            Scheme::RpcUnix => "rpc+unix",
            Scheme::RpcName => "rpcname",
            Scheme::RpcMeta => "rpcmeta",
        }
    }

    /// True for the schemes that name a server: `rpc`, `rpc+tls`, `rpc+unix`.
    pub fn is_direct(self) -> bool {
        matches!(self, Scheme::Rpc | Scheme::RpcTls | Scheme::RpcUnix)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a server, one of its published objects, or a registry entry is. Five forms, with no
/// escapes (what a URI cannot say, it refuses):
///
/// | form | names |
/// |---|---|
/// | `rpc://HOST:PORT[/NAME]` | a server over TCP: its root, or the object it publishes as `NAME` |
/// | `rpc+tls://HOST:PORT[/NAME]` | the same over TLS (the client needs `ConnectOptions::tls`) |
/// | `rpc+unix:///ABS/PATH[#NAME]` | a server on a Unix socket |
/// | `rpcname:NAME` | an entry of the registry, by name |
/// | `rpcmeta:TAG1,TAG2` | any entry of the registry with all these tags |
///
/// `HOST` is a DNS name, an IPv4 address, or an IPv6 address in brackets
/// (`rpc://[::1]:18861`). The first three forms are *direct* ([`Uri::is_direct`]): the
/// transport layer's `connect_direct` and `lookup_direct` reach them. The last two resolve
/// through a registry first (`rpc::connect_uri` does both).
///
/// ```
/// use rpc_core::{Scheme, Uri};
///
/// # fn main() -> Result<(), rpc_core::UriError> {
/// let uri: Uri = "rpc://[::1]:18861/sensor.kitchen".parse()?;
/// assert_eq!(uri.scheme(), Scheme::Rpc);
/// assert_eq!((uri.host(), uri.port()), (Some("::1"), Some(18861)));
/// assert_eq!(uri.object(), Some("sensor.kitchen"));
/// assert_eq!(uri.to_string(), "rpc://[::1]:18861/sensor.kitchen");
///
/// let tags: Uri = "rpcmeta:climate,floor:1".parse()?;
/// assert!(!tags.is_direct());
/// assert_eq!(tags.tags(), Some(&["climate".to_owned(), "floor:1".to_owned()][..]));
/// # Ok(())
/// # }
/// ```
///
/// `FromStr` parses a URI and `Display` writes it back; a URI displayed parses to an equal one.
/// Built from parts, every constructor checks what the parser checks, so a `Uri` is always one
/// that parses. Serde carries it as its text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Uri(Kind);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Kind {
    /// TCP, with or without TLS. `host` is bare (an IPv6 address without brackets).
    Net {
        tls: bool,
        host: String,
        port: u16,
        object: Option<String>,
    },
    /// A Unix socket at an absolute path.
    Unix { path: String, object: Option<String> },
    /// `rpcname:`.
    Name(String),
    /// `rpcmeta:` (at least one tag).
    Meta(Vec<String>),
}

impl Uri {
    /// `rpc://HOST:PORT`: a server's root over TCP. `host` is a DNS name or an IP address
    /// (an IPv6 address with or without brackets).
    pub fn tcp(host: &str, port: u16) -> Result<Uri, UriError> {
        Self::net(false, host, port)
    }

    /// `rpc+tls://HOST:PORT`: a server's root over TLS.
    pub fn tls(host: &str, port: u16) -> Result<Uri, UriError> {
        Self::net(true, host, port)
    }

    fn net(tls: bool, host: &str, port: u16) -> Result<Uri, UriError> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        let host = match bare.unwrap_or(host).parse::<Ipv6Addr>() {
            Ok(ip) => ip.to_string(),
            Err(_) if bare.is_none() => parse::dns_host(host)?.to_owned(),
            Err(_) => return Err(UriError::InvalidHost(shortened(host, 64))),
        };
        if port == 0 {
            return Err(UriError::PortOutOfRange("0".into()));
        }
        Ok(Uri(Kind::Net {
            tls,
            host,
            port,
            object: None,
        }))
    }

    /// `rpc+unix:///PATH`: a server's root on the Unix socket at `path`, which must be
    /// absolute, UTF-8, and free of `#` and control characters (a URI has no escapes).
    pub fn unix(path: impl AsRef<Path>) -> Result<Uri, UriError> {
        let path = path.as_ref();
        let Some(text) = path.to_str() else {
            return Err(UriError::Unrepresentable(format!(
                "the socket path {} (not UTF-8)",
                path.display()
            )));
        };
        if text.contains('#') || text.chars().any(char::is_control) {
            return Err(UriError::Unrepresentable(format!(
                "the socket path {:?} (it holds '#' or a control character)",
                shortened(text, 128)
            )));
        }
        parse::absolute_path(text)?;
        Ok(Uri(Kind::Unix {
            path: text.to_owned(),
            object: None,
        }))
    }

    /// `rpcname:NAME`: the registry entry called `name`.
    pub fn by_name(name: &str) -> Result<Uri, UriError> {
        check_name(name)?;
        Ok(Uri(Kind::Name(name.to_owned())))
    }

    /// `rpcmeta:TAG1,TAG2`: any registry entry with all of `tags` (at least one).
    pub fn by_tags<I, T>(tags: I) -> Result<Uri, UriError>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let tags: Vec<String> = tags.into_iter().map(Into::into).collect();
        if tags.is_empty() {
            return Err(UriError::EmptyTag);
        }
        for tag in &tags {
            check_tag(tag)?;
        }
        Ok(Uri(Kind::Meta(tags)))
    }

    /// The same server, naming the object it publishes as `name` instead of its root. Fails
    /// for a bad name, and for `rpcname:`/`rpcmeta:` URIs, which name no server.
    pub fn with_object(self, name: &str) -> Result<Uri, UriError> {
        check_name(name)?;
        let mut uri = self;
        match &mut uri.0 {
            Kind::Net { object, .. } | Kind::Unix { object, .. } => *object = Some(name.to_owned()),
            Kind::Name(_) | Kind::Meta(_) => return Err(UriError::NoObject(uri.scheme())),
        }
        Ok(uri)
    }

    /// The same server's root (the URI itself if it names no object).
    pub fn root(&self) -> Uri {
        let mut uri = self.clone();
        if let Kind::Net { object, .. } | Kind::Unix { object, .. } = &mut uri.0 {
            *object = None;
        }
        uri
    }

    /// The URI's scheme.
    pub fn scheme(&self) -> Scheme {
        match &self.0 {
            Kind::Net { tls: false, .. } => Scheme::Rpc,
            Kind::Net { tls: true, .. } => Scheme::RpcTls,
            Kind::Unix { .. } => Scheme::RpcUnix,
            Kind::Name(_) => Scheme::RpcName,
            Kind::Meta(_) => Scheme::RpcMeta,
        }
    }

    /// True if the URI names a server (`rpc`, `rpc+tls`, `rpc+unix`); false for `rpcname:`
    /// and `rpcmeta:`, which resolve through a registry.
    pub fn is_direct(&self) -> bool {
        self.scheme().is_direct()
    }

    /// True for `rpc+tls://`.
    pub fn is_tls(&self) -> bool {
        self.scheme() == Scheme::RpcTls
    }

    /// The host of a TCP URI, without brackets (`::1` for `rpc://[::1]:18861`).
    pub fn host(&self) -> Option<&str> {
        match &self.0 {
            Kind::Net { host, .. } => Some(host),
            _ => None,
        }
    }

    /// The port of a TCP URI.
    pub fn port(&self) -> Option<u16> {
        match &self.0 {
            Kind::Net { port, .. } => Some(*port),
            _ => None,
        }
    }

    /// The socket path of an `rpc+unix://` URI.
    pub fn socket_path(&self) -> Option<&Path> {
        match &self.0 {
            Kind::Unix { path, .. } => Some(Path::new(path)),
            _ => None,
        }
    }

    /// The name of the published object a direct URI names (`None`: the server's root).
    pub fn object(&self) -> Option<&str> {
        match &self.0 {
            Kind::Net { object, .. } | Kind::Unix { object, .. } => object.as_deref(),
            _ => None,
        }
    }

    /// The registry name of an `rpcname:` URI.
    pub fn registry_name(&self) -> Option<&str> {
        match &self.0 {
            Kind::Name(name) => Some(name),
            _ => None,
        }
    }

    /// The tags of an `rpcmeta:` URI (never empty).
    pub fn tags(&self) -> Option<&[String]> {
        match &self.0 {
            Kind::Meta(tags) => Some(tags),
            _ => None,
        }
    }
}

/// Checks one tag of an `rpcmeta:` URI.
fn check_tag(tag: &str) -> Result<(), UriError> {
    match problem(tag, &[',']) {
        None => Ok(()),
        Some(Problem::Empty) => Err(UriError::EmptyTag),
        Some(Problem::TooLong(_) | Problem::Forbidden(..)) => Err(UriError::InvalidTag(shortened(tag, 64))),
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.scheme();
        match &self.0 {
            Kind::Net {
                host, port, object, ..
            } => {
                if host.contains(':') {
                    write!(f, "{scheme}://[{host}]:{port}")?;
                } else {
                    write!(f, "{scheme}://{host}:{port}")?;
                }
                match object {
                    Some(name) => write!(f, "/{name}"),
                    None => Ok(()),
                }
            }
            Kind::Unix { path, object } => {
                write!(f, "{scheme}://{path}")?;
                match object {
                    Some(name) => write!(f, "#{name}"),
                    None => Ok(()),
                }
            }
            Kind::Name(name) => write!(f, "{scheme}:{name}"),
            Kind::Meta(tags) => write!(f, "{scheme}:{}", tags.join(",")),
        }
    }
}

impl fmt::Debug for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uri({:?})", self.to_string())
    }
}

impl serde::Serialize for Uri {
    /// A URI crosses as its text.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Uri {
    /// A URI is read from its text, and checked as [`FromStr`](std::str::FromStr) checks it.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Uri, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
