//! The `rpc-registry` binary driven as a child process on 127.0.0.1: clients register and
//! look up through it; with a secret, registering needs it and lookups do not; it answers
//! discovery queries; SIGTERM stops it cleanly.

use std::process::Stdio;
use std::time::Duration;

use rpc_core::{ConnectOptions, Error, RemoteErrorKind, SharedSecret};
use rpc_server::naming::discovery::{ask, Answer, Query};
use rpc_server::naming::{Filter, Registry};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const GUARD: Duration = Duration::from_secs(20);

/// Starts the registry on 127.0.0.1 and a free port with `args`; the child and its port.
async fn start(args: &[String]) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpc-registry"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start rpc-registry");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = tokio::time::timeout(GUARD, BufReader::new(stdout).lines().next_line())
        .await
        .expect("the address line in time")
        .expect("read stdout")
        .expect("an address line");
    assert!(
        line.starts_with("rpc-registry: serving registry on 127.0.0.1:"),
        "{line}"
    );
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    (child, port)
}

/// A UDP port free right now on 127.0.0.1.
fn free_udp_port() -> u16 {
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("probe");
    probe.local_addr().expect("addr").port()
}

fn terminate(child: &Child) {
    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[tokio::test]
async fn registers_looks_up_answers_discovery_and_stops_on_sigterm() {
    let udp = free_udp_port();
    let (child, port) = start(&["--discovery".into(), format!("127.0.0.1:{udp}")]).await;
    let reg = Registry::connect("127.0.0.1", port).await.expect("connect");
    let _held = reg
        .register(
            "lab.scope",
            "rpc://127.0.0.1:40001",
            ["lab", "scope"],
            Duration::from_secs(5),
        )
        .await
        .expect("register");
    assert_eq!(
        reg.lookup("lab.scope").await.expect("lookup").uri,
        "rpc://127.0.0.1:40001"
    );
    assert_eq!(
        reg.list(Filter::everything().with_all(["lab"]))
            .await
            .expect("list")
            .len(),
        1
    );

    let at = std::net::SocketAddr::from(([127, 0, 0, 1], udp));
    let found = ask(&Query::Registry, at, GUARD).await.expect("discovery answer");
    assert_eq!(found, Answer::Registry(format!("rpc://127.0.0.1:{port}")));
    let name = ask(&Query::Name("lab.scope".into()), at, GUARD)
        .await
        .expect("name answer");
    assert_eq!(
        name,
        Answer::Name("lab.scope".into(), "rpc://127.0.0.1:40001".into())
    );

    terminate(&child);
    let status = tokio::time::timeout(GUARD, child.wait_with_output())
        .await
        .expect("exit in time")
        .expect("wait")
        .status;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn with_a_secret_file_only_its_holders_register() {
    let dir = std::env::temp_dir().join(format!("rpc-registry-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("registry.secret");
    std::fs::write(&file, "s3cret\n").expect("write the secret");
    let (_child, port) = start(&["--secret-file".into(), file.display().to_string()]).await;
    let ttl = Duration::from_secs(5);

    let anonymous = Registry::connect("127.0.0.1", port)
        .await
        .expect("anyone connects");
    match anonymous.register("svc", "rpc://127.0.0.1:1", ["x"], ttl).await {
        Err(Error::Remote(r)) => assert_eq!(r.kind, RemoteErrorKind::Refused, "{}", r.message),
        other => panic!("an anonymous registration gave {other:?}"),
    }
    let options = ConnectOptions::new().secret(SharedSecret::new(b"s3cret"));
    let trusted = Registry::connect_with("127.0.0.1", port, options)
        .await
        .expect("with the secret");
    let _held = trusted
        .register("svc", "rpc://127.0.0.1:1", ["x"], ttl)
        .await
        .expect("register");
    assert_eq!(
        anonymous.lookup("svc").await.expect("open lookups").uri,
        "rpc://127.0.0.1:1"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn private_lookups_without_a_secret_is_a_usage_error() {
    let out = tokio::time::timeout(
        GUARD,
        Command::new(env!("CARGO_BIN_EXE_rpc-registry"))
            .arg("--private-lookups")
            .output(),
    )
    .await
    .expect("exits in time")
    .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secret-file"));
}
