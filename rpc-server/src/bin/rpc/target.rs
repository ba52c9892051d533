//! Where a command goes: the URI on its command line ([`Target`]), and opening it ([`open`] a
//! server's object, [`open_registry`] a registry).
//!
//! Stand-in until `rpc_core::Uri` lands (from the naming-uri work): only `rpc://HOST:PORT` and
//! `HOST:PORT` are understood, by [`parse`]. The rest of the tool knows a `Target` only by
//! `FromStr`, `Display` and the two `open` functions, so the switch is here alone: `Target`
//! becomes `rpc_core::Uri` (adding `rpc+tls://`, `rpc+unix://`, `/NAME` objects, `rpcname:`
//! and `rpcmeta:`) and [`open`] calls `rpc_core::transport::lookup_direct`.

use std::fmt;
use std::str::FromStr;

use rpc_core::{ConnectOptions, NetRef};
use rpc_server::naming::Registry;

use crate::failure::Failure;

/// A server's address, as a URI names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    host: String,
    port: u16,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        parse(text)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "rpc://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "rpc://{}:{}", self.host, self.port)
        }
    }
}

/// TO BE REPLACED by `rpc_core::Uri`'s parser when it is merged: `rpc://HOST:PORT` or
/// `HOST:PORT`, an IPv6 host in brackets (`rpc://[::1]:18861`).
fn parse(text: &str) -> Result<Target, String> {
    let wrong = |why: &str| format!("{text:?} {why} (write rpc://HOST:PORT or HOST:PORT)");
    let address = match text.split_once("://") {
        Some(("rpc", rest)) => rest,
        Some((scheme, _)) => return Err(wrong(&format!("has the scheme {scheme:?}, not \"rpc\""))),
        None => text,
    };
    let (host, port) = address.rsplit_once(':').ok_or_else(|| wrong("has no port"))?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner
            .strip_suffix(']')
            .ok_or_else(|| wrong("has an unclosed '['"))?,
        None if host.contains(':') => return Err(wrong("needs an IPv6 host in brackets")),
        None => host,
    };
    if host.is_empty() || host.contains(['/', '[', ']', '@', '#', '?']) || host.contains(char::is_whitespace)
    {
        return Err(wrong("has no usable host"));
    }
    let port = port
        .parse()
        .map_err(|_| wrong("has no port number (1 to 65535)"))?;
    if port == 0 {
        return Err(wrong("has port 0"));
    }
    Ok(Target {
        host: host.to_owned(),
        port,
    })
}

/// Connects to `target` and gives the object it names: the server's root.
pub async fn open(target: &Target, options: ConnectOptions) -> Result<NetRef, Failure> {
    let conn = rpc_core::connect_with(&target.host, target.port, options)
        .await
        .map_err(|e| Failure::rpc(format_args!("cannot connect to {target}"), &e))?;
    Ok(conn.root())
}

/// Connects to the registry at `target`; its client connects again if it has to. (Its errors
/// name the registry.)
pub async fn open_registry(target: &Target, options: ConnectOptions) -> Result<Registry, Failure> {
    Registry::connect_with(&target.host, target.port, options)
        .await
        .map_err(|e| Failure::of(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16) -> Target {
        Target {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn rpc_uris_and_bare_addresses_parse() {
        assert_eq!("rpc://127.0.0.1:18861".parse(), Ok(target("127.0.0.1", 18861)));
        assert_eq!("localhost:1".parse(), Ok(target("localhost", 1)));
        assert_eq!("rpc://[::1]:18861".parse(), Ok(target("::1", 18861)));
        assert_eq!("[::1]:7".parse(), Ok(target("::1", 7)));
        assert_eq!(target("::1", 7).to_string(), "rpc://[::1]:7");
        assert_eq!(target("example.org", 7).to_string(), "rpc://example.org:7");
    }

    #[test]
    fn malformed_uris_say_why() {
        for (text, why) in [
            ("http://h:1", "scheme \"http\""),
            ("rpc://h", "no port"),
            ("h", "no port"),
            ("rpc://h:x", "no port number"),
            ("rpc://h:70000", "no port number"),
            ("h:0", "port 0"),
            ("::1:5", "brackets"),
            ("[::1:5", "unclosed"),
            ("rpc://:5", "no usable host"),
            ("rpc://h/x:5", "no usable host"),
        ] {
            let e = text.parse::<Target>().expect_err(text);
            assert!(e.contains(why) && e.contains("rpc://HOST:PORT"), "{text}: {e}");
        }
    }
}
