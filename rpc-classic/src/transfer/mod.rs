//! Uploads and downloads of files and whole directories (RPyC's `classic.upload` /
//! `download`), streamed in chunks of [`CHUNK`] bytes, up to [`IN_FLIGHT`] of them on the way
//! at once.
//!
//! The server's half is [`Transfers`], a service the session hands out; every path goes
//! through the session's root (see [`HostContext::resolve`](crate::modules::HostContext::resolve)).
//! The client's half is [`upload`], [`download`] and their `_with` forms taking
//! [`TransferOptions`] (a filter, a progress callback, whether to overwrite, whether to sync).
//!
//! # How a file travels
//!
//! The client cuts a file into chunks at fixed offsets (`k × CHUNK`) and keeps up to
//! [`IN_FLIGHT`] calls outstanding on the connection, each carrying one chunk to its offset
//! ([`Writer`]'s `write_at`, uploading) or asking for one ([`Reader`]'s `read_at`,
//! downloading). Each side reads or writes its file positionally on tokio's blocking pool
//! while the other chunks travel, so the disks and the network work at the same time on both
//! sides. The answers are taken in order: the progress callback sees the bytes done grow
//! chunk by chunk, and a transfer copies the bytes of the file as it was when it started
//! (a source found shorter than that midway is an error; what it grew by is left out).
//!
//! # Memory
//!
//! Per file being copied, the client holds at most [`IN_FLIGHT`] chunks (4 MiB), and the
//! server as many (the arguments of the running `write_at` calls, or the answers of the
//! `read_at` calls), each perhaps twice while the connection encodes or decodes it; the
//! connection's own limits (`max_pending_bytes`, 64 MiB by default) bound what a client that
//! sends more at once can make the server hold.
//!
//! # What a peer may ask
//!
//! The server takes nothing on trust: a read asks for at most [`CHUNK`] bytes (more is
//! refused with `rpc_classic::TooLarge`); a write carries at most [`CHUNK`] bytes at a
//! multiple of [`CHUNK`], at most [`WRITE_WINDOW`] chunks past what is written of the file
//! without a gap (else `rpc_classic::OutOfRange`), so a file never holds a hole of more than
//! `WRITE_WINDOW × CHUNK` bytes whatever the client sends; `finish` checks that the file was
//! written in one piece up to the size the client announces. The client, downloading, takes
//! only the bytes it asked for, and only paths that stay inside its local target.
//!
//! # Durability
//!
//! Like RPyC's upload and `scp`, a transfer does not sync what it wrote by default: a file is
//! complete in the operating system's cache when the transfer reports it done, and reaches
//! the disk when the system writes it back (a crash of the machine before then can lose it).
//! With [`TransferOptions::sync`] each file is fsynced before the transfer reports it done
//! (by the server when uploading, by the client when downloading), at the price of waiting
//! for the disk: about half a local copy's rate on the machine of the benchmarks.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod client;
mod server;
#[cfg(test)]
mod tests;

pub use client::{download, download_with, upload, upload_with};
pub use server::{Reader, ReaderClient, Transfers, TransfersClient, Writer, WriterClient};

/// Bytes per chunk: one call each.
pub const CHUNK: usize = 1 << 20;

/// Chunks of a file a client keeps on the way at once (calls sent and not yet answered).
pub const IN_FLIGHT: usize = 4;

/// How many chunks past the end of what is written of a file without a gap a write may
/// reach: the largest hole a client can make in a file (in chunks). At least [`IN_FLIGHT`].
pub const WRITE_WINDOW: usize = 2 * IN_FLIGHT;

/// One entry of a remote directory tree, relative to the tree's top.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The path below the top, with `/` between parts.
    pub path: String,
    /// A directory (else a file).
    pub is_dir: bool,
    /// The file's size in bytes (0 for a directory).
    pub size: u64,
}

/// Which files a transfer takes: `true` keeps the path (relative to the transfer's top, `/`
/// between parts). Directories are always created.
pub type Filter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Told after each chunk: the file's path (relative to the top), its bytes done, its size.
pub type Progress = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

/// How an [`upload_with`] or [`download_with`] goes.
#[derive(Clone, Default)]
pub struct TransferOptions {
    filter: Option<Filter>,
    progress: Option<Progress>,
    overwrite: bool,
    sync: bool,
}

impl TransferOptions {
    /// Everything, no progress, existing destination files an error, no sync.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only files for which `keep(relative_path)` is true.
    pub fn filter(mut self, keep: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(Arc::new(keep));
        self
    }

    /// Calls `report(relative_path, done, size)` after each chunk, in order (once, with
    /// `0, 0`, for an empty file).
    pub fn progress(mut self, report: impl Fn(&str, u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(report));
        self
    }

    /// Replaces existing destination files instead of failing.
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// On: each file is fsynced before the transfer reports it done (by the server when
    /// uploading, locally when downloading), so it survives a crash of the machine from then
    /// on. Off (the default, as with RPyC and `scp`): the file is left to the operating
    /// system's write-back; see [Durability](self#durability).
    pub fn sync(mut self, yes: bool) -> Self {
        self.sync = yes;
        self
    }

    fn keeps(&self, path: &str) -> bool {
        self.filter.as_ref().is_none_or(|keep| keep(path))
    }

    fn report(&self, path: &str, done: u64, size: u64) {
        if let Some(report) = &self.progress {
            report(path, done, size);
        }
    }
}

impl std::fmt::Debug for TransferOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferOptions")
            .field("filter", &self.filter.is_some())
            .field("progress", &self.progress.is_some())
            .field("overwrite", &self.overwrite)
            .field("sync", &self.sync)
            .finish()
    }
}

/// What a transfer moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Files copied.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Bytes copied.
    pub bytes: u64,
}

/// A relative path with `/` between its parts, whatever the platform's separator.
fn slashed(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Up to `len` bytes of `file` from `offset`: fewer only where the file ends. Through the
/// file's cursor (the caller holds the file meanwhile), so that the bytes go into a buffer
/// never zeroed first, which a positional read would need.
fn read_at(file: &mut std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    // No file reaches past the largest signed offset, which the system's calls take.
    if offset > i64::MAX as u64 {
        return Ok(Vec::new());
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Writes all of `data` to `file` at `offset` (the caller holds the file meanwhile).
fn write_at(file: &mut std::fs::File, offset: u64, data: &[u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(data)
}
