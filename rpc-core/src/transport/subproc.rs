//! A child process's stdin and stdout as a transport: how a program hands long work to a
//! worker process (`connect_subproc`), and how the worker serves it (`serve_stdio`).

use std::process::Stdio;

use tokio::process::Command;

use super::ConnectOptions;
use crate::connection::Connection;
use crate::error::{Error, Result};

/// Starts `command` with its stdin and stdout piped and opens a connection over them; the
/// child's stderr stays the parent's. Closing (or dropping) the connection ends the child; a
/// child that exits closes the connection and fails its pending calls.
///
/// The child serves with [`serve_stdio`] (see `examples/worker.rs`, which starts itself again
/// as its own worker). Here `cat` stands in for a worker: it echoes our frames back, so this
/// side talks to itself through a child process.
///
/// ```
/// use rpc_core::{connect_subproc, service, ConnectOptions};
///
/// struct Doubler;
///
/// #[service]
/// impl Doubler {
///     fn exposed_double(&self, x: i64) -> i64 {
///         2 * x
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> rpc_core::Result<()> {
/// # if cfg!(not(unix)) { return Ok(()); }
/// let child = tokio::process::Command::new("cat");
/// let conn = connect_subproc(child, ConnectOptions::new().service(Doubler)).await?;
/// assert_eq!(conn.root().call::<i64>("double", (21,)).await?, 42);
/// conn.close().await; // ends the child
/// # Ok(())
/// # }
/// ```
pub async fn connect_subproc(mut command: Command, options: ConnectOptions) -> Result<Connection> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(Error::Handshake(
            "the child's stdin and stdout could not be piped".into(),
        ));
    };
    let conn = match Connection::start_split_with(stdout, stdin, options.into_setup()).await {
        Ok(c) => c,
        Err(e) => {
            let _ = child.start_kill();
            return Err(e);
        }
    };
    let mut closed = conn.closed_signal();
    let pid = child.id();
    tokio::spawn(async move {
        tokio::select! {
            status = child.wait() => tracing::debug!(?pid, ?status, "child exited"),
            _ = async { let _ = closed.wait_for(|c| *c).await; } => {
                // The child sees its stdin close; if it does not exit by itself, end it.
                let exited = tokio::time::timeout(std::time::Duration::from_secs(2), child.wait()).await;
                if exited.is_err() {
                    let _ = child.kill().await;
                }
            }
        }
    });
    Ok(conn)
}

/// Serves `service` over this process's stdin and stdout until the parent closes the
/// connection. Nothing else may write to stdout meanwhile (log to stderr).
///
/// ```no_run
/// use rpc_core::{serve_stdio, service, ConnectOptions};
///
/// struct Worker;
///
/// #[service]
/// impl Worker {
///     fn exposed_crunch(&self, n: u64) -> u64 {
///         (1..=n).sum()
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> rpc_core::Result<()> {
///     // The parent started this program with `connect_subproc`.
///     serve_stdio(ConnectOptions::new().service(Worker)).await
/// }
/// ```
pub async fn serve_stdio(options: ConnectOptions) -> Result<()> {
    let setup = options.into_setup();
    let conn = Connection::start_split_with(tokio::io::stdin(), tokio::io::stdout(), setup).await?;
    conn.closed().await;
    match conn.close_reason() {
        Some(reason) => Err(Error::clone(&reason)),
        None => Ok(()),
    }
}
