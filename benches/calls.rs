//! Call benchmarks: rpc calls over loopback TCP, each beside a raw tokio TCP ping-pong of the
//! same frame sizes measured in the same run. The ratio is the figure that counts.
//!
//! Run: `cargo bench --bench calls` (pin to one CPU: `taskset -c 0 cargo bench --bench calls`).
//!
//! * Sequential latency: one call at a time (`null()`, `echo(i64)`), p50/p99/mean; the raw side
//!   sends a request frame of the rpc request's size and gets a reply of the rpc reply's size.
//! * Pipelined throughput: 64 calls in flight on one connection; the raw side keeps 64 frames
//!   outstanding on one connection to an echo server.
//! * Callback round trip: `call_back(f, x)` makes the server call the client's closure `f` once
//!   during the call (2 round trips in all). The same `Callback` is passed on every call, and in
//!   a second variant the server keeps it between calls. The raw side makes 2 round trips with
//!   the 4 frames' sizes; the callback's own cost is reported as (outer call - null call).
//! * NetRef churn: per iteration `open()` returns a fresh object by reference, one method is
//!   called on it, and it is dropped (a batched `Release`); the raw side makes 2 round trips. At
//!   the end the server's export table must be empty again.
//! * One-way calls: N `tick()` calls sent with `call_oneway` in a plain loop, the same loop
//!   yielding every 256 calls, and N calls through the typed client of a `#[oneway]` method;
//!   the server counts them and a final normal `take_ticks()` call must return N. The raw side
//!   streams 10 N frames of the same size to a server that counts them, then makes one
//!   ping-pong.
//! * Batched calls: `rpc::Batch`es of 100 `null()` calls (one frame each), 1 and 4 batches in
//!   flight; the raw side sends a frame of the batch's size and gets 100 reply frames back.
//!   The pipelined, one-way and batched rates are printed again together at the end.
//!
//! rpc and raw samples are taken in alternating rounds so that drift of the machine hits both.
//! Without `--bench` (as `cargo test --benches` runs it) it does a quick smoke run instead.
//! Other arguments filter the scenarios by name, e.g. `cargo bench --bench calls -- flight`.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    median, ping_frame_of, start_raw_cycle_server, start_raw_fanout_server, start_raw_server,
    start_raw_sink_server, Latency, RawClient,
};
use parking_lot::Mutex;
use rpc::core::frame::encode_frame;
use rpc::core::protocol::{Message, ObjectId, Op, Request, FLAG_ONEWAY, ROOT_ID};
use rpc::server::Server;
use rpc::{service, Args, Batch, Callback, Connection, NetRef, Value};

/// The benchmarked service: as little work as a call can do.
#[derive(Default)]
struct BenchService {
    /// The callback `keep` stored, for `call_kept`.
    kept: Mutex<Option<Callback>>,
    /// The `tick`s counted since the last `take_ticks`, shared by the connections' services so
    /// that the harness can watch it (only the one-way scenario's connection ticks).
    ticks: Arc<AtomicU64>,
}

#[service]
impl BenchService {
    /// Does nothing.
    fn exposed_null(&self) {}

    /// Returns its argument.
    fn exposed_echo(&self, x: i64) -> i64 {
        x
    }

    /// Calls the client's closure `f` once with `x` and returns its answer.
    async fn exposed_call_back(&self, f: Callback, x: i64) -> Result<i64, rpc::Error> {
        f.call((x,)).await
    }

    /// Keeps `f` (and so the server's proxy of it) until `forget`.
    fn exposed_keep(&self, f: Callback) {
        *self.kept.lock() = Some(f);
    }

    /// Drops the kept callback.
    fn exposed_forget(&self) {
        self.kept.lock().take();
    }

    /// Calls the kept callback once with `x` and returns its answer.
    async fn exposed_call_kept(&self, x: i64) -> Result<i64, rpc::Error> {
        let f = self.kept.lock().clone();
        match f {
            Some(f) => f.call((x,)).await,
            None => Err(rpc::Error::Decode("call_kept before keep".into())),
        }
    }

    /// The export id under which this call received `f` (0 if it is not the client's).
    fn exposed_callback_id(&self, f: Callback) -> u64 {
        f.netref().map_or(0, NetRef::id)
    }

    /// A fresh counter, returned by reference.
    fn exposed_open(&self) -> Counter {
        Counter::default()
    }

    /// Counts one call (the one-way scenario sends it with `call_oneway`).
    fn exposed_tick(&self) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// The same, declared one-way: the typed client's `tick_oneway()` sends it without a reply.
    #[oneway]
    fn exposed_tick_oneway(&self) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// The ticks counted since the last call, starting the count over.
    fn exposed_take_ticks(&self) -> u64 {
        self.ticks.swap(0, Ordering::Relaxed)
    }

    /// How many objects the server exports on this connection.
    fn exposed_exported(&self, conn: &Connection) -> usize {
        conn.stats().exported_objects
    }
}

/// The object `open()` hands out by reference in the NetRef churn scenario.
#[derive(Default)]
struct Counter {
    /// The count.
    n: AtomicI64,
}

#[service]
impl Counter {
    /// Adds one and returns the new count.
    fn exposed_incr(&self) -> i64 {
        self.n.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// How much to measure.
struct Plan {
    /// Untimed iterations before each latency scenario (each side).
    warmup: usize,
    /// Timed latency samples (each side), split over `rounds`.
    samples: usize,
    /// Alternating rpc/raw rounds.
    rounds: usize,
    /// Calls in flight in the throughput scenario.
    window: usize,
    /// Calls per throughput round.
    pipelined_calls: usize,
    /// One-way calls per round.
    oneway_calls: usize,
    /// Batches per round.
    batches: usize,
    /// Calls per batch.
    batch_size: usize,
    /// Batches in flight in the concurrent batch scenario.
    batch_window: usize,
    /// Run only the scenarios whose row names contain one of these (all when empty).
    filters: Vec<String>,
}

impl Plan {
    /// The real run, or a quick smoke run when not invoked by `cargo bench`.
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let filters = args.iter().filter(|a| !a.starts_with('-')).cloned().collect();
        if args.iter().any(|a| a == "--bench") {
            Plan {
                warmup: 2_000,
                samples: 20_000,
                rounds: 5,
                window: 64,
                pipelined_calls: 200_000,
                oneway_calls: 200_000,
                batches: 2_000,
                batch_size: 100,
                batch_window: 4,
                filters,
            }
        } else {
            Plan {
                warmup: 50,
                samples: 500,
                rounds: 5,
                window: 64,
                pipelined_calls: 2_000,
                oneway_calls: 2_000,
                batches: 20,
                batch_size: 100,
                batch_window: 4,
                filters,
            }
        }
    }

    /// Whether the scenario named `name` is to run.
    fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// No scenario may run longer than this; a hang fails the benchmark instead of stalling it.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

/// A call the latency scenarios make.
#[derive(Clone, Copy)]
enum Call {
    /// `root.null()`.
    Null,
    /// `root.echo(x)`.
    Echo,
}

impl Call {
    /// The row label.
    fn label(self) -> &'static str {
        match self {
            Call::Null => "null()",
            Call::Echo => "echo(i64)",
        }
    }

    /// Makes the call once.
    async fn run(self, root: &NetRef, i: i64) {
        match self {
            Call::Null => root.call::<()>("null", ()).await.expect("null call"),
            Call::Echo => {
                let back: i64 = root.call("echo", (i,)).await.expect("echo call");
                assert_eq!(back, i);
            }
        }
    }

    /// Bytes on the wire (length prefix included) of this call's request and reply, with a
    /// sequence number of the magnitude the run uses.
    fn frame_sizes(self) -> (usize, usize) {
        let (method, args, value) = match self {
            Call::Null => ("null", ().into_args(), Value::Unit),
            Call::Echo => ("echo", (1_000i64,).into_args(), Value::Int(1_000)),
        };
        let seq = 10_000;
        let args = args.expect("encode arguments");
        let request = Message::Request(Request {
            seq,
            target: ROOT_ID,
            op: Op::Call(method.into()),
            args,
            flags: 0,
        });
        (wire_len(&request), wire_len(&Message::Reply { seq, value }))
    }
}

/// Sequence number in the frames sized for the raw side (a 2-byte varint, as for `null()`).
const SEQ: u64 = 10_000;
/// Object id in those frames. A full run exports tens of thousands of objects (a fresh id per
/// `call_back` and per churn iteration), so ids there are 3-byte varints.
const REF_ID: ObjectId = 20_000;

/// Frame length of a request to `target`. An object reference among `args` is given as
/// `Value::UInt(id)`: a 1-byte tag and the id as a varint, exactly the size of the `SenderRef`
/// the connection writes (which can only be encoded on a live connection).
fn request_len(target: ObjectId, op: Op, args: Vec<Value>) -> usize {
    wire_len(&Message::Request(Request {
        seq: SEQ,
        target,
        op,
        args,
        flags: 0,
    }))
}

/// Frame length of a reply carrying `value`.
fn reply_len(value: Value) -> usize {
    wire_len(&Message::Reply { seq: SEQ, value })
}

/// The 4 frames of `call_back(f, 1000)`, in the order they travel: the outer request
/// (client to server), the callback request (server to client), the callback's reply (client
/// to server), the outer reply (server to client).
fn callback_frame_sizes() -> [usize; 4] {
    [
        request_len(
            ROOT_ID,
            Op::Call("call_back".into()),
            vec![Value::UInt(REF_ID), Value::Int(1_000)],
        ),
        request_len(REF_ID, Op::CallSelf, vec![Value::Int(1_000)]),
        reply_len(Value::Int(1_000)),
        reply_len(Value::Int(1_000)),
    ]
}

/// The 4 frames of one NetRef churn iteration: `open()` and its reply (a reference),
/// `incr()` on the new object and its reply. The one-way `Release` is not counted.
fn churn_frame_sizes() -> [usize; 4] {
    [
        request_len(ROOT_ID, Op::Call("open".into()), Vec::new()),
        reply_len(Value::UInt(REF_ID)),
        request_len(REF_ID, Op::Call("incr".into()), Vec::new()),
        reply_len(Value::Int(1)),
    ]
}

/// A raw client and server making the 2 round trips of `frames` (as the size functions above
/// order them) per [`raw_samples`] sample with `trips = 2`.
async fn raw_two_trips(frames: [usize; 4]) -> RawClient {
    let [out1, back1, out2, back2] = frames;
    let addr = start_raw_cycle_server(vec![back1, back2]).await;
    RawClient::connect_cycle(addr, &[out1, out2]).await
}

/// Times `n` samples of `trips` raw round trips each, appending nanoseconds to `out`.
async fn raw_samples(n: usize, trips: usize, raw: &mut RawClient, out: &mut Vec<u64>) {
    for _ in 0..n {
        let start = Instant::now();
        for _ in 0..trips {
            raw.round_trip().await;
        }
        out.push(start.elapsed().as_nanos() as u64);
    }
}

/// Length of a message's frame on the wire, as the connection encodes it.
fn wire_len(msg: &Message) -> usize {
    let mut out = Vec::new();
    encode_frame(&mut out, usize::MAX, |o| msg.encode_into(o))
        .expect("encode")
        .expect("frame size");
    out.len()
}

/// Times `n` sequential runs of `op`, appending nanoseconds to `out`.
async fn time_each<F, Fut>(n: usize, out: &mut Vec<u64>, mut op: F)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..n {
        let start = Instant::now();
        op(i).await;
        out.push(start.elapsed().as_nanos() as u64);
    }
}

/// Sequential latency of `call` and of the raw ping-pong of the same sizes.
async fn latency(plan: &Plan, root: &NetRef, call: Call) -> (Latency, Latency) {
    let (request_len, reply_len) = call.frame_sizes();
    let mut raw = RawClient::connect(start_raw_server(reply_len).await, request_len).await;
    let (mut rpc_ns, mut raw_ns) = (Vec::with_capacity(plan.samples), Vec::with_capacity(plan.samples));
    let mut warm = Vec::new();
    time_each(plan.warmup, &mut warm, |i| call.run(root, i as i64)).await;
    for _ in 0..plan.warmup {
        raw.round_trip().await;
    }
    let per_round = plan.samples / plan.rounds;
    for _ in 0..plan.rounds {
        time_each(per_round, &mut rpc_ns, |i| call.run(root, i as i64)).await;
        for _ in 0..per_round {
            let start = Instant::now();
            raw.round_trip().await;
            raw_ns.push(start.elapsed().as_nanos() as u64);
        }
    }
    (Latency::of(&mut rpc_ns), Latency::of(&mut raw_ns))
}

/// `total` null calls from `window` tasks sharing one connection; returns calls per second.
async fn rpc_pipelined(root: &NetRef, window: usize, total: usize) -> f64 {
    let per_task = total / window;
    let start = Instant::now();
    let tasks: Vec<_> = (0..window)
        .map(|_| {
            let root = root.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    Call::Null.run(&root, i as i64).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("pipelined task");
    }
    (per_task * window) as f64 / start.elapsed().as_secs_f64()
}

/// Pipelined throughput of null calls and of the raw baseline (median of the rounds).
async fn throughput(plan: &Plan, root: &NetRef) -> (f64, f64) {
    let (request_len, reply_len) = Call::Null.frame_sizes();
    let mut raw = RawClient::connect(start_raw_server(reply_len).await, request_len).await;
    let total = plan.pipelined_calls;
    rpc_pipelined(root, plan.window, total / 10).await;
    raw.pipelined(plan.window, total / 10).await;
    let (mut rpc_rates, mut raw_rates) = (Vec::new(), Vec::new());
    for _ in 0..plan.rounds.min(3) {
        rpc_rates.push(rpc_pipelined(root, plan.window, total).await);
        raw_rates.push(total as f64 / raw.pipelined(plan.window, total).await.as_secs_f64());
    }
    (median(&mut rpc_rates), median(&mut raw_rates))
}

/// Calls `call_back(f, i)` and checks the answer.
async fn call_back(root: &NetRef, f: &Callback, i: i64) {
    let back: i64 = root.call("call_back", (f.clone(), i)).await.expect("call_back");
    assert_eq!(back, i);
}

/// Calls `call_kept(i)` and checks the answer.
async fn call_kept(root: &NetRef, i: i64) {
    let back: i64 = root.call("call_kept", (i,)).await.expect("call_kept");
    assert_eq!(back, i);
}

/// Waits (bounded) until `count()` gives 0; returns what it gave last.
async fn settles_to_zero<F, Fut>(mut count: F) -> usize
where
    F: FnMut() -> Fut,
    Fut: Future<Output = usize>,
{
    let mut last = count().await;
    for _ in 0..500 {
        if last == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        last = count().await;
    }
    last
}

/// What the callback scenario measured.
struct CallbackFigures {
    /// `call_back(f, x)` with the same `f` passed every time.
    passed: Latency,
    /// `call_kept(x)`: the server calls the `f` it kept.
    kept: Latency,
    /// `null()`, in the same rounds.
    null: Latency,
    /// Raw: 2 round trips of the callback's frame sizes.
    raw_two: Latency,
    /// Raw: 1 round trip of the null call's frame sizes.
    raw_one: Latency,
    /// Export ids the server saw for the same `f` on 3 sequential calls, passed each time.
    ids_passed: Vec<u64>,
    /// The same while the server kept `f`.
    ids_kept: Vec<u64>,
    /// Objects the client exported after the scenario (0: the server released `f`).
    client_exports_after: usize,
}

/// The export ids under which the server receives `f` on 3 sequential calls.
async fn ids_seen(root: &NetRef, f: &Callback) -> Vec<u64> {
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            root.call::<u64>("callback_id", (f.clone(),))
                .await
                .expect("callback_id"),
        );
    }
    ids
}

/// Callback round trips: the same client closure called back by the server, passed on every
/// call and kept on the server, beside null calls and raw ping-pongs, in alternating rounds.
async fn callback_latency(plan: &Plan, conn: &Connection) -> CallbackFigures {
    let root = conn.root();
    // One closure for the whole run: passing it again sends the same object.
    let f = Callback::new(|x: i64| x);
    let (null_request, null_reply) = Call::Null.frame_sizes();
    let mut raw_one = RawClient::connect(start_raw_server(null_reply).await, null_request).await;
    let mut raw_two = raw_two_trips(callback_frame_sizes()).await;
    let n = plan.samples;
    let (mut passed, mut kept, mut null) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut two, mut one) = (Vec::with_capacity(n), Vec::with_capacity(n));

    let mut warm = Vec::new();
    time_each(plan.warmup, &mut warm, |i| call_back(&root, &f, i as i64)).await;
    root.call::<()>("keep", (f.clone(),)).await.expect("keep");
    time_each(plan.warmup, &mut warm, |i| call_kept(&root, i as i64)).await;
    root.call::<()>("forget", ()).await.expect("forget");
    time_each(plan.warmup, &mut warm, |i| Call::Null.run(&root, i as i64)).await;
    raw_samples(plan.warmup, 2, &mut raw_two, &mut warm).await;
    raw_samples(plan.warmup, 1, &mut raw_one, &mut warm).await;

    let per_round = n / plan.rounds;
    for _ in 0..plan.rounds {
        // Kept first, then forgotten, so that the passed calls find no proxy left on the server.
        root.call::<()>("keep", (f.clone(),)).await.expect("keep");
        time_each(per_round, &mut kept, |i| call_kept(&root, i as i64)).await;
        root.call::<()>("forget", ()).await.expect("forget");
        settles_to_zero(|| async { conn.stats().exported_objects }).await;
        time_each(per_round, &mut passed, |i| call_back(&root, &f, i as i64)).await;
        time_each(per_round, &mut null, |i| Call::Null.run(&root, i as i64)).await;
        raw_samples(per_round, 2, &mut raw_two, &mut two).await;
        raw_samples(per_round, 1, &mut raw_one, &mut one).await;
    }

    let ids_passed = ids_seen(&root, &f).await;
    root.call::<()>("keep", (f.clone(),)).await.expect("keep");
    let ids_kept = ids_seen(&root, &f).await;
    root.call::<()>("forget", ()).await.expect("forget");
    let client_exports_after = settles_to_zero(|| async { conn.stats().exported_objects }).await;
    CallbackFigures {
        passed: Latency::of(&mut passed),
        kept: Latency::of(&mut kept),
        null: Latency::of(&mut null),
        raw_two: Latency::of(&mut two),
        raw_one: Latency::of(&mut one),
        ids_passed,
        ids_kept,
        client_exports_after,
    }
}

/// One NetRef churn iteration: open a fresh counter, call it once, drop it.
async fn churn_once(root: &NetRef) {
    let counter: NetRef = root.call("open", ()).await.expect("open");
    let n: i64 = counter.call("incr", ()).await.expect("incr");
    assert_eq!(n, 1);
    // Dropping the last clone queues a Release, batched by the writer with whatever follows.
    drop(counter);
}

/// What the NetRef churn scenario measured.
struct ChurnFigures {
    /// Per iteration (2 calls and a drop).
    rpc: Latency,
    /// Per raw iteration (2 round trips).
    raw: Latency,
    /// Iterations per second, over the timed samples.
    rpc_rate: f64,
    /// Raw iterations per second.
    raw_rate: f64,
    /// Objects the server still exported at the end (after a bounded wait for the releases).
    server_exports_after: usize,
    /// Proxies the client still held at the end.
    client_imports_after: usize,
    /// Objects the server exported right after the last timed iteration (releases in flight).
    server_exports_at_end: usize,
}

/// NetRef churn beside 2 raw round trips per iteration, in alternating rounds.
async fn netref_churn(plan: &Plan, conn: &Connection) -> ChurnFigures {
    let root = conn.root();
    let mut raw = raw_two_trips(churn_frame_sizes()).await;
    let (mut rpc_ns, mut raw_ns) = (Vec::with_capacity(plan.samples), Vec::with_capacity(plan.samples));
    let mut warm = Vec::new();
    time_each(plan.warmup, &mut warm, |_| churn_once(&root)).await;
    raw_samples(plan.warmup, 2, &mut raw, &mut warm).await;
    let per_round = plan.samples / plan.rounds;
    for _ in 0..plan.rounds {
        time_each(per_round, &mut rpc_ns, |_| churn_once(&root)).await;
        raw_samples(per_round, 2, &mut raw, &mut raw_ns).await;
    }
    let rate = |ns: &[u64]| ns.len() as f64 / (ns.iter().sum::<u64>() as f64 / 1e9);
    let (rpc_rate, raw_rate) = (rate(&rpc_ns), rate(&raw_ns));
    let server_exports = || async { root.call::<usize>("exported", ()).await.expect("exported") };
    let server_exports_at_end = server_exports().await;
    let server_exports_after = settles_to_zero(server_exports).await;
    ChurnFigures {
        rpc: Latency::of(&mut rpc_ns),
        raw: Latency::of(&mut raw_ns),
        rpc_rate,
        raw_rate,
        server_exports_after,
        client_imports_after: conn.stats().imported_objects,
        server_exports_at_end,
    }
}

/// Raw one-way frames go out this many per write: the most frames the rpc writer task takes
/// from its queue for one write, so the raw side cannot win by larger writes alone.
const RAW_FRAMES_PER_WRITE: usize = 256;

/// A raw one-way round streams this many times as many frames as an rpc round sends calls: the
/// raw side is so fast that the rpc count would take it only a few milliseconds, too short to
/// time steadily.
const RAW_ONEWAY_REPEAT: usize = 10;

/// The yielding caller gives the runtime a turn after this many one-way calls.
const YIELD_EVERY: usize = 256;

/// A way of sending the one-way `tick`.
#[derive(Clone, Copy)]
enum OneWay {
    /// `root.call_oneway("tick", ())` in a plain loop (a method not declared one-way).
    Dynamic,
    /// The same, with `tokio::task::yield_now()` after every [`YIELD_EVERY`] calls.
    Yielding,
    /// The typed client's `tick_oneway()` in a plain loop (a method declared `#[oneway]`).
    Declared,
}

impl OneWay {
    /// Every way, in table order.
    const ALL: [OneWay; 3] = [OneWay::Dynamic, OneWay::Yielding, OneWay::Declared];

    /// The row label.
    fn label(self) -> &'static str {
        match self {
            OneWay::Dynamic => "one-way call_oneway(tick)",
            OneWay::Yielding => "one-way call_oneway, yield/256",
            OneWay::Declared => "one-way #[oneway] tick_oneway()",
        }
    }

    /// The remote method's name.
    fn method(self) -> &'static str {
        match self {
            OneWay::Dynamic | OneWay::Yielding => "tick",
            OneWay::Declared => "tick_oneway",
        }
    }

    /// Bytes on the wire of one call's frame (sequence number 0 and the one-way flag, as
    /// `call_oneway` sends it).
    fn frame_len(self) -> usize {
        wire_len(&Message::Request(Request {
            seq: 0,
            target: ROOT_ID,
            op: Op::Call(self.method().into()),
            args: Vec::new(),
            flags: FLAG_ONEWAY,
        }))
    }

    /// Sends `n` calls.
    async fn send(self, root: &NetRef, typed: &BenchServiceClient, n: usize) {
        match self {
            OneWay::Dynamic => {
                for _ in 0..n {
                    root.call_oneway("tick", ()).expect("one-way call queued");
                }
            }
            OneWay::Yielding => {
                for i in 1..=n {
                    root.call_oneway("tick", ()).expect("one-way call queued");
                    if i % YIELD_EVERY == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }
            OneWay::Declared => {
                for _ in 0..n {
                    typed.tick_oneway().expect("one-way call queued");
                }
            }
        }
    }
}

/// One round of one-way calls.
struct OneWayRound {
    /// Calls per second, `take_ticks()` included.
    rate: f64,
    /// Nanoseconds per call the caller spent in its loop sending the calls.
    send_ns: f64,
    /// The share of the calls the server had already run when that loop ended.
    run_early: f64,
}

/// Sends `n` one-way ticks, then calls `take_ticks()`, which runs after all of them (a one-way
/// call of a synchronous method runs inline, in order, before later requests on the
/// connection). `ticks` is the server's counter, read when the sending loop ends. Fails unless
/// the server counted exactly `n`.
async fn rpc_oneway(
    root: &NetRef,
    typed: &BenchServiceClient,
    ticks: &AtomicU64,
    way: OneWay,
    n: usize,
) -> OneWayRound {
    let start = Instant::now();
    way.send(root, typed, n).await;
    let sent = start.elapsed();
    let run_early = ticks.load(Ordering::Relaxed);
    let counted: u64 = root.call("take_ticks", ()).await.expect("take_ticks");
    let elapsed = start.elapsed();
    assert_eq!(
        counted,
        n as u64,
        "{}: the server counted {counted} of the {n} one-way calls sent before take_ticks()",
        way.label()
    );
    OneWayRound {
        rate: n as f64 / elapsed.as_secs_f64(),
        send_ns: sent.as_nanos() as f64 / n as f64,
        run_early: run_early as f64 / n as f64,
    }
}

/// What the one-way scenario measured for one way of sending (medians of the rounds).
struct OneWayFigures {
    /// Calls per second, `take_ticks()` included.
    rpc: f64,
    /// Raw frames per second, the final ping-pong included.
    raw: f64,
    /// Nanoseconds per call the caller spent in its sending loop.
    send_ns: f64,
    /// The share of the calls the server had run when the caller's loop ended.
    run_early: f64,
}

/// The rounds' figures of one way of sending, before the medians.
#[derive(Default)]
struct OneWaySamples {
    /// Calls per second.
    rpc: Vec<f64>,
    /// Raw frames per second.
    raw: Vec<f64>,
    /// Nanoseconds per call in the sending loop.
    send_ns: Vec<f64>,
    /// The share of the calls run when the sending loop ended.
    run_early: Vec<f64>,
}

/// Streams `n` frames to a raw sink server and pings it; returns frames per second, failing
/// unless the server counted exactly `n`.
async fn raw_oneway(raw: &mut RawClient, ping: &[u8], n: usize) -> f64 {
    let (elapsed, counted) = raw.stream_then_ping(n, RAW_FRAMES_PER_WRITE, ping).await;
    assert_eq!(
        counted as usize, n,
        "the raw sink counted {counted} of {n} frames"
    );
    n as f64 / elapsed.as_secs_f64()
}

/// The request frame of `take_ticks()` and its reply after `n` ticks: the raw ping-pong that
/// ends a raw one-way round.
fn take_ticks_frame_sizes(n: usize) -> (usize, usize) {
    (
        request_len(ROOT_ID, Op::Call("take_ticks".into()), Vec::new()),
        reply_len(Value::UInt(n as u64)),
    )
}

/// One-way calls per second of every way beside raw streams of the same frame sizes, on a
/// connection of their own, medians of alternating rounds.
async fn oneway(plan: &Plan, port: u16, ticks: &AtomicU64) -> [OneWayFigures; 3] {
    let conn = rpc::connect("127.0.0.1", port).await.expect("connect");
    let root = conn.root();
    let typed = BenchServiceClient::new(root.clone());
    let n = plan.oneway_calls;
    let raw_n = n * RAW_ONEWAY_REPEAT;
    let (ping_len, pong_len) = take_ticks_frame_sizes(n);
    let ping = ping_frame_of(ping_len);
    let mut raws = Vec::new();
    for way in OneWay::ALL {
        raws.push(RawClient::connect(start_raw_sink_server(pong_len).await, way.frame_len()).await);
    }
    let before: u64 = root.call("take_ticks", ()).await.expect("take_ticks");
    assert_eq!(before, 0, "nothing ticked before the scenario");
    for (&way, raw) in OneWay::ALL.iter().zip(&mut raws) {
        rpc_oneway(&root, &typed, ticks, way, n / 10).await;
        raw_oneway(raw, &ping, raw_n / 10).await;
    }
    let mut samples: [OneWaySamples; 3] = Default::default();
    for _ in 0..plan.rounds.min(3) {
        for ((&way, raw), samples) in OneWay::ALL.iter().zip(&mut raws).zip(&mut samples) {
            let round = rpc_oneway(&root, &typed, ticks, way, n).await;
            samples.rpc.push(round.rate);
            samples.send_ns.push(round.send_ns);
            samples.run_early.push(round.run_early);
            samples.raw.push(raw_oneway(raw, &ping, raw_n).await);
        }
    }
    assert_eq!(conn.stats().pending_calls, 0, "no call left waiting");
    conn.close().await;
    samples.map(|mut s| OneWayFigures {
        rpc: median(&mut s.rpc),
        raw: median(&mut s.raw),
        send_ns: median(&mut s.send_ns),
        run_early: median(&mut s.run_early),
    })
}

/// Sequence number of the magnitude the timed batches' calls have on their connection: a full
/// run makes about 1.2 million batched calls there, so the timed ones have 3-byte varints
/// (16,384 to 2,097,151).
const BATCH_SEQ: u64 = 1_000_000;

/// Bytes on the wire of a batch of `size` `null()` calls (one frame holding every request)
/// and of one of its replies (each call gets a reply frame of its own).
fn batch_frame_sizes(size: usize) -> (usize, usize) {
    let request = Request {
        seq: BATCH_SEQ,
        target: ROOT_ID,
        op: Op::Call("null".into()),
        args: Vec::new(),
        flags: 0,
    };
    (
        wire_len(&Message::Batch(vec![request; size])),
        wire_len(&Message::Reply {
            seq: BATCH_SEQ,
            value: Value::Unit,
        }),
    )
}

/// `batches` batches of `size` `null()` calls over `conn`, from `window` tasks (so up to
/// `window` batches in flight); returns calls per second. Every call must succeed.
async fn rpc_batches(conn: &Connection, window: usize, batches: usize, size: usize) -> f64 {
    let per_task = batches / window;
    let start = Instant::now();
    let tasks: Vec<_> = (0..window)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move {
                let root = conn.root();
                for _ in 0..per_task {
                    let mut batch = Batch::new(&conn);
                    for _ in 0..size {
                        batch.call(&root, "null", ());
                    }
                    let results = batch.send().await.expect("batch sent");
                    assert_eq!(results.len(), size, "one result per batched call");
                    for result in results.into_values() {
                        result.expect("batched null call");
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("batch task");
    }
    (per_task * window * size) as f64 / start.elapsed().as_secs_f64()
}

/// Batched calls per second with 1 and `plan.batch_window` batches in flight, beside the raw
/// exchange of the same frames (a batch-sized frame out, `batch_size` reply frames back), on a
/// connection of its own; (rpc, raw) per window, medians of alternating rounds.
async fn batched(plan: &Plan, port: u16) -> [(f64, f64); 2] {
    let conn = rpc::connect("127.0.0.1", port).await.expect("connect");
    let (size, batches) = (plan.batch_size, plan.batches);
    let (request_len, reply_len) = batch_frame_sizes(size);
    let mut raw = RawClient::connect(start_raw_fanout_server(reply_len, size).await, request_len).await;
    let windows = [1, plan.batch_window];
    let raw_rate = |elapsed: Duration, batches: usize| (batches * size) as f64 / elapsed.as_secs_f64();
    for window in windows {
        rpc_batches(&conn, window, batches / 10, size).await;
        raw.pipelined_fanout(window, batches / 10, size).await;
    }
    let mut rates: [(Vec<f64>, Vec<f64>); 2] = Default::default();
    for _ in 0..plan.rounds.min(3) {
        for (&window, (rpc_rates, raw_rates)) in windows.iter().zip(&mut rates) {
            rpc_rates.push(rpc_batches(&conn, window, batches, size).await);
            let elapsed = raw.pipelined_fanout(window, batches, size).await;
            raw_rates.push(raw_rate(elapsed, batches));
        }
    }
    assert_eq!(conn.stats().pending_calls, 0, "no call left waiting");
    conn.close().await;
    rates.map(|(mut rpc_rates, mut raw_rates)| (median(&mut rpc_rates), median(&mut raw_rates)))
}

/// Runs a scenario under [`SCENARIO_LIMIT`].
async fn bounded<T>(name: &str, scenario: impl Future<Output = T>) -> T {
    match tokio::time::timeout(SCENARIO_LIMIT, scenario).await {
        Ok(result) => result,
        Err(_) => panic!("scenario {name} did not finish within {SCENARIO_LIMIT:?}"),
    }
}

/// Prints one table row; `ratio` is how many times the raw baseline rpc costs.
fn row(scenario: &str, rpc: f64, raw: f64, ratio: f64) {
    println!("{scenario:<36} {rpc:>12.1} {raw:>12.1} {ratio:>8.2}x");
}

/// Prints the calls-per-second figures side by side: each against its raw baseline of the same
/// frames, and against the pipelined normal calls when those ran.
fn summary(rates: &[(String, f64, f64)]) {
    if rates.is_empty() {
        return;
    }
    let pipelined = rates
        .iter()
        .find(|(label, ..)| label.starts_with("pipelined"))
        .map(|r| r.1);
    println!();
    println!(
        "{:<36} {:>12} {:>12} {:>9} {:>12}",
        "calls per second (k)", "rpc", "raw tcp", "raw/rpc", "vs pipelined"
    );
    for (label, rpc, raw) in rates {
        let speedup = pipelined.map_or_else(|| "-".to_owned(), |p| format!("{:.2}x", rpc / p));
        println!(
            "{label:<36} {:>12.1} {:>12.1} {:>8.2}x {speedup:>12}",
            rpc / 1e3,
            raw / 1e3,
            raw / rpc
        );
    }
    println!(
        "(raw: the same frames over a raw tokio TCP connection; vs pipelined: rpc ÷ rpc pipelined null())"
    );
}

/// Measures everything and prints the table.
async fn run(plan: Plan) {
    let ticks = Arc::new(AtomicU64::new(0));
    let server = Server::new({
        let ticks = ticks.clone();
        move || BenchService {
            ticks: ticks.clone(),
            ..BenchService::default()
        }
    })
    .bind("127.0.0.1:0")
    .await
    .expect("bind rpc server");
    let port = server.local_addr().expect("rpc server address").port();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let conn = rpc::connect("127.0.0.1", port).await.expect("connect");
    let root = conn.root();

    println!(
        "loopback TCP 127.0.0.1, tokio multi-thread runtime with 2 workers; latency: {} warm-up + {} samples \
         per side in {} alternating rounds; throughput: median of 3 rounds of {} calls, {} in flight",
        plan.warmup, plan.samples, plan.rounds, plan.pipelined_calls, plan.window
    );
    for call in [Call::Null, Call::Echo] {
        let (req, rep) = call.frame_sizes();
        println!(
            "{}: request frame {req} bytes, reply frame {rep} bytes (4-byte prefix included)",
            call.label()
        );
    }
    let [a, b, c, d] = callback_frame_sizes();
    println!("call_back(f, i64): frames {a} -> {b} <- {c} -> {d} bytes (raw: 2 round trips of these)");
    let [a, b, c, d] = churn_frame_sizes();
    println!("netref churn: open() {a}/{b} bytes, incr() {c}/{d} bytes, plus a one-way Release (rpc only)");
    let (ping, pong) = take_ticks_frame_sizes(plan.oneway_calls);
    println!(
        "one-way: {} calls per round, frames {} bytes (tick) and {} bytes (tick_oneway), then take_ticks() \
         {ping}/{pong} bytes; raw: {}x as many frames of the same sizes, {RAW_FRAMES_PER_WRITE} per write, \
         then a ping-pong",
        plan.oneway_calls,
        OneWay::Dynamic.frame_len(),
        OneWay::Declared.frame_len(),
        RAW_ONEWAY_REPEAT
    );
    let (batch_request, batch_reply) = batch_frame_sizes(plan.batch_size);
    println!(
        "batched: {} batches of {} null() calls per round, a {batch_request}-byte frame out and {} \
         {batch_reply}-byte frames back per batch (raw: the same)",
        plan.batches, plan.batch_size, plan.batch_size
    );
    println!();
    println!(
        "{:<36} {:>12} {:>12} {:>9}",
        "scenario", "rpc", "raw tcp", "rpc/raw"
    );
    for call in [Call::Null, Call::Echo] {
        let name = format!("{} latency", call.label());
        if plan.selects(&name) {
            let (rpc, raw) = bounded(&name, latency(&plan, &root, call)).await;
            row(&format!("{name} p50 (µs)"), rpc.p50, raw.p50, rpc.p50 / raw.p50);
            row(&format!("{name} p99 (µs)"), rpc.p99, raw.p99, rpc.p99 / raw.p99);
            row(
                &format!("{name} mean (µs)"),
                rpc.mean,
                raw.mean,
                rpc.mean / raw.mean,
            );
        }
    }
    // Calls per second of the pipelined, one-way and batched scenarios, for the summary.
    let mut rates: Vec<(String, f64, f64)> = Vec::new();
    let name = format!("null() x{} in flight", plan.window);
    if plan.selects(&name) {
        let (rpc, raw) = bounded(&name, throughput(&plan, &root)).await;
        row(&format!("{name} (k calls/s)"), rpc / 1e3, raw / 1e3, raw / rpc);
        rates.push((format!("pipelined null() x{}", plan.window), rpc, raw));
    }
    let name = "one-way calls";
    if plan.selects(name) {
        let figures = bounded(name, oneway(&plan, port, &ticks)).await;
        for (way, f) in OneWay::ALL.into_iter().zip(&figures) {
            row(
                &format!("{} (k/s)", way.label()),
                f.rpc / 1e3,
                f.raw / 1e3,
                f.raw / f.rpc,
            );
            rates.push((way.label().to_owned(), f.rpc, f.raw));
        }
        println!(
            "  the server counted exactly {} one-way calls before take_ticks() in every round",
            plan.oneway_calls
        );
        for (way, f) in OneWay::ALL.into_iter().zip(&figures) {
            println!(
                "  {}: {:.0} ns per call end to end, {:.0} ns of it in the caller's sending loop; \
                 the server had run {:.1}% of the calls when that loop ended",
                way.label(),
                1e9 / f.rpc,
                f.send_ns,
                f.run_early * 100.0
            );
        }
    }
    let name = "batched calls";
    if plan.selects(name) {
        let figures = bounded(name, batched(&plan, port)).await;
        for (window, (rpc, raw)) in [1, plan.batch_window].into_iter().zip(figures) {
            let label = format!("batched x{}, {window} in flight", plan.batch_size);
            row(&format!("{label} (k calls/s)"), rpc / 1e3, raw / 1e3, raw / rpc);
            rates.push((label, rpc, raw));
        }
    }
    let name = "callback latency";
    if plan.selects(name) {
        let cb = bounded(name, callback_latency(&plan, &conn)).await;
        let two = cb.raw_two;
        let one = cb.raw_one.p50;
        for (variant, rpc) in [("passed", cb.passed), ("kept", cb.kept)] {
            for (stat, rpc, raw) in [
                ("p50", rpc.p50, two.p50),
                ("p99", rpc.p99, two.p99),
                ("mean", rpc.mean, two.mean),
            ] {
                row(&format!("callback {variant} {stat} (µs)"), rpc, raw, rpc / raw);
            }
        }
        row(
            "null() p50, same rounds (µs)",
            cb.null.p50,
            one,
            cb.null.p50 / one,
        );
        let passed_rt = cb.passed.p50 - cb.null.p50;
        let kept_rt = cb.kept.p50 - cb.null.p50;
        row(
            "callback rt passed p50-null (µs)",
            passed_rt,
            one,
            passed_rt / one,
        );
        row("callback rt kept p50-null (µs)", kept_rt, one, kept_rt / one);
        println!(
            "  callback round trip ÷ null call (p50): passed {:.2}x, kept {:.2}x (goal: at most 2x)",
            passed_rt / cb.null.p50,
            kept_rt / cb.null.p50
        );
        println!(
            "  the server saw the same Callback under export ids {:?} when passed on 3 calls, \
             {:?} while it kept it; client exports afterwards: {}",
            cb.ids_passed, cb.ids_kept, cb.client_exports_after
        );
        assert_eq!(cb.client_exports_after, 0, "the server released the callback");
    }
    let name = "netref churn";
    if plan.selects(name) {
        let ch = bounded(name, netref_churn(&plan, &conn)).await;
        for (stat, rpc, raw) in [
            ("p50", ch.rpc.p50, ch.raw.p50),
            ("p99", ch.rpc.p99, ch.raw.p99),
            ("mean", ch.rpc.mean, ch.raw.mean),
        ] {
            row(&format!("netref churn {stat} (µs/iter)"), rpc, raw, rpc / raw);
        }
        row(
            "netref churn (k iter/s)",
            ch.rpc_rate / 1e3,
            ch.raw_rate / 1e3,
            ch.raw_rate / ch.rpc_rate,
        );
        println!(
            "  server export table: {} right after the last iteration, {} after the releases \
             landed; client proxies: {}",
            ch.server_exports_at_end, ch.server_exports_after, ch.client_imports_after
        );
        assert_eq!(ch.server_exports_after, 0, "every churned object was released");
        assert_eq!(ch.client_imports_after, 0, "no proxy left on the client");
    }
    println!(
        "(rpc/raw: latency rpc÷raw; throughput raw÷rpc; 1.00x = as fast as raw TCP; \
         raw is 2 round trips for callback and churn rows, 1 for null and the rt rows)"
    );
    summary(&rates);

    conn.close().await;
    shutdown.shutdown();
    serving.await.expect("server task").expect("server");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Inside a spawned task, so that the callers run on the runtime's workers like the servers
    // do, not on the main thread (which would add a thread hop to every round trip).
    let bench = runtime.spawn(run(Plan::from_args()));
    runtime.block_on(bench).expect("benchmark task");
}
