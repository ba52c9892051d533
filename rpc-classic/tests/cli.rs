//! The `rpc-classic` binary driven as child processes, on 127.0.0.1 only: `serve` prints its
//! address, serves sessions to `shell` (fed from a pipe), and exits 0 on SIGTERM; `--mode
//! stdio` serves one session over its pipes; an unsafe address is refused before anything is
//! bound (the rule itself is unit-tested in the binary, on parsed addresses).
//!
//! Every wait is bounded, and a child is killed when its test fails (`kill_on_drop`).

use std::future::Future;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use rpc_core::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Safety net only: a bug fails the test after this long instead of hanging it.
const GUARD: Duration = Duration::from_secs(30);

async fn guard<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(GUARD, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not happen within {GUARD:?}"),
    }
}

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rpc-classic"));
    command
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A running `rpc-classic serve`: the child, and the port it printed.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts `serve` on 127.0.0.1, a free port, with `args`; waits for its address line.
    async fn start(args: &[&str]) -> Server {
        let mut child = binary()
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .spawn()
            .expect("start rpc-classic serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = guard("the address line", BufReader::new(stdout).lines().next_line())
            .await
            .expect("read stdout")
            .expect("rpc-classic printed its address");
        assert!(
            line.starts_with("rpc-classic: serving classic on 127.0.0.1:"),
            "{line}"
        );
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server { child, port }
    }

    /// Runs `rpc-classic shell 127.0.0.1:PORT` with `input` on its stdin, to its end.
    async fn shell(&self, input: &str) -> Output {
        let mut shell = binary()
            .args(["shell", &format!("127.0.0.1:{}", self.port)])
            .stdin(Stdio::piped())
            .spawn()
            .expect("start rpc-classic shell");
        let mut stdin = shell.stdin.take().expect("piped stdin");
        guard("writing the shell's input", stdin.write_all(input.as_bytes()))
            .await
            .expect("write stdin");
        drop(stdin);
        guard("the shell's end", shell.wait_with_output())
            .await
            .expect("wait for the shell")
    }

    /// Sends SIGTERM (with kill(1), to need no signal crate).
    fn terminate(&self) {
        let pid = self.child.id().expect("the child still runs");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Waits for the child to exit; its status and what it wrote on stderr.
    async fn exit(self) -> (ExitStatus, String) {
        let output = guard("the exit", self.child.wait_with_output())
            .await
            .expect("wait for rpc-classic serve");
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_shell_evaluates_piped_input_in_one_session() {
    let server = Server::start(&[]).await;
    let input =
        "1 + 1\nlet x = 20;\nx + 22\nfn f(a) {\n a * 2\n}\nf(21)\nundefined_thing\n\"after the error\"\n";
    let output = server.shell(input).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let lines: Vec<&str> = stdout.lines().collect();
    let values: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("error:"))
        .collect();
    assert_eq!(
        values,
        ["2", "42", "42", "after the error"],
        "no prompts when piped, unit prints nothing, a string plainly:\n{stdout}"
    );
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(errors[0].contains("undefined_thing"), "{stdout}");
    assert!(
        errors[0].contains("line") && errors[0].chars().any(|c| c.is_ascii_digit()),
        "the error gives its position: {stdout}"
    );
    assert!(
        lines.iter().position(|l| l.starts_with("error:")) == Some(3),
        "the error comes in its place: {stdout}"
    );

    let output = server.shell("40 + 2\n:quit\n1 / 0\n").await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stdout), "42\n", ":quit ends the input");

    server.terminate();
    let (status, stderr) = server.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
}

#[tokio::test]
async fn the_shell_fails_when_nothing_listens() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("address").port();
    drop(free);
    let output = guard(
        "the shell's end",
        binary().args(["shell", &format!("127.0.0.1:{port}")]).output(),
    )
    .await
    .expect("run the shell");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("cannot connect"),
        "{}",
        text(&output.stderr)
    );

    let output = guard(
        "the shell's end",
        binary().args(["shell", "127.0.0.1:port"]).output(),
    )
    .await
    .expect("run the shell");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

#[tokio::test]
async fn stdio_mode_serves_one_session_over_its_pipes() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rpc-classic"));
    command
        .args(["serve", "--mode", "stdio"])
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    let conn = guard(
        "the stdio session",
        rpc_core::connect_subproc(command, rpc_core::ConnectOptions::new()),
    )
    .await
    .expect("start rpc-classic serve --mode stdio");
    let classic = rpc_classic::Classic::new(conn).await.expect("a classic session");
    classic.execute("let x = 40;").await.expect("execute");
    let value: Value = guard("eval", classic.eval("x + 2")).await.expect("eval");
    assert_eq!(value, Value::Int(42));
    classic.close().await;
}

#[tokio::test]
async fn unsafe_or_bad_arguments_are_refused_before_listening() {
    let run = |args: &'static [&'static str]| async move {
        let output = guard("the exit", binary().arg("serve").args(args).output())
            .await
            .expect("run rpc-classic serve");
        assert!(
            output.stdout.is_empty(),
            "nothing served: {}",
            text(&output.stdout)
        );
        (output.status.code(), text(&output.stderr))
    };
    // An unspecified address is refused by the rule before anything is bound; so is one with
    // TLS but no client authentication.
    let (code, stderr) = run(&["--host", "0.0.0.0", "--port", "0"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing") && stderr.contains("--insecure-allow-remote"),
        "{stderr}"
    );

    let (code, stderr) = run(&["--mode", "fast"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stderr) = run(&["--port", "0", "--allow", "fs,nonsense"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("nonsense"), "{stderr}");
    let (code, stderr) = run(&["--port", "0", "--root", "/nonexistent/rpc-classic-root"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--root"), "{stderr}");
}

#[tokio::test]
async fn help_lists_every_option() {
    for (args, options) in [
        (
            &["serve", "--help"][..],
            &[
                "--host",
                "--port",
                "--mode",
                "--allow",
                "--root",
                "--max-operations",
                "--wall-time",
                "--max-call-levels",
                "--insecure-allow-remote",
                "--tls-cert",
                "--tls-key",
                "--client-ca",
                "--secret-file",
                "--max-connections",
                "--keepalive",
                "--drain-timeout",
                "--max-frame-size",
                "--log",
                "Durations:",
            ][..],
        ),
        (
            &["shell", "--help"][..],
            &[
                "HOST[:PORT]",
                "--tls-ca",
                "--server-name",
                "--client-cert",
                "--secret-file",
                ":quit",
            ][..],
        ),
    ] {
        let output = guard("--help", binary().args(args).output())
            .await
            .expect("run --help");
        assert!(output.status.success());
        let help = text(&output.stdout);
        for option in options {
            assert!(help.contains(option), "{args:?} lacks {option}:\n{help}");
        }
    }
}
