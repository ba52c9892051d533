//! Confinement of client-given paths to the root directory.
//!
//! The rules, for a server with a root (`--root`):
//!
//! - The root is canonicalized once, when the [`HostContext`](super::HostContext) is made.
//! - A relative path is taken from the session's working directory (which starts at the root and
//!   never leaves it); an absolute path is accepted only if it lies inside the root (as a real
//!   path: `/srv/data/x` for a root `/srv/data`); `/etc/passwd` is refused.
//! - `.` and `..` are resolved lexically, before any symlink: a path whose `..` leaves the root
//!   (`../x`, `a/../../x`) is refused. (So `link/..` is the directory holding `link`, not the
//!   parent of its target: the resolved path, not the client's text, is what gets opened.)
//! - Then every component that exists is resolved from `/` down, symlinks included (a symlink's
//!   target is resolved the same way, at most 40 links deep): if the real path is outside the
//!   canonical root the path is refused, whether the symlink is the last component or a
//!   directory on the way. A dangling symlink is followed to where its target would be, so a
//!   file cannot be created through it outside the root either.
//! - Components that do not exist yet (a file about to be created, `mkdir -p`) are appended to
//!   the resolved part as they are: they hold no `..` and no symlink.
//! - Operations on a link itself (`remove`, `rename`, `lstat`) resolve only the parent and keep
//!   the last component as written ([`HostContext::resolve_link`](super::HostContext::resolve_link)).
//!
//! A refusal is a [`RemoteError`] of kind `Refused`, type `rpc_classic::OutsideRoot`.
//!
//! Without a root, paths are taken as given, relative to the session's working directory.
//!
//! What this does not cover: a concurrent change of the tree between the check and the use
//! (someone else swapping a directory for a symlink in that window) is not detected; the root
//! is meant to be a tree the clients themselves, not hostile local users, can change. Child
//! processes (`process.run`) are not confined: only their working directory is.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use rpc_core::{RemoteError, RemoteErrorKind};

/// The type name of a refused path's error.
pub const OUTSIDE_ROOT: &str = "rpc_classic::OutsideRoot";

/// How many symlinks one resolution may follow (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The root paths are confined to, if any.
#[derive(Debug, Clone)]
pub(crate) struct Confinement {
    root: Option<PathBuf>,
}

impl Confinement {
    /// Canonicalizes `root` (it must exist and be a directory).
    pub(crate) fn new(root: Option<&Path>) -> io::Result<Confinement> {
        let Some(root) = root else {
            return Ok(Confinement { root: None });
        };
        let canonical = std::fs::canonicalize(root)
            .map_err(|e| io::Error::new(e.kind(), format!("the root directory {}: {e}", root.display())))?;
        if !canonical.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("the root {} is not a directory", root.display()),
            ));
        }
        Ok(Confinement {
            root: Some(canonical),
        })
    }

    /// The canonical root.
    pub(crate) fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Resolves `path` (from the working directory `cwd`), following every symlink.
    pub(crate) fn resolve(&self, cwd: &Path, path: &str) -> Result<PathBuf, RemoteError> {
        self.resolve_with(cwd, path, true)
    }

    /// Resolves `path` like [`resolve`](Confinement::resolve) except its last component: a
    /// symlink there stays itself (for removing, renaming or `lstat`-ing the link).
    pub(crate) fn resolve_link(&self, cwd: &Path, path: &str) -> Result<PathBuf, RemoteError> {
        self.resolve_with(cwd, path, false)
    }

    fn resolve_with(&self, cwd: &Path, path: &str, follow_last: bool) -> Result<PathBuf, RemoteError> {
        if path.contains('\0') {
            return Err(RemoteError::new(
                RemoteErrorKind::BadArguments,
                "rpc_classic::BadPath",
                "a path cannot hold a NUL byte",
            ));
        }
        let Some(root) = &self.root else {
            return Ok(cwd.join(path));
        };
        let given = Path::new(path);
        let full = normalize(&cwd.join(given));
        if !full.starts_with(root) {
            let why = if given.is_absolute() {
                "an absolute path outside the root"
            } else {
                "`..` leads out of the root"
            };
            return Err(outside(path, root, why));
        }
        let real = if follow_last {
            real_path(&full, 0)
        } else {
            match (full.parent(), full.file_name()) {
                (Some(parent), Some(name)) if full != *root => real_path(parent, 0).map(|p| p.join(name)),
                _ => Ok(full.clone()),
            }
        };
        let real = real.map_err(|e| outside(path, root, &e))?;
        if !real.starts_with(root) {
            return Err(outside(path, root, "a symlink leads out of the root"));
        }
        Ok(real)
    }
}

fn outside(path: &str, root: &Path, why: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Refused,
        OUTSIDE_ROOT,
        format!("'{path}' is outside the root {} ({why})", root.display()),
    )
}

/// Removes `.` and resolves `..` without touching the file system (`/..` is `/`).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => out.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

/// The real path of the absolute, normalized `path`: the components that exist resolved from
/// `/` down (symlinks followed, their targets resolved the same way), the rest appended.
fn real_path(path: &Path, depth: usize) -> Result<PathBuf, String> {
    let mut current = PathBuf::new();
    let mut components = path.components();
    while let Some(c) = components.next() {
        let name = match c {
            Component::Prefix(_) | Component::RootDir => {
                current.push(c.as_os_str());
                continue;
            }
            Component::CurDir => continue,
            Component::ParentDir => {
                current.pop();
                continue;
            }
            Component::Normal(n) => n,
        };
        let next = current.join(name);
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if depth >= MAX_LINKS {
                    return Err(format!("more than {MAX_LINKS} symlinks"));
                }
                let target = std::fs::read_link(&next).map_err(|e| format!("a symlink: {e}"))?;
                // A relative target is taken from the link's directory.
                let target = normalize(&current.join(target));
                current = real_path(&target, depth + 1)?;
            }
            Ok(_) => current = next,
            Err(_) => {
                // Not there (or not reachable): the rest is appended as it is.
                let rest: Vec<OsString> = components.map(|c| c.as_os_str().to_owned()).collect();
                let mut out = next;
                out.extend(rest);
                return Ok(out);
            }
        }
    }
    Ok(current)
}
