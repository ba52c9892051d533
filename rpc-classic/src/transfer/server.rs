//! The server's half of transfers: [`Transfers`] hands out a [`Reader`] or a [`Writer`] per
//! file, lists trees and makes directories, inside the session's root.

use std::collections::BTreeMap;
use std::path::Path;

use parking_lot::Mutex;
use rpc_core::serde_bytes::ByteBuf;
use rpc_core::{service, RemoteError, RemoteErrorKind};

use super::{read_at, slashed, write_at, Entry, CHUNK, WRITE_WINDOW};
use crate::modules::HostContext;

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

/// `e`, met doing `what` to `path`, as the client sees it.
fn io_error(what: &str, path: &str, e: &std::io::Error) -> RemoteError {
    let (kind, type_name) = match e.kind() {
        std::io::ErrorKind::NotFound => (RemoteErrorKind::NotFound, "rpc_classic::NotFound"),
        std::io::ErrorKind::AlreadyExists => (RemoteErrorKind::Refused, "rpc_classic::AlreadyExists"),
        std::io::ErrorKind::PermissionDenied => (RemoteErrorKind::Refused, "rpc_classic::PermissionDenied"),
        _ => (RemoteErrorKind::Application, "rpc_classic::IoError"),
    };
    RemoteError::new(kind, type_name, format!("{what} '{path}': {e}"))
}

/// A request the protocol does not allow, refused before it touches the file.
fn refused(type_name: &str, message: String) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Refused, type_name, message)
}

#[service(name = "TRANSFERS")]
impl Transfers {
    /// Opens `path` for reading in chunks.
    #[blocking]
    fn exposed_reader(&self, path: String) -> Result<Reader, RemoteError> {
        let full = self.host.resolve(&path)?;
        let file = std::fs::File::open(&full).map_err(|e| io_error("cannot read", &path, &e))?;
        Ok(Reader {
            file: Mutex::new(file),
            path,
        })
    }

    /// Creates `path` for writing in chunks; an existing file is an error unless `overwrite`.
    #[blocking]
    fn exposed_writer(&self, path: String, overwrite: bool) -> Result<Writer, RemoteError> {
        let full = self.host.resolve(&path)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let file = options
            .open(&full)
            .map_err(|e| io_error("cannot create", &path, &e))?;
        Ok(Writer {
            file: Mutex::new(file),
            path,
            written: Mutex::default(),
        })
    }

    /// Creates the directory `path` and its missing parents.
    async fn exposed_mkdir(&self, path: String) -> Result<(), RemoteError> {
        let full = self.host.resolve(&path)?;
        tokio::fs::create_dir_all(&full)
            .await
            .map_err(|e| io_error("cannot create the directory", &path, &e))
    }

    /// What `path` is: `None` if nothing is there, else an entry for it (its `path` empty).
    async fn exposed_stat(&self, path: String) -> Result<Option<Entry>, RemoteError> {
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
    fn exposed_list(&self, path: String) -> Result<Vec<Entry>, RemoteError> {
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
        let path = slashed(full.strip_prefix(top).unwrap_or(&full));
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

/// A file being read by the client, a chunk per call, several calls at once if it likes.
pub struct Reader {
    /// One read at a time: each moves the file's cursor.
    file: Mutex<std::fs::File>,
    /// As the client named it, for errors.
    path: String,
}

#[service(name = "READER")]
impl Reader {
    /// Up to `len` bytes from `offset` (fewer only at the end of the file, none past it);
    /// `len` is at most [`CHUNK`].
    #[blocking]
    fn exposed_read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, RemoteError> {
        let len = usize::try_from(len).ok().filter(|&n| n <= CHUNK).ok_or_else(|| {
            refused(
                "rpc_classic::TooLarge",
                format!("a read of {len} bytes of '{}': at most {CHUNK} a call", self.path),
            )
        })?;
        read_at(&mut self.file.lock(), offset, len).map_err(|e| io_error("cannot read", &self.path, &e))
    }
}

/// A file being written by the client, a chunk per call, several calls at once if it likes,
/// until `finish` is called. The file is closed when the client lets go of the writer.
pub struct Writer {
    /// One write at a time: each moves the file's cursor (and concurrent writes to one file
    /// would wait for each other in the kernel anyway, spinning on a CPU meanwhile).
    file: Mutex<std::fs::File>,
    /// As the client named it, for errors.
    path: String,
    written: Mutex<Written>,
}

/// Which parts of a [`Writer`]'s file are written.
#[derive(Default)]
struct Written {
    /// Bytes from the start written without a gap.
    whole: u64,
    /// Writes done past `whole`, by offset: their ends. At most [`WRITE_WINDOW`] of them,
    /// since each lies at a multiple of [`CHUNK`] inside the window.
    ahead: BTreeMap<u64, u64>,
    /// Writes under way.
    running: usize,
    finished: bool,
}

impl Written {
    /// Lets a write of `len` bytes at `offset` start, if the protocol allows it: its end.
    fn admit(&mut self, path: &str, offset: u64, len: usize) -> Result<u64, RemoteError> {
        if self.finished {
            return Err(finished(path));
        }
        if len > CHUNK {
            return Err(refused(
                "rpc_classic::TooLarge",
                format!("a chunk of {len} bytes for '{path}': at most {CHUNK} a call"),
            ));
        }
        let limit = self.whole.saturating_add((WRITE_WINDOW * CHUNK) as u64);
        let end = offset.checked_add(len as u64).filter(|&end| end <= limit);
        let Some(end) = end.filter(|_| offset.is_multiple_of(CHUNK as u64)) else {
            return Err(refused(
                "rpc_classic::OutOfRange",
                format!(
                    "a write of {len} bytes at offset {offset} of '{path}': writes go to multiples \
                     of {CHUNK} bytes, at most {WRITE_WINDOW} chunks past the {} bytes written so far",
                    self.whole
                ),
            ));
        };
        self.running += 1;
        Ok(end)
    }

    /// A write admitted at `offset` ended (`ok`: it wrote everything up to `end`).
    fn landed(&mut self, offset: u64, end: u64, ok: bool) {
        self.running -= 1;
        if !ok || end == offset {
            return;
        }
        let known = self.ahead.entry(offset).or_insert(end);
        *known = (*known).max(end);
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() > self.whole {
                break;
            }
            self.whole = self.whole.max(entry.remove());
        }
    }
}

#[service(name = "WRITER")]
impl Writer {
    /// Writes `chunk` (at most [`CHUNK`] bytes) at `offset`, a multiple of [`CHUNK`] at most
    /// [`WRITE_WINDOW`] chunks past the part of the file written without a gap.
    #[blocking]
    fn exposed_write_at(&self, offset: u64, chunk: ByteBuf) -> Result<(), RemoteError> {
        let end = self.written.lock().admit(&self.path, offset, chunk.len())?;
        let result = write_at(&mut self.file.lock(), offset, &chunk);
        self.written.lock().landed(offset, end, result.is_ok());
        result.map_err(|e| io_error("cannot write", &self.path, &e))
    }

    /// Ends the file: it must hold `size` bytes written without a gap, and no write may be
    /// under way. With `sync`, waits until it is on the disk.
    #[blocking]
    fn exposed_finish(&self, size: u64, sync: bool) -> Result<(), RemoteError> {
        {
            let mut written = self.written.lock();
            if written.finished {
                return Err(finished(&self.path));
            }
            if written.running > 0 || written.whole != size || !written.ahead.is_empty() {
                return Err(refused(
                    "rpc_classic::Incomplete",
                    format!(
                        "'{}' cannot be finished at {size} bytes: {} are written without a gap, \
                         {} more pieces past them, {} writes under way",
                        self.path,
                        written.whole,
                        written.ahead.len(),
                        written.running
                    ),
                ));
            }
            written.finished = true;
        }
        if sync {
            self.file
                .lock()
                .sync_all()
                .map_err(|e| io_error("cannot finish", &self.path, &e))?;
        }
        Ok(())
    }
}

fn finished(path: &str) -> RemoteError {
    refused("rpc_classic::Finished", format!("'{path}' was already finished"))
}
