//! The `process` module: running programs, to completion or as handles.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex as SyncMutex;
use rpc_core::serde_bytes::ByteBuf;
use rpc_core::{service, RemoteError, RemoteErrorKind, RemoteIter};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, watch, Mutex};

use super::{bad_argument, io_error, HostContext};

/// The most of each of stdout and stderr `process.run` keeps: 16 MiB. The rest is read (so the
/// child never blocks on a full pipe) and dropped, and the result says it was truncated.
pub const MAX_CAPTURE: usize = 16 << 20;

/// How long `run` waits for the pipes to close once the child has exited (a grandchild may
/// hold them open); what was read by then is returned.
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// The most one `read_stdout`/`read_stderr` call or one iterator chunk returns: 1 MiB.
const MAX_CHUNK: u64 = 1 << 20;

/// The size of the chunks `stdout()`/`stderr()` read.
const STREAM_CHUNK: usize = 64 << 10;

/// The `process` module: runs programs as the server's user.
///
/// Only the child's working directory is confined to the root (`cwd`, taken from the
/// session's working directory, which is also the default); the program itself can do
/// whatever the server's user can. Leave `process` out of the allow-list to keep clients
/// inside the root. The program is looked up in the server's `PATH`. The child's environment
/// is the server's, with the session's overlay (`os.setenv`) and then the call's `env` applied.
pub struct Process {
    ctx: HostContext,
}

impl Process {
    /// The module for the session `ctx`.
    pub fn new(ctx: HostContext) -> Process {
        Process { ctx }
    }

    /// A command for `program`, with the session's working directory and environment.
    fn command(
        &self,
        program: &str,
        args: &[String],
        cwd: Option<&str>,
        env: Option<&BTreeMap<String, String>>,
    ) -> Result<Command, RemoteError> {
        if program.is_empty() {
            return Err(bad_argument("no program to run"));
        }
        let dir: PathBuf = match cwd {
            Some(dir) => self.ctx.resolve(dir)?,
            None => self.ctx.cwd(),
        };
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(dir).kill_on_drop(true);
        for (k, v) in self.ctx.env_overlay() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        for (k, v) in env.into_iter().flatten() {
            cmd.env(k, v);
        }
        Ok(cmd)
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit code, if it exited (`None` if a signal ended it).
    pub code: Option<i32>,
    /// The signal that ended it (Unix).
    pub signal: Option<i32>,
    /// Exited with code 0.
    pub success: bool,
}

impl From<ExitStatus> for ExitInfo {
    fn from(s: ExitStatus) -> Self {
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&s);
        #[cfg(not(unix))]
        let signal = None;
        ExitInfo {
            code: s.code(),
            signal,
            success: s.success(),
        }
    }
}

/// What `process.run` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The exit code (`None` if a signal ended the child, a timeout's kill included).
    pub code: Option<i32>,
    /// The signal that ended it (Unix).
    pub signal: Option<i32>,
    /// Its standard output (the first [`MAX_CAPTURE`] bytes).
    pub stdout: ByteBuf,
    /// Its standard error (the first [`MAX_CAPTURE`] bytes).
    pub stderr: ByteBuf,
    /// Killed because the timeout expired.
    pub timed_out: bool,
    /// Standard output went over [`MAX_CAPTURE`] and was cut.
    pub stdout_truncated: bool,
    /// Standard error went over [`MAX_CAPTURE`] and was cut.
    pub stderr_truncated: bool,
}

/// Bytes read from a pipe so far, and whether some were dropped.
#[derive(Default)]
struct Captured {
    data: Vec<u8>,
    truncated: bool,
}

/// Reads `pipe` to its end into `into`, keeping the first [`MAX_CAPTURE`] bytes.
async fn capture(mut pipe: impl AsyncRead + Unpin, into: Arc<SyncMutex<Captured>>) {
    let mut buf = vec![0u8; STREAM_CHUNK];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut c = into.lock();
                let room = MAX_CAPTURE.saturating_sub(c.data.len());
                let kept = n.min(room);
                c.data.extend_from_slice(&buf[..kept]);
                if kept < n {
                    c.truncated = true;
                }
            }
        }
    }
}

fn spawn_error(program: &str, e: &std::io::Error) -> RemoteError {
    io_error("run", program, e)
}

#[service]
impl Process {
    /// Runs `program` with `args` to completion and returns its exit status and output (each
    /// stream's first 16 MiB). `cwd`: the working directory (confined to the root; default:
    /// the session's); `env`: variables added to the child's environment; `timeout_ms`: the
    /// child is killed (SIGKILL) when it runs longer, and the result says `timed_out`. The
    /// child's stdin is empty. Cancelling the call kills the child.
    pub async fn exposed_run(
        &self,
        program: &str,
        args: Vec<String>,
        cwd: Option<String>,
        env: Option<BTreeMap<String, String>>,
        timeout_ms: Option<u64>,
    ) -> Result<RunOutput, RemoteError> {
        let mut cmd = self.command(program, &args, cwd.as_deref(), env.as_ref())?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| spawn_error(program, &e))?;
        let out = Arc::new(SyncMutex::new(Captured::default()));
        let err = Arc::new(SyncMutex::new(Captured::default()));
        let mut readers = tokio::task::JoinSet::new();
        if let Some(pipe) = child.stdout.take() {
            readers.spawn(capture(pipe, out.clone()));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.spawn(capture(pipe, err.clone()));
        }
        let mut timed_out = false;
        let status = match timeout_ms {
            Some(ms) => match tokio::time::timeout(Duration::from_millis(ms), child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    timed_out = true;
                    // `kill` also reaps it.
                    let _ = child.kill().await;
                    child.wait().await
                }
            },
            None => child.wait().await,
        }
        .map_err(|e| io_error("wait for", program, &e))?;
        // The pipes close when the child exits, unless a grandchild holds them.
        let _ =
            tokio::time::timeout(PIPE_GRACE, async { while readers.join_next().await.is_some() {} }).await;
        readers.abort_all();
        let exit = ExitInfo::from(status);
        let (out, err) = (std::mem::take(&mut *out.lock()), std::mem::take(&mut *err.lock()));
        Ok(RunOutput {
            code: exit.code,
            signal: exit.signal,
            stdout: ByteBuf::from(out.data),
            stderr: ByteBuf::from(err.data),
            timed_out,
            stdout_truncated: out.truncated,
            stderr_truncated: err.truncated,
        })
    }

    /// Starts `program` with `args` (`cwd` and `env` as for `run`) with piped stdin, stdout
    /// and stderr, and returns a handle to it. The child is killed when the last reference
    /// to the handle drops. Read its stderr too if it writes much there, or it blocks on a
    /// full pipe.
    pub async fn exposed_spawn(
        &self,
        program: &str,
        args: Vec<String>,
        cwd: Option<String>,
        env: Option<BTreeMap<String, String>>,
    ) -> Result<ProcessHandle, RemoteError> {
        let mut cmd = self.command(program, &args, cwd.as_deref(), env.as_ref())?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().map_err(|e| spawn_error(program, &e))?;
        Ok(ProcessHandle::start(program, child))
    }
}

/// A running child of `process.spawn`: its pipes, its exit, killing it. Killed when the last
/// reference to it drops.
pub struct ProcessHandle {
    program: String,
    pid: Option<u32>,
    stdin: Mutex<Option<ChildStdin>>,
    stdout: Mutex<Option<ChildStdout>>,
    stderr: Mutex<Option<ChildStderr>>,
    /// The exit, once known.
    status: watch::Receiver<Option<ExitInfo>>,
    /// Asks the task that owns the child to kill it; dropping it does too.
    kill: mpsc::Sender<()>,
}

impl fmt::Display for ProcessHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "<process {pid} {}>", self.program),
            None => write!(f, "<process {}>", self.program),
        }
    }
}

impl ProcessHandle {
    /// Takes the child's pipes and hands the child to a task that waits for it (and kills it
    /// when asked, or when this handle drops).
    fn start(program: &str, mut child: Child) -> ProcessHandle {
        let pid = child.id();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (status_tx, status_rx) = watch::channel(None);
        let (kill_tx, mut kill_rx) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                // A kill request, or the handle is gone (`None`): kill.
                _ = kill_rx.recv() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            if let Ok(status) = status {
                status_tx.send_replace(Some(ExitInfo::from(status)));
            }
        });
        ProcessHandle {
            program: program.to_owned(),
            pid,
            stdin: Mutex::new(stdin),
            stdout: Mutex::new(stdout),
            stderr: Mutex::new(stderr),
            status: status_rx,
            kill: kill_tx,
        }
    }

    fn gone(&self, what: &str) -> RemoteError {
        RemoteError::new(
            RemoteErrorKind::Refused,
            "rpc_classic::PipeClosed",
            format!("the {what} of {self} is closed (or taken by an iterator)"),
        )
    }
}

/// Reads at most `max` bytes from a shared pipe (empty at its end).
async fn read_some<R: AsyncRead + Unpin>(
    pipe: &Mutex<Option<R>>,
    max: u64,
) -> Option<std::io::Result<Vec<u8>>> {
    let mut guard = pipe.lock().await;
    let pipe = guard.as_mut()?;
    let max = usize::try_from(max.clamp(1, MAX_CHUNK)).unwrap_or(STREAM_CHUNK);
    let mut buf = vec![0u8; max];
    Some(pipe.read(&mut buf).await.map(|n| {
        buf.truncate(n);
        buf
    }))
}

/// The pipe as a stream of chunks, taken out of its slot.
async fn chunks<R: AsyncRead + Unpin + Send + 'static>(
    slot: &Mutex<Option<R>>,
) -> Option<RemoteIter<ByteBuf>> {
    let pipe = slot.lock().await.take()?;
    let items = futures::stream::unfold(pipe, |mut pipe| async move {
        let mut buf = vec![0u8; STREAM_CHUNK];
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((ByteBuf::from(buf), pipe))
            }
        }
    });
    Some(RemoteIter::from_stream(items))
}

#[service(display)]
impl ProcessHandle {
    /// The child's process id (`None` once it has been reaped before the handle was made).
    #[attribute]
    pub fn exposed_pid(&self) -> Option<u32> {
        self.pid
    }

    /// The program's name as given to `spawn`.
    #[attribute]
    pub fn exposed_program(&self) -> String {
        self.program.clone()
    }

    /// Waits for the child to end.
    pub async fn exposed_wait(&self) -> Result<ExitInfo, RemoteError> {
        let mut status = self.status.clone();
        let result = status.wait_for(Option::is_some).await;
        match result.ok().and_then(|s| *s) {
            Some(exit) => Ok(exit),
            None => Err(RemoteError::new(
                RemoteErrorKind::Application,
                "std::io::Error",
                format!("waiting for {self} failed"),
            )),
        }
    }

    /// How the child ended, or `None` while it runs.
    pub fn exposed_try_wait(&self) -> Option<ExitInfo> {
        *self.status.borrow()
    }

    /// Kills the child (SIGKILL; nothing if it has ended). `wait` then tells how it ended.
    pub fn exposed_kill(&self) {
        let _ = self.kill.try_send(());
    }

    /// Writes `data` to the child's stdin.
    pub async fn exposed_write_stdin(&self, data: &[u8]) -> Result<(), RemoteError> {
        let mut guard = self.stdin.lock().await;
        let stdin = guard.as_mut().ok_or_else(|| self.gone("stdin"))?;
        let written = async {
            stdin.write_all(data).await?;
            stdin.flush().await
        };
        written
            .await
            .map_err(|e| io_error("write_stdin to", &self.program, &e))
    }

    /// Closes the child's stdin (it sees the end of its input).
    pub async fn exposed_close_stdin(&self) {
        self.stdin.lock().await.take();
    }

    /// Reads what the child wrote to stdout: at most `max` bytes (capped to 1 MiB), waiting
    /// for some; empty at the end.
    pub async fn exposed_read_stdout(&self, max: u64) -> Result<Vec<u8>, RemoteError> {
        match read_some(&self.stdout, max).await {
            Some(r) => r.map_err(|e| io_error("read_stdout of", &self.program, &e)),
            None => Err(self.gone("stdout")),
        }
    }

    /// Reads what the child wrote to stderr, like `read_stdout`.
    pub async fn exposed_read_stderr(&self, max: u64) -> Result<Vec<u8>, RemoteError> {
        match read_some(&self.stderr, max).await {
            Some(r) => r.map_err(|e| io_error("read_stderr of", &self.program, &e)),
            None => Err(self.gone("stderr")),
        }
    }

    /// The child's stdout as a remote iterator of chunks, to its end. Takes the pipe:
    /// `read_stdout` fails afterwards.
    pub async fn exposed_stdout(&self) -> Result<RemoteIter<ByteBuf>, RemoteError> {
        chunks(&self.stdout).await.ok_or_else(|| self.gone("stdout"))
    }

    /// The child's stderr as a remote iterator of chunks, like `stdout`.
    pub async fn exposed_stderr(&self) -> Result<RemoteIter<ByteBuf>, RemoteError> {
        chunks(&self.stderr).await.ok_or_else(|| self.gone("stderr"))
    }
}
