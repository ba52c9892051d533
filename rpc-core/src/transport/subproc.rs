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
    let (service, config) = options.into_parts();
    let conn = match Connection::start_split(stdout, stdin, service, config).await {
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
pub async fn serve_stdio(options: ConnectOptions) -> Result<()> {
    let (service, config) = options.into_parts();
    let conn = Connection::start_split(tokio::io::stdin(), tokio::io::stdout(), service, config).await?;
    conn.closed().await;
    match conn.close_reason() {
        Some(reason) => Err(Error::clone(&reason)),
        None => Ok(()),
    }
}
