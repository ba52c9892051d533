//! The client's half of transfers: [`upload`] and [`download`], files and trees, each file
//! with up to [`IN_FLIGHT`] chunks on the way.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::stream::{FuturesOrdered, StreamExt};
use parking_lot::Mutex;
use rpc_core::serde_bytes::ByteBuf;
use rpc_core::{Error, NetRef, RemoteError, RemoteErrorKind, Result, Value};

use super::server::{ReaderClient, TransfersClient, WriterClient};
use super::{read_at, slashed, write_at, TransferOptions, TransferStats, CHUNK, IN_FLIGHT};
use crate::Classic;

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

/// The session's transfers service.
async fn transfers(c: &Classic) -> Result<TransfersClient> {
    Ok(TransfersClient::new(
        c.root().call::<NetRef>("transfers", ()).await?,
    ))
}

/// Like [`upload`], with a filter, a progress callback, overwriting or syncing.
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
    let transfers = transfers(c).await?;
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

/// Runs `job` on the blocking pool.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(job)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

/// Copies a file of `size` bytes as chunks: `piece(offset, len)` copies one, up to
/// [`IN_FLIGHT`] of them at once, finished in order; progress is reported after each (and
/// once for an empty file). The bytes copied.
async fn chunked<F, P>(size: u64, shown: &str, options: &TransferOptions, mut piece: P) -> Result<u64>
where
    P: FnMut(u64, usize) -> F,
    F: Future<Output = Result<()>>,
{
    // An empty file is reported too, so a progress display sees it finish.
    if size == 0 {
        options.report(shown, 0, 0);
    }
    let mut on_the_way = FuturesOrdered::new();
    let (mut next, mut done) = (0u64, 0u64);
    loop {
        while on_the_way.len() < IN_FLIGHT && next < size {
            let len = (size - next).min(CHUNK as u64);
            let copy = piece(next, len as usize);
            on_the_way.push_back(async move { copy.await.map(|()| len) });
            next += len;
        }
        let Some(copied) = on_the_way.next().await else {
            return Ok(done);
        };
        done += copied?;
        options.report(shown, done, size);
    }
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
    let file = tokio::fs::File::open(local)
        .await
        .map_err(|e| local_error("cannot read", local, e))?;
    let file = Arc::new(Mutex::new(file.into_std().await));
    let writer = transfers.writer(remote.to_owned(), options.overwrite).await?;
    let done = chunked(size, shown, options, |offset, len| {
        send_chunk(&writer, &file, local, offset, len)
    })
    .await?;
    writer.finish(done, options.sync).await?;
    stats.files += 1;
    stats.bytes += done;
    Ok(())
}

/// Reads `len` bytes of `file` at `offset` and writes them there on the server.
async fn send_chunk(
    writer: &WriterClient,
    file: &Arc<Mutex<std::fs::File>>,
    path: &Path,
    offset: u64,
    len: usize,
) -> Result<()> {
    let source = file.clone();
    let chunk = blocking(move || read_at(&mut source.lock(), offset, len))
        .await
        .map_err(|e| local_error("cannot read", path, e))?;
    if chunk.len() < len {
        let e = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "it ended at {} bytes, shorter than when the upload began",
                offset + chunk.len() as u64
            ),
        );
        return Err(local_error("cannot read", path, e));
    }
    // By name, so that the chunk moves into the request instead of being copied by serde.
    let offset = i64::try_from(offset).map_or(Value::UInt(offset), Value::Int);
    let args = vec![offset, Value::Bytes(chunk)];
    writer.netref().call::<()>("write_at", args).await
}

/// Like [`download`], with a filter, a progress callback, overwriting or syncing.
pub async fn download_with(
    c: &Classic,
    remote: &str,
    local: impl AsRef<Path>,
    options: &TransferOptions,
) -> Result<TransferStats> {
    let local = local.as_ref();
    let transfers = transfers(c).await?;
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
    let file = open
        .open(local)
        .await
        .map_err(|e| local_error("cannot create", local, e))?;
    // One write at a time (see `Writer`).
    let file = Arc::new(Mutex::new(file.into_std().await));
    let done = chunked(size, shown, options, |offset, len| {
        fetch_chunk(&reader, &file, remote, local, offset, len)
    })
    .await?;
    if options.sync {
        let file = file.clone();
        blocking(move || file.lock().sync_all())
            .await
            .map_err(|e| local_error("cannot finish", local, e))?;
    }
    stats.files += 1;
    stats.bytes += done;
    Ok(())
}

/// Asks the server for `len` bytes of `remote` at `offset` and writes them there in `file`.
async fn fetch_chunk(
    reader: &ReaderClient,
    file: &Arc<Mutex<std::fs::File>>,
    remote: &str,
    local: &Path,
    offset: u64,
    len: usize,
) -> Result<()> {
    // By name, so that the chunk comes as bytes in one piece (the typed client's `Vec<u8>`
    // would be decoded byte by byte).
    let chunk = reader
        .netref()
        .call::<ByteBuf>("read_at", (offset, len as u64))
        .await?
        .into_vec();
    // The offsets are ours; only the length is the server's word.
    if chunk.len() != len {
        return Err(Error::Decode(format!(
            "the server sent {} bytes of '{remote}' at offset {offset} where {len} were asked for \
             (did the file change during the download?)",
            chunk.len()
        )));
    }
    let target = file.clone();
    blocking(move || write_at(&mut target.lock(), offset, &chunk))
        .await
        .map_err(|e| local_error("cannot write", local, e))
}
