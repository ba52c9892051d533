//! A Python virtual environment with the pinned packages of `requirements.txt`, made once per
//! target directory (under `CARGO_TARGET_TMPDIR`) and reused while the requirements are the
//! same; and a way to run a script in it against a server of ours.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const REQUIREMENTS: &str = include_str!("requirements.txt");

/// The interpreter that makes the environment: `RPC_PYTHON` if set, else `python3`.
fn base_python() -> String {
    std::env::var("RPC_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The environment's `python`, made (with `python3 -m venv` and pip from PyPI) on first use.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(make).clone()
}

fn make() -> PathBuf {
    // A directory per version of the requirements, so changing a pin makes a fresh one.
    let stamp: u32 = REQUIREMENTS
        .bytes()
        .fold(2_166_136_261, |h, b| (h ^ u32::from(b)).wrapping_mul(16_777_619));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("python-venv-{stamp:08x}"));
    let python = dir.join("bin").join("python");
    let done = dir.join(".installed");
    if done.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&dir);
    run(
        Command::new(base_python()).args(["-m", "venv"]).arg(&dir),
        "python3 -m venv",
    );
    let requirements = dir.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS).expect("write requirements.txt");
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
        "pip install -r tests/python/requirements.txt",
    );
    std::fs::write(&done, REQUIREMENTS).expect("write the stamp");
    python
}

fn run(command: &mut Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
