//! Many clients (issue 16, part 3): one rpc server and a thousand client connections, beside a
//! raw tokio echo server answering frames of the same sizes to the same number of clients, in
//! the same run. Each side runs in its own process (the bench binary re-executes itself with a
//! `--role`): the rpc server, the raw echo server, and one client process per server holding
//! all of that server's connections (loopback, `TCP_NODELAY` on, every process on a tokio
//! multi-thread runtime with 2 workers and its open-file limit raised to the hard limit).
//!
//! Run: `cargo bench --bench many`.
//!
//! The parent process orchestrates. Both client processes grow their fleets step by step
//! (4, 100, 1,000 and 10,000 connections) and at each step the parent alternates rpc and raw
//! rounds (5 each, rpc first in even rounds): in a round the first `active` connections of a
//! fleet each make sequential `null()` calls (raw: ping-pongs of the null call's frame sizes)
//! for a fixed time while the rest stay idle. A round gives calls per second, p50 and p99 of
//! the calls' latencies, and the server process's CPU time (user + system, from
//! `/proc/<pid>/stat`) per call over the round, and the client process's. The table shows medians of the rounds, the
//! ratios taken within each round. After each step the rpc client checks that the server
//! counted exactly the calls each connection made.
//!
//! Without `--bench` (as `cargo test --release --bench many` runs it) it does a quick check:
//! one short round at 4 connections, 200 connections all active and 1,000 with 1% active,
//! asserting that every call was answered and the counts match.

#[allow(dead_code, unused_imports)] // shared with the `calls` bench, which uses all of it
mod common;
#[allow(dead_code)] // `calls`' frame sizes; this bench uses part of them
#[path = "scenarios/frames.rs"]
mod frames;
#[path = "scenarios/goals.rs"]
mod goals;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rpc::server::Server;
use rpc::{service, Connection, NetRef};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

use common::{median, Latency, RawClient};
use goals::Goal;

/// Connections opened at once while a fleet grows (below the server's handshake quota and
/// the listen backlog: 200 at once overflowed the accept queue here, each overflow costing a
/// 1 s SYN retransmit).
const CONNECT_BATCH: usize = 64;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The served service: a null call, and how many this connection made.
#[derive(Default)]
struct NullService {
    /// `null()` calls served on this connection.
    served: AtomicU64,
}

#[service]
impl NullService {
    /// Does nothing (but count).
    fn exposed_null(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    /// The `null()` calls served on this connection so far.
    fn exposed_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// One step of the run: grow both fleets to `connections`, then measure rounds in which
/// `active` of them call.
#[derive(Clone, Copy)]
struct Step {
    connections: usize,
    active: usize,
}

impl Step {
    fn label(self) -> String {
        if self.active == self.connections {
            format!("{} connections, all active", self.connections)
        } else {
            format!("{} connections, {} active", self.connections, self.active)
        }
    }
}

/// How much to measure.
struct Plan {
    steps: Vec<Step>,
    rounds: usize,
    round: Duration,
    quick: bool,
}

impl Plan {
    fn from_args(args: &[String]) -> Plan {
        let step = |connections, active| Step { connections, active };
        if args.iter().any(|a| a == "--bench") {
            Plan {
                steps: vec![step(4, 4), step(100, 100), step(1_000, 1_000), step(10_000, 100)],
                rounds: 5,
                round: Duration::from_secs(2),
                quick: false,
            }
        } else {
            Plan {
                steps: vec![step(4, 4), step(200, 200), step(1_000, 10)],
                rounds: 1,
                round: Duration::from_millis(300),
                quick: true,
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    raise_open_files();
    match args.iter().position(|a| a == "--role") {
        Some(at) => {
            let role: Vec<&str> = args[at + 1..].iter().map(String::as_str).collect();
            let runtime = common::harness_runtime(false, false);
            match role.as_slice() {
                ["server-rpc"] => runtime.block_on(server_rpc()),
                ["server-raw"] => runtime.block_on(server_raw()),
                ["clients", kind, port] => {
                    clients(&runtime, kind, port.parse().expect("port"));
                }
                other => panic!("unknown role {other:?}"),
            }
        }
        None => orchestrate(&Plan::from_args(&args)),
    }
}

/// Raises this process's soft limit of open files to its hard limit. The `rlimit` crate (a
/// bench-only dependency already used by `benches/memory.rs`) does it without `unsafe` here.
fn raise_open_files() {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("note: could not raise the open-file limit: {e}");
    }
}

/// Prints `port` for the parent, then waits until the parent closes stdin.
async fn announce_and_wait(port: u16) {
    println!("{port}");
    std::io::stdout().flush().expect("stdout");
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
}

/// The rpc server role: a [`NullService`] per connection, up to 20,000 connections.
async fn server_rpc() {
    let server = Server::new(NullService::default)
        .max_connections(20_000)
        .max_handshaking(1_024)
        .bind("127.0.0.1:0")
        .await
        .expect("bind rpc server");
    let port = server.local_addr().expect("address").port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    announce_and_wait(port).await;
    stop.shutdown();
    serving.await.expect("server task").expect("serve");
}

/// The raw server role: answers every frame of the null call's request size with one of its
/// reply size (`common`'s echo server).
async fn server_raw() {
    let (_, reply_len) = frames::null_frames();
    let addr = common::servers::start_raw_server(reply_len).await;
    announce_and_wait(addr.port()).await;
}

/// A client process's connections.
enum Fleet {
    /// rpc connections, their roots, and the calls each has made.
    Rpc(Vec<(Connection, NetRef, u64)>),
    /// Raw connections (taken out while a round runs).
    Raw(Vec<RawClient>),
}

/// What one round of one side measured, as the client process reports it.
struct Round {
    calls: u64,
    seconds: f64,
    latency: Latency,
}

impl Round {
    fn line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.calls, self.seconds, self.latency.p50, self.latency.p99
        )
    }

    fn parse(line: &str) -> Round {
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        assert_eq!(f.len(), 4, "round line {line:?}");
        Round {
            calls: f[0] as u64,
            seconds: f[1],
            latency: Latency {
                p50: f[2],
                p99: f[3],
                mean: 0.0,
            },
        }
    }
}

/// The client role: holds a fleet of connections to the server at `port` (`kind` `rpc` or
/// `raw`) and obeys the parent's commands, one a line on stdin, one answer a line on stdout:
/// `grow N` (open connections up to N), `run ACTIVE MILLIS` (a round), `check` (rpc: the server
/// counted each connection's calls).
fn clients(runtime: &tokio::runtime::Runtime, kind: &str, port: u16) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut fleet = match kind {
        "rpc" => Fleet::Rpc(Vec::new()),
        "raw" => Fleet::Raw(Vec::new()),
        other => panic!("unknown client kind {other}"),
    };
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("command");
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["grow", n] => runtime.block_on(grow(&mut fleet, addr, n.parse().expect("count"))),
            ["run", active, millis] => {
                let length = Duration::from_millis(millis.parse().expect("millis"));
                runtime
                    .block_on(round(&mut fleet, active.parse().expect("active"), length))
                    .line()
            }
            ["check"] => runtime.block_on(check(&fleet)),
            other => panic!("unknown command {other:?}"),
        };
        println!("{answer}");
        std::io::stdout().flush().expect("stdout");
    }
    if let Fleet::Rpc(conns) = fleet {
        runtime.block_on(async {
            for (conn, _, _) in &conns {
                conn.close().await;
            }
        });
    }
}

/// Opens connections, [`CONNECT_BATCH`] at a time, until the fleet has `n`.
async fn grow(fleet: &mut Fleet, addr: SocketAddr, n: usize) -> String {
    let started = Instant::now();
    let (request_len, _) = frames::null_frames();
    loop {
        let have = match fleet {
            Fleet::Rpc(c) => c.len(),
            Fleet::Raw(c) => c.len(),
        };
        if have >= n {
            break;
        }
        let batch = CONNECT_BATCH.min(n - have);
        match fleet {
            Fleet::Rpc(conns) => {
                let mut set = JoinSet::new();
                for _ in 0..batch {
                    set.spawn(
                        async move { rpc::connect("127.0.0.1", addr.port()).await.expect("rpc connect") },
                    );
                }
                while let Some(conn) = set.join_next().await {
                    let conn = conn.expect("connect task");
                    let root = conn.root();
                    conns.push((conn, root, 0));
                }
            }
            Fleet::Raw(conns) => {
                let mut set = JoinSet::new();
                for _ in 0..batch {
                    set.spawn(RawClient::connect(addr, request_len));
                }
                while let Some(conn) = set.join_next().await {
                    conns.push(conn.expect("connect task"));
                }
            }
        }
    }
    format!("{:.3}", started.elapsed().as_secs_f64())
}

/// Sequential calls on the first `active` connections until `length` has passed (a call
/// under way then is finished and counted).
async fn round(fleet: &mut Fleet, active: usize, length: Duration) -> Round {
    let started = Instant::now();
    let deadline = started + length;
    let mut samples: Vec<u64> = Vec::new();
    let mut calls = 0u64;
    match fleet {
        Fleet::Rpc(conns) => {
            assert!(active <= conns.len(), "more active than connections");
            let mut set = JoinSet::new();
            for (i, (_, root, _)) in conns.iter().take(active).enumerate() {
                let root = root.clone();
                set.spawn(async move {
                    let mut took = Vec::with_capacity(1_024);
                    loop {
                        let t = Instant::now();
                        root.call::<()>("null", ()).await.expect("null call");
                        let now = Instant::now();
                        took.push((now - t).as_nanos() as u64);
                        if now >= deadline {
                            return (i, took);
                        }
                    }
                });
            }
            while let Some(done) = set.join_next().await {
                let (i, took) = done.expect("client task");
                conns[i].2 += took.len() as u64;
                calls += took.len() as u64;
                samples.extend(took);
            }
        }
        Fleet::Raw(conns) => {
            assert!(active <= conns.len(), "more active than connections");
            let mut set = JoinSet::new();
            for mut raw in conns.drain(..active) {
                set.spawn(async move {
                    let mut took = Vec::with_capacity(1_024);
                    loop {
                        let t = Instant::now();
                        raw.round_trip().await;
                        let now = Instant::now();
                        took.push((now - t).as_nanos() as u64);
                        if now >= deadline {
                            return (raw, took);
                        }
                    }
                });
            }
            let mut back = Vec::with_capacity(active);
            while let Some(done) = set.join_next().await {
                let (raw, took) = done.expect("raw task");
                back.push(raw);
                calls += took.len() as u64;
                samples.extend(took);
            }
            conns.splice(0..0, back);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Round {
        calls,
        seconds,
        latency: Latency::of(&mut samples),
    }
}

/// rpc: asks every connection how many calls the server served on it, and asserts it is the
/// number the client made. Answers the total.
async fn check(fleet: &Fleet) -> String {
    let Fleet::Rpc(conns) = fleet else {
        return "raw".into();
    };
    let mut total = 0;
    for chunk in conns.chunks(CONNECT_BATCH) {
        let mut set = JoinSet::new();
        for (_, root, made) in chunk {
            let (root, made) = (root.clone(), *made);
            set.spawn(async move {
                let served: u64 = root.call("served", ()).await.expect("served call");
                assert_eq!(served, made, "the server served every call the client made");
                made
            });
        }
        while let Some(made) = set.join_next().await {
            total += made.expect("check task");
        }
    }
    for (conn, _, _) in conns {
        assert!(!conn.is_closed(), "every connection is still open");
    }
    total.to_string()
}

/// A child process of this bench in a role, talking over its stdin and stdout.
struct Role {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Role {
    fn start(args: &[&str]) -> Role {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .arg("--role")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a role process");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Role { child, stdin, stdout }
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read a role's answer");
        assert!(n > 0, "a role process ended early");
        line.trim().to_owned()
    }

    fn ask(&mut self, command: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").expect("send a command");
        stdin.flush().expect("flush");
        self.read_line()
    }

    /// User + system CPU time of the process so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/<pid>/stat (Linux)");
        // Fields after the command name (which may hold spaces), from field 3 (state) on.
        let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        ticks as f64 / TICKS_PER_SECOND
    }

    /// Closes stdin (the role's signal to end) and waits for a clean exit.
    fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for a role");
        assert!(status.success(), "a role process failed: {status}");
    }
}

/// One side's figures of one round: the client's, and the server's CPU time over it.
struct Measured {
    rate: f64,
    latency: Latency,
    calls: u64,
    /// Server CPU time per call, microseconds.
    cpu_per_call: f64,
    /// The client process's CPU time per call, microseconds.
    client_cpu_per_call: f64,
}

/// One round of one side: `active` connections of `client` call for `length`, with `server`'s
/// CPU time read around it.
fn measure(client: &mut Role, server: &Role, active: usize, length: Duration) -> Measured {
    let (cpu_before, client_cpu_before) = (server.cpu_seconds(), client.cpu_seconds());
    let round = Round::parse(&client.ask(&format!("run {active} {}", length.as_millis())));
    let cpu = server.cpu_seconds() - cpu_before;
    let client_cpu = client.cpu_seconds() - client_cpu_before;
    assert!(round.calls > 0, "every active connection made calls");
    Measured {
        rate: round.calls as f64 / round.seconds,
        latency: round.latency,
        calls: round.calls,
        cpu_per_call: cpu / round.calls as f64 * 1e6,
        client_cpu_per_call: client_cpu / round.calls as f64 * 1e6,
    }
}

/// The medians of one step's rounds.
struct StepFigures {
    step: Step,
    rpc_rate: f64,
    raw_rate: f64,
    /// Median over rounds of rpc ÷ raw throughput.
    rate_ratio: f64,
    rpc_p50: f64,
    raw_p50: f64,
    rpc_p99: f64,
    raw_p99: f64,
    /// Median over rounds of rpc ÷ raw p99.
    p99_ratio: f64,
    rpc_cpu: f64,
    raw_cpu: f64,
    /// The least of the rounds' rpc server CPU per call: a busy machine (steal time, other
    /// processes' cache traffic) only adds to CPU time, so this is the steadiest figure.
    rpc_cpu_least: f64,
    rpc_client_cpu: f64,
    raw_client_cpu: f64,
}

fn orchestrate(plan: &Plan) {
    let (request_len, reply_len) = frames::null_frames();
    let rpc_server = Role::start(&["server-rpc"]);
    let raw_server = Role::start(&["server-raw"]);
    let mut servers = [rpc_server, raw_server];
    let ports: Vec<String> = servers.iter_mut().map(Role::read_line).collect();
    let [rpc_server, raw_server] = servers;
    let mut rpc_clients = Role::start(&["clients", "rpc", &ports[0]]);
    let mut raw_clients = Role::start(&["clients", "raw", &ports[1]]);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "many clients: loopback TCP, rpc server, raw echo server ({request_len}-byte requests, \
         {reply_len}-byte replies: the null call's frames) and one client process per server, \
         each process a tokio multi-thread runtime with 2 workers; {} round(s) of {} ms per side \
         and step, alternating; load average at start: {}",
        plan.rounds,
        plan.round.as_millis(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let mut figures = Vec::new();
    for &step in &plan.steps {
        let grew_rpc = rpc_clients.ask(&format!("grow {}", step.connections));
        let grew_raw = raw_clients.ask(&format!("grow {}", step.connections));
        println!();
        println!("{} (opened in {grew_rpc} s rpc, {grew_raw} s raw)", step.label());
        println!(
            "  {:<6} {:>10} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "round",
            "rpc k/s",
            "raw k/s",
            "rpc/raw",
            "p50 rpc",
            "p50 raw",
            "p99 rpc",
            "p99 raw",
            "rpc/raw",
            "srv rpc",
            "srv raw",
            "cli rpc",
            "cli raw"
        );
        let mut rounds: Vec<(Measured, Measured)> = Vec::new();
        for r in 0..plan.rounds {
            let (rpc, raw) = if r % 2 == 0 {
                let rpc = measure(&mut rpc_clients, &rpc_server, step.active, plan.round);
                (
                    rpc,
                    measure(&mut raw_clients, &raw_server, step.active, plan.round),
                )
            } else {
                let raw = measure(&mut raw_clients, &raw_server, step.active, plan.round);
                (
                    measure(&mut rpc_clients, &rpc_server, step.active, plan.round),
                    raw,
                )
            };
            println!(
                "  {:<6} {:>10.1} {:>10.1} {:>6.2}x {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>6.2}x {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                r + 1,
                rpc.rate / 1e3,
                raw.rate / 1e3,
                rpc.rate / raw.rate,
                rpc.latency.p50,
                raw.latency.p50,
                rpc.latency.p99,
                raw.latency.p99,
                rpc.latency.p99 / raw.latency.p99,
                rpc.cpu_per_call,
                raw.cpu_per_call,
                rpc.client_cpu_per_call,
                raw.client_cpu_per_call
            );
            rounds.push((rpc, raw));
        }
        let checked: u64 = rpc_clients.ask("check").parse().expect("checked count");
        let made: u64 = rounds.iter().map(|(rpc, _)| rpc.calls).sum();
        println!("  (rpc server counted every call on every connection: {checked} calls so far, {made} in this step)");
        let med =
            |f: &dyn Fn(&(Measured, Measured)) -> f64| median(&mut rounds.iter().map(f).collect::<Vec<_>>());
        figures.push(StepFigures {
            step,
            rpc_rate: med(&|(rpc, _)| rpc.rate),
            raw_rate: med(&|(_, raw)| raw.rate),
            rate_ratio: med(&|(rpc, raw)| rpc.rate / raw.rate),
            rpc_p50: med(&|(rpc, _)| rpc.latency.p50),
            raw_p50: med(&|(_, raw)| raw.latency.p50),
            rpc_p99: med(&|(rpc, _)| rpc.latency.p99),
            raw_p99: med(&|(_, raw)| raw.latency.p99),
            p99_ratio: med(&|(rpc, raw)| rpc.latency.p99 / raw.latency.p99),
            rpc_cpu: med(&|(rpc, _)| rpc.cpu_per_call),
            raw_cpu: med(&|(_, raw)| raw.cpu_per_call),
            rpc_cpu_least: rounds
                .iter()
                .map(|(rpc, _)| rpc.cpu_per_call)
                .fold(f64::INFINITY, f64::min),
            rpc_client_cpu: med(&|(rpc, _)| rpc.client_cpu_per_call),
            raw_client_cpu: med(&|(_, raw)| raw.client_cpu_per_call),
        });
    }
    rpc_clients.finish();
    raw_clients.finish();
    rpc_server.finish();
    raw_server.finish();
    summary(plan, &figures);
}

/// The table of medians and the goals.
fn summary(plan: &Plan, figures: &[StepFigures]) {
    println!();
    println!(
        "{:<32} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "medians (latency µs, cpu µs/call)",
        "rpc k/s",
        "raw k/s",
        "rpc/raw",
        "p50 rpc",
        "p50 raw",
        "p99 rpc",
        "p99 raw",
        "rpc/raw",
        "srv rpc",
        "srv raw",
        "cli rpc",
        "cli raw"
    );
    for f in figures {
        println!(
            "{:<32} {:>9.1} {:>9.1} {:>6.2}x {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>6.2}x {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            f.step.label(),
            f.rpc_rate / 1e3,
            f.raw_rate / 1e3,
            f.rate_ratio,
            f.rpc_p50,
            f.raw_p50,
            f.rpc_p99,
            f.raw_p99,
            f.p99_ratio,
            f.rpc_cpu,
            f.raw_cpu,
            f.rpc_client_cpu,
            f.raw_client_cpu
        );
    }
    println!(
        "(rpc/raw: median of the rounds' ratios; srv, cli: the server's and the client process's \
         user + system CPU time per call, µs)"
    );
    let find = |connections: usize, all_active: bool| {
        figures
            .iter()
            .find(|f| f.step.connections == connections && (f.step.active == connections) == all_active)
    };
    let mut goals = Vec::new();
    if let Some(f) = find(1_000, true) {
        goals.push(Goal {
            what: "1,000 connections: throughput rpc ÷ raw".into(),
            figure: format!("{:.0}%", f.rate_ratio * 100.0),
            target: "≥ 90%",
            met: f.rate_ratio >= 0.9,
        });
        goals.push(Goal {
            what: "1,000 connections: p99 rpc ÷ raw".into(),
            figure: format!("{:.2}x", f.p99_ratio),
            target: "≤ 1.5x",
            met: f.p99_ratio <= 1.5,
        });
    }
    if let (Some(four), Some(many)) = (
        find(4, true),
        figures.iter().find(|f| f.step.active * 100 == f.step.connections),
    ) {
        let ratio = many.rpc_cpu / four.rpc_cpu;
        goals.push(Goal {
            what: format!("server CPU per call, {} ÷ 4 connections", many.step.label()),
            figure: format!("{ratio:.2}x"),
            target: "≤ 1.2x",
            met: ratio <= 1.2,
        });
        let least = many.rpc_cpu_least / four.rpc_cpu_least;
        goals.push(Goal {
            what: "  the same, least round of each step".into(),
            figure: format!("{least:.2}x"),
            target: "≤ 1.2x",
            met: least <= 1.2,
        });
    }
    goals::summary("issue 16, part 3", &goals, plan.quick);
    if plan.quick {
        println!("(quick check: every call answered and counted by the server; `cargo bench --bench many` measures)");
    }
}
