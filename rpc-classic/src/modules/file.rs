//! File objects, as `open` returns them.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use parking_lot::Mutex;
use rpc_core::{service, RemoteError, RemoteErrorKind, RemoteIter};
use serde::{Deserialize, Serialize};

use super::{bad_argument, io_error, HostContext, MAX_READ};

/// Lines `lines()` reads per trip to the blocking pool.
const LINES_PER_READ: usize = 256;

/// A line longer than this (16 MiB) comes back in pieces.
const MAX_LINE: u64 = 16 << 20;

/// How a file was opened, parsed from Python's mode strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenMode {
    /// Reads are allowed.
    pub read: bool,
    /// Writes are allowed.
    pub write: bool,
    /// Writes go to the end (`a`).
    pub append: bool,
    /// Created if missing (`w`, `a`, `x`).
    pub create: bool,
    /// Must not exist yet (`x`).
    pub exclusive: bool,
    /// Emptied on open (`w`).
    pub truncate: bool,
}

impl OpenMode {
    /// Parses a mode: exactly one of `r`, `w`, `a`, `x`, then optionally `+` (read and
    /// write) and `b` or `t` (accepted, no difference), in any order: `"r"`, `"wb"`, `"a+"`,
    /// `"r+b"`, `"rb+"`.
    pub fn parse(mode: &str) -> Result<OpenMode, RemoteError> {
        let bad = || {
            bad_argument(format!(
                "invalid mode '{mode}': one of r, w, a, x, optionally with + and b or t (\"r\", \"w+\", \"rb\")"
            ))
        };
        let (mut base, mut plus, mut kind) = (None, false, None);
        for c in mode.chars() {
            match c {
                'r' | 'w' | 'a' | 'x' if base.is_none() => base = Some(c),
                '+' if !plus => plus = true,
                'b' | 't' if kind.is_none() => kind = Some(c),
                _ => return Err(bad()),
            }
        }
        let base = base.ok_or_else(bad)?;
        Ok(OpenMode {
            read: base == 'r' || plus,
            write: base != 'r' || plus,
            append: base == 'a',
            create: base != 'r',
            exclusive: base == 'x',
            truncate: base == 'w',
        })
    }

    fn options(&self) -> std::fs::OpenOptions {
        let mut o = std::fs::OpenOptions::new();
        o.read(self.read)
            .write(self.write && !self.append)
            .append(self.append);
        if self.exclusive {
            o.create_new(true);
        } else {
            o.create(self.create).truncate(self.truncate);
        }
        o
    }
}

/// An open file (RPyC's file objects from `builtins.open`). Reads and writes share one
/// position, as in Python; reads are buffered. The file closes on `close()` or when the last
/// reference to it (and to its `lines()` iterators) drops.
pub struct File {
    name: String,
    mode: String,
    flags: OpenMode,
    inner: Arc<Inner>,
}

/// The open file, shared with `lines()` iterators.
struct Inner {
    ctx: HostContext,
    file: Mutex<Option<BufReader<std::fs::File>>>,
}

impl Inner {
    /// Closes the file (again: nothing).
    fn close(&self) -> bool {
        let closed = self.file.lock().take().is_some();
        if closed {
            self.ctx.file_closed();
        }
        closed
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Display for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let closed = if self.inner.file.lock().is_none() {
            " (closed)"
        } else {
            ""
        };
        write!(f, "<file {} mode {}{closed}>", self.name, self.mode)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn closed_error(name: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Refused,
        "rpc_classic::FileClosed",
        format!("'{name}' is closed"),
    )
}

impl File {
    /// Opens `path` (confined by `ctx`) with `mode`. Regular files only.
    pub(crate) fn open(ctx: HostContext, path: &str, mode: &str) -> Result<File, RemoteError> {
        let flags = OpenMode::parse(mode)?;
        let resolved = ctx.resolve(path)?;
        // A FIFO would block the open itself, a device has no end: regular files only.
        match std::fs::metadata(&resolved) {
            Ok(m) if !m.is_file() => {
                return Err(io_error(
                    "open",
                    path,
                    &std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
                ))
            }
            _ => {}
        }
        let file = flags
            .options()
            .open(&resolved)
            .map_err(|e| io_error("open", path, &e))?;
        ctx.file_opened();
        Ok(File {
            name: path.to_owned(),
            mode: mode.to_owned(),
            flags,
            inner: Arc::new(Inner {
                ctx,
                file: Mutex::new(Some(BufReader::new(file))),
            }),
        })
    }

    /// Runs `f` on the open file, failing if it is closed.
    fn with<T>(
        &self,
        op: &str,
        f: impl FnOnce(&mut BufReader<std::fs::File>) -> std::io::Result<T>,
    ) -> Result<T, RemoteError> {
        let mut guard = self.inner.file.lock();
        let file = guard.as_mut().ok_or_else(|| closed_error(&self.name))?;
        f(file).map_err(|e| io_error(op, &self.name, &e))
    }

    fn readable(&self) -> Result<(), RemoteError> {
        if self.flags.read {
            Ok(())
        } else {
            Err(not_open_for(&self.name, &self.mode, "reading"))
        }
    }

    fn writable(&self) -> Result<(), RemoteError> {
        if self.flags.write {
            Ok(())
        } else {
            Err(not_open_for(&self.name, &self.mode, "writing"))
        }
    }

    fn write_all(&self, data: &[u8]) -> Result<u64, RemoteError> {
        self.writable()?;
        self.with("write", |f| {
            // Back to the logical position: the buffer may have read ahead. A real seek, which
            // drops the buffer (`stream_position` would only compute the position).
            #[allow(clippy::seek_from_current)]
            f.seek(SeekFrom::Current(0))?;
            f.get_mut().write_all(data)?;
            Ok(data.len() as u64)
        })
    }
}

fn not_open_for(name: &str, mode: &str, what: &str) -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Refused,
        "rpc_classic::UnsupportedOperation",
        format!("'{name}' (mode {mode}) is not open for {what}"),
    )
}

/// Reads one line (with its `\n`), at most [`MAX_LINE`] bytes; `None` at the end.
fn read_line(f: &mut BufReader<std::fs::File>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    f.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    Ok(Some(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

#[service(display)]
impl File {
    /// Reads `n` bytes, or (`None`) to the end; fewer at the end, empty there. At most 64 MiB
    /// a call: `n` is capped to it, and reading the rest of a larger file at once is refused.
    #[blocking]
    pub fn exposed_read(&self, n: Option<u64>) -> Result<Vec<u8>, RemoteError> {
        self.readable()?;
        let name = self.name.clone();
        let mut data = Vec::new();
        self.with("read", |f| {
            let limit = match n {
                Some(n) => n.min(MAX_READ),
                None => MAX_READ + 1,
            };
            f.by_ref().take(limit).read_to_end(&mut data)?;
            Ok(())
        })?;
        if n.is_none() && data.len() as u64 > MAX_READ {
            return Err(RemoteError::new(
                RemoteErrorKind::Refused,
                "rpc_classic::TooLarge",
                format!(
                    "the rest of '{name}' is over {} MiB: read it in pieces with read(n)",
                    MAX_READ >> 20
                ),
            ));
        }
        Ok(data)
    }

    /// Like `read`, as text (invalid UTF-8 made lossy; a piece may split a character).
    #[blocking]
    pub fn exposed_read_text(&self, n: Option<u64>) -> Result<String, RemoteError> {
        let data = self.exposed_read(n)?;
        Ok(match String::from_utf8(data) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The next line, with its `\n` (invalid UTF-8 made lossy; a line over 16 MiB comes in
    /// pieces); `None` at the end.
    #[blocking]
    pub fn exposed_read_line(&self) -> Result<Option<String>, RemoteError> {
        self.readable()?;
        self.with("read_line", read_line)
    }

    /// The remaining lines, as a remote iterator (read in batches as the caller pulls; they
    /// share the file's position). The iterator keeps the file open; it ends at the end of
    /// the file, at an error, or when the file is closed.
    pub fn exposed_lines(&self) -> Result<RemoteIter<String>, RemoteError> {
        self.readable()?;
        if self.inner.file.lock().is_none() {
            return Err(closed_error(&self.name));
        }
        let start = (self.inner.clone(), VecDeque::new(), false);
        let items = futures::stream::unfold(start, |(inner, mut buffer, mut done)| async move {
            if buffer.is_empty() && !done {
                let reader = inner.clone();
                let batch = tokio::task::spawn_blocking(move || {
                    let mut guard = reader.file.lock();
                    let mut lines = Vec::new();
                    let Some(f) = guard.as_mut() else {
                        return (lines, true);
                    };
                    while lines.len() < LINES_PER_READ {
                        match read_line(f) {
                            Ok(Some(line)) => lines.push(line),
                            Ok(None) | Err(_) => return (lines, true),
                        }
                    }
                    (lines, false)
                })
                .await;
                match batch {
                    Ok((lines, end)) => {
                        buffer.extend(lines);
                        done = end;
                    }
                    Err(_) => done = true,
                }
            }
            let line = buffer.pop_front()?;
            Some((line, (inner, buffer, done)))
        });
        Ok(RemoteIter::from_stream(items))
    }

    /// Writes text at the current position (at the end in append mode); the bytes written.
    #[blocking]
    pub fn exposed_write(&self, text: &str) -> Result<u64, RemoteError> {
        self.write_all(text.as_bytes())
    }

    /// Writes bytes at the current position (at the end in append mode); the bytes written.
    #[blocking]
    pub fn exposed_write_bytes(&self, data: &[u8]) -> Result<u64, RemoteError> {
        self.write_all(data)
    }

    /// Moves the position: `whence` 0 from the start (`offset` ≥ 0), 1 from the current
    /// position, 2 from the end. The new position.
    #[blocking]
    pub fn exposed_seek(&self, offset: i64, whence: u8) -> Result<u64, RemoteError> {
        let to = match whence {
            0 => SeekFrom::Start(
                u64::try_from(offset).map_err(|_| bad_argument(format!("seek: negative offset {offset}")))?,
            ),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return Err(bad_argument(format!("seek: whence {whence} is not 0, 1 or 2"))),
        };
        self.with("seek", |f| f.seek(to))
    }

    /// The current position.
    #[blocking]
    pub fn exposed_tell(&self) -> Result<u64, RemoteError> {
        self.with("tell", |f| f.stream_position())
    }

    /// Flushes what was written to the operating system (writes are not buffered here, so
    /// this only fails on a closed file); `sync` forces it to the disk.
    #[blocking]
    pub fn exposed_flush(&self) -> Result<(), RemoteError> {
        self.with("flush", |f| f.get_mut().flush())
    }

    /// Forces what was written to the disk (`fsync`).
    #[blocking]
    pub fn exposed_sync(&self) -> Result<(), RemoteError> {
        self.with("sync", |f| f.get_ref().sync_all())
    }

    /// Cuts (or extends with zeros) the file to `size` bytes; the position does not move.
    #[blocking]
    pub fn exposed_truncate(&self, size: u64) -> Result<(), RemoteError> {
        self.writable()?;
        self.with("truncate", |f| f.get_ref().set_len(size))
    }

    /// Closes the file (closing it again does nothing). Later calls fail with
    /// `rpc_classic::FileClosed`; `lines()` iterators end.
    #[blocking]
    pub fn exposed_close(&self) {
        self.inner.close();
    }

    /// Whether the file is closed.
    #[attribute]
    pub fn exposed_closed(&self) -> bool {
        self.inner.file.lock().is_none()
    }

    /// The path as given to `open`.
    #[attribute]
    pub fn exposed_name(&self) -> String {
        self.name.clone()
    }

    /// The mode as given to `open`.
    #[attribute]
    pub fn exposed_mode(&self) -> String {
        self.mode.clone()
    }
}
