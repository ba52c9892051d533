//! The `os` module: the session's working directory and environment, and facts about the host.

use std::collections::BTreeMap;

use rpc_core::{service, RemoteError};

use super::{io_error, HostContext};

/// The `os` module.
///
/// - The working directory is the session's own (it starts at the root, or at the server
///   process's working directory without a root): `chdir` moves it, confined to the root, and
///   every relative path of `fs`, `open`, `process` and transfers is taken from it. The
///   server process's working directory never changes. `getcwd` reports it as a real
///   absolute path (inside the root), which the session's paths accept back.
/// - The environment is the server process's, seen through the session's overlay: `setenv`
///   and `unsetenv` change the overlay only (never the server process's environment, which
///   every session shares), and `getenv`, `environ` and the children of `process` see it.
pub struct Os {
    ctx: HostContext,
}

impl Os {
    /// The module for the session `ctx`.
    pub fn new(ctx: HostContext) -> Os {
        Os { ctx }
    }
}

#[service]
impl Os {
    /// The session's working directory, as an absolute path (inside the root when there is
    /// one; non-UTF-8 names made lossy).
    pub fn exposed_getcwd(&self) -> String {
        self.ctx.cwd().to_string_lossy().into_owned()
    }

    /// Moves the session's working directory (confined to the root).
    #[blocking]
    pub fn exposed_chdir(&self, path: &str) -> Result<(), RemoteError> {
        self.ctx.chdir(path)
    }

    /// The names in the directory `path` (`"."`: the working directory), sorted (non-UTF-8
    /// names made lossy).
    #[blocking]
    pub fn exposed_listdir(&self, path: &str) -> Result<Vec<String>, RemoteError> {
        let dir = self.ctx.resolve(path)?;
        let reader = std::fs::read_dir(dir).map_err(|e| io_error("listdir", path, &e))?;
        let mut names = Vec::new();
        for entry in reader {
            let entry = entry.map_err(|e| io_error("listdir", path, &e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// The variable `name` as the session sees it (its overlay, then the server's
    /// environment); `None` if unset.
    pub fn exposed_getenv(&self, name: &str) -> Option<String> {
        self.ctx.getenv(name)
    }

    /// Sets a variable for this session (its overlay: `getenv`, `environ` and its child
    /// processes see it; the server process's environment does not change).
    pub fn exposed_setenv(&self, name: &str, value: &str) -> Result<(), RemoteError> {
        check_env_name(name)?;
        if value.contains('\0') {
            return Err(super::bad_argument("an environment value cannot hold a NUL byte"));
        }
        self.ctx.setenv(name, Some(value));
        Ok(())
    }

    /// Removes a variable for this session (its overlay, as `setenv`).
    pub fn exposed_unsetenv(&self, name: &str) -> Result<(), RemoteError> {
        check_env_name(name)?;
        self.ctx.setenv(name, None);
        Ok(())
    }

    /// The environment as the session sees it.
    pub fn exposed_environ(&self) -> BTreeMap<String, String> {
        self.ctx.environ()
    }

    /// The server process's id.
    pub fn exposed_getpid(&self) -> u32 {
        std::process::id()
    }

    /// The host's name: `/proc/sys/kernel/hostname`, else `/etc/hostname`, else `$HOSTNAME`,
    /// else the output of `uname -n`; `None` if none of them tells.
    #[blocking]
    pub fn exposed_hostname(&self) -> Option<String> {
        hostname()
    }

    /// The operating system, as Rust names it (`std::env::consts::OS`: `"linux"`, `"macos"`,
    /// `"windows"`, ...).
    pub fn exposed_platform(&self) -> String {
        std::env::consts::OS.to_owned()
    }

    /// The CPU architecture (`std::env::consts::ARCH`: `"x86_64"`, `"aarch64"`, ...).
    pub fn exposed_arch(&self) -> String {
        std::env::consts::ARCH.to_owned()
    }

    /// The operating system's family (`"unix"` or `"windows"`).
    pub fn exposed_family(&self) -> String {
        std::env::consts::FAMILY.to_owned()
    }

    /// The user the server runs as, from the server's environment (`USER`, else `USERNAME`,
    /// else `LOGNAME`); `None` if none is set.
    pub fn exposed_username(&self) -> Option<String> {
        ["USER", "USERNAME", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    }
}

fn check_env_name(name: &str) -> Result<(), RemoteError> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(super::bad_argument(format!(
            "'{name}' is not a valid environment variable name (empty, or holding '=' or NUL)"
        )));
    }
    Ok(())
}

/// The host's name, by the sources `Os::exposed_hostname` lists.
fn hostname() -> Option<String> {
    let from_file = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| {
            let out = std::process::Command::new("uname").arg("-n").output().ok()?;
            let name = String::from_utf8(out.stdout).ok()?.trim().to_owned();
            (out.status.success() && !name.is_empty()).then_some(name)
        })
}
