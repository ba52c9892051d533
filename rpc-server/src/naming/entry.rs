//! What a registry holds: entries (a name, a URI, metadata tags, kept alive by a lease),
//! filters over them, and the changes a watcher sees.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Most metadata tags on one entry.
pub const MAX_TAGS: usize = 32;
/// Longest metadata tag, in bytes.
pub const MAX_TAG_LEN: usize = 128;
/// Shortest time to live a registration may ask for.
pub const MIN_TTL: Duration = Duration::from_millis(200);
/// Longest time to live a registration may ask for.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// Identifies one registration's lease: refreshing it keeps the entry alive.
pub type LeaseId = u64;

/// A registered service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its name, e.g. `home.thermostat`.
    pub name: String,
    /// Where it is served, e.g. `rpc://10.0.0.5:18861` or `rpc://10.0.0.5:18861/sensor`.
    pub uri: String,
    /// Tags to find it by, e.g. `climate`, `floor:1`; sorted, without duplicates.
    pub metadata: BTreeSet<String>,
    /// The lease that keeps it.
    pub lease: LeaseId,
    /// How long the entry lives without a refresh, in milliseconds.
    pub ttl_ms: u64,
}

impl Entry {
    /// An entry checked against the registry's rules: a name as [`rpc_core::check_name`]
    /// takes it (so that `rpcname:NAME` names it), a direct URI (`rpc://`, `rpc+tls://`,
    /// `rpc+unix://`, with or without an object), tags and a TTL within the `MAX_*`/`MIN_*`
    /// constants; its lease is set by the store.
    pub fn new(
        name: impl Into<String>,
        uri: impl Into<String>,
        metadata: impl IntoIterator<Item = impl Into<String>>,
        ttl: Duration,
    ) -> Result<Entry, String> {
        let name = name.into();
        rpc_core::check_name(&name).map_err(|e| format!("the name {name:?}: {e}"))?;
        let uri = uri.into();
        let parsed: rpc_core::Uri = uri.parse().map_err(|e| format!("the URI {uri:?}: {e}"))?;
        if !parsed.is_direct() {
            return Err(format!(
                "the URI {uri:?} names no server (a registry entry holds rpc://, rpc+tls:// or rpc+unix://)"
            ));
        }
        let metadata: BTreeSet<String> = metadata.into_iter().map(Into::into).collect();
        if metadata.len() > MAX_TAGS {
            return Err(format!(
                "at most {MAX_TAGS} metadata tags, not {}",
                metadata.len()
            ));
        }
        for tag in &metadata {
            if tag.is_empty()
                || tag.len() > MAX_TAG_LEN
                || tag
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == ',')
            {
                return Err(format!(
                    "metadata tag {tag:?}: 1 to {MAX_TAG_LEN} bytes, no spaces, control characters or commas"
                ));
            }
        }
        if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
            return Err(format!(
                "a time to live from {MIN_TTL:?} to {MAX_TTL:?}, not {ttl:?}"
            ));
        }
        Ok(Entry {
            name,
            uri,
            metadata,
            lease: 0,
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// The time to live.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms)
    }

    /// Whether the entry has every tag of `tags`.
    pub fn has_all<'a>(&self, tags: impl IntoIterator<Item = &'a String>) -> bool {
        tags.into_iter().all(|t| self.metadata.contains(t))
    }
}

/// Which entries a listing or a watch wants. Every condition set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Names starting with this.
    pub prefix: Option<String>,
    /// Names matching this regular expression (the `regex` crate's syntax, linear time).
    pub regex: Option<String>,
    /// Entries with every one of these tags.
    pub all: BTreeSet<String>,
    /// Entries with at least one of these tags (when not empty).
    pub any: BTreeSet<String>,
}

impl Filter {
    /// Every entry.
    pub fn everything() -> Filter {
        Filter::default()
    }

    /// Entries whose name starts with `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Filter {
        Filter {
            prefix: Some(prefix.into()),
            ..Filter::default()
        }
    }

    /// Entries whose name matches `regex`.
    pub fn regex(regex: impl Into<String>) -> Filter {
        Filter {
            regex: Some(regex.into()),
            ..Filter::default()
        }
    }

    /// Also: every one of `tags`.
    pub fn with_all(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Filter {
        self.all.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Also: at least one of `tags`.
    pub fn with_any(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Filter {
        self.any.extend(tags.into_iter().map(Into::into));
        self
    }

    /// The filter made ready to match: its regular expression compiled, within a size limit.
    pub fn compile(&self) -> Result<Matcher, String> {
        let regex = match &self.regex {
            None => None,
            Some(text) => Some(
                regex::RegexBuilder::new(text)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("the name pattern {text:?}: {e}"))?,
            ),
        };
        Ok(Matcher {
            filter: self.clone(),
            regex,
        })
    }
}

/// A compiled [`Filter`].
#[derive(Debug, Clone)]
pub struct Matcher {
    filter: Filter,
    regex: Option<regex::Regex>,
}

impl Matcher {
    /// Whether `entry` passes the filter.
    pub fn matches(&self, entry: &Entry) -> bool {
        let f = &self.filter;
        f.prefix.as_deref().is_none_or(|p| entry.name.starts_with(p))
            && self.regex.as_ref().is_none_or(|r| r.is_match(&entry.name))
            && entry.has_all(&f.all)
            && (f.any.is_empty() || f.any.iter().any(|t| entry.metadata.contains(t)))
    }

    /// The name prefix every match has, if the filter sets one (a store may list only those).
    pub fn prefix(&self) -> Option<&str> {
        self.filter.prefix.as_deref()
    }
}

/// A change in a registry, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// An entry was registered (or registered again, replacing the last one of its name).
    Registered(Entry),
    /// An entry was removed by its owner (or an administrator); the entry as it was.
    Removed(Entry),
    /// An entry's lease ran out without a refresh; the entry as it was.
    Expired(Entry),
}

impl Change {
    /// The entry that changed.
    pub fn entry(&self) -> &Entry {
        match self {
            Change::Registered(e) | Change::Removed(e) | Change::Expired(e) => e,
        }
    }

    /// The name of the entry that changed.
    pub fn name(&self) -> &str {
        &self.entry().name
    }
}
