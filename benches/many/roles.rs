//! What the bench's child processes do, each in its `--role`: the rpc server, the raw echo
//! server, and a client process holding a fleet of connections that obeys the parent's
//! commands (one a line on stdin, one answer a line on stdout).

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rpc::server::Server;
use rpc::{service, Connection, NetRef};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

use crate::common::{self, Latency, RawClient};
use crate::frames;

/// Connections opened at once while a fleet grows (below the server's handshake quota and
/// the listen backlog: 200 at once overflowed the accept queue here, each overflow costing a
/// 1 s SYN retransmit).
const CONNECT_BATCH: usize = 64;
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

/// Prints `port` for the parent, then waits until the parent closes stdin.
async fn announce_and_wait(port: u16) {
    println!("{port}");
    std::io::stdout().flush().expect("stdout");
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
}

/// The rpc server role: a [`NullService`] per connection, up to 20,000 connections.
pub async fn server_rpc() {
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
pub async fn server_raw() {
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
pub struct Round {
    pub calls: u64,
    pub seconds: f64,
    pub latency: Latency,
}

impl Round {
    fn line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.calls, self.seconds, self.latency.p50, self.latency.p99
        )
    }

    pub fn parse(line: &str) -> Round {
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
pub fn clients(runtime: &tokio::runtime::Runtime, kind: &str, port: u16) {
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
