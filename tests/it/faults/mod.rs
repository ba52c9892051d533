//! Hostile networks: a seeded, fault-injecting TCP relay between real clients and real servers.
//!
//! The relay listens on `127.0.0.1:0`, connects each accepted client to a loopback server and
//! forwards both directions. A tiny xorshift generator, seeded from the test seed, the
//! connection's number and the direction, draws a *schedule*: at given byte offsets of the
//! stream it delays the bytes, splits the next writes into pieces of a few bytes, stalls the
//! direction for up to 2.5 s, resets both sockets (zero linger, then drop) or half-closes the
//! direction. The schedule is a pure function of the seed (`RPC_FAULT_SEED=n` reruns one seed,
//! `RPC_FAULT_SEEDS=n` runs seeds 0 to n - 1; a failure prints the seed and its schedule).
//!
//! Each of 40 seeds runs a [`TestService`] client (plain calls, `slow`, `greet`, callbacks
//! through `ask_back`, bulk bytes through `len` and `make_bytes`) and a [`Vault`] client
//! (netrefs, references sent home, [`Callback`]s) through its relays, reconnecting after a
//! lost connection. It checks that:
//!
//! * every call either answers exactly what its own arguments call for, or fails with a
//!   connection-level error (`Io`, `Timeout`, `Handshake`, `ConnectionClosed`, `PeerClosed`
//!   over a truncated stream) — never a wrong or mixed-up answer, a decode or protocol error,
//!   a panic, nor a hang past its deadline;
//! * a connection that survives its faults settles with empty tables on both sides (no pending
//!   call, no object kept alive by a late or timed-out reply), and every closed connection's
//!   tables end empty, on the client and on the server;
//! * both servers notice every lost connection and keep serving a fresh direct client;
//! * seeds whose faults only split writes or delay bytes lose nothing: every call succeeds on
//!   the first connection (so broken framing under split writes fails the test); seeds that
//!   also stall (never inside the handshake) lose calls to timeouts only, never a connection,
//!   and the late replies of timed-out calls reach nobody else.
//!
//! Seeds cycle through five profiles (`seed % 8`): split-only, delay-only, splits and delays,
//! stalls, and hostile (everything, resets and half-closes included) for half of them.
//!
//! [`Callback`]: rpc::Callback

mod relay;
mod schedule;
mod workload;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpc::server::Server;
use rpc::{Connection, NetRef};
use tokio::task::JoinSet;

use self::relay::{Applied, Relay};
use self::schedule::{describe_schedules, schedule, Dir, Fault, Profile, XorShift};
use self::workload::{session, test_workload, vault_workload, Tally, Vault};
use crate::harness::{eventually, ClientService, TestService};

/// How many seeds the default run covers.
const SEEDS: u64 = 40;
/// Seeds running at once.
const PARALLEL: usize = 20;
/// Call and handshake timeout of every connection, client and server, under stalls: they
/// resolve into timeouts.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The same without stalls, where a timeout would be a failure: generous, for loaded machines.
const LOSSLESS_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections one session opens through its relay.
const MAX_CONNS: u64 = 5;
/// Salts that give the two relays of a seed different schedules.
const SALT_TEST: u64 = 1;
const SALT_VAULT: u64 = 2;

/// The client's own tables are empty.
fn client_settled(conn: &Connection) -> bool {
    let s = conn.stats();
    s.pending_calls == 0 && s.imported_objects == 0 && s.exported_objects == 0 && s.running_requests == 0
}

/// Runs one seed end to end; panics (naming the seed) on any broken invariant.
async fn run_seed(seed: u64, applied: Arc<Applied>) -> (Tally, Tally) {
    let profile = Profile::of(seed);
    let config = profile.config();
    let deadline = profile.deadline();

    let test_service = Arc::new(TestService::default());
    let bound = Server::shared(test_service.clone())
        .connection_config(config.clone())
        .bind("127.0.0.1:0")
        .await
        .expect("bind the test server");
    let test_port = bound.local_addr().expect("test server address").port();
    let test_stop = Stop(bound.shutdown_handle());
    let test_server = tokio::spawn(bound.serve());

    let vault = Arc::new(Vault::default());
    let bound = Server::shared(vault.clone())
        .connection_config(config.clone())
        .bind("127.0.0.1:0")
        .await
        .expect("bind the vault server");
    let vault_port = bound.local_addr().expect("vault server address").port();
    let vault_stop = Stop(bound.shutdown_handle());
    let vault_server = tokio::spawn(bound.serve());

    let test_relay = Relay::start(test_port, seed, SALT_TEST, applied.clone()).await;
    let vault_relay = Relay::start(vault_port, seed, SALT_VAULT, applied).await;

    let mut rng = XorShift::new(seed);
    let test_calls = test_workload(&mut rng);
    let vault_calls = vault_workload(&mut rng);
    let callbacks = Arc::new(AtomicUsize::new(0));
    let ((test_tally, test_conns), (vault_tally, vault_conns)) = tokio::join!(
        session(seed, test_relay.port, true, test_calls, &callbacks),
        session(seed, vault_relay.port, false, vault_calls, &callbacks),
    );

    // A connection that lived through its faults settles: no pending call, and nothing kept
    // alive by a late reply, a timed-out call or a callback, on either side.
    for conn in test_conns.iter().chain(&vault_conns).filter(|c| !c.is_closed()) {
        let what = format!("seed {seed}: a surviving client connection settling");
        eventually(&what, || conn.is_closed() || client_settled(conn)).await;
    }
    let what = format!("seed {seed}: the vault's live connections exporting nothing");
    eventually(&what, || {
        vault.conns.lock().iter().all(|c| {
            let s = c.stats();
            c.is_closed() || (s.exported_objects == 0 && s.imported_objects == 0 && s.pending_calls == 0)
        })
    })
    .await;

    for conn in test_conns.iter().chain(&vault_conns) {
        conn.close().await;
    }
    let what = format!("seed {seed}: closed client connections with empty tables");
    eventually(&what, || {
        test_conns.iter().chain(&vault_conns).all(client_settled)
    })
    .await;
    drop((test_conns, vault_conns));

    let what = format!("seed {seed}: the test server noticing every lost connection");
    eventually(&what, || {
        test_service.disconnects.load(Ordering::SeqCst) == test_service.connects.load(Ordering::SeqCst)
    })
    .await;
    let what = format!("seed {seed}: the vault server closing every connection, tables empty");
    eventually(&what, || {
        vault.conns.lock().iter().all(|c| {
            let s = c.stats();
            c.is_closed()
                && s.exported_objects == 0
                && s.imported_objects == 0
                && s.pending_calls == 0
                && s.running_requests == 0
        })
    })
    .await;
    let what = format!("seed {seed}: every object and callback being freed");
    eventually(&what, || {
        vault.tagged.load(Ordering::SeqCst) == 0 && callbacks.load(Ordering::SeqCst) == 0
    })
    .await;

    // Both servers still serve a well-behaved client, directly.
    let direct = tokio::time::timeout(deadline, async {
        let conn = rpc::connect_with(
            "127.0.0.1",
            test_port,
            rpc::ConnectOptions::new()
                .service(ClientService)
                .config(config.clone()),
        )
        .await
        .expect("a direct client connects to the test server");
        let n: i64 = conn.root().call("ask_back", (21,)).await.expect("a direct call");
        assert_eq!(n, 42);
        conn.close().await;
        let conn = rpc::connect_with("127.0.0.1", vault_port, config.into())
            .await
            .expect("a direct client connects to the vault");
        let t: NetRef = conn.root().call("open", (5u64,)).await.expect("open");
        assert_eq!(t.call::<i64>("mix", (1,)).await.expect("mix"), 5_001);
        conn.close().await;
    });
    if direct.await.is_err() {
        panic!("seed {seed}: the servers did not serve a direct client within {deadline:?}");
    }

    // The servers stop, and no connection outlives them: each service is referenced from
    // here only.
    drop((test_relay, vault_relay, test_stop, vault_stop));
    for server in [test_server, vault_server] {
        match tokio::time::timeout(deadline, server).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("seed {seed}: a server did not stop cleanly: {other:?}"),
        }
    }
    // The direct client's server-side connection is the last one the vault remembers.
    vault.conns.lock().clear();
    let what = format!("seed {seed}: every server-side connection being freed");
    eventually(&what, || {
        Arc::strong_count(&test_service) == 1 && Arc::strong_count(&vault) == 1
    })
    .await;

    if profile.keeps_connections() {
        let timeouts_only = |t: &Tally| t.why.keys().all(|k| k == "Timeout" || k.contains("timed out"));
        assert!(
            test_tally.conns == 1
                && vault_tally.conns == 1
                && timeouts_only(&test_tally)
                && timeouts_only(&vault_tally),
            "seed {seed} ({profile:?}): nothing destructive, yet a connection was lost: \
             test {test_tally:?}, vault {vault_tally:?}"
        );
    }
    if profile.lossless() {
        assert_eq!(
            (
                test_tally.lost,
                test_tally.conns,
                vault_tally.lost,
                vault_tally.conns
            ),
            (0, 1, 0, 1),
            "seed {seed} ({profile:?}): only split writes and delays, yet calls failed: \
             test {test_tally:?}, vault {vault_tally:?}"
        );
    }
    (test_tally, vault_tally)
}

/// Shuts a server down when dropped.
struct Stop(rpc::server::ShutdownHandle);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".into()),
        Err(e) => format!("cancelled: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_through_a_faulty_relay_answer_right_or_fail_cleanly() {
    let seeds: Vec<u64> = match (std::env::var("RPC_FAULT_SEED"), std::env::var("RPC_FAULT_SEEDS")) {
        (Ok(s), _) => vec![s.parse().expect("RPC_FAULT_SEED is a number")],
        (_, Ok(n)) => (0..n.parse().expect("RPC_FAULT_SEEDS is a number")).collect(),
        _ => (0..SEEDS).collect(),
    };
    let limit = Duration::from_secs(30) + Duration::from_millis(1_500) * seeds.len() as u32;
    let started = Instant::now();
    let applied = Arc::new(Applied::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut runs = JoinSet::new();
    for &seed in &seeds {
        let gate = gate.clone();
        let applied = applied.clone();
        runs.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("the gate stays open");
            (seed, run_seed(seed, applied).await)
        });
    }
    let mut failures = Vec::new();
    let mut ok = 0;
    let mut lost = 0;
    let mut conns = 0;
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0u64;
    let outcome = tokio::time::timeout(limit, async {
        while let Some(run) = runs.join_next().await {
            match run {
                Ok((_, (t, v))) => {
                    ok += t.ok + v.ok;
                    lost += t.lost + v.lost;
                    conns += t.conns + v.conns;
                    for (k, n) in t.why.into_iter().chain(v.why) {
                        *why.entry(k).or_default() += n;
                    }
                    done += 1;
                }
                Err(e) => failures.push(panic_message(e)),
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "the seeds did not finish within {limit:?}");
    let a = &applied;
    println!(
        "faults: {} seeds in {:?}: {ok} calls answered, {lost} lost, {conns} connections; applied \
         {} delays, {} splits, {} stalls, {} resets, {} half-closes; lost to: {why:?}",
        seeds.len(),
        started.elapsed(),
        a.delays.load(Ordering::Relaxed),
        a.splits.load(Ordering::Relaxed),
        a.stalls.load(Ordering::Relaxed),
        a.resets.load(Ordering::Relaxed),
        a.half_closes.load(Ordering::Relaxed),
    );
    if !failures.is_empty() {
        let seed_of = |f: &String| {
            f.find("seed ")
                .and_then(|i| f[i + 5..].split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        let report: Vec<String> = failures
            .iter()
            .map(|f| match seed_of(f) {
                Some(seed) => format!("{f}\n{}", describe_schedules(seed)),
                None => f.clone(),
            })
            .collect();
        panic!(
            "{} of {} seeds failed:\n{}",
            failures.len(),
            seeds.len(),
            report.join("\n")
        );
    }
    assert_eq!(done, seeds.len() as u64);
    if seeds.len() as u64 >= SEEDS {
        // The faults bit: every kind was applied somewhere, and some calls were lost to them.
        for (what, n) in [
            ("delays", &a.delays),
            ("splits", &a.splits),
            ("stalls", &a.stalls),
            ("resets", &a.resets),
            ("half-closes", &a.half_closes),
        ] {
            assert!(n.load(Ordering::Relaxed) > 0, "no {what} were applied");
        }
        assert!(lost > 0, "no call was lost: the destructive faults did not bite");
        assert!(ok > lost, "most calls are answered: {ok} answered, {lost} lost");
    }
}

#[test]
fn the_schedule_is_a_function_of_the_seed() {
    for seed in 0..SEEDS {
        for dir in [Dir::Up, Dir::Down] {
            let a: Vec<String> = schedule(seed, SALT_TEST, 0, dir, Profile::of(seed))
                .iter()
                .map(|e| format!("{e:?}"))
                .collect();
            let b: Vec<String> = schedule(seed, SALT_TEST, 0, dir, Profile::of(seed))
                .iter()
                .map(|e| format!("{e:?}"))
                .collect();
            assert_eq!(a, b, "seed {seed}");
            assert!(!a.is_empty(), "seed {seed}");
        }
    }
    // Lossless profiles never schedule anything destructive.
    for seed in (0..SEEDS).filter(|s| Profile::of(*s).lossless()) {
        for conn in 0..MAX_CONNS {
            for dir in [Dir::Up, Dir::Down] {
                let events = schedule(seed, SALT_VAULT, conn, dir, Profile::of(seed));
                assert!(
                    events
                        .iter()
                        .all(|e| matches!(e.fault, Fault::Delay(_) | Fault::Split { .. })),
                    "seed {seed}"
                );
            }
        }
    }
}
