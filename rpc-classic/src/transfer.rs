//! Uploads and downloads of files and whole directories (RPyC's `classic.upload` /
//! `download`), streamed in chunks: neither side ever holds more than a chunk of a file.
//!
//! The server's half is [`Transfers`], a service the session hands out; every path goes
//! through the session's root (see [`HostContext::resolve`]). The client's half is [`upload`],
//! [`download`] and their `_with` forms taking [`TransferOptions`] (a filter, a progress
//! callback, whether to overwrite).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rpc_core::serde_bytes::ByteBuf;
use rpc_core::{service, Error, NetRef, RemoteError, RemoteErrorKind, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::modules::HostContext;
use crate::Classic;

/// Bytes per chunk: one call each way.
pub const CHUNK: usize = 1 << 20;

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

/// The server's half of transfers: readers, writers, directories, listings, inside the
/// session's root.
pub struct Transfers {
    host: HostContext,
}

impl Transfers {
    /// Transfers confined as `host` says.
    pub fn new(host: HostContext) -> Transfers {
        Transfers { host }
    }
}

fn io_error(what: &str, path: &str, e: &std::io::Error) -> RemoteError {
    let (kind, type_name) = match e.kind() {
        std::io::ErrorKind::NotFound => (RemoteErrorKind::NotFound, "rpc_classic::NotFound"),
        std::io::ErrorKind::AlreadyExists => (RemoteErrorKind::Refused, "rpc_classic::AlreadyExists"),
        std::io::ErrorKind::PermissionDenied => (RemoteErrorKind::Refused, "rpc_classic::PermissionDenied"),
        _ => (RemoteErrorKind::Application, "rpc_classic::IoError"),
    };
    RemoteError::new(kind, type_name, format!("{what} '{path}': {e}"))
}

#[service(name = "TRANSFERS")]
impl Transfers {
    /// Opens `path` for reading in chunks.
    async fn exposed_reader(&self, path: String) -> std::result::Result<Reader, RemoteError> {
        let full = self.host.resolve(&path)?;
        let file = tokio::fs::File::open(&full)
            .await
            .map_err(|e| io_error("cannot read", &path, &e))?;
        Ok(Reader {
            file: Arc::new(tokio::sync::Mutex::new(file)),
        })
    }

    /// Creates `path` for writing in chunks; an existing file is an error unless `overwrite`.
    async fn exposed_writer(
        &self,
        path: String,
        overwrite: bool,
    ) -> std::result::Result<Writer, RemoteError> {
        let full = self.host.resolve(&path)?;
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let file = options
            .open(&full)
            .await
            .map_err(|e| io_error("cannot create", &path, &e))?;
        Ok(Writer {
            file: Arc::new(tokio::sync::Mutex::new(Some(file))),
        })
    }

    /// Creates the directory `path` and its missing parents.
    async fn exposed_mkdir(&self, path: String) -> std::result::Result<(), RemoteError> {
        let full = self.host.resolve(&path)?;
        tokio::fs::create_dir_all(&full)
            .await
            .map_err(|e| io_error("cannot create the directory", &path, &e))
    }

    /// What `path` is: `None` if nothing is there, else an entry for it (its `path` empty).
    async fn exposed_stat(&self, path: String) -> std::result::Result<Option<Entry>, RemoteError> {
        let full = self.host.resolve(&path)?;
        match tokio::fs::metadata(&full).await {
            Ok(m) => Ok(Some(Entry {
                path: String::new(),
                is_dir: m.is_dir(),
                size: if m.is_dir() { 0 } else { m.len() },
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot look at", &path, &e)),
        }
    }

    /// Every directory and file below `path`, parents before children, sorted by path.
    /// Symbolic links are not followed.
    #[blocking]
    fn exposed_list(&self, path: String) -> std::result::Result<Vec<Entry>, RemoteError> {
        let top = self.host.resolve(&path)?;
        let mut out = Vec::new();
        walk(&top, &top, &mut out).map_err(|e| io_error("cannot list", &path, &e))?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

/// Lists `dir` below `top` into `out`.
fn walk(top: &Path, dir: &Path, out: &mut Vec<Entry>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let full = entry.path();
        let path = relative(top, &full);
        if kind.is_dir() {
            out.push(Entry {
                path,
                is_dir: true,
                size: 0,
            });
            walk(top, &full, out)?;
        } else if kind.is_file() {
            out.push(Entry {
                path,
                is_dir: false,
                size: entry.metadata()?.len(),
            });
        }
    }
    Ok(())
}

/// `full` below `top`, with `/` between parts.
fn relative(top: &Path, full: &Path) -> String {
    slashed(full.strip_prefix(top).unwrap_or(full))
}

/// A relative path with `/` between its parts, whatever the platform's separator.
fn slashed(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A file being read by the client, a chunk per call.
pub struct Reader {
    file: Arc<tokio::sync::Mutex<tokio::fs::File>>,
}

#[service(name = "READER")]
impl Reader {
    /// The next chunk (empty at the end).
    async fn exposed_read(&self) -> std::result::Result<ByteBuf, RemoteError> {
        let mut buf = vec![0u8; CHUNK];
        let mut file = self.file.lock().await;
        let mut filled = 0;
        while filled < CHUNK {
            let n = file
                .read(&mut buf[filled..])
                .await
                .map_err(|e| io_error("cannot read", "the file", &e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        Ok(ByteBuf::from(buf))
    }
}

/// A file being written by the client, a chunk per call, until [`finish`](Writer) is called.
pub struct Writer {
    file: Arc<tokio::sync::Mutex<Option<tokio::fs::File>>>,
}

#[service(name = "WRITER")]
impl Writer {
    /// Appends a chunk.
    async fn exposed_write(&self, chunk: ByteBuf) -> std::result::Result<(), RemoteError> {
        let mut file = self.file.lock().await;
        let Some(file) = file.as_mut() else {
            return Err(finished());
        };
        file.write_all(&chunk)
            .await
            .map_err(|e| io_error("cannot write", "the file", &e))
    }

    /// Flushes the file to disk and closes it.
    async fn exposed_finish(&self) -> std::result::Result<(), RemoteError> {
        let Some(file) = self.file.lock().await.take() else {
            return Err(finished());
        };
        file.sync_all()
            .await
            .map_err(|e| io_error("cannot finish", "the file", &e))
    }
}

fn finished() -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Refused,
        "rpc_classic::Finished",
        "the file was already finished",
    )
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
}

impl TransferOptions {
    /// Everything, no progress, existing destination files an error.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only files for which `keep(relative_path)` is true.
    pub fn filter(mut self, keep: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(Arc::new(keep));
        self
    }

    /// Calls `report(relative_path, done, size)` after each chunk.
    pub fn progress(mut self, report: impl Fn(&str, u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(report));
        self
    }

    /// Replaces existing destination files instead of failing.
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
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

/// Uploads the file or directory `local` to `remote` on the session's server.
pub async fn upload(c: &Classic, local: impl AsRef<Path>, remote: &str) -> Result<TransferStats> {
    upload_with(c, local, remote, &TransferOptions::new()).await
}

/// Downloads the file or directory `remote` to `local`.
pub async fn download(c: &Classic, remote: &str, local: impl AsRef<Path>) -> Result<TransferStats> {
    download_with(c, remote, local, &TransferOptions::new()).await
}

fn local_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("{what} '{}': {e}", path.display()),
    ))
}

/// Like [`upload`], with a filter, a progress callback, or overwriting.
pub async fn upload_with(
    c: &Classic,
    local: impl AsRef<Path>,
    remote: &str,
    options: &TransferOptions,
) -> Result<TransferStats> {
    let local = local.as_ref();
    let meta = tokio::fs::metadata(local)
        .await
        .map_err(|e| local_error("cannot upload", local, e))?;
    let transfers = TransfersClient::new(c.root().call::<NetRef>("transfers", ()).await?);
    let mut stats = TransferStats::default();
    if meta.is_file() {
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        upload_file(&transfers, local, remote, &name, meta.len(), options, &mut stats).await?;
        return Ok(stats);
    }
    transfers.mkdir(remote.to_owned()).await?;
    stats.dirs += 1;
    let mut pending = vec![PathBuf::new()];
    while let Some(below) = pending.pop() {
        let dir = local.join(&below);
        let mut entries = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| local_error("cannot list", &dir, e))?;
        let mut names = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| local_error("cannot list", &dir, e))?
        {
            names.push(entry);
        }
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            let rel = below.join(entry.file_name());
            let rel_text = slashed(&rel);
            let target = format!("{}/{}", remote.trim_end_matches('/'), rel_text);
            let kind = entry
                .file_type()
                .await
                .map_err(|e| local_error("cannot look at", &entry.path(), e))?;
            if kind.is_dir() {
                transfers.mkdir(target).await?;
                stats.dirs += 1;
                pending.push(rel);
            } else if kind.is_file() && options.keeps(&rel_text) {
                let size = entry
                    .metadata()
                    .await
                    .map_err(|e| local_error("cannot look at", &entry.path(), e))?
                    .len();
                upload_file(
                    &transfers,
                    &entry.path(),
                    &target,
                    &rel_text,
                    size,
                    options,
                    &mut stats,
                )
                .await?;
            }
        }
    }
    Ok(stats)
}

/// Up to [`CHUNK`] bytes of `file` (fewer only at its end; none past it).
async fn read_chunk(file: &mut tokio::fs::File, path: &Path) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    while filled < CHUNK {
        let n = file
            .read(&mut buf[filled..])
            .await
            .map_err(|e| local_error("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

async fn upload_file(
    transfers: &TransfersClient,
    local: &Path,
    remote: &str,
    shown: &str,
    size: u64,
    options: &TransferOptions,
    stats: &mut TransferStats,
) -> Result<()> {
    let mut file = tokio::fs::File::open(local)
        .await
        .map_err(|e| local_error("cannot read", local, e))?;
    let writer = transfers.writer(remote.to_owned(), options.overwrite).await?;
    let mut done = 0u64;
    // An empty file is reported too, so a progress display sees it finish.
    if size == 0 {
        options.report(shown, 0, 0);
    }
    // The next chunk is read from disk while the last one travels: two chunks at most in
    // memory, the calls still one at a time (so in order).
    let mut chunk = read_chunk(&mut file, local).await?;
    while !chunk.is_empty() {
        let sent = chunk.len() as u64;
        let (written, next) = tokio::join!(writer.write(ByteBuf::from(chunk)), read_chunk(&mut file, local));
        written?;
        done += sent;
        options.report(shown, done, size);
        chunk = next?;
    }
    writer.finish().await?;
    stats.files += 1;
    stats.bytes += done;
    Ok(())
}

/// Like [`download`], with a filter, a progress callback, or overwriting.
pub async fn download_with(
    c: &Classic,
    remote: &str,
    local: impl AsRef<Path>,
    options: &TransferOptions,
) -> Result<TransferStats> {
    let local = local.as_ref();
    let transfers = TransfersClient::new(c.root().call::<NetRef>("transfers", ()).await?);
    let Some(top) = transfers.stat(remote.to_owned()).await? else {
        return Err(Error::Remote(RemoteError::new(
            RemoteErrorKind::NotFound,
            "rpc_classic::NotFound",
            format!("nothing to download at '{remote}'"),
        )));
    };
    let mut stats = TransferStats::default();
    if !top.is_dir {
        let name = remote.rsplit('/').next().unwrap_or(remote).to_owned();
        download_file(&transfers, remote, local, &name, top.size, options, &mut stats).await?;
        return Ok(stats);
    }
    tokio::fs::create_dir_all(local)
        .await
        .map_err(|e| local_error("cannot create the directory", local, e))?;
    stats.dirs += 1;
    for entry in transfers.list(remote.to_owned()).await? {
        // The server's names are the peer's word: no part may climb out of `local`.
        let rel = safe_relative(&entry.path)?;
        let target = local.join(&rel);
        if entry.is_dir {
            tokio::fs::create_dir_all(&target)
                .await
                .map_err(|e| local_error("cannot create the directory", &target, e))?;
            stats.dirs += 1;
        } else if options.keeps(&entry.path) {
            let source = format!("{}/{}", remote.trim_end_matches('/'), entry.path);
            download_file(
                &transfers,
                &source,
                &target,
                &entry.path,
                entry.size,
                options,
                &mut stats,
            )
            .await?;
        }
    }
    Ok(stats)
}

/// A relative path from the peer, refused if a part is `..`, absolute or empty.
fn safe_relative(path: &str) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.split('/') {
        if part.is_empty()
            || part == "."
            || part == ".."
            || part.contains('\\')
            || Path::new(part).is_absolute()
        {
            return Err(Error::Decode(format!(
                "the server listed an unsafe path '{path}'"
            )));
        }
        out.push(part);
    }
    Ok(out)
}

async fn download_file(
    transfers: &TransfersClient,
    remote: &str,
    local: &Path,
    shown: &str,
    size: u64,
    options: &TransferOptions,
    stats: &mut TransferStats,
) -> Result<()> {
    let reader = transfers.reader(remote.to_owned()).await?;
    let mut open = tokio::fs::OpenOptions::new();
    open.write(true);
    if options.overwrite {
        open.create(true).truncate(true);
    } else {
        open.create_new(true);
    }
    let mut file = open
        .open(local)
        .await
        .map_err(|e| local_error("cannot create", local, e))?;
    let mut done = 0u64;
    if size == 0 {
        options.report(shown, 0, 0);
    }
    // The next chunk is asked for while the last one is written to disk: two chunks at most in
    // memory, the calls still one at a time.
    let mut chunk = reader.read().await?;
    while !chunk.is_empty() {
        let got = chunk.len() as u64;
        let (written, next) = tokio::join!(file.write_all(&chunk), reader.read());
        written.map_err(|e| local_error("cannot write", local, e))?;
        done += got;
        options.report(shown, done, size);
        chunk = next?;
    }
    file.sync_all()
        .await
        .map_err(|e| local_error("cannot finish", local, e))?;
    stats.files += 1;
    stats.bytes += done;
    Ok(())
}
