//! Starts a Python script that prints `PORT <n>` once it listens on 127.0.0.1 (rpyc's
//! ThreadedServer, in the interop tests and in `benches/rpyc`): the child, killed when
//! dropped, and its port.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Runs `script` with `python`, and waits (30 s at most) for the port it announces.
pub async fn start(python: &Path, script: &str, stdin: Stdio, stderr: Stdio) -> (Child, u16) {
    let mut child = Command::new(python)
        .arg(script)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python server");
    let stdout = child.stdout.take().expect("its stdout");
    let line = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .expect("the Python server printed no port within 30 s")
    .expect("read its stdout")
    .expect("the Python server exited before listening");
    let port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the Python server said {line:?}, not its port"));
    (child, port)
}
