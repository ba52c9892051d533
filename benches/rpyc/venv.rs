//! The Python environment of the bench: the approach of `tests/python/venv.rs` (a virtual
//! environment under `CARGO_TARGET_TMPDIR` with the pinned packages of
//! `tests/python/requirements.txt`, made once and reused while the pins are the same; the
//! directory is the one the interop tests make, so either reuses the other's), but failing
//! softly: without `python3`, its `venv` module or PyPI the bench is skipped, not failed.

use std::path::PathBuf;
use std::process::Command;

/// The same pins as the interop tests.
const REQUIREMENTS: &str = include_str!("../../tests/python/requirements.txt");

/// The interpreter that makes the environment: `RPC_PYTHON` if set, else `python3`.
fn base_python() -> String {
    std::env::var("RPC_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The environment's `python`, made (with `python3 -m venv` and pip from PyPI) if need be; or
/// why it cannot be had.
pub fn python() -> Result<PathBuf, String> {
    // A directory per version of the requirements (the interop tests' name for it).
    let stamp: u32 = REQUIREMENTS
        .bytes()
        .fold(2_166_136_261, |h, b| (h ^ u32::from(b)).wrapping_mul(16_777_619));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("python-venv-{stamp:08x}"));
    let python = dir.join("bin").join("python");
    if dir.join(".installed").exists() {
        return Ok(python);
    }
    let _ = std::fs::remove_dir_all(&dir);
    run(
        Command::new(base_python()).args(["-m", "venv"]).arg(&dir),
        "python3 -m venv",
    )?;
    let requirements = dir.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS).map_err(|e| format!("write requirements.txt: {e}"))?;
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
        "pip install -r tests/python/requirements.txt (PyPI)",
    )?;
    std::fs::write(dir.join(".installed"), REQUIREMENTS).map_err(|e| format!("write the stamp: {e}"))?;
    Ok(python)
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    Err(format!("{what} failed ({}): {last}", out.status))
}
