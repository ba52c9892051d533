//! Python's own rpyc client calling a Rust service.
//!
//! Run: `cargo run --release --example python_client`
//!
//! Starts the quickstart's `TestService` as an rpyc server (`Server::rpyc`) on 127.0.0.1 (a
//! free port), then runs a small script with Python's real `rpyc` 6 client against it and
//! prints what Python saw, line by line. It uses `python3` if that imports rpyc 6; otherwise it
//! makes a virtual environment under `target/python-example-venv` and pip-installs
//! rpyc==6.0.2 there (once). Without `python3` at all it prints `skipped: ...` and exits 0.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::TestService;
use rpc::server::Server;

/// What Python does against the server at 127.0.0.1:<argv[1]>; each line it prints is one
/// thing it saw, and the last is `OK` if every check held.
const SCRIPT: &str = r#"
import sys, time
import rpyc
from rpyc.core.vinegar import GenericException

c = rpyc.connect("127.0.0.1", int(sys.argv[1]))
print("rpyc", rpyc.__version__, "connected")
n = c.root.test(11)
print("c.root.test(11) =", n)
assert n == 12
a = c.root.the_real_answer_though
print("c.root.the_real_answer_though =", a)
assert a == 43
try:
    c.root.fail()
    raise AssertionError("fail() returned")
except GenericException as e:
    print("c.root.fail() raised", type(e).__name__ + ":", str(e).splitlines()[0])
try:
    c.root.get_question()
    raise AssertionError("get_question() is not exposed")
except AttributeError:
    print("c.root.get_question raised AttributeError")
slow = rpyc.async_(c.root.slow)
start = time.monotonic()
calls = [slow(200) for _ in range(4)]
values = [r.value for r in calls]
took = time.monotonic() - start
print("4 overlapping slow(200) calls: %s in %.2f s" % (values[0], took))
assert values == ["slept 200 ms"] * 4 and took < 0.8
c.close()
print("OK")
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(python) = find_python().await? else {
        println!("skipped: python3 is not installed");
        return Ok(());
    };
    let server = Server::new(|| TestService).rpyc().bind("127.0.0.1:0").await?;
    let port = server.local_addr()?.port();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    println!(
        "rpyc server listening on 127.0.0.1:{port}; running {}",
        python.display()
    );

    let child = tokio::process::Command::new(&python)
        .args(["-c", SCRIPT, &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .map_err(|_| "the Python client ran for over 60 s")??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        println!("python: {line}");
    }
    shutdown.shutdown();
    serving.await??;
    if !out.status.success() || stdout.lines().last() != Some("OK") {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return Err(format!("the Python client failed ({})", out.status).into());
    }
    Ok(())
}

/// A Python interpreter that imports rpyc 6: `python3` itself, or one in a virtual environment
/// made for this example. `None` if there is no `python3`.
async fn find_python() -> Result<Option<PathBuf>, Box<dyn std::error::Error>> {
    let system = PathBuf::from("python3");
    match has_rpyc6(&system).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
        Ok(true) => return Ok(Some(system)),
        Ok(false) => {}
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python-example-venv");
    let python = venv.join("bin/python");
    if python.exists() && has_rpyc6(&python).await? {
        return Ok(Some(python));
    }
    println!(
        "python3 has no rpyc 6: making {} with rpyc==6.0.2",
        venv.display()
    );
    run(tokio::process::Command::new(&system)
        .args(["-m", "venv"])
        .arg(&venv))
    .await?;
    run(tokio::process::Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "rpyc==6.0.2",
    ]))
    .await?;
    if !has_rpyc6(&python).await? {
        return Err("rpyc 6 is still not importable after pip install".into());
    }
    Ok(Some(python))
}

/// Whether `python` imports rpyc 6.
async fn has_rpyc6(python: &Path) -> std::io::Result<bool> {
    let status = tokio::process::Command::new(python)
        .args([
            "-c",
            "import sys, rpyc; sys.exit(rpyc.__version__.split('.')[0] != '6')",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await?;
    Ok(status.success())
}

async fn run(command: &mut tokio::process::Command) -> Result<(), Box<dyn std::error::Error>> {
    let out = command.stdin(Stdio::null()).output().await?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}
