//! What a classic server allows: script limits, the modules a client may use, and the root
//! directory file access is confined to.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// Limits on every script a session runs (`eval`, `execute`, a teleported function, a
/// script's call of a client closure included). A script over a limit fails with a remote error
/// naming it; the session goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScriptLimits {
    /// Most operations one evaluation may run (default 10,000,000).
    pub max_operations: u64,
    /// Deepest call nesting of script functions (default 64).
    pub max_call_levels: usize,
    /// Longest string a script may build, in bytes (default 16 MiB).
    pub max_string_size: usize,
    /// Most elements of an array (default 1,000,000).
    pub max_array_size: usize,
    /// Most entries of a map (default 100,000).
    pub max_map_size: usize,
    /// Longest one evaluation may run, by the clock (default 10 s).
    pub wall_time: Duration,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_operations: 10_000_000,
            max_call_levels: 64,
            max_string_size: 16 << 20,
            max_array_size: 1_000_000,
            max_map_size: 100_000,
            wall_time: Duration::from_secs(10),
        }
    }
}

/// Settings of a classic server's sessions.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClassicConfig {
    /// Limits on scripts.
    pub limits: ScriptLimits,
    /// The directory `fs`, `open` and transfers are confined to (`None`: the whole machine,
    /// as the server's user).
    pub root: Option<PathBuf>,
    /// The host modules a client may use (`None`: all of them).
    pub allow: Option<BTreeSet<String>>,
}

impl ClassicConfig {
    /// Confines file access to `root`.
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Allows only the named host modules.
    pub fn allow<I, S>(mut self, modules: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow = Some(modules.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the script limits.
    pub fn limits(mut self, limits: ScriptLimits) -> Self {
        self.limits = limits;
        self
    }
}
