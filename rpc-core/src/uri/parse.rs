//! `FromStr` for [`Uri`]: one function per form.

use std::net::Ipv6Addr;
use std::str::FromStr;

use super::{check_tag, Kind, Scheme, Uri, UriError, MAX_URI_LEN};
use crate::error::shortened;
use crate::name::{check_name, forbidden_char};

/// Longest DNS name.
const MAX_HOST_LEN: usize = 253;

impl FromStr for Uri {
    type Err = UriError;

    fn from_str(text: &str) -> Result<Uri, UriError> {
        if text.len() > MAX_URI_LEN {
            return Err(UriError::TooLong(text.len()));
        }
        if let Some((at, ch)) = text.char_indices().find(|(_, c)| c.is_control()) {
            return Err(UriError::Forbidden { ch, at });
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(UriError::MissingScheme);
        };
        let scheme = scheme_of(scheme)?;
        if scheme != Scheme::RpcUnix {
            // A socket path may hold spaces; nothing else may.
            if let Some((at, ch)) = forbidden_char(text) {
                return Err(UriError::Forbidden { ch, at });
            }
        }
        let kind = match scheme {
            Scheme::Rpc | Scheme::RpcTls | Scheme::RpcUnix => {
                let Some(rest) = rest.strip_prefix("//") else {
                    return Err(UriError::MissingSlashes(scheme));
                };
                if scheme == Scheme::RpcUnix {
                    unix(rest)?
                } else {
                    net(scheme == Scheme::RpcTls, rest)?
                }
            }
            Scheme::RpcName | Scheme::RpcMeta if rest.starts_with("//") => {
                return Err(UriError::UnexpectedSlashes(scheme));
            }
            Scheme::RpcName => {
                check_name(rest)?;
                Kind::Name(rest.to_owned())
            }
            Scheme::RpcMeta => meta(rest)?,
        };
        Ok(Uri(kind))
    }
}

/// The scheme named `text` (in any case).
fn scheme_of(text: &str) -> Result<Scheme, UriError> {
    let schemes = [
        Scheme::Rpc,
        Scheme::RpcTls,
        Scheme::RpcUnix,
        Scheme::RpcName,
        Scheme::RpcMeta,
    ];
    schemes
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            if text.is_empty() {
                UriError::MissingScheme
            } else {
                UriError::UnknownScheme(shortened(text, 32))
            }
        })
}

/// `HOST:PORT[/NAME]`, after `rpc://` or `rpc+tls://`.
fn net(tls: bool, rest: &str) -> Result<Kind, UriError> {
    let (authority, object) = split_object(rest, '/')?;
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((inside, after)) = bracketed.split_once(']') else {
            return Err(UriError::InvalidHost(shortened(authority, 64)));
        };
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| UriError::InvalidHost(shortened(inside, 64)))?;
        let port = match after.strip_prefix(':') {
            Some(port) => port,
            None if after.is_empty() => return Err(UriError::MissingPort),
            None => return Err(UriError::InvalidHost(shortened(authority, 64))),
        };
        (ip.to_string(), port)
    } else {
        let Some((host, port)) = authority.rsplit_once(':') else {
            return Err(if authority.is_empty() {
                UriError::MissingHost
            } else {
                UriError::MissingPort
            });
        };
        if host.contains(':') {
            return Err(UriError::UnbracketedIpv6);
        }
        (dns_host(host)?.to_owned(), port)
    };
    let port = port_number(port)?;
    Ok(Kind::Net {
        tls,
        host,
        port,
        object,
    })
}

/// Splits `rest` at the first `separator` into the server's part and the object's name, if
/// there is one (checked).
fn split_object(rest: &str, separator: char) -> Result<(&str, Option<String>), UriError> {
    match rest.split_once(separator) {
        Some((server, name)) => {
            check_name(name)?;
            Ok((server, Some(name.to_owned())))
        }
        None => Ok((rest, None)),
    }
}

/// Checks a host that is not a bracketed IPv6 address: a DNS name or an IPv4 address, made of
/// ASCII letters, digits, `-`, `_` and dots between non-empty labels.
pub(super) fn dns_host(host: &str) -> Result<&str, UriError> {
    if host.is_empty() {
        return Err(UriError::MissingHost);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let valid = host.len() <= MAX_HOST_LEN
        && host
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && label.chars().all(allowed));
    if !valid {
        if host.contains(':') {
            return Err(UriError::UnbracketedIpv6);
        }
        return Err(UriError::InvalidHost(shortened(host, 64)));
    }
    Ok(host)
}

/// A port from 1 to 65535, and nothing after its digits.
fn port_number(text: &str) -> Result<u16, UriError> {
    if text.is_empty() {
        return Err(UriError::MissingPort);
    }
    let end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, junk) = text.split_at(end);
    if digits.is_empty() {
        return Err(UriError::InvalidPort(shortened(text, 32)));
    }
    if !junk.is_empty() {
        return Err(UriError::TrailingJunk(shortened(junk, 32)));
    }
    match digits.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(UriError::PortOutOfRange(shortened(digits, 32))),
    }
}

/// `/ABS/PATH[#NAME]`, after `rpc+unix://`.
fn unix(rest: &str) -> Result<Kind, UriError> {
    let (path, object) = split_object(rest, '#')?;
    absolute_path(path)?;
    Ok(Kind::Unix {
        path: path.to_owned(),
        object,
    })
}

/// Checks that a socket path is absolute.
pub(super) fn absolute_path(path: &str) -> Result<(), UriError> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(UriError::RelativePath(shortened(path, 128)))
    }
}

/// `TAG1,TAG2`, after `rpcmeta:`.
fn meta(rest: &str) -> Result<Kind, UriError> {
    let tags: Vec<String> = rest.split(',').map(str::to_owned).collect();
    for tag in &tags {
        check_tag(tag)?;
    }
    Ok(Kind::Meta(tags))
}
