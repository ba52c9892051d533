//! Naming and discovery: a registry of services by name (RPyC's registry, Pyro5's name
//! server), with an embedded store that needs nothing installed.
//!
//! A server registers its URI under a name with metadata tags and a time to live, and keeps
//! the entry alive by refreshing it ([`Registration`]); clients look names up, list entries by
//! name prefix, pattern and tags, pick one of several equivalent servers
//! ([`Registry::lookup_any`]), and watch changes (registered, removed, expired).
//!
//! The registry is a service over this framework's own protocol ([`RegistryService`], served
//! by the `rpc-registry` binary on [`DEFAULT_PORT`]); its entries live in a
//! [`RegistryStore`]: the embedded [`MemoryStore`] by default, or, with the `etcd` cargo
//! feature, `EtcdStore`, through which several registry servers (and programs) share the
//! entries of one etcd cluster. A registry started with a secret takes registrations only from
//! authenticated clients ([`Access`]), so nobody can hijack a name; lookups stay open unless
//! configured otherwise.

mod client;
pub mod discovery;
mod entry;
#[cfg(feature = "etcd")]
mod etcd;
mod memory;
mod resolve;
mod service;
mod store;

pub use client::{Registration, Registry};
pub use entry::{Change, Entry, Filter, LeaseId, Matcher, MAX_TAGS, MAX_TAG_LEN, MAX_TTL, MIN_TTL};
#[cfg(feature = "etcd")]
pub use etcd::{EtcdConfig, EtcdStore, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PREFIX, DEFAULT_REQUEST_TIMEOUT};
pub use memory::{MemoryStore, DEFAULT_MAX_ENTRIES, WATCH_BACKLOG};
pub use resolve::{
    connect_uri, connect_uri_with, lookup_uri, lookup_uri_with, DISCOVERY_ENV, DISCOVERY_TIMEOUT,
};
pub use service::{Access, RegistryService, RegistryServiceClient, WatchItem, REGISTRY_ERROR};
pub use store::{RegistryStore, StoreError, StoreResult};

/// The port registries listen on by default (RPyC's registry uses 18811 too).
pub const DEFAULT_PORT: u16 = 18811;

/// The environment variable naming the registry a client uses, as a URI:
/// `RPC_REGISTRY=rpc://10.0.0.2:18811`.
pub const REGISTRY_ENV: &str = "RPC_REGISTRY";
