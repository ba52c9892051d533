//! Tests of the host modules: each over a real connection through its typed client, the
//! allow-list, and the confinement to the root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rpc_core::serde_bytes::ByteBuf;
use rpc_core::{memory_pair, Connection, Error, RemoteError, RemoteErrorKind, RemoteIter, VoidService};

use super::*;
use crate::ClassicConfig;

/// A fresh directory under the system's temporary directory, removed on drop (the transfer
/// tests' too).
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "rpc-classic-{tag}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the temporary directory");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file (and its parents) under the directory.
    fn file(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parents");
        }
        std::fs::write(&p, content).expect("write a file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A session confined to `root`.
fn confined(root: &Path) -> HostContext {
    HostContext::new(&ClassicConfig::default().root(root)).expect("a context")
}

/// The remote error inside a call's error.
fn remote(e: Error) -> RemoteError {
    match e {
        Error::Remote(r) => r,
        other => panic!("expected a remote error, got {other:?}"),
    }
}

fn assert_outside(r: Result<PathBuf, RemoteError>, what: &str) {
    match r {
        Err(e) => {
            assert_eq!(e.type_name, OUTSIDE_ROOT, "{what}: {e}");
            assert_eq!(e.kind, RemoteErrorKind::Refused, "{what}");
        }
        Ok(p) => panic!("{what}: resolved to {} instead of being refused", p.display()),
    }
}

#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).expect("make a symlink");
}

mod confine;
mod fs;
mod host;
mod process;
