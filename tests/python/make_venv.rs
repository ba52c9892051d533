//! Makes the Python virtual environment with the pinned packages of `requirements.txt`, once
//! per target directory (under `CARGO_TARGET_TMPDIR`, a directory per version of the pins);
//! shared by the interop tests (`venv.rs`, which fail without it) and `benches/rpyc.rs`
//! (skipped without it).

use std::path::PathBuf;
use std::process::Command;

/// The pins.
pub const REQUIREMENTS: &str = include_str!("requirements.txt");

/// The interpreter that makes the environment: `RPC_PYTHON` if set, else `python3`.
fn base_python() -> String {
    std::env::var("RPC_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// The environment's `python`, made (with `python3 -m venv` and pip from PyPI) if need be;
/// or why it cannot be had.
pub fn make() -> Result<PathBuf, String> {
    let stamp: u32 = REQUIREMENTS
        .bytes()
        .fold(2_166_136_261, |h, b| (h ^ u32::from(b)).wrapping_mul(16_777_619));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("python-venv-{stamp:08x}"));
    let python = dir.join("bin").join("python");
    let done = dir.join(".installed");
    if done.exists() {
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
    std::fs::write(&done, REQUIREMENTS).map_err(|e| format!("write the stamp: {e}"))?;
    Ok(python)
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}
