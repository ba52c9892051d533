//! The `rpc-registry` binary driven as a child process on 127.0.0.1: clients register and
//! look up through it; with a secret, registering needs it and lookups do not; it answers
//! discovery queries; SIGTERM stops it cleanly.

#[allow(dead_code)] // the test PKI is for the TLS tests of bin.rs
mod support;

use std::time::Duration;

use rpc_core::{ConnectOptions, Error, RemoteErrorKind, SharedSecret};
use rpc_server::naming::discovery::{ask, Answer, Query};
use rpc_server::naming::{Filter, Registry};
use support::{command, guard, terminate, TempDir, GUARD};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

const REGISTRY: &str = env!("CARGO_BIN_EXE_rpc-registry");

/// Starts the registry on 127.0.0.1 and a free port with `args`; the child and its port.
async fn start(args: &[String]) -> (Child, u16) {
    let mut child = command(REGISTRY)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start rpc-registry");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = guard("the address line", BufReader::new(stdout).lines().next_line())
        .await
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

    terminate(child.id());
    let status = guard("the exit", child.wait_with_output())
        .await
        .expect("wait")
        .status;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn with_a_secret_file_only_its_holders_register() {
    let dir = TempDir::new();
    let file = dir.file("registry.secret", "s3cret\n");
    let (_child, port) = start(&["--secret-file".into(), file]).await;
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
}

#[tokio::test]
async fn private_lookups_without_a_secret_is_a_usage_error() {
    let out = guard("the exit", command(REGISTRY).arg("--private-lookups").output())
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secret-file"));
}
