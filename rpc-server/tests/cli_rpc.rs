//! The `rpc` binary driven as a child process against servers this test runs in-process on
//! 127.0.0.1: `call` with JSON arguments of every type (stdout asserted exactly), remote errors,
//! bad arguments and unreachable servers (exit status and one line on stderr), `describe`,
//! `ping`, the registry subcommands, TLS with a secret, `--help` and completions.
//!
//! Every wait is bounded, and a child is killed when its test fails (`kill_on_drop`).

mod support;

use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpc_core::{service, SharedSecret, Value};
use rpc_server::naming::{MemoryStore, RegistryService};
use rpc_server::tls::ServerTls;
use rpc_server::{Server, ShutdownHandle};
use support::{guard, pki, TempDir};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// What the test servers serve.
struct Lab;

/// An error with a cause, whose message spans two lines.
#[derive(Debug, thiserror::Error)]
#[error("it broke\nbadly")]
struct Broken(#[source] std::io::Error);

#[service(name = "lab")]
impl Lab {
    /// Returns its argument.
    fn exposed_echo(&self, value: Value) -> Value {
        value
    }

    /// Adds a float to an integer.
    fn exposed_add(&self, a: i64, b: f64) -> f64 {
        a as f64 + b
    }

    /// Opens a handle, passed by reference.
    fn exposed_open(&self, name: String) -> Handle {
        Handle { name }
    }

    /// Always fails, with a cause.
    fn exposed_fail(&self) -> Result<(), Broken> {
        Err(Broken(std::io::Error::other("the disk is full")))
    }

    /// Sleeps, then says so.
    async fn exposed_slow(&self, ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        "slept".to_owned()
    }
}

/// An object the lab hands out by reference.
struct Handle {
    name: String,
}

#[service(name = "handle")]
impl Handle {
    /// The handle's name.
    fn exposed_name(&self) -> String {
        self.name.clone()
    }
}

/// Serves `server` on 127.0.0.1, a free port; the address and the stop handle.
async fn serve(server: Server) -> (String, ShutdownHandle) {
    let bound = server.bind("127.0.0.1:0").await.expect("bind");
    let addr = bound.local_addr().expect("address");
    let stop = bound.shutdown_handle();
    tokio::spawn(bound.serve());
    (format!("rpc://{addr}"), stop)
}

async fn lab() -> (String, ShutdownHandle) {
    serve(Server::new(|| Lab)).await
}

fn rpc() -> Command {
    support::command(env!("CARGO_BIN_EXE_rpc"))
}

/// How a run of `rpc` ended.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Asserts success; stdout less its final line break.
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:?}");
        self.stdout.strip_suffix('\n').unwrap_or(&self.stdout)
    }

    /// Asserts the exit status `code`, nothing on stdout and one `rpc: ` line on stderr;
    /// that line.
    fn failed(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
        let line = self.stderr.strip_suffix('\n').unwrap_or(&self.stderr);
        assert!(
            line.starts_with("rpc: ") && !line.contains('\n'),
            "one line: {self:?}"
        );
        line
    }
}

/// Runs `rpc` with `args` to its end.
async fn run(args: &[&str]) -> Ran {
    run_with(rpc().args(args)).await
}

async fn run_with(command: &mut Command) -> Ran {
    Ran::from(guard("rpc to end", command.output()).await.expect("run rpc"))
}

impl From<Output> for Ran {
    fn from(output: Output) -> Ran {
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

#[tokio::test]
async fn call_takes_and_prints_json_of_every_type() {
    let (uri, _stop) = lab().await;
    for (arg, printed) in [
        ("42", "42"),
        ("-7", "-7"),
        ("18446744073709551615", "18446744073709551615"),
        ("2.5", "2.5"),
        ("\"hello\"", "\"hello\""),
        ("true", "true"),
        ("null", "null"),
        ("[1, \"a\", [false]]", "[1,\"a\",[false]]"),
        ("{\"b\": 1, \"a\": {\"c\": []}}", "{\"b\":1,\"a\":{\"c\":[]}}"),
        ("{\"$bytes\": \"AAEC/w==\"}", "\"AAEC/w==\""),
        ("[{\"$bytes\": \"\"}]", "[\"\"]"),
    ] {
        let ran = run(&["call", &uri, "echo", arg]).await;
        assert_eq!(ran.ok(), printed, "echo {arg}");
    }
    assert_eq!(run(&["call", &uri, "add", "2", "0.5"]).await.ok(), "2.5");
    assert_eq!(run(&["call", &uri, "add", "-2", "-0.5"]).await.ok(), "-2.5");
    let pretty = run(&["call", &uri, "echo", "[1]", "--pretty"]).await;
    assert_eq!(pretty.ok(), "[\n  1\n]");
}

#[tokio::test]
async fn objects_passed_by_reference_print_as_refs() {
    let (uri, _stop) = lab().await;
    let ran = run(&["call", &uri, "open", "\"notes\""]).await;
    assert_eq!(
        ran.ok(),
        "\"<ref handle#1>\"",
        "the service's name and the object's id"
    );
    let ran = run(&["call", &uri, "echo", "[1, 2]"]).await;
    assert_eq!(ran.ok(), "[1,2]");
}

#[tokio::test]
async fn a_remote_error_is_exit_status_1_and_one_line() {
    let (uri, _stop) = lab().await;
    let ran = run(&["call", &uri, "fail"]).await;
    let line = ran.failed(1);
    assert!(
        line.starts_with(&format!("rpc: call fail on {uri}: remote ")),
        "{line}"
    );
    assert!(
        line.ends_with("it broke\\nbadly: the disk is full"),
        "the message on one line, then its cause: {line}"
    );

    let ran = run(&["call", &uri, "nope", "1"]).await;
    assert!(ran.failed(1).contains("'nope' is not exposed by lab"), "{ran:?}");

    let ran = run(&["call", &uri, "add", "\"two\"", "1"]).await;
    assert!(ran.failed(1).contains("argument 1"), "{ran:?}");
}

#[tokio::test]
async fn bad_json_arguments_are_usage_errors_naming_the_argument() {
    let (uri, _stop) = lab().await;
    let ran = run(&["call", &uri, "add", "1", "{oops"]).await;
    let line = ran.failed(2);
    assert!(
        line.starts_with("rpc: argument 2 (\"{oops\"): not JSON"),
        "{line}"
    );

    let ran = run(&["call", &uri, "echo", "{\"$bytes\": \"not base64!\"}"]).await;
    assert!(ran.failed(2).contains("base64"), "{ran:?}");

    let ran = run(&["call", "http://127.0.0.1:1", "echo"]).await;
    assert_eq!(ran.code, Some(2), "a bad URI: {ran:?}");
    assert!(ran.stderr.contains("rpc://HOST:PORT"), "{ran:?}");
    assert_eq!(run(&[]).await.code, Some(2), "no subcommand");
}

#[tokio::test]
async fn unreachable_servers_fail_within_the_timeout() {
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        probe.local_addr().expect("address")
    };
    let ran = run(&["call", &format!("rpc://{closed}"), "echo", "1", "--timeout", "2s"]).await;
    let line = ran.failed(3);
    assert!(line.contains(&format!("cannot reach rpc://{closed}")), "{line}");

    // A server that accepts, then never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silent.local_addr().expect("address");
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let started = Instant::now();
    let ran = run(&["call", &addr.to_string(), "echo", "1", "--timeout", "500ms"]).await;
    ran.failed(3);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    held.abort();

    // A call slower than the timeout.
    let (uri, _stop) = lab().await;
    let ran = run(&["--timeout", "300ms", "call", &uri, "slow", "5000"]).await;
    ran.failed(3);
}

#[tokio::test]
async fn describe_lists_methods_and_docs() {
    let (uri, _stop) = lab().await;
    let ran = run(&["describe", &uri]).await;
    let text = ran.ok();
    assert!(text.starts_with("lab\n"), "{text}");
    for expected in [
        "echo(value: Value) -> Value",
        "Returns its argument.",
        "add(a: i64, b: f64) -> f64",
        "Adds a float to an integer.",
        "async slow(ms: u64) -> String",
        "open(name: String) -> Handle",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    let ran = run(&["describe", &uri, "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(ran.ok()).expect("JSON");
    assert_eq!(json["name"], "lab");
    assert!(json["methods"].as_array().is_some_and(|m| m.len() == 5), "{json}");
}

#[tokio::test]
async fn ping_counts_round_trips() {
    let (uri, _stop) = lab().await;
    let ran = run(&["ping", &uri, "--count", "3", "--interval", "10ms"]).await;
    let text = ran.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("PING {uri} (lab): connected in ")),
        "{text}"
    );
    assert_eq!(
        lines.len(),
        7,
        "a header, 3 replies, a blank line and the statistics: {text}"
    );
    for (seq, line) in (1..=3).zip(&lines[1..]) {
        assert!(
            line.starts_with(&format!("reply from {uri}: seq={seq} time=")),
            "{text}"
        );
    }
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("3 round trips, rtt min/avg/max = ")),
        "{text}"
    );
    assert_eq!(run(&["ping", &uri, "--count", "0"]).await.code, Some(2));
}

/// A child's output, line by line.
struct Reader<R>(Lines<BufReader<R>>);

impl<R: tokio::io::AsyncRead + Unpin> Reader<R> {
    fn new(stream: Option<R>) -> Self {
        Reader(BufReader::new(stream.expect("piped")).lines())
    }

    async fn line(&mut self, what: &str) -> String {
        guard(what, self.0.next_line())
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{what}: the output ended"))
    }
}

fn stdout(child: &mut Child) -> Reader<ChildStdout> {
    Reader::new(child.stdout.take())
}

fn stderr(child: &mut Child) -> Reader<ChildStderr> {
    Reader::new(child.stderr.take())
}

#[tokio::test]
async fn the_registry_subcommands() {
    let service = RegistryService::new(MemoryStore::new());
    let (registry, _stop) = serve(Server::shared(Arc::new(service))).await;
    let reg = ["--registry", registry.as_str()];

    let mut watch = rpc()
        .args(["registry", "watch", "--count", "2", "--prefix", "home."])
        .args(reg)
        .spawn()
        .expect("start watch");
    // Kept open to the end: the child's stderr must not break.
    let mut watch_stderr = stderr(&mut watch);
    let watching = watch_stderr.line("the watch to start").await;
    assert!(watching.starts_with("watching the registry at "), "{watching}");

    let mut register = rpc()
        .args([
            "registry",
            "register",
            "home.lab",
            "rpc://127.0.0.1:9",
            "--tag",
            "lab",
        ])
        .args(["--tag", "floor:1", "--ttl", "10s"])
        .args(reg)
        .spawn()
        .expect("start register");
    let mut register_stdout = stdout(&mut register);
    let entry = register_stdout.line("the registration").await;
    let entry: serde_json::Value = serde_json::from_str(&entry).expect("JSON");
    assert_eq!(entry["name"], "home.lab");
    assert_eq!(entry["metadata"], serde_json::json!(["floor:1", "lab"]));

    // The registry's address from the environment this time.
    let lookup = run_with(
        rpc()
            .args(["registry", "lookup", "home.lab"])
            .env("RPC_REGISTRY", &registry),
    )
    .await;
    assert_eq!(lookup.ok(), entry.to_string());
    let listed = run(&[&["registry", "list", "--tag", "lab"][..], &reg].concat()).await;
    assert_eq!(listed.ok(), format!("[{entry}]"));
    let none = run(&[&["registry", "list", "--tag", "other"][..], &reg].concat()).await;
    assert_eq!(none.ok(), "[]");

    // Ctrl-C (here SIGTERM) ends the registration: the entry is removed.
    support::terminate(register.id());
    let ended = guard("register to end", register.wait()).await.expect("wait");
    assert_eq!(ended.code(), Some(0));
    let watched = Ran::from(
        guard("watch to end", watch.wait_with_output())
            .await
            .expect("wait"),
    );
    let changes: Vec<&str> = watched.ok().lines().collect();
    assert_eq!(
        changes,
        [
            format!("{{\"change\":\"registered\",\"entry\":{entry}}}"),
            format!("{{\"change\":\"removed\",\"entry\":{entry}}}"),
        ]
    );
    let gone = run(&[&["registry", "lookup", "home.lab"][..], &reg].concat()).await;
    assert!(
        gone.failed(1)
            .contains("no service is registered as \"home.lab\""),
        "{gone:?}"
    );

    // remove, whoever registered.
    let client = rpc_server::naming::Registry::connect_with(
        "127.0.0.1",
        registry
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port"),
        rpc_core::ConnectOptions::new(),
    )
    .await
    .expect("connect");
    let held = client
        .register("home.other", "rpc://127.0.0.1:10", ["x"], Duration::from_secs(10))
        .await
        .expect("register");
    let removed = run(&[&["registry", "remove", "home.other"][..], &reg].concat()).await;
    assert_eq!(removed.ok(), "");
    assert!(client.try_lookup("home.other").await.expect("lookup").is_none());
    let again = run(&[&["registry", "remove", "home.other"][..], &reg].concat()).await;
    assert!(again.failed(1).contains("no entry"), "{again:?}");
    drop((held, watch_stderr, register_stdout));
}

#[tokio::test]
async fn a_registry_that_is_down_is_a_connection_error() {
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        probe.local_addr().expect("address")
    };
    let ran = run(&["registry", "list", "--registry", &closed.to_string()]).await;
    let line = ran.failed(3);
    assert!(
        line.contains(&format!("the registry at {closed} cannot be reached")),
        "{line}"
    );
    assert!(line.contains("refused"), "the cause is kept: {line}");
}

#[tokio::test]
async fn tls_client_certificates_and_a_secret() {
    let pki = pki();
    let dir = TempDir::new();
    let ca = dir.file("ca.pem", &pki.ca);
    let cert = dir.file("alice.pem", &pki.client.0);
    let key = dir.file("alice.key", &pki.client.1);
    let secret = dir.file("secret", "open sesame\n");
    let tls = ServerTls::from_pem(pki.server.0.as_bytes(), pki.server.1.as_bytes())
        .expect("server TLS")
        .require_client_certs(pki.ca.as_bytes())
        .expect("client CA");
    let server = Server::new(|| Lab)
        .tls(tls)
        .authenticator(SharedSecret::new("open sesame"));
    let (uri, _stop) = serve(server).await;

    let all = [
        "--tls",
        "--ca-file",
        &ca,
        "--client-cert",
        &cert,
        "--client-key",
        &key,
        "--secret-file",
        &secret,
    ];
    let ran = run(&[&["call", &uri, "echo", "1"][..], &all].concat()).await;
    assert_eq!(ran.ok(), "1");

    let no_secret = run(&[&["call", &uri, "echo", "1"][..], &all[..7]].concat()).await;
    no_secret.failed(3);
    let no_tls = run(&[
        "call",
        &uri,
        "echo",
        "1",
        "--secret-file",
        &secret,
        "--timeout",
        "2s",
    ])
    .await;
    no_tls.failed(3);

    let missing = run(&["call", &uri, "echo", "1", "--ca-file", "/nonexistent/ca.pem"]).await;
    assert!(
        missing.failed(2).contains("--ca-file /nonexistent/ca.pem"),
        "{missing:?}"
    );
    let alone = run(&["call", &uri, "echo", "1", "--tls"]).await;
    assert_eq!(alone.code, Some(2), "--tls needs --ca-file: {alone:?}");
}

#[tokio::test]
async fn help_has_examples_and_completions_print_a_script() {
    for command in [
        &["--help"][..],
        &["call", "--help"],
        &["describe", "--help"],
        &["ping", "--help"],
        &["registry", "--help"],
        &["registry", "list", "--help"],
        &["registry", "lookup", "--help"],
        &["registry", "register", "--help"],
        &["registry", "remove", "--help"],
        &["registry", "watch", "--help"],
        &["completions", "--help"],
    ] {
        let ran = run(command).await;
        let help = ran.ok();
        assert!(help.contains("Example"), "{command:?}:\n{help}");
        for flag in ["--timeout", "--tls", "--ca-file", "--secret-file"] {
            assert!(help.contains(flag), "{command:?} lacks {flag}:\n{help}");
        }
    }
    let help = run(&["--help"]).await;
    assert!(help.ok().contains("Exit status") && help.ok().contains("$bytes"));

    let ran = run(&["completions", "bash"]).await;
    let script = ran.ok();
    assert!(
        script.contains("_rpc()") && script.contains("complete -F"),
        "{script}"
    );
    for shell in ["zsh", "fish"] {
        assert!(!run(&["completions", shell]).await.ok().is_empty(), "{shell}");
    }
}

#[tokio::test]
async fn uris_by_name_and_by_tag_resolve_through_the_registry_of_the_environment() {
    let service = RegistryService::new(MemoryStore::new());
    let (registry, _stop) = serve(Server::shared(Arc::new(service))).await;
    let bound = Server::new(|| Lab).bind("127.0.0.1:0").await.expect("bind");
    bound
        .publish(
            "handle.kitchen",
            rpc_core::Object::new(Handle {
                name: "kitchen".into(),
            }),
        )
        .expect("publish");
    let lab = bound.uri();
    tokio::spawn(bound.serve());
    let port: u16 = registry
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let reg = rpc_server::naming::Registry::connect("127.0.0.1", port)
        .await
        .expect("connect");
    let ttl = Duration::from_secs(10);
    let _root = reg
        .register("home.lab", lab.to_string(), ["lab"], ttl)
        .await
        .expect("register");
    let kitchen = lab.with_object("handle.kitchen").expect("object URI");
    let _kitchen = reg
        .register("home.kitchen", kitchen.to_string(), ["handle"], ttl)
        .await
        .expect("register");

    let call = |args: &[&str]| {
        let mut command = rpc();
        command.args(args).env("RPC_REGISTRY", &registry);
        command
    };
    let by_name = run_with(&mut call(&["call", "rpcname:home.lab", "echo", "5"])).await;
    assert_eq!(by_name.ok(), "5");
    let by_tag = run_with(&mut call(&["call", "rpcmeta:lab", "add", "1", "0.5"])).await;
    assert_eq!(by_tag.ok(), "1.5");
    let object = run_with(&mut call(&["call", "rpcname:home.kitchen", "name"])).await;
    assert_eq!(object.ok(), "\"kitchen\"");
    let direct = run(&["call", &kitchen.to_string(), "name"]).await;
    assert_eq!(direct.ok(), "\"kitchen\"");
    let unknown = run_with(&mut call(&["call", "rpcname:home.door", "echo", "1"])).await;
    let line = unknown.failed(1);
    assert!(
        line.contains("home.door") && line.contains(&format!("127.0.0.1:{port}")),
        "{line}"
    );
}
