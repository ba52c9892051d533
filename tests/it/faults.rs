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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use parking_lot::Mutex;
use rpc::core::frame::FrameError;
use rpc::serde_bytes::ByteBuf;
use rpc::server::Server;
use rpc::{service, Callback, Connection, ConnectionConfig, Error, NetRef, Object, RemoteErrorKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

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

// ---------------------------------------------------------------------------------------------
// The generator and the schedule

/// xorshift64, seeded through splitmix64 so that neighbouring seeds diverge at once.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        XorShift((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What a seed's relays may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// Only split writes: nothing may fail.
    SplitOnly,
    /// Only delays: nothing may fail.
    DelayOnly,
    /// Splits and delays: nothing may fail.
    Benign,
    /// Splits, delays and stalls: calls may time out, the connection must survive.
    Stalls,
    /// Everything, resets and half-closes included.
    Hostile,
}

impl Profile {
    fn of(seed: u64) -> Self {
        match seed % 8 {
            0 => Profile::SplitOnly,
            1 => Profile::DelayOnly,
            2 => Profile::Benign,
            3 => Profile::Stalls,
            _ => Profile::Hostile,
        }
    }

    /// No call may fail.
    fn lossless(self) -> bool {
        matches!(self, Profile::SplitOnly | Profile::DelayOnly | Profile::Benign)
    }

    /// The call and handshake timeout of the seed's connections.
    fn call_timeout(self) -> Duration {
        if self.lossless() {
            LOSSLESS_CALL_TIMEOUT
        } else {
            CALL_TIMEOUT
        }
    }

    /// A call or a connect that takes longer than this hangs: a failure.
    fn deadline(self) -> Duration {
        self.call_timeout() + Duration::from_secs(4)
    }

    fn config(self) -> ConnectionConfig {
        ConnectionConfig::default()
            .call_timeout(Some(self.call_timeout()))
            .handshake_timeout(self.call_timeout())
    }

    /// Every connection survives.
    fn keeps_connections(self) -> bool {
        self != Profile::Hostile
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Holds the bytes from here for a moment (a few ms).
    Delay(Duration),
    /// Writes the next `bytes` bytes in pieces of 1 to `piece` bytes.
    Split { bytes: u64, piece: u64 },
    /// Pauses the direction for long (up to past the call timeout).
    Stall(Duration),
    /// Drops both sockets with zero linger: each side gets a reset.
    Reset,
    /// Shuts down the write side of this direction and discards what else comes.
    HalfClose,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    /// Byte offset of the direction's stream at which the fault applies.
    at: u64,
    fault: Fault,
}

/// The faults of one direction of one relayed connection: a pure function of its arguments.
fn schedule(seed: u64, salt: u64, conn: u64, dir: Dir, profile: Profile) -> Vec<Event> {
    let d = match dir {
        Dir::Up => 0,
        Dir::Down => 1,
    };
    let mut rng = XorShift::new(seed.wrapping_mul(1_000_003) ^ (salt << 40) ^ (conn << 8) ^ d);
    let mut events = Vec::new();
    // The first event may land inside the handshake.
    let mut at = rng.range(0, 48);
    let mut stalls = 0;
    let count = rng.range(20, 200);
    for _ in 0..count {
        let fault = match profile {
            Profile::SplitOnly => split(&mut rng),
            Profile::DelayOnly => delay(&mut rng),
            Profile::Benign if rng.chance(50) => split(&mut rng),
            Profile::Benign => delay(&mut rng),
            Profile::Stalls => match rng.range(0, 99) {
                0..=44 => split(&mut rng),
                45..=89 => delay(&mut rng),
                // Not inside the handshake: a stalled hello times the handshake out on one
                // side while the other side's completes, and that connection is lost.
                _ if stalls < 2 && at >= 1_024 => {
                    stalls += 1;
                    stall(&mut rng)
                }
                _ => delay(&mut rng),
            },
            Profile::Hostile => match rng.range(0, 99) {
                0..=44 => split(&mut rng),
                45..=84 => delay(&mut rng),
                85..=91 if stalls < 2 => {
                    stalls += 1;
                    stall(&mut rng)
                }
                85..=91 => delay(&mut rng),
                92..=95 => Fault::Reset,
                _ => Fault::HalfClose,
            },
        };
        events.push(Event { at, fault });
        if matches!(fault, Fault::Reset | Fault::HalfClose) {
            break;
        }
        at += match rng.range(0, 99) {
            0..=49 => rng.range(1, 256),
            50..=84 => rng.range(256, 8_192),
            _ => rng.range(8_192, 131_072),
        };
    }
    events
}

fn split(rng: &mut XorShift) -> Fault {
    Fault::Split {
        bytes: rng.range(1, 3_000),
        piece: rng.range(1, 16),
    }
}

fn stall(rng: &mut XorShift) -> Fault {
    Fault::Stall(Duration::from_millis(rng.range(100, 2_500)))
}

fn delay(rng: &mut XorShift) -> Fault {
    Fault::Delay(Duration::from_millis(rng.range(1, 15)))
}

/// The schedules of a seed's first connections, for failure messages.
fn describe_schedules(seed: u64) -> String {
    let profile = Profile::of(seed);
    let mut out = format!("seed {seed} ({profile:?}); rerun alone with RPC_FAULT_SEED={seed}\n");
    for (name, salt) in [("test", SALT_TEST), ("vault", SALT_VAULT)] {
        for conn in 0..MAX_CONNS {
            for dir in [Dir::Up, Dir::Down] {
                let events = schedule(seed, salt, conn, dir, profile);
                let shown: Vec<String> = events
                    .iter()
                    .filter(|e| !matches!(e.fault, Fault::Delay(_) | Fault::Split { .. }))
                    .map(|e| format!("{:?}@{}", e.fault, e.at))
                    .collect();
                out.push_str(&format!(
                    "  {name} conn {conn} {dir:?}: {} events, first at byte {}, stalls/ends: [{}]\n",
                    events.len(),
                    events.first().map_or(0, |e| e.at),
                    shown.join(", ")
                ));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The relay

/// How many faults the relays applied, over all seeds.
#[derive(Default)]
struct Applied {
    delays: AtomicUsize,
    splits: AtomicUsize,
    stalls: AtomicUsize,
    resets: AtomicUsize,
    half_closes: AtomicUsize,
}

/// A fault-injecting relay from `127.0.0.1:<port>` to a loopback server; stops when dropped.
struct Relay {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The accept task owns every connection task: they all go.
        self.task.abort();
    }
}

impl Relay {
    async fn start(target: u16, seed: u64, salt: u64, applied: Arc<Applied>) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let profile = Profile::of(seed);
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let mut n = 0;
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let up = schedule(seed, salt, n, Dir::Up, profile);
                        let down = schedule(seed, salt, n, Dir::Down, profile);
                        let pump_seed = seed ^ (salt << 48) ^ (n << 16);
                        conns.spawn(relay_one(client, target, up, down, pump_seed, applied.clone()));
                        n += 1;
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Relay { port, task }
    }
}

/// How a pump ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Source finished or failed; the destination's write side was shut down.
    Done,
    /// A reset: the caller drops every socket at once.
    Reset,
}

async fn relay_one(
    mut client: TcpStream,
    target: u16,
    up: Vec<Event>,
    down: Vec<Event>,
    pump_seed: u64,
    applied: Arc<Applied>,
) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
        return;
    };
    // Pieces of a split write leave as separate segments.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let reset = {
        // Borrowed halves: unlike owned ones, they send no FIN when dropped, so a reset is
        // nothing but a reset.
        let (cr, cw) = client.split();
        let (sr, sw) = server.split();
        let up = pump(cr, sw, up, XorShift::new(pump_seed), applied.clone());
        let down = pump(sr, cw, down, XorShift::new(pump_seed ^ 1), applied);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                end = &mut up, if !up_done => {
                    if end == End::Reset {
                        break true;
                    }
                    up_done = true;
                }
                end = &mut down, if !down_done => {
                    if end == End::Reset {
                        break true;
                    }
                    down_done = true;
                }
                else => break false,
            }
        }
    };
    if reset {
        // Zero linger: closing the sockets sends a reset each way, whatever is unsent.
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
}

/// Forwards `from` to `to`, applying `events` at their byte offsets.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    events: Vec<Event>,
    mut rng: XorShift,
    applied: Arc<Applied>,
) -> End {
    let mut events = events.into_iter().peekable();
    let mut pos: u64 = 0;
    let mut split_left: u64 = 0;
    let mut piece: u64 = 1;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return End::Done;
            }
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            while let Some(event) = events.next_if(|e| e.at <= pos) {
                match event.fault {
                    Fault::Delay(d) => {
                        applied.delays.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(d).await;
                    }
                    Fault::Split { bytes, piece: p } => {
                        applied.splits.fetch_add(1, Ordering::Relaxed);
                        split_left = bytes;
                        piece = p;
                    }
                    Fault::Stall(d) => {
                        applied.stalls.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(d).await;
                    }
                    Fault::Reset => {
                        applied.resets.fetch_add(1, Ordering::Relaxed);
                        return End::Reset;
                    }
                    Fault::HalfClose => {
                        applied.half_closes.fetch_add(1, Ordering::Relaxed);
                        let _ = to.shutdown().await;
                        // The source may go on writing: its bytes go nowhere.
                        while matches!(from.read(&mut buf).await, Ok(n) if n > 0) {}
                        return End::Done;
                    }
                }
            }
            let mut take = chunk.len() as u64;
            if let Some(next) = events.peek() {
                take = take.min(next.at - pos);
            }
            let wrote = if split_left > 0 {
                take = take.min(split_left);
                let mut rest = &chunk[..take as usize];
                let mut ok = true;
                while !rest.is_empty() && ok {
                    let k = (rng.range(1, piece) as usize).min(rest.len());
                    ok = to.write_all(&rest[..k]).await.is_ok();
                    rest = &rest[k..];
                    if rng.chance(3) {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
                split_left -= take;
                ok
            } else {
                to.write_all(&chunk[..take as usize]).await.is_ok()
            };
            if !wrote {
                // The destination is gone; its reader side ends the other pump.
                return End::Done;
            }
            pos += take;
            chunk = &chunk[take as usize..];
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Services

/// Counts live instances: one more while it exists.
struct Live(Arc<AtomicUsize>);

impl Live {
    fn new(count: &Arc<AtomicUsize>) -> Live {
        count.fetch_add(1, Ordering::SeqCst);
        Live(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

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
    conns: Mutex<Vec<Connection>>,
    /// [`Tagged`] objects not yet freed.
    tagged: Arc<AtomicUsize>,
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
enum Call {
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

/// Groups of calls to run concurrently, for the [`TestService`] client.
fn test_workload(rng: &mut XorShift) -> Vec<Vec<Call>> {
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
fn vault_workload(rng: &mut XorShift) -> Vec<Vec<Call>> {
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
struct Tally {
    ok: usize,
    lost: usize,
    conns: u64,
    /// How the lost calls failed.
    why: BTreeMap<String, usize>,
}

impl Tally {
    fn lose(&mut self, n: usize, why: String) {
        self.lost += n;
        *self.why.entry(why).or_default() += n;
    }
}

/// Runs `groups` through the relay at `port`, reconnecting (up to [`MAX_CONNS`] times) after a
/// lost connection. Returns the tally and every connection it opened, still open or not.
async fn session(
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
                let connect = rpc::connect_tcp("127.0.0.1", port, service, config.clone());
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
        let conn = rpc::connect_tcp("127.0.0.1", test_port, Arc::new(ClientService), config.clone())
            .await
            .expect("a direct client connects to the test server");
        let n: i64 = conn.root().call("ask_back", (21,)).await.expect("a direct call");
        assert_eq!(n, 42);
        conn.close().await;
        let conn = rpc::connect_tcp("127.0.0.1", vault_port, Arc::new(rpc::VoidService), config)
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
