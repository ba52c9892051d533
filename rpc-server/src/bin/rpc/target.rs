//! Where a command goes: the URI on its command line ([`Target`]), and opening it ([`open`] a
//! server's object, [`open_registry`] a registry).
//!
//! A target is any [`Uri`]: `rpc://HOST:PORT[/NAME]`, `rpc+tls://…`, `rpc+unix:///PATH[#NAME]`,
//! `rpcname:NAME`, `rpcmeta:TAG,…` (the last two through the registry of `RPC_REGISTRY`, else
//! discovery with `RPC_DISCOVERY`, else localhost:18811), or, for short, a bare `HOST:PORT`.

use std::fmt;
use std::str::FromStr;

use rpc_core::{ConnectOptions, NetRef, Uri};
use rpc_server::naming::{lookup_uri_with, Registry};

use crate::failure::Failure;

/// What a command line names: a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(Uri);

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        let explain = |e: &dyn fmt::Display| {
            format!("{text:?}: {e} (write rpc://HOST:PORT[/NAME], HOST:PORT, rpc+tls://…, rpc+unix:///PATH, rpcname:NAME or rpcmeta:TAGS)")
        };
        match text.parse::<Uri>() {
            Ok(uri) => Ok(Target(uri)),
            // A bare `HOST:PORT` (or `[::1]:PORT`) is short for rpc://HOST:PORT.
            Err(e)
                if !text.contains("://")
                    && !text.starts_with("rpcname:")
                    && !text.starts_with("rpcmeta:") =>
            {
                format!("rpc://{text}")
                    .parse()
                    .map(Target)
                    .map_err(|_| explain(&e))
            }
            Err(e) => Err(explain(&e)),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Connects to `target` and gives the object it names: a server's root, one of its published
/// objects, or what a registry entry names.
pub async fn open(target: &Target, options: ConnectOptions) -> Result<NetRef, Failure> {
    lookup_uri_with(&target.to_string(), options)
        .await
        .map_err(|e| Failure::rpc(format_args!("cannot reach {target}"), &e))
}

/// Connects to the registry at `target`, or to the default one (`RPC_REGISTRY`, discovery,
/// localhost:18811); its client connects again if it has to. (Its errors name the registry.)
pub async fn open_registry(target: Option<&Target>, options: ConnectOptions) -> Result<Registry, Failure> {
    match target {
        Some(target) => Registry::connect_at(&target.0, options).await,
        None => Registry::from_env_with(options).await,
    }
    .map_err(|e| Failure::of(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        text.parse::<Target>().expect(text).to_string()
    }

    #[test]
    fn uris_and_bare_addresses_parse() {
        assert_eq!(shown("rpc://127.0.0.1:18861"), "rpc://127.0.0.1:18861");
        assert_eq!(shown("localhost:1"), "rpc://localhost:1");
        assert_eq!(shown("[::1]:7"), "rpc://[::1]:7");
        assert_eq!(
            shown("rpc://127.0.0.1:5/sensor.kitchen"),
            "rpc://127.0.0.1:5/sensor.kitchen"
        );
        assert_eq!(shown("rpcname:home.thermostat"), "rpcname:home.thermostat");
        assert_eq!(shown("rpcmeta:climate,floor:1"), "rpcmeta:climate,floor:1");
    }

    #[test]
    fn malformed_uris_say_why() {
        for text in [
            "http://h:1",
            "rpc://h",
            "h",
            "rpc://h:x",
            "rpc://h:70000",
            "h:0",
            "rpcname:",
            "rpcmeta:a,,b",
        ] {
            let e = text.parse::<Target>().expect_err(text);
            assert!(e.contains("rpc://HOST:PORT") && e.contains(text), "{text}: {e}");
        }
    }
}
