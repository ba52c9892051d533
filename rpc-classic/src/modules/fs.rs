//! The `fs` module: whole-file reads and writes, directories, metadata, walks.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rpc_core::{service, RemoteError, RemoteErrorKind, RemoteIter};
use serde::{Deserialize, Serialize};

use super::{io_error, File, HostContext};

/// The most `fs.read` (and `read_text`) return at once: 64 MiB. Larger files are read in
/// pieces through `open` (or downloaded with a transfer).
pub const MAX_READ: u64 = 64 << 20;

/// The `fs` module. Every path is confined to the root (see
/// [`confine`](super::confine)) and taken from the session's working directory.
pub struct Fs {
    ctx: HostContext,
}

impl Fs {
    /// The module for the session `ctx`.
    pub fn new(ctx: HostContext) -> Fs {
        Fs { ctx }
    }

    /// Refuses an operation on the root itself (removing or renaming it).
    fn not_the_root(&self, resolved: &Path, path: &str) -> Result<(), RemoteError> {
        match self.ctx.root() {
            Some(root) if resolved == root => Err(RemoteError::new(
                RemoteErrorKind::Refused,
                super::OUTSIDE_ROOT,
                format!("'{path}' is the root directory itself, which cannot be removed or renamed"),
            )),
            _ => Ok(()),
        }
    }
}

/// What `fs.stat` tells about a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Size in bytes.
    pub size: u64,
    /// A directory.
    pub is_dir: bool,
    /// A regular file.
    pub is_file: bool,
    /// The path itself is a symlink (`stat` reports its target otherwise; `lstat` the link).
    pub is_symlink: bool,
    /// Last modification, in seconds since the Unix epoch (`None` where unsupported).
    pub modified: Option<f64>,
    /// Last access, in seconds since the Unix epoch.
    pub accessed: Option<f64>,
    /// The Unix permission bits (`0o644`), and file type bits; `0` elsewhere.
    pub mode: u32,
    /// Whether the file is read-only (no write permission bit).
    pub readonly: bool,
}

impl Metadata {
    fn from_std(m: &std::fs::Metadata, is_symlink: bool) -> Metadata {
        #[cfg(unix)]
        let mode = std::os::unix::fs::MetadataExt::mode(m);
        #[cfg(not(unix))]
        let mode = 0;
        Metadata {
            size: m.len(),
            is_dir: m.is_dir(),
            is_file: m.is_file(),
            is_symlink,
            modified: m.modified().ok().and_then(epoch_secs),
            accessed: m.accessed().ok().and_then(epoch_secs),
            mode,
            readonly: m.permissions().readonly(),
        }
    }
}

fn epoch_secs(t: SystemTime) -> Option<f64> {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => Some(d.as_secs_f64()),
        Err(e) => Some(-e.duration().as_secs_f64()),
    }
}

/// The error for a file over [`MAX_READ`].
fn too_large(path: &str, size: Option<u64>) -> RemoteError {
    let size = size.map(|s| format!(" ({s} bytes)")).unwrap_or_default();
    RemoteError::new(
        RemoteErrorKind::Refused,
        "rpc_classic::TooLarge",
        format!(
            "'{path}'{size} is over the {} MiB fs.read returns at once: open() it and read it in \
             pieces, or download it",
            MAX_READ >> 20
        ),
    )
}

/// Reads a whole file, at most [`MAX_READ`] bytes.
pub(crate) fn read_bounded(resolved: &Path, path: &str) -> Result<Vec<u8>, RemoteError> {
    let file = std::fs::File::open(resolved).map_err(|e| io_error("read", path, &e))?;
    let meta = file.metadata().map_err(|e| io_error("read", path, &e))?;
    if meta.is_dir() {
        return Err(io_error(
            "read",
            path,
            &std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
        ));
    }
    if meta.is_file() && meta.len() > MAX_READ {
        return Err(too_large(path, Some(meta.len())));
    }
    let mut data = Vec::with_capacity(usize::try_from(meta.len().min(MAX_READ)).unwrap_or(0));
    file.take(MAX_READ + 1)
        .read_to_end(&mut data)
        .map_err(|e| io_error("read", path, &e))?;
    if data.len() as u64 > MAX_READ {
        return Err(too_large(path, None));
    }
    Ok(data)
}

#[service]
impl Fs {
    /// The whole file's bytes (at most 64 MiB: larger files are refused with
    /// `rpc_classic::TooLarge`; read them through `open`).
    #[blocking]
    pub fn exposed_read(&self, path: &str) -> Result<Vec<u8>, RemoteError> {
        read_bounded(&self.ctx.resolve(path)?, path)
    }

    /// The whole file as UTF-8 text (at most 64 MiB; invalid UTF-8 is an error).
    #[blocking]
    pub fn exposed_read_text(&self, path: &str) -> Result<String, RemoteError> {
        let data = read_bounded(&self.ctx.resolve(path)?, path)?;
        String::from_utf8(data).map_err(|e| {
            io_error(
                "read_text",
                path,
                &std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
            )
        })
    }

    /// Writes `data` as the file's whole content (created if need be, truncated otherwise).
    #[blocking]
    pub fn exposed_write(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        std::fs::write(self.ctx.resolve(path)?, data).map_err(|e| io_error("write", path, &e))
    }

    /// Writes `text` as the file's whole content.
    #[blocking]
    pub fn exposed_write_text(&self, path: &str, text: &str) -> Result<(), RemoteError> {
        std::fs::write(self.ctx.resolve(path)?, text).map_err(|e| io_error("write", path, &e))
    }

    /// Appends `data` to the file (created if need be).
    #[blocking]
    pub fn exposed_append(&self, path: &str, data: &[u8]) -> Result<(), RemoteError> {
        let resolved = self.ctx.resolve(path)?;
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(resolved)
            .and_then(|mut f| f.write_all(data))
            .map_err(|e| io_error("append", path, &e))
    }

    /// Removes a file, or a symlink itself (not its target). Directories: `remove_dir`,
    /// `remove_all`.
    #[blocking]
    pub fn exposed_remove(&self, path: &str) -> Result<(), RemoteError> {
        let resolved = self.ctx.resolve_link(path)?;
        std::fs::remove_file(resolved).map_err(|e| io_error("remove", path, &e))
    }

    /// Removes an empty directory.
    #[blocking]
    pub fn exposed_remove_dir(&self, path: &str) -> Result<(), RemoteError> {
        let resolved = self.ctx.resolve_link(path)?;
        self.not_the_root(&resolved, path)?;
        std::fs::remove_dir(resolved).map_err(|e| io_error("remove_dir", path, &e))
    }

    /// Removes a directory and everything in it (symlinks inside are removed, not followed),
    /// or a single file. Not the root itself.
    #[blocking]
    pub fn exposed_remove_all(&self, path: &str) -> Result<(), RemoteError> {
        let resolved = self.ctx.resolve_link(path)?;
        self.not_the_root(&resolved, path)?;
        let meta = std::fs::symlink_metadata(&resolved).map_err(|e| io_error("remove_all", path, &e))?;
        if meta.is_dir() {
            std::fs::remove_dir_all(resolved)
        } else {
            std::fs::remove_file(resolved)
        }
        .map_err(|e| io_error("remove_all", path, &e))
    }

    /// Renames (moves) `from` to `to`, replacing a file at `to`. A symlink is moved itself.
    #[blocking]
    pub fn exposed_rename(&self, from: &str, to: &str) -> Result<(), RemoteError> {
        let source = self.ctx.resolve_link(from)?;
        let target = self.ctx.resolve_link(to)?;
        self.not_the_root(&source, from)?;
        self.not_the_root(&target, to)?;
        std::fs::rename(source, target).map_err(|e| io_error("rename", &format!("{from}' to '{to}"), &e))
    }

    /// Copies the file `from` to `to`; the number of bytes copied.
    #[blocking]
    pub fn exposed_copy(&self, from: &str, to: &str) -> Result<u64, RemoteError> {
        let source = self.ctx.resolve(from)?;
        let target = self.ctx.resolve(to)?;
        std::fs::copy(source, target).map_err(|e| io_error("copy", &format!("{from}' to '{to}"), &e))
    }

    /// Creates a directory; with `parents`, its missing parents too and no error if it exists
    /// (`mkdir -p`).
    #[blocking]
    pub fn exposed_mkdir(&self, path: &str, parents: bool) -> Result<(), RemoteError> {
        let resolved = self.ctx.resolve(path)?;
        if parents {
            std::fs::create_dir_all(resolved)
        } else {
            std::fs::create_dir(resolved)
        }
        .map_err(|e| io_error("mkdir", path, &e))
    }

    /// Metadata of the path, following a symlink (`is_symlink` tells whether the path itself
    /// is one).
    #[blocking]
    pub fn exposed_stat(&self, path: &str) -> Result<Metadata, RemoteError> {
        let link = self.ctx.resolve_link(path)?;
        let is_symlink = std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
        let resolved = self.ctx.resolve(path)?;
        let meta = std::fs::metadata(resolved).map_err(|e| io_error("stat", path, &e))?;
        Ok(Metadata::from_std(&meta, is_symlink))
    }

    /// Metadata of the path itself: a symlink is reported as the link.
    #[blocking]
    pub fn exposed_lstat(&self, path: &str) -> Result<Metadata, RemoteError> {
        let link = self.ctx.resolve_link(path)?;
        let meta = std::fs::symlink_metadata(link).map_err(|e| io_error("lstat", path, &e))?;
        Ok(Metadata::from_std(&meta, meta.file_type().is_symlink()))
    }

    /// Whether the path exists (following symlinks). A path outside the root is an error, not
    /// `false`.
    #[blocking]
    pub fn exposed_exists(&self, path: &str) -> Result<bool, RemoteError> {
        let resolved = self.ctx.resolve(path)?;
        resolved.try_exists().map_err(|e| io_error("exists", path, &e))
    }

    /// Everything under the directory `path`, depth first, as paths relative to it (`a`,
    /// `a/b.txt`, ...; `/`-separated, non-UTF-8 names made lossy), each directory's entries
    /// sorted. Streamed: a directory is read when the walk reaches it. Symlinks are listed
    /// but not descended into; a subdirectory that cannot be read is skipped.
    pub async fn exposed_walk(&self, path: &str) -> Result<RemoteIter<String>, RemoteError> {
        let top = self.ctx.resolve(path)?;
        let first = read_sorted(&top, Path::new(""))
            .await
            .map_err(|e| io_error("walk", path, &e))?;
        let stack: Vec<(PathBuf, bool)> = first.into_iter().rev().collect();
        let items = futures::stream::unfold((top, stack), |(top, mut stack)| async move {
            let (rel, is_dir) = stack.pop()?;
            if is_dir {
                if let Ok(children) = read_sorted(&top.join(&rel), &rel).await {
                    stack.extend(children.into_iter().rev());
                }
            }
            let shown = rel.to_string_lossy().into_owned();
            Some((shown, (top, stack)))
        });
        Ok(RemoteIter::from_stream(items))
    }

    /// Opens a file, like `open(path, mode)` (see [`HostContext::open_file`]); the file object
    /// is returned by reference.
    #[blocking]
    pub fn exposed_open(&self, path: &str, mode: &str) -> Result<File, RemoteError> {
        self.ctx.open_file(path, mode)
    }
}

/// The entries of `dir` as `(prefix/name, is a directory (not a symlink to one))`, sorted; read
/// on tokio's blocking pool.
async fn read_sorted(dir: &Path, prefix: &Path) -> std::io::Result<Vec<(PathBuf, bool)>> {
    let (dir, prefix) = (dir.to_path_buf(), prefix.to_path_buf());
    let read = tokio::task::spawn_blocking(move || {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            entries.push((prefix.join(entry.file_name()), is_dir));
        }
        entries.sort();
        Ok(entries)
    });
    read.await.map_err(std::io::Error::other)?
}
