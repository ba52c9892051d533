//! The `rpc-server` binary driven as a child process, on 127.0.0.1 only: it starts, serves
//! calls, drains on SIGTERM and exits 0; it checks a shared secret and TLS client certificates;
//! bad arguments and unusable files end it with a message and a non-zero status.
//!
//! Every wait is bounded, and a child is killed when its test fails (`kill_on_drop`).

mod support;

use std::process::ExitStatus;

use rpc_core::{ClientTls, ConnectOptions, Connection, SharedSecret};
use support::{guard, path_str, pki, TempDir};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn binary() -> Command {
    support::command(env!("CARGO_BIN_EXE_rpc-server"))
}

/// A running server: the child, and the port it printed.
struct Running {
    child: Child,
    port: u16,
}

impl Running {
    /// Starts the binary on 127.0.0.1, a free port, with `args`; waits for its address line.
    async fn start(args: &[&str]) -> Running {
        let mut child = binary()
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .spawn()
            .expect("start rpc-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = guard("the address line", BufReader::new(stdout).lines().next_line())
            .await
            .expect("read stdout")
            .expect("rpc-server printed its address");
        assert!(line.starts_with("rpc-server: serving "), "{line}");
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Running { child, port }
    }

    async fn connect(&self, options: ConnectOptions) -> rpc_core::Result<Connection> {
        guard("connect", rpc_core::connect_with("127.0.0.1", self.port, options)).await
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        support::terminate(self.child.id());
    }

    /// Waits for the child to exit; its status and what it wrote on stderr.
    async fn exit(self) -> (ExitStatus, String) {
        let output = guard("the exit", self.child.wait_with_output())
            .await
            .expect("wait for rpc-server");
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// Runs the binary with `args` to its end (it is expected to refuse to start).
async fn refused(args: &[&str]) -> (ExitStatus, String) {
    let output = guard("the exit", binary().args(args).output())
        .await
        .expect("run rpc-server");
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serves_the_demo_then_drains_on_sigterm() {
    let server = Running::start(&["--service", "demo", "--drain-timeout", "10s"]).await;
    let conn = server.connect(ConnectOptions::new()).await.expect("connect");
    assert_eq!(conn.peer_service_name(), "demo");
    let root = conn.root();
    assert_eq!(root.call::<i64>("test", (41,)).await.expect("test"), 42);
    assert_eq!(
        root.getattr::<i64>("the_real_answer_though")
            .await
            .expect("attribute"),
        43
    );
    assert_eq!(root.call::<String>("echo", ("hi",)).await.expect("echo"), "hi");
    let me: String = root.call("whoami", ()).await.expect("whoami");
    assert!(
        me.starts_with("127.0.0.1:"),
        "no credentials: whoami is the address, not {me:?}"
    );

    // A call running when SIGTERM arrives still gets its reply.
    let slow = tokio::spawn({
        let root = root.clone();
        async move { root.call::<String>("slow", (1000,)).await }
    });
    guard("the slow call to be sent", async {
        while conn.stats().pending_calls == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // The server reads frames in order: once the pong is back, the slow call is running.
    guard("a ping", conn.ping()).await.expect("ping");
    server.terminate();
    let reply = guard("the slow reply", slow).await.expect("join");
    assert_eq!(reply.expect("the drain lets the call finish"), "slept 1000 ms");

    let (status, stderr) = server.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(!stderr.contains("WARNING"), "loopback needs no warning: {stderr}");
}

#[tokio::test]
async fn the_echo_service_echoes() {
    let server = Running::start(&[
        "--service",
        "echo",
        "--keepalive",
        "5s,15s",
        "--max-frame-size",
        "1MiB",
    ])
    .await;
    let conn = server.connect(ConnectOptions::new()).await.expect("connect");
    let root = conn.root();
    let back: (i64, String, Vec<u8>) = root.call("echo", ((7, "x", vec![1u8, 2]),)).await.expect("echo");
    assert_eq!(back, (7, "x".to_owned(), vec![1, 2]));
    assert!(root.call::<i64>("test", (1,)).await.is_err(), "echo has no test");
    // Over --max-frame-size: the call fails.
    assert!(root.call::<Vec<u8>>("echo", (vec![0u8; 2 << 20],)).await.is_err());
    drop(conn);
    server.terminate();
    let (status, stderr) = server.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn a_secret_file_lets_in_only_who_knows_it() {
    let dir = TempDir::new();
    let secret_file = dir.file("secret", "correct horse battery staple\n");
    let server = Running::start(&["--secret-file", &secret_file]).await;

    let secret = SharedSecret::new("correct horse battery staple");
    let conn = server
        .connect(ConnectOptions::new().secret(secret))
        .await
        .expect("the right secret gets in");
    let me: String = conn.root().call("whoami", ()).await.expect("whoami");
    assert_eq!(me, "shared-secret", "the secret's label names the client");

    assert!(server.connect(ConnectOptions::new()).await.is_err(), "no secret");
    let wrong = ConnectOptions::new().secret(SharedSecret::new("correct horse battery staple\n"));
    assert!(
        server.connect(wrong).await.is_err(),
        "the newline is not part of the secret"
    );

    server.terminate();
    let (status, stderr) = server.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn tls_with_client_certificates() {
    let pki = pki();
    let dir = TempDir::new();
    let (ca, cert, key) = (
        dir.file("ca.pem", &pki.ca),
        dir.file("server.pem", &pki.server.0),
        dir.file("server.key", &pki.server.1),
    );
    let server = Running::start(&["--tls-cert", &cert, "--tls-key", &key, "--client-ca", &ca]).await;

    let trusting = ClientTls::from_pem(pki.ca.as_bytes()).expect("client TLS");
    let alice = trusting
        .clone()
        .client_cert(pki.client.0.as_bytes(), pki.client.1.as_bytes())
        .expect("client certificate");
    let conn = server
        .connect(ConnectOptions::new().tls(alice))
        .await
        .expect("alice gets in");
    let me: String = conn.root().call("whoami", ()).await.expect("whoami");
    assert_eq!(me, "alice");

    let anonymous = server.connect(ConnectOptions::new().tls(trusting)).await;
    assert!(anonymous.is_err(), "a client certificate is required");
    assert!(
        server.connect(ConnectOptions::new()).await.is_err(),
        "TLS is required"
    );

    server.terminate();
    let (status, stderr) = server.exit().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn bad_arguments_are_usage_errors() {
    let (status, stderr) = refused(&["--tls-cert", "server.pem"]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");

    let (status, stderr) = refused(&["--keepalive", "soon"]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--keepalive"), "{stderr}");

    let (status, stderr) = refused(&["--max-frame-size", "64MB"]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("MiB"), "the message says what would do: {stderr}");

    let (status, stderr) = refused(&["--service", "nope"]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
}

#[tokio::test]
async fn unusable_files_and_ports_are_errors() {
    let dir = TempDir::new();
    let missing = path_str(&dir.0.join("missing.pem"));
    let (status, stderr) = refused(&["--port", "0", "--tls-cert", &missing, "--tls-key", &missing]).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--tls-cert") && stderr.contains("missing.pem"),
        "{stderr}"
    );

    let not_pem = dir.file("not.pem", "hello");
    let (status, stderr) = refused(&["--port", "0", "--tls-cert", &not_pem, "--tls-key", &not_pem]).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("TLS"), "{stderr}");

    let empty = dir.file("empty", "\n");
    let (status, stderr) = refused(&["--port", "0", "--secret-file", &empty]).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("empty"), "{stderr}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port().to_string();
    let (status, stderr) = refused(&["--host", "127.0.0.1", "--port", &port]).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
}

#[tokio::test]
async fn help_lists_every_option() {
    let output = guard("--help", binary().arg("--help").output())
        .await
        .expect("run --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--service",
        "--host",
        "--port",
        "--tls-cert",
        "--tls-key",
        "--client-ca",
        "--secret-file",
        "--max-connections",
        "--max-handshaking",
        "--keepalive",
        "--idle-timeout",
        "--handshake-timeout",
        "--call-timeout",
        "--drain-timeout",
        "--max-frame-size",
        "--max-decoded-size",
        "--max-pending-bytes",
        "--max-unwritten-bytes",
        "--max-in-flight",
        "--max-exported-objects",
        "--max-depth",
        "--log",
        "Durations:",
        "Sizes:",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}
