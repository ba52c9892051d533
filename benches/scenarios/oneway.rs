//! One-way calls: N `tick()` calls sent with `call_oneway` in a plain loop, the same loop
//! yielding every 256 calls, and N calls through the typed client of a `#[oneway]` method;
//! the server counts them and a final normal `take_ticks()` call must return N. The raw side
//! streams 10 N frames of the same size to a server that counts them, then makes one
//! ping-pong.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rpc::core::protocol::{Message, Op, Request, FLAG_ONEWAY, ROOT_ID};
use rpc::{NetRef, Value};

use super::frames::{reply_len, request_len, wire_len};
use super::service::{BenchServer, BenchServiceClient};
use super::timing::run_selected;
use crate::common::{median, ping_frame_of, start_raw_sink_server, RawClient};
use crate::{row, Plan, Rate};

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

/// Prints the frame sizes of the one-way calls and of the raw side's streams.
pub fn describe(plan: &Plan) {
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
}

/// Measures the one-way calls if the plan selects them, prints their rows and adds their
/// rates to `rates`.
pub async fn report(plan: &Plan, server: &BenchServer, rates: &mut Vec<Rate>) {
    let scenario = oneway(plan, server.port, &server.ticks);
    let Some(figures) = run_selected(plan, "one-way calls", scenario).await else {
        return;
    };
    for (way, f) in OneWay::ALL.into_iter().zip(&figures) {
        row(
            &format!("{} (k/s)", way.label()),
            f.rpc / 1e3,
            f.raw / 1e3,
            f.raw / f.rpc,
        );
        rates.push(Rate {
            label: way.label().to_owned(),
            rpc: f.rpc,
            raw: f.raw,
        });
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
