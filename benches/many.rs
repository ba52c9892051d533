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
#[path = "many/report.rs"]
mod report;
#[path = "many/roles.rs"]
mod roles;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::Latency;
use roles::Round;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

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
                ["server-rpc"] => runtime.block_on(roles::server_rpc()),
                ["server-raw"] => runtime.block_on(roles::server_raw()),
                ["clients", kind, port] => {
                    roles::clients(&runtime, kind, port.parse().expect("port"));
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

/// The parent: starts the role processes, runs `plan`'s steps and rounds, prints the tables.
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
        print!("  ");
        report::header("round", report::ROUNDS);
        let mut rows = Vec::new();
        let mut made = 0;
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
            let row = report::Figures::of_round(&rpc, &raw);
            print!("  ");
            row.print(&(r + 1).to_string(), report::ROUNDS);
            rows.push(row);
            made += rpc.calls;
        }
        let checked: u64 = rpc_clients.ask("check").parse().expect("checked count");
        println!("  (rpc server counted every call on every connection: {checked} calls so far, {made} in this step)");
        figures.push(report::StepFigures {
            step,
            medians: report::Figures::medians(&rows),
            rpc_cpu_least: rows.iter().map(|f| f.rpc_cpu).fold(f64::INFINITY, f64::min),
        });
    }
    rpc_clients.finish();
    raw_clients.finish();
    rpc_server.finish();
    raw_server.finish();
    report::summary(plan, &figures);
}
