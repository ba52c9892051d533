//! From any URI to a connection: direct ones (`rpc://`, `rpc+tls://`, `rpc+unix://`) connect
//! at once; `rpcname:NAME` and `rpcmeta:TAG,…` are looked up in a registry first.
//!
//! Which registry: see the `naming` module's docs.

use std::time::Duration;

use rpc_core::transport::{connect_direct, lookup_direct};
use rpc_core::{ConnectOptions, Connection, Error, NetRef, Result, Scheme, Uri};

use super::discovery::{self, Answer, Query};
use super::{Registry, DEFAULT_PORT, REGISTRY_ENV};

/// The environment variable that turns discovery on: `on` (broadcast) or an address.
pub const DISCOVERY_ENV: &str = "RPC_DISCOVERY";

/// How long discovery waits for an answer.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to the server `uri` names (see [naming](super#which-registry) for how a registry
/// is found for `rpcname:` and `rpcmeta:`).
///
/// ```no_run
/// # async fn demo() -> rpc_core::Result<()> {
/// let direct = rpc_server::naming::connect_uri("rpc://127.0.0.1:18861").await?;
/// let by_name = rpc_server::naming::connect_uri("rpcname:home.thermostat").await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect_uri(uri: &str) -> Result<Connection> {
    connect_uri_with(uri, ConnectOptions::new()).await
}

/// [`connect_uri`] with `options` (TLS, a shared secret, the service this side exposes). A
/// registry found for `rpcname:`/`rpcmeta:` is reached with them too.
pub async fn connect_uri_with(uri: &str, options: ConnectOptions) -> Result<Connection> {
    let uri: Uri = uri.parse()?;
    if uri.is_direct() {
        return connect_direct(&uri, options).await;
    }
    let registry = Registry::from_env_with(options.clone()).await?;
    let target = registry.resolve(&uri).await?;
    connect_direct(&target, options).await
}

/// The object `uri` names: a server's root (`rpc://host:port`), one of its published objects
/// (`rpc://host:port/NAME`), or what a registry entry names (`rpcname:NAME`). The connection
/// lives as long as the reference.
pub async fn lookup_uri(uri: &str) -> Result<NetRef> {
    lookup_uri_with(uri, ConnectOptions::new()).await
}

/// [`lookup_uri`] with `options`, as [`connect_uri_with`] takes them.
pub async fn lookup_uri_with(uri: &str, options: ConnectOptions) -> Result<NetRef> {
    let uri: Uri = uri.parse()?;
    if uri.is_direct() {
        return lookup_direct(&uri, options).await;
    }
    let registry = Registry::from_env_with(options.clone()).await?;
    let target = registry.resolve(&uri).await?;
    lookup_direct(&target, options).await
}

impl Registry {
    /// The client's default registry (see [naming](super#which-registry) for the order:
    /// `RPC_REGISTRY`, discovery, `localhost:18811`).
    pub async fn from_env() -> Result<Registry> {
        Registry::from_env_with(ConnectOptions::new()).await
    }

    /// [`from_env`](Self::from_env), reaching the registry with `options`.
    pub async fn from_env_with(options: ConnectOptions) -> Result<Registry> {
        if let Ok(text) = std::env::var(REGISTRY_ENV) {
            let uri: Uri = text
                .parse()
                .map_err(|e| Error::Handshake(format!("{REGISTRY_ENV}={text:?}: {e}")))?;
            return Registry::connect_at(&uri, options)
                .await
                .map_err(|e| Error::Handshake(format!("the registry of {REGISTRY_ENV}={text}: {e}")));
        }
        if let Ok(how) = std::env::var(DISCOVERY_ENV) {
            let target = match how.as_str() {
                "on" | "1" | "broadcast" | "yes" => discovery::BROADCAST,
                addr => addr.parse().map_err(|e| {
                    Error::Handshake(format!(
                        "{DISCOVERY_ENV}={how:?}: neither `on` nor an address ({e})"
                    ))
                })?,
            };
            let answer = discovery::ask(&Query::Registry, target, DISCOVERY_TIMEOUT)
                .await
                .map_err(|e| {
                    Error::Handshake(format!(
                        "{REGISTRY_ENV} is not set, and discovery ({DISCOVERY_ENV}={how}) found no registry: {e}"
                    ))
                })?;
            let Answer::Registry(text) = answer else {
                return Err(Error::Handshake("discovery answered with something else".into()));
            };
            let uri: Uri = text
                .parse()
                .map_err(|e| Error::Handshake(format!("discovery announced {text:?}: {e}")))?;
            return Registry::connect_at(&uri, options).await;
        }
        Registry::connect_with("localhost", DEFAULT_PORT, options)
            .await
            .map_err(|e| {
                Error::Handshake(format!(
                    "{REGISTRY_ENV} is not set and discovery is off ({DISCOVERY_ENV}), so the registry is \
                     the default localhost:{DEFAULT_PORT}: {e}"
                ))
            })
    }

    /// The registry at a direct URI (`rpc://host:port`, `rpc+tls://…`, `rpc+unix://…`).
    pub async fn connect_at(uri: &Uri, options: ConnectOptions) -> Result<Registry> {
        if !uri.is_direct() {
            return Err(Error::Handshake(format!(
                "a registry is reached at a direct URI, not {uri}"
            )));
        }
        Registry::connect_to(uri.root(), options).await
    }

    /// The direct URI a URI stands for: itself if direct; the entry's URI for `rpcname:NAME`;
    /// one entry with every tag for `rpcmeta:TAGS` (taken in turn among equivalent ones).
    pub async fn resolve(&self, uri: &Uri) -> Result<Uri> {
        let entry = match uri.scheme() {
            Scheme::RpcName => {
                let name = uri.registry_name().unwrap_or_default();
                self.lookup(name).await?
            }
            Scheme::RpcMeta => {
                self.lookup_any(uri.tags().unwrap_or_default().iter().cloned())
                    .await?
            }
            _ => return Ok(uri.clone()),
        };
        let target: Uri = entry.uri.parse().map_err(|e| {
            Error::Handshake(format!(
                "the registry's entry {:?} holds {:?}: {e}",
                entry.name, entry.uri
            ))
        })?;
        if !target.is_direct() {
            return Err(Error::Handshake(format!(
                "the registry's entry {:?} names {target}, not a server",
                entry.name
            )));
        }
        Ok(target)
    }

    /// Connects to the server `uri` names, resolving it in this registry if needed.
    pub async fn connect_uri(&self, uri: &str, options: ConnectOptions) -> Result<Connection> {
        let target = self.resolve(&uri.parse()?).await?;
        connect_direct(&target, options).await
    }

    /// The object `uri` names, resolving it in this registry if needed.
    pub async fn lookup_uri(&self, uri: &str, options: ConnectOptions) -> Result<NetRef> {
        let target = self.resolve(&uri.parse()?).await?;
        lookup_direct(&target, options).await
    }
}
