//! Soak: many clients, many calls, netref and callback churn, against one loopback TCP server.
//!
//! Each client makes its calls in windows of concurrent calls. A call is a plain `echo`, a
//! netref churn step (`open` returns a [`Ticket`] by reference; the client asks it who it is,
//! keeps the last few alive and drops the oldest) or a callback (`apply` calls a fresh
//! [`rpc::Callback`] of the client's back). Every answer encodes the client id and the call
//! number it belongs to, and the test checks:
//!
//! * zero lost replies: every call answers, with the answer for its own client and number;
//! * zero duplicated replies or executions: the server counts how often each (client, call)
//!   ran, and every count ends at exactly one;
//! * tables return to empty: with the clients still connected, every client's pending calls,
//!   imported netrefs and exported callbacks, and the server's exports and imports on every
//!   connection, settle at zero; once the clients close, the server closes every connection
//!   and its tables stay empty.
//!
//! The default run is short (50 clients x 200 calls). `RPC_SOAK=1` runs 1,000 clients x 1,000
//! calls, bounded to 10 minutes. Both print the wall time and this process's resident set size
//! (`VmRSS`, server and clients together) before and after.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::StreamExt;
use parking_lot::Mutex;
use rpc::server::Server;
use rpc::{service, Callback, Connection, Error, NetRef};

use crate::harness::{eventually, Live};

/// Concurrent calls per client.
const WINDOW: u32 = 10;
/// Netrefs a client keeps alive at once.
const KEPT: usize = 4;
/// Concurrent connects while the clients come up (the listen backlog is finite).
const CONNECTING: usize = 64;
/// What the client's callbacks mix into their answer, so it differs from `echo`'s.
const MASK: u64 = 0x5a5a_0000_0000_5a5a;

/// The answer that belongs to `call` of `client`.
fn encode(client: u32, call: u32) -> u64 {
    (u64::from(client) << 32) | u64::from(call)
}

/// A server-side object handed out by reference.
pub struct Ticket {
    code: u64,
    _live: Live,
}

#[service]
impl Ticket {
    fn exposed_ident(&self) -> u64 {
        self.code
    }
}

/// The soak server: counts every execution of every (client, call).
pub struct SoakService {
    calls: u32,
    executed: Vec<AtomicU8>,
    live: AtomicUsize,
    conns: Mutex<Vec<Connection>>,
    /// Tickets not yet freed.
    tickets: Arc<AtomicUsize>,
}

impl SoakService {
    fn new(clients: u32, calls: u32) -> Self {
        SoakService {
            calls,
            executed: (0..u64::from(clients) * u64::from(calls))
                .map(|_| AtomicU8::new(0))
                .collect(),
            live: AtomicUsize::new(0),
            conns: Mutex::default(),
            tickets: Arc::default(),
        }
    }

    fn ran(&self, client: u32, call: u32) {
        let i = client as usize * self.calls as usize + call as usize;
        if let Some(count) = self.executed.get(i) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[service]
impl SoakService {
    fn exposed_echo(&self, client: u32, call: u32) -> u64 {
        self.ran(client, call);
        encode(client, call)
    }

    fn exposed_open(&self, client: u32, call: u32) -> Ticket {
        self.ran(client, call);
        Ticket {
            code: encode(client, call),
            _live: Live::new(&self.tickets),
        }
    }

    async fn exposed_apply(&self, f: Callback, client: u32, call: u32) -> Result<u64, Error> {
        self.ran(client, call);
        f.call((client, call)).await
    }

    fn on_connect(&self, conn: &Connection) {
        self.live.fetch_add(1, Ordering::SeqCst);
        self.conns.lock().push(conn.clone());
    }

    fn on_disconnect(&self, _conn: &Connection) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// This process's resident set size in kB, from `/proc/self/status`.
fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn show(kb: Option<u64>) -> String {
    kb.map_or_else(|| "unknown".into(), |kb| format!("{} MiB ({kb} kB)", kb / 1024))
}

/// One client's work: every call checked; returns the still open connection.
async fn client_run(client: u32, calls: u32, conn: Connection) -> Connection {
    let root = conn.root();
    let callbacks = Arc::new(AtomicUsize::new(0));
    let mut kept: VecDeque<NetRef> = VecDeque::new();
    let mut answered = vec![0u8; calls as usize];
    let mut start = 0;
    while start < calls {
        let end = (start + WINDOW).min(calls);
        let window = (start..end).map(|n| {
            let root = &root;
            let conn = &conn;
            let callbacks = &callbacks;
            async move {
                let got = match n % 10 {
                    // Netref churn: the object answers for its own (client, call).
                    0 => match root.call::<NetRef>("open", (client, n)).await {
                        Ok(ticket) => ticket.call::<u64>("ident", ()).await.map(|v| (v, Some(ticket))),
                        Err(e) => Err(e),
                    },
                    // A fresh callback each time: it answers for whatever it is asked.
                    1 => {
                        let live = Live::new(callbacks);
                        let f = conn.callback(move |c: u32, k: u32| {
                            let _alive = &live;
                            encode(c, k) ^ MASK
                        });
                        root.call::<u64>("apply", (f, client, n))
                            .await
                            .map(|v| (v ^ MASK, None))
                    }
                    _ => root.call::<u64>("echo", (client, n)).await.map(|v| (v, None)),
                };
                (n, got)
            }
        });
        for (n, got) in join_all(window).await {
            match got {
                Ok((v, ticket)) => {
                    assert_eq!(
                        v,
                        encode(client, n),
                        "client {client} call {n} got the answer of client {} call {}",
                        v >> 32,
                        v & 0xffff_ffff
                    );
                    answered[n as usize] += 1;
                    if let Some(t) = ticket {
                        kept.push_back(t);
                        if kept.len() > KEPT {
                            kept.pop_front();
                        }
                    }
                }
                Err(e) => panic!("client {client} call {n} was lost: {e:?}"),
            }
        }
        start = end;
    }
    assert!(
        answered.iter().all(|&a| a == 1),
        "client {client}: every call answered exactly once"
    );
    drop(kept);
    drop(root);
    let what = format!("client {client}'s tables emptying");
    eventually(&what, || {
        let s = conn.stats();
        s.pending_calls == 0 && s.imported_objects == 0 && s.exported_objects == 0 && s.running_requests == 0
    })
    .await;
    let what = format!("client {client}'s callbacks being freed");
    eventually(&what, || callbacks.load(Ordering::SeqCst) == 0).await;
    conn
}

async fn soak(clients: u32, calls: u32) {
    let started = Instant::now();
    let rss_before = rss_kb();
    let service = Arc::new(SoakService::new(clients, calls));
    let bound = Server::shared(service.clone())
        .max_connections(clients as usize + 16)
        .bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let port = bound.local_addr().expect("server address").port();
    let stop = bound.shutdown_handle();
    let server = tokio::spawn(bound.serve());

    // Everyone connects first, a few at a time, then all work at once.
    let conns: Vec<Connection> = futures::stream::iter(0..clients)
        .map(|c| async move {
            rpc::connect("127.0.0.1", port)
                .await
                .unwrap_or_else(|e| panic!("client {c} connects: {e:?}"))
        })
        .buffered(CONNECTING)
        .collect()
        .await;
    let connected = started.elapsed();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(c, conn)| tokio::spawn(client_run(c as u32, calls, conn)))
        .collect();
    let mut conns = Vec::with_capacity(tasks.len());
    for (c, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok(conn) => conns.push(conn),
            Err(e) => std::panic::resume_unwind(
                e.try_into_panic()
                    .unwrap_or_else(|_| Box::new(format!("client {c}'s task was cancelled"))),
            ),
        }
    }
    let worked = started.elapsed();

    // Zero lost, zero duplicated: every (client, call) ran exactly once on the server.
    let wrong: Vec<(usize, u8)> = service
        .executed
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .enumerate()
        .filter(|(_, n)| *n != 1)
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "calls (index = client * {calls} + call, count) that did not run exactly once: {wrong:?}"
    );

    // With every client still connected, the server's tables are empty on every connection.
    assert_eq!(service.conns.lock().len(), clients as usize);
    eventually("the server's exports and imports emptying", || {
        service.conns.lock().iter().all(|c| {
            let s = c.stats();
            s.exported_objects == 0 && s.imported_objects == 0 && s.pending_calls == 0
        })
    })
    .await;
    eventually("every ticket being freed", || {
        service.tickets.load(Ordering::SeqCst) == 0
    })
    .await;

    for conn in &conns {
        conn.close().await;
    }
    eventually("the server closing every connection", || {
        service.live.load(Ordering::SeqCst) == 0
    })
    .await;
    for c in service.conns.lock().iter() {
        let s = c.stats();
        assert!(c.is_closed());
        assert_eq!(
            (
                s.exported_objects,
                s.imported_objects,
                s.pending_calls,
                s.running_requests
            ),
            (0, 0, 0, 0),
            "a closed server connection's tables"
        );
    }
    for conn in &conns {
        let s = conn.stats();
        assert_eq!(
            (s.pending_calls, s.imported_objects, s.exported_objects),
            (0, 0, 0)
        );
    }
    service.conns.lock().clear();
    drop(conns);
    stop.shutdown();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .expect("the server task")
        .expect("the server ends cleanly");
    // Nothing keeps a connection alive: the service is referenced from here only.
    eventually("every connection being freed", || {
        Arc::strong_count(&service) == 1
    })
    .await;
    println!(
        "soak: {clients} clients x {calls} calls ({} in all, a tenth each netref churn and callbacks): \
         connected in {connected:?}, calls done in {worked:?}, all in {:?}; \
         RSS before {}, after {}",
        u64::from(clients) * u64::from(calls),
        started.elapsed(),
        show(rss_before),
        show(rss_kb()),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_lose_nothing_and_leave_empty_tables() {
    let full = std::env::var("RPC_SOAK").is_ok_and(|v| v == "1");
    let (clients, calls, limit) = if full {
        (1_000, 1_000, Duration::from_secs(600))
    } else {
        (50, 200, Duration::from_secs(30))
    };
    if full {
        // Two sockets per client in this one process, and some room.
        let want = u64::from(clients) * 2 + 1_024;
        let got = rlimit::increase_nofile_limit(want).expect("raise the file-descriptor limit");
        assert!(
            got >= want,
            "the file-descriptor limit is {got}, {want} are needed"
        );
    }
    if tokio::time::timeout(limit, soak(clients, calls)).await.is_err() {
        panic!("the soak of {clients} clients x {calls} calls did not finish within {limit:?}");
    }
}
