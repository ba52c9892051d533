//! What the clients do through the relays: the services they call ([`TestService`] aside), the
//! groups of calls drawn from the seed, how each call's outcome is judged, and the sessions
//! that run the groups, reconnecting after a lost connection, with their tallies.
//!
//! [`TestService`]: crate::harness::TestService

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use futures::future::join_all;
use parking_lot::Mutex;
use rpc::core::frame::FrameError;
use rpc::serde_bytes::ByteBuf;
use rpc::{service, Callback, Connection, Error, NetRef, Object, RemoteErrorKind};

use super::schedule::{Profile, XorShift};
use super::MAX_CONNS;
use crate::harness::{ClientService, Live};

// ---------------------------------------------------------------------------------------------
// Services

/// An object handed out by reference.
pub struct Tagged {
    tag: u64,
    _live: Live,
}

#[service]
impl Tagged {
    fn exposed_tag(&self) -> u64 {
        self.tag
    }

    fn exposed_mix(&self, x: i64) -> i64 {
        self.tag as i64 * 1_000 + x
    }
}

/// The netref and callback server; remembers its connections to check their tables.
#[derive(Default)]
pub struct Vault {
    pub(super) conns: Mutex<Vec<Connection>>,
    /// [`Tagged`] objects not yet freed.
    pub(super) tagged: Arc<AtomicUsize>,
}

#[service]
impl Vault {
    fn exposed_open(&self, tag: u64) -> Tagged {
        Tagged {
            tag,
            _live: Live::new(&self.tagged),
        }
    }

    /// A reference sent home arrives as the original object.
    fn exposed_tag_of(&self, object: Object) -> Option<u64> {
        object.downcast::<Tagged>().map(|t| t.tag)
    }

    async fn exposed_apply(&self, f: Callback, x: i64) -> Result<i64, Error> {
        f.call((x,)).await
    }

    fn on_connect(&self, conn: &Connection) {
        self.conns.lock().push(conn.clone());
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads

#[derive(Debug, Clone)]
pub(super) enum Call {
    Test(i64),
    Add(i64, i64),
    Greet(String),
    Slow(u64),
    AskBack(i64),
    Len(usize),
    MakeBytes(usize),
    /// Opens a netref, calls it, sends it home, drops it.
    Open(u64, i64),
    /// Passes a callback the server calls.
    Apply(i64, i64),
}

/// A size for the bulk calls: mostly small, sometimes large.
fn bulk_size(rng: &mut XorShift) -> usize {
    if rng.chance(20) {
        rng.range(20_000, 150_000) as usize
    } else {
        rng.range(0, 2_000) as usize
    }
}

/// Groups of calls to run concurrently, for the [`TestService`](crate::harness::TestService)
/// client.
pub(super) fn test_workload(rng: &mut XorShift) -> Vec<Vec<Call>> {
    let mut groups = Vec::new();
    for _ in 0..rng.range(10, 14) {
        let group = (0..rng.range(1, 4))
            .map(|_| {
                let x = rng.range(0, 1 << 40) as i64 - (1 << 39);
                match rng.range(0, 7) {
                    0 => Call::Test(x),
                    1 => Call::Add(x, rng.range(0, 1_000) as i64),
                    2 => Call::Greet(format!("peer-{}", rng.next() % 100_000)),
                    3 => Call::Slow(rng.range(0, 60)),
                    4 | 5 => Call::AskBack(x),
                    6 => Call::Len(bulk_size(rng)),
                    _ => Call::MakeBytes(bulk_size(rng)),
                }
            })
            .collect();
        groups.push(group);
    }
    groups
}

/// Groups of calls for the [`Vault`] client.
pub(super) fn vault_workload(rng: &mut XorShift) -> Vec<Vec<Call>> {
    let mut groups = Vec::new();
    for _ in 0..rng.range(6, 9) {
        let group = (0..rng.range(1, 3))
            .map(|_| {
                let x = rng.range(0, 1 << 20) as i64;
                if rng.chance(50) {
                    Call::Open(rng.range(1, 1 << 30), x)
                } else {
                    Call::Apply(x, rng.range(0, 1_000) as i64)
                }
            })
            .collect();
        groups.push(group);
    }
    groups
}

/// Deterministic bytes for `len`.
fn pattern(n: usize, salt: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(31) ^ salt) as u8).collect()
}

/// What became of one call.
enum Outcome {
    Ok,
    /// A connection-level failure: allowed under destructive faults.
    Lost(String),
    /// A wrong answer, a non-connection error, or a hang: always a bug.
    Bad(String),
}

/// True for the errors a broken, stalled or closed connection may cause; false for any sign
/// that bytes were misread (frame, protocol, decode errors) or that a call got another's reply.
fn connection_level(e: &Error) -> bool {
    match e {
        Error::Io(_) | Error::Timeout(_) | Error::Handshake(_) => true,
        Error::ConnectionClosed(None) => true,
        Error::ConnectionClosed(Some(reason)) => connection_level(reason),
        Error::Frame(FrameError::Truncated { .. }) => true,
        Error::PeerClosed(reason) => reason.contains("stream ended inside a frame"),
        _ => false,
    }
}

/// A callback or a call back made by the server failed because the connection did: the
/// server answers with that error.
fn remote_connection_level(e: &Error) -> bool {
    match e {
        Error::Remote(r) => {
            r.kind == RemoteErrorKind::Application
                && [
                    "call timed out",
                    "connection closed",
                    "the peer closed the connection",
                ]
                .iter()
                .any(|m| r.message.contains(m))
        }
        _ => false,
    }
}

/// A short name for a connection-level error, for the summary.
fn kind(e: &Error) -> String {
    match e {
        Error::Io(io) => format!("Io({:?})", io.kind()),
        Error::Timeout(_) => "Timeout".into(),
        Error::Handshake(_) => "Handshake".into(),
        Error::ConnectionClosed(None) => "ConnectionClosed".into(),
        Error::ConnectionClosed(Some(reason)) => format!("ConnectionClosed({})", kind(reason)),
        Error::Frame(_) => "Frame(Truncated)".into(),
        Error::PeerClosed(_) => "PeerClosed(truncated frame)".into(),
        Error::Remote(r) => format!("Remote({})", r.message),
        other => format!("{other:?}"),
    }
}

fn judge<T: PartialEq + std::fmt::Debug>(call: &Call, got: rpc::Result<T>, want: T) -> Outcome {
    match got {
        Ok(v) if v == want => Outcome::Ok,
        Ok(v) => Outcome::Bad(format!("{call:?} answered {v:?}, expected {want:?}")),
        Err(e) if connection_level(&e) => Outcome::Lost(kind(&e)),
        Err(e) if remote_connection_level(&e) && matches!(call, Call::AskBack(_) | Call::Apply(..)) => {
            Outcome::Lost(kind(&e))
        }
        Err(e) => Outcome::Bad(format!("{call:?} failed with a non-connection error: {e:?}")),
    }
}

/// Runs one call; `callbacks` counts the live callbacks it passed.
async fn run_call(root: &NetRef, call: &Call, callbacks: &Arc<AtomicUsize>) -> Outcome {
    match call {
        Call::Test(x) => judge(call, root.call::<i64>("test", (*x,)).await, x + 1),
        Call::Add(a, b) => judge(call, root.call::<i64>("add", (*a, *b)).await, a + b),
        Call::Greet(name) => judge(
            call,
            root.call::<String>("greet", (name.as_str(),)).await,
            format!("hello {name}"),
        ),
        Call::Slow(ms) => judge(
            call,
            root.call::<String>("slow", (*ms,)).await,
            format!("slept {ms}"),
        ),
        Call::AskBack(x) => judge(call, root.call::<i64>("ask_back", (*x,)).await, 2 * x),
        Call::Len(n) => {
            let data = ByteBuf::from(pattern(*n, *n));
            judge(call, root.call::<usize>("len", (data,)).await, *n)
        }
        Call::MakeBytes(n) => judge(
            call,
            root.call::<ByteBuf>("make_bytes", (*n,))
                .await
                .map(ByteBuf::into_vec),
            vec![7u8; *n],
        ),
        Call::Open(tag, x) => {
            let file = match root.call::<NetRef>("open", (*tag,)).await {
                Ok(f) => f,
                Err(e) => return judge(call, Err::<(), _>(e), ()),
            };
            let steps = async {
                let t: u64 = file.call("tag", ()).await?;
                let m: i64 = file.call("mix", (*x,)).await?;
                let home: Option<u64> = root.call("tag_of", (file.clone(),)).await?;
                Ok((t, m, home))
            };
            let got = steps.await;
            drop(file);
            judge(call, got, (*tag, *tag as i64 * 1_000 + x, Some(*tag)))
        }
        Call::Apply(x, k) => {
            let k = *k;
            let live = Live::new(callbacks);
            let f = Callback::new(move |v: i64| {
                let _alive = &live;
                3 * v + k
            });
            judge(call, root.call::<i64>("apply", (f, *x)).await, 3 * x + k)
        }
    }
}

/// What one session did.
#[derive(Default, Debug)]
pub(super) struct Tally {
    pub(super) ok: usize,
    pub(super) lost: usize,
    pub(super) conns: u64,
    /// How the lost calls failed.
    pub(super) why: BTreeMap<String, usize>,
}

impl Tally {
    fn lose(&mut self, n: usize, why: String) {
        self.lost += n;
        *self.why.entry(why).or_default() += n;
    }
}

/// Runs `groups` through the relay at `port`, reconnecting (up to [`MAX_CONNS`] times) after a
/// lost connection. Returns the tally and every connection it opened, still open or not.
pub(super) async fn session(
    seed: u64,
    port: u16,
    client_service: bool,
    groups: Vec<Vec<Call>>,
    callbacks: &Arc<AtomicUsize>,
) -> (Tally, Vec<Connection>) {
    let profile = Profile::of(seed);
    let config = profile.config();
    let deadline = profile.deadline();
    let mut tally = Tally::default();
    let mut used: Vec<Connection> = Vec::new();
    for group in groups {
        let live = used.last().filter(|c| !c.is_closed()).cloned();
        let conn = match live {
            Some(c) => c,
            None if tally.conns == MAX_CONNS => {
                tally.lose(group.len(), "no connection left".into());
                continue;
            }
            None => {
                tally.conns += 1;
                let service: Arc<dyn rpc::Service> = if client_service {
                    Arc::new(ClientService)
                } else {
                    Arc::new(rpc::VoidService)
                };
                let connect = rpc::connect_with(
                    "127.0.0.1",
                    port,
                    rpc::ConnectOptions::new()
                        .shared_service(service)
                        .config(config.clone()),
                );
                match tokio::time::timeout(deadline, connect).await {
                    Ok(Ok(c)) => {
                        used.push(c.clone());
                        c
                    }
                    Ok(Err(e)) if connection_level(&e) => {
                        tally.lose(group.len(), format!("connect: {}", kind(&e)));
                        continue;
                    }
                    Ok(Err(e)) => panic!("seed {seed}: connecting failed with {e:?}"),
                    Err(_) => panic!("seed {seed}: connecting hung past {deadline:?}"),
                }
            }
        };
        let root = conn.root();
        let calls = group.iter().map(|call| {
            let root = &root;
            async move {
                match tokio::time::timeout(deadline, run_call(root, call, callbacks)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Outcome::Bad(format!("{call:?} hung past {deadline:?}")),
                }
            }
        });
        for outcome in join_all(calls).await {
            match outcome {
                Outcome::Ok => tally.ok += 1,
                Outcome::Lost(why) => tally.lose(1, why),
                Outcome::Bad(what) => panic!("seed {seed}: {what}"),
            }
        }
    }
    (tally, used)
}
