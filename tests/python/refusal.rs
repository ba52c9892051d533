//! A Python rpyc client that reaches a server of ours it cannot use gets a Python exception
//! saying so, at once — not a hang, not an `EOFError`, not garbage — and the server goes on
//! serving its own clients. And, through the same TLS set-up, `rpyc.ssl_connect` reaches a
//! server that does serve it (`Server::rpyc` with TLS).

use std::time::Duration;

use rpc::classic::{ClassicConfig, ClassicService};
use rpc::server::{BoundServer, Server};
use rpc::tls::ServerTls;
use rpc::{service, ConnectOptions, SharedSecret};

use super::venv::{assert_ok, run_script, shown};

#[path = "../it/tls/pki.rs"]
#[allow(dead_code)]
mod pki;

/// How long a refused Python client may take, start-up included (a hang would take 30 s:
/// rpyc's sync request timeout).
const LIMIT: Duration = Duration::from_secs(60);

struct Echo;

#[service]
impl Echo {
    fn exposed_echo(&self, n: i64) -> i64 {
        n
    }
}

/// Serves `bound` in the background; its port.
fn spawn(bound: BoundServer) -> u16 {
    let port = bound.local_addr().expect("local addr").port();
    tokio::spawn(bound.serve());
    port
}

/// Runs `script` with the port as `sys.argv[1]` and asserts it printed `REFUSED: <message>`.
async fn assert_refused(script: &str, port: u16, extra: &[String], message: &str) {
    let mut args = vec![port.to_string()];
    args.extend_from_slice(extra);
    let out = run_script(script, &args, LIMIT).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", shown(&out));
    assert!(
        stdout.contains(&format!("REFUSED: {message}")),
        "expected the refusal message:\n{}",
        shown(&out)
    );
}

const CLASSIC: &str = r#"
import sys, rpyc
try:
    conn = rpyc.classic.connect("127.0.0.1", int(sys.argv[1]))
except ConnectionRefusedError as e:
    print("REFUSED:", e.args[0])
    sys.exit(0)
print("CONNECTED?", conn)
sys.exit(1)
"#;

/// `conn.root` on a connection made by `connect` (a Python expression; `sys.argv[2]` is a
/// CA file where it needs one).
fn root_script(connect: &str) -> String {
    format!(
        r#"
import sys, rpyc
conn = {connect}
try:
    conn.root
except ConnectionRefusedError as e:
    print("REFUSED:", e.args[0])
    sys.exit(0)
print("ROOT?")
sys.exit(1)
"#
    )
}

const PLAIN: &str = r#"rpyc.connect("127.0.0.1", int(sys.argv[1]))"#;
const TLS: &str = r#"rpyc.ssl_connect("127.0.0.1", int(sys.argv[1]), ca_certs=sys.argv[2])"#;

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn rpyc_classic_connect_is_told_this_is_not_python() {
    let server = ClassicService::server(&ClassicConfig::default().allow(["time"])).expect("server");
    let port = spawn(server.bind("127.0.0.1:0").await.expect("bind"));
    assert_refused(CLASSIC, port, &[], rpc::classic::PYTHON_CLIENT_REFUSAL).await;
    // The server still serves its own clients.
    let c = rpc::classic::connect("127.0.0.1", port)
        .await
        .expect("classic client");
    assert_eq!(c.eval::<i64>("20 + 22").await.expect("eval"), 42);
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn rpyc_connect_to_a_plain_server_gets_the_default_refusal() {
    let port = spawn(Server::new(|| Echo).bind("127.0.0.1:0").await.expect("bind"));
    assert_refused(&root_script(PLAIN), port, &[], rpc::server::DEFAULT_RPYC_REFUSAL).await;
    let c = rpc::connect("127.0.0.1", port).await.expect("rpc client");
    assert_eq!(c.root().call::<i64>("echo", (7,)).await.expect("echo"), 7);
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn the_refusal_comes_before_a_secret_exchange_and_says_what_the_operator_set() {
    let secret = SharedSecret::new(b"python cannot know this");
    let server = Server::new(|| Echo)
        .authenticator(secret.clone())
        .rpyc_refusal("ask ops for the Python port");
    let port = spawn(server.bind("127.0.0.1:0").await.expect("bind"));
    assert_refused(&root_script(PLAIN), port, &[], "ask ops for the Python port").await;
    let options = ConnectOptions::new().secret(secret);
    let c = rpc::connect_with("127.0.0.1", port, options)
        .await
        .expect("rpc client with the secret");
    assert_eq!(c.root().call::<i64>("echo", (8,)).await.expect("echo"), 8);
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn rpyc_ssl_connect_is_refused_inside_tls() {
    let fixture = TlsFixture::new("refused");
    let port = spawn(
        Server::new(|| Echo)
            .tls(fixture.server_tls())
            .bind("127.0.0.1:0")
            .await
            .expect("bind"),
    );
    let extra = [fixture.ca_file.display().to_string()];
    assert_refused(&root_script(TLS), port, &extra, rpc::server::DEFAULT_RPYC_REFUSAL).await;
}

#[tokio::test]
#[ignore = "needs python3 and PyPI: cargo test --test python -- --ignored"]
async fn rpyc_ssl_connect_reaches_a_rust_rpyc_server_with_tls() {
    let fixture = TlsFixture::new("rpyc");
    let port = spawn(
        Server::new(|| Echo)
            .tls(fixture.server_tls())
            .rpyc()
            .bind("127.0.0.1:0")
            .await
            .expect("bind"),
    );
    let script = format!(
        r#"
import sys
import rpyc
c = {TLS}
assert c.root.echo(7) == 7, "echo over TLS"
c.close()
print("OK")
"#
    );
    let args = [port.to_string(), fixture.ca_file.display().to_string()];
    assert_ok(&run_script(&script, &args, LIMIT).await);
}

/// A server certificate for 127.0.0.1 from a test CA, and the CA's certificate in a file for
/// Python's `ca_certs` (the directory is removed on drop).
struct TlsFixture {
    leaf: pki::Leaf,
    dir: std::path::PathBuf,
    ca_file: std::path::PathBuf,
}

impl TlsFixture {
    fn new(tag: &str) -> TlsFixture {
        let ca = pki::Ca::new("python test CA");
        let leaf = ca.leaf(pki::Role::Server, "localhost", &["127.0.0.1", "localhost"]);
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("python-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write the CA certificate");
        TlsFixture { leaf, dir, ca_file }
    }

    fn server_tls(&self) -> ServerTls {
        ServerTls::from_pem(self.leaf.cert_pem.as_bytes(), self.leaf.key_pem.as_bytes()).expect("server tls")
    }
}

impl Drop for TlsFixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
