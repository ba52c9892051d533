//! A Python virtual environment with the pinned packages of `requirements.txt`, made once per
//! target directory (under `CARGO_TARGET_TMPDIR`) and reused while the requirements are the
//! same; and a way to run a script in it against a server of ours.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

#[path = "make_venv.rs"]
mod make_venv;

/// The environment's `python`, made (with `python3 -m venv` and pip from PyPI) on first use.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| make_venv::make().unwrap_or_else(|why| panic!("{why}")))
        .clone()
}

/// Runs `script` (Python source) in the environment with `args`, killed after `limit`; its
/// output.
pub async fn run_script(script: &str, args: &[String], limit: Duration) -> Output {
    run_python(&["-c", script], args, limit).await
}

/// Runs the Python file at `path` in the environment with `args`, killed after `limit`; its
/// output.
pub async fn run_file(path: &str, args: &[String], limit: Duration) -> Output {
    run_python(&[path], args, limit).await
}

async fn run_python(program: &[&str], args: &[String], limit: Duration) -> Output {
    let python = tokio::task::spawn_blocking(python).await.expect("venv");
    let child = tokio::process::Command::new(python)
        .args(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python");
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the Python script ran for over {limit:?}: {program:?}"))
        .expect("python output")
}

/// Text of `out` for an assertion message.
pub fn shown(out: &Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the Python file at `path` with the server's `port`, and asserts it passed
/// ([`assert_ok`]).
pub async fn assert_script_ok(path: &str, port: u16) {
    assert_ok(&run_file(path, &[port.to_string()], Duration::from_secs(60)).await);
}

/// Asserts a script exited 0 printing `OK` (what every interop script prints once each of its
/// checks held).
pub fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", shown(out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "OK",
        "{}",
        shown(out)
    );
}
