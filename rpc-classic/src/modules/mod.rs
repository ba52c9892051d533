//! Host modules: what a classic client (or a script) may do on the server's machine.
//!
//! Each module is a `#[service]` type with a typed client: [`Os`] (`OsClient`), [`Fs`],
//! [`Process`] (its spawned children: [`ProcessHandle`]), [`Time`], [`Sys`], and the file objects
//! [`File`] that `open` returns. A [`HostContext`] holds what they share: the root directory
//! file access is confined to (see [`confine`] for the rules), the allow-list of modules, and
//! the session's state (its working directory and environment overlay).
//!
//! # Sessions
//!
//! A `HostContext` is one session's view: its clones share the session's working directory
//! (`os.chdir`) and environment overlay (`os.setenv`). Make one per connection with
//! [`HostContext::session`] (cheap: the root and allow-list are shared), so that one client's
//! `chdir` does not move another's.
//!
//! # The allow-list
//!
//! The module names are `fs`, `os`, `process`, `sys` and `time`. A module left out of the
//! allow-list is refused by [`HostContext::module`] with a `rpc_classic::ModuleDenied` error.
//! `open` is file access, so it belongs to `fs`: it is refused when `fs` is not allowed.
//!
//! # Methods called from Rust
//!
//! The exposed methods are public (`Fs::exposed_read`, ...) so that the script engine can call
//! them in-process; they return `Result<_, RemoteError>` with the same errors a remote caller
//! gets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rpc_core::{Object, RemoteError, RemoteErrorKind};

pub mod confine;
mod file;
mod fs;
mod os;
mod process;
mod sys;
mod time;

#[cfg(test)]
pub(crate) mod tests;

pub use self::confine::OUTSIDE_ROOT;
pub use self::file::{File, FileClient, OpenMode};
pub use self::fs::{Fs, FsClient, Metadata, MAX_READ};
pub use self::os::{Os, OsClient};
pub use self::process::{
    ExitInfo, Process, ProcessClient, ProcessHandle, ProcessHandleClient, RunOutput, MAX_CAPTURE,
};
pub use self::sys::{Sys, SysClient};
pub use self::time::{Time, TimeClient, MAX_SLEEP_MS};

/// The host modules, sorted.
pub const MODULES: [&str; 5] = ["fs", "os", "process", "sys", "time"];

/// The type name of the error for a module the allow-list leaves out.
pub const MODULE_DENIED: &str = "rpc_classic::ModuleDenied";

/// The type name of the error for a module name that does not exist.
pub const NO_SUCH_MODULE: &str = "rpc_classic::NoSuchModule";

/// What the host modules of one session share: the root, the allow-list, the working
/// directory and the environment overlay. `Send + Sync`, cheap to clone; clones share the
/// session state (see [the module docs](self#sessions)).
#[derive(Clone)]
pub struct HostContext {
    shared: Arc<Shared>,
    session: Arc<Session>,
}

/// What every session of a server shares.
struct Shared {
    confinement: confine::Confinement,
    /// `None`: every module.
    allow: Option<BTreeSet<&'static str>>,
    /// Files opened by `open` and not yet closed, over all sessions.
    open_files: AtomicUsize,
}

/// One session's state.
struct Session {
    /// The working directory: absolute (and inside the root when there is one).
    cwd: Mutex<PathBuf>,
    /// Variables set (`Some`) or removed (`None`) by `os.setenv`/`os.unsetenv`.
    env: Mutex<BTreeMap<String, Option<String>>>,
}

impl std::fmt::Debug for HostContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostContext")
            .field("root", &self.root())
            .field("modules", &self.names())
            .field("cwd", &*self.session.cwd.lock())
            .finish()
    }
}

impl HostContext {
    /// Validates the config's root (it must exist and be a directory; it is canonicalized) and
    /// allow-list (only known module names, else an error naming the unknown one), and starts
    /// a session whose working directory is the root (without a root: the process's).
    pub fn new(config: &crate::ClassicConfig) -> std::io::Result<HostContext> {
        let confinement = confine::Confinement::new(config.root.as_deref())?;
        let allow = match &config.allow {
            None => None,
            Some(names) => {
                let mut allowed = BTreeSet::new();
                for name in names {
                    let known = MODULES.iter().find(|m| **m == name.as_str()).ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!(
                                "unknown module '{name}' in the allow-list (the modules are {})",
                                MODULES.join(", ")
                            ),
                        )
                    })?;
                    allowed.insert(*known);
                }
                Some(allowed)
            }
        };
        let shared = Arc::new(Shared {
            confinement,
            allow,
            open_files: AtomicUsize::new(0),
        });
        let cwd = Self::start_dir(&shared)?;
        Ok(HostContext {
            shared,
            session: Arc::new(Session {
                cwd: Mutex::new(cwd),
                env: Mutex::default(),
            }),
        })
    }

    fn start_dir(shared: &Shared) -> std::io::Result<PathBuf> {
        match shared.confinement.root() {
            Some(root) => Ok(root.to_path_buf()),
            None => std::env::current_dir(),
        }
    }

    /// A new session on the same root and allow-list: its own working directory (the root, or
    /// the process's working directory) and an empty environment overlay.
    pub fn session(&self) -> HostContext {
        let cwd = Self::start_dir(&self.shared).unwrap_or_else(|_| PathBuf::from("/"));
        HostContext {
            shared: self.shared.clone(),
            session: Arc::new(Session {
                cwd: Mutex::new(cwd),
                env: Mutex::default(),
            }),
        }
    }

    /// The canonical root, if file access is confined.
    pub fn root(&self) -> Option<&Path> {
        self.shared.confinement.root()
    }

    /// The host modules this context allows, sorted: a subset of
    /// `["fs", "os", "process", "sys", "time"]`.
    pub fn names(&self) -> Vec<&'static str> {
        MODULES.iter().copied().filter(|m| self.allows(m)).collect()
    }

    /// Whether the allow-list lets the module `name` through (false for unknown names).
    pub fn allows(&self, name: &str) -> bool {
        MODULES.contains(&name) && self.shared.allow.as_ref().is_none_or(|a| a.contains(name))
    }

    /// Checks that module `name` exists and is allowed.
    pub fn check(&self, name: &str) -> Result<(), RemoteError> {
        if !MODULES.contains(&name) {
            return Err(RemoteError::new(
                RemoteErrorKind::NotFound,
                NO_SUCH_MODULE,
                format!(
                    "no module named '{name}' (the modules are {})",
                    MODULES.join(", ")
                ),
            ));
        }
        if !self.allows(name) {
            let allowed = self.names();
            let allowed = if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            };
            return Err(RemoteError::new(
                RemoteErrorKind::Refused,
                MODULE_DENIED,
                format!("the module '{name}' is not allowed on this server (allowed: {allowed})"),
            ));
        }
        Ok(())
    }

    /// A fresh service object for module `name`. A name the allow-list leaves out is refused
    /// (kind `Refused`, type `rpc_classic::ModuleDenied`, naming the module and the allowed
    /// ones); an unknown name is `rpc_classic::NoSuchModule` (kind `NotFound`).
    pub fn module(&self, name: &str) -> Result<Object, RemoteError> {
        self.check(name)?;
        let ctx = self.clone();
        Ok(match name {
            "fs" => Object::new(Fs::new(ctx)),
            "os" => Object::new(Os::new(ctx)),
            "process" => Object::new(Process::new(ctx)),
            "sys" => Object::new(Sys::new()),
            _ => Object::new(Time::new()),
        })
    }

    /// `open(path, mode)`, RPyC's `builtins.open`: see [`open_file`](HostContext::open_file).
    /// The file object is sent by reference.
    pub fn open(&self, path: &str, mode: &str) -> Result<Object, RemoteError> {
        self.open_file(path, mode).map(Object::new)
    }

    /// Opens a file: modes `r`, `w`, `a`, `x` with an optional `+`, and an optional `b` or `t`
    /// (no difference: reads give bytes, `read_text`/`read_line` give text); confined to the
    /// root; regular files only (a FIFO or device is refused rather than risking a blocked
    /// open). Refused when the `fs` module is not allowed. The file closes on `close()` or
    /// when the last reference to it (and to its `lines()` iterators) drops.
    ///
    /// Runs the `open` system call on the calling thread (call it from a `#[blocking]`
    /// method, or use [`open_async`](HostContext::open_async)).
    pub fn open_file(&self, path: &str, mode: &str) -> Result<File, RemoteError> {
        self.check("fs")?;
        File::open(self.clone(), path, mode)
    }

    /// [`open_file`](HostContext::open_file) on tokio's blocking pool.
    pub async fn open_async(&self, path: &str, mode: &str) -> Result<File, RemoteError> {
        let (ctx, path, mode) = (self.clone(), path.to_owned(), mode.to_owned());
        tokio::task::spawn_blocking(move || ctx.open_file(&path, &mode))
            .await
            .map_err(join_error)?
    }

    /// Resolves a client-given path inside the root (for transfers too): relative to the
    /// session's working directory; a `..` that leaves the root, an absolute path outside it
    /// and a symlink leading out are refused (kind `Refused`, type `rpc_classic::OutsideRoot`).
    /// Every existing component of the result is resolved (no symlinks left in it). With no
    /// root, paths are taken as given, relative to the session's working directory (which
    /// starts as the process's). See [`confine`] for the rules.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, RemoteError> {
        let cwd = self.session.cwd.lock().clone();
        self.shared.confinement.resolve(&cwd, path)
    }

    /// Like [`resolve`](HostContext::resolve), but a symlink as the last component stays
    /// itself (for operations on the link: remove, rename, lstat).
    pub fn resolve_link(&self, path: &str) -> Result<PathBuf, RemoteError> {
        let cwd = self.session.cwd.lock().clone();
        self.shared.confinement.resolve_link(&cwd, path)
    }

    /// The session's working directory (absolute; inside the root when there is one).
    pub fn cwd(&self) -> PathBuf {
        self.session.cwd.lock().clone()
    }

    /// Moves the session's working directory (confined like every path; it must be a
    /// directory). The server process's own working directory does not change.
    pub fn chdir(&self, path: &str) -> Result<(), RemoteError> {
        let dir = self.resolve(path)?;
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {
                // Without a root the path is as given (`a/../b`): keep the real one.
                let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
                *self.session.cwd.lock() = dir;
                Ok(())
            }
            Ok(_) => Err(io_error(
                "chdir",
                path,
                &std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            )),
            Err(e) => Err(io_error("chdir", path, &e)),
        }
    }

    /// The variable `name` as the session sees it: its overlay first, then the server
    /// process's environment.
    pub fn getenv(&self, name: &str) -> Option<String> {
        match self.session.env.lock().get(name) {
            Some(v) => v.clone(),
            None => std::env::var(name).ok(),
        }
    }

    /// Sets (`Some`) or removes (`None`) a variable in the session's overlay.
    pub fn setenv(&self, name: &str, value: Option<&str>) {
        self.session
            .env
            .lock()
            .insert(name.to_owned(), value.map(str::to_owned));
    }

    /// The environment as the session sees it: the server process's (variables with UTF-8
    /// names and values) with the session's overlay applied.
    pub fn environ(&self) -> BTreeMap<String, String> {
        let mut all: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        for (k, v) in self.session.env.lock().iter() {
            match v {
                Some(v) => all.insert(k.clone(), v.clone()),
                None => all.remove(k),
            };
        }
        all
    }

    /// The session's overlay (`None`: removed), for child processes.
    pub(crate) fn env_overlay(&self) -> BTreeMap<String, Option<String>> {
        self.session.env.lock().clone()
    }

    /// Files opened by `open` and not yet closed, over every session of this context's server.
    pub fn open_files(&self) -> usize {
        self.shared.open_files.load(Ordering::Acquire)
    }

    pub(crate) fn file_opened(&self) {
        self.shared.open_files.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn file_closed(&self) {
        self.shared.open_files.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An I/O failure as a remote error: type `std::io::Error`, the message naming the operation
/// and the client's path (not the resolved one).
pub(crate) fn io_error(op: &str, path: &str, e: &std::io::Error) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Application,
        "std::io::Error",
        format!("{op} '{path}': {e}"),
    )
}

/// A bad argument (a mode, a whence, a bound).
pub(crate) fn bad_argument(message: impl Into<String>) -> RemoteError {
    RemoteError::new(RemoteErrorKind::BadArguments, "rpc_classic::BadArgument", message)
}

/// The failure of a blocking task.
pub(crate) fn join_error(e: tokio::task::JoinError) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Cancelled,
        "rpc_classic::Cancelled",
        format!("the operation did not complete: {e}"),
    )
}
