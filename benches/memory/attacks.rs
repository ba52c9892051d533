//! What one hostile connection can make a server hold: each attack of issue 9, run against a
//! real server over loopback TCP, with the server's peak heap growth (a peak-tracking counting
//! allocator, from a baseline taken just before the attack) as a multiple of `max_frame_size`,
//! and the heap still held once the attacker is gone.
//!
//! The attacker is a raw socket in this process whose bytes are all built before the
//! baseline, so what grows is the server's (and tokio's) own memory. The goal: at most 2x the
//! frame size for any input (the frame being read plus its decode budget, or the pending
//! work), except output queued to a peer still connected, which stays within
//! `max_unwritten_bytes`, plus the connection's own fixed state (64 KiB allowed); and back to
//! the baseline (within the same 64 KiB) after the close.

use std::time::Duration;

use peakmem_alloc::PeakMemAllocTrait;
use rpc::core::frame::encode_frame;
use rpc::core::protocol::{Hello, Message, Op, Preamble, Request, FLAG_ONEWAY};
use rpc::server::Server;
use rpc::{service, ConnectionConfig, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{check, live_bytes, GLOBAL};

/// The frame limit of the attacked server; every budget defaults to it.
const FRAME: usize = 8 << 20;

/// The attacked server's output limit: twice the frame.
const UNWRITTEN: usize = 2 * FRAME;

/// What a connection holds whatever its peer sends (its tasks, read and write buffers, tables,
/// spans): the allowance beside the budgets, the same as what may stay held after the close.
const CONNECTION_STATE: usize = 64 * 1024;

/// What the attacks call.
struct Target;

#[service(name = "TEST")]
impl Target {
    /// Takes anything.
    fn exposed_take(&self, _x: Value) {}

    /// Holds its argument until the connection ends.
    async fn exposed_hold(&self, data: Vec<u8>) -> usize {
        futures::future::pending::<()>().await;
        data.len()
    }

    /// `n` bytes.
    fn exposed_make_bytes(&self, n: usize) -> Vec<u8> {
        vec![7; n]
    }
}

/// One attack: its name and the bytes the attacker sends (greeting included).
struct Attack {
    name: &'static str,
    bytes: Vec<u8>,
    /// Connections opened in parallel, each sending `bytes`.
    connections: usize,
}

fn frame(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&mut out, usize::MAX, |o| msg.encode_into(o))
        .expect("encode")
        .expect("size");
    out
}

fn greeting() -> Vec<u8> {
    let mut out = Preamble::current().to_bytes().to_vec();
    out.extend(frame(&Message::Hello(Hello {
        service: "ATTACKER".into(),
        aliases: vec![],
        features: 0,
    })));
    out
}

fn call(seq: u64, method: &str, flags: u8, args: Vec<Value>) -> Vec<u8> {
    frame(&Message::Request(Request {
        seq,
        target: 0,
        op: Op::Call(method.into()),
        args,
        flags,
    }))
}

/// A call of `take` with `n` references to objects of the sender (made by hand: an encoder
/// needs a connection to send references).
fn references(seq: u64, n: u64) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let mut p = vec![1];
    varint(&mut p, seq);
    p.extend([0, 0, 4]);
    p.extend_from_slice(b"take");
    p.extend([1, 7]);
    varint(&mut p, n);
    for id in 1..=n {
        p.push(9);
        varint(&mut p, id + seq * n);
    }
    p.push(0);
    let mut out = (p.len() as u32).to_le_bytes().to_vec();
    out.extend(p);
    out
}

fn attacks(quick: bool) -> Vec<Attack> {
    let scale = if quick { 8 } else { 1 };
    let units = (FRAME - 64) / scale;
    let mut list = Vec::new();

    let mut bytes = greeting();
    bytes.extend(call(1, "take", 0, vec![Value::Seq(vec![Value::Unit; units])]));
    list.push(Attack {
        name: "units in a call argument (1 frame)",
        bytes,
        connections: 1,
    });

    let mut bytes = Preamble::current().to_bytes().to_vec();
    bytes.extend(frame(&Message::Reply {
        seq: 1,
        value: Value::Seq(vec![Value::Unit; units]),
    }));
    list.push(Attack {
        name: "units in place of the hello",
        bytes,
        connections: 1,
    });

    let mut bytes = Preamble::current().to_bytes().to_vec();
    bytes.extend(frame(&Message::Hello(Hello {
        service: "ATTACKER".into(),
        aliases: vec![String::new(); 4_000_000 / scale],
        features: 0,
    })));
    list.push(Attack {
        name: "a hello of empty aliases",
        bytes,
        connections: 1,
    });

    let mut bytes = greeting();
    bytes.extend_from_slice(&(FRAME as u32).to_le_bytes());
    list.push(Attack {
        name: "a header announcing a whole frame (x100)",
        bytes,
        connections: 100 / scale,
    });

    let mut bytes = greeting();
    for seq in 1..=64 {
        bytes.extend(call(seq, "hold", 0, vec![Value::Bytes(vec![1; 256 * 1024])]));
    }
    list.push(Attack {
        name: "64 pipelined 256 KiB args, method waits",
        bytes,
        connections: 1,
    });

    let mut bytes = greeting();
    for _ in 0..64 {
        bytes.extend(call(
            0,
            "hold",
            FLAG_ONEWAY,
            vec![Value::Bytes(vec![1; 256 * 1024])],
        ));
    }
    list.push(Attack {
        name: "64 one-way 256 KiB args queued",
        bytes,
        connections: 1,
    });

    let mut bytes = greeting();
    for seq in 1..=(256 / scale as u64) {
        bytes.extend(call(seq, "make_bytes", 0, vec![Value::Int(1 << 20)]));
    }
    list.push(Attack {
        name: "asks for 1 MiB replies, never reads",
        bytes,
        connections: 1,
    });

    let mut bytes = greeting();
    for seq in 1..=(20 / scale as u64).max(2) {
        bytes.extend(references(seq, 50_000));
    }
    list.push(Attack {
        name: "50,000 references per call, never reads",
        bytes,
        connections: 1,
    });
    list
}

/// Runs every attack against a fresh server and prints the table.
pub async fn run(quick: bool) {
    let config = ConnectionConfig::default()
        .max_frame_size(FRAME)
        .max_unwritten_bytes(UNWRITTEN);
    let server = Server::new(|| Target)
        .connection_config(config)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = server.local_addr().expect("addr").port();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    // One honest call first, so the server's lazily built state is part of the baseline.
    let honest = rpc::connect("127.0.0.1", port).await.expect("connect");
    honest.root().call::<()>("take", (1,)).await.expect("call");

    println!();
    println!(
        "memory one hostile connection makes the server hold (max_frame_size {} MiB, budgets at \
         their defaults, max_unwritten_bytes {} MiB)",
        FRAME >> 20,
        UNWRITTEN >> 20
    );
    println!(
        "{:<44}{:>12}{:>9}{:>9}{:>14}  how it ended",
        "attack", "peak held", "x frame", "bound", "after close"
    );
    let only = std::env::var("RPC_ATTACK").ok();
    // RPC_ATTACK=text runs only the attacks whose name holds it.
    // The attacker's own buffers exist before the baseline: what grows is the server's.
    let mut sink = vec![0u8; 256 * 1024];
    for attack in attacks(quick) {
        if only.as_deref().is_some_and(|o| !attack.name.contains(o)) {
            continue;
        }
        let mut streams = Vec::with_capacity(attack.connections);
        let baseline = live_bytes();
        GLOBAL.reset_peak_memory();
        let ended = assault(port, &attack, &mut streams, &mut sink, baseline).await;
        let peak = GLOBAL.get_peak_memory();
        // The server lets go of the connection once the attacker is gone.
        let mut after = live_bytes() - baseline;
        for _ in 0..250 {
            if after < 64 * 1024 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            after = live_bytes() - baseline;
        }
        // Input is bounded by the frame being read plus its decode budget or the pending
        // work (2x the frame); output queued for a peer still connected, by its own limit;
        // beside them, the connection's own fixed state (its tasks, buffers and tables, made
        // after the baseline: a few KiB).
        let bound = if attack.name.contains("never reads") {
            2 * FRAME + UNWRITTEN + CONNECTION_STATE
        } else {
            2 * FRAME + CONNECTION_STATE
        };
        println!(
            "{:<44}{:>8.1} MiB{:>8.2}x{:>8.1}x{:>10.1} KiB  {ended}{}",
            attack.name,
            peak as f64 / (1 << 20) as f64,
            peak as f64 / FRAME as f64,
            bound as f64 / FRAME as f64,
            after as f64 / 1024.0,
            if peak > bound { "  OVER THE BOUND" } else { "" },
        );
        check(
            peak <= bound,
            format!(
                "{}: the server held {peak} bytes, over its bound of {bound}",
                attack.name
            ),
        );
        check(
            after < 64 * 1024,
            format!(
                "{}: {after} bytes still held once the attacker is gone",
                attack.name
            ),
        );
        drop(attack);
    }
    honest
        .root()
        .call::<()>("take", (2,))
        .await
        .expect("the honest client is still served");
    honest.close().await;
    stop.shutdown();
    serving.await.expect("server task").expect("serve");
}

/// Sends the attack on its connections; an attacker that "never reads" then waits a second
/// reading nothing. Then reads until the server hangs up (or 2 s pass) and says how it ended.
async fn assault(
    port: u16,
    attack: &Attack,
    streams: &mut Vec<TcpStream>,
    sink: &mut [u8],
    baseline: i64,
) -> String {
    for _ in 0..attack.connections {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        // Bounded: a server that stops reading must not stall the benchmark.
        let _ = tokio::time::timeout(Duration::from_secs(5), s.write_all(&attack.bytes)).await;
        streams.push(s);
    }
    // What the server still holds for a peer that keeps its socket open, unread.
    let mut unread = None;
    if attack.name.contains("never reads") {
        tokio::time::sleep(Duration::from_secs(1)).await;
        unread = Some(live_bytes() - baseline);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut closed = 0;
    for s in streams.iter_mut() {
        loop {
            match tokio::time::timeout_at(deadline, s.read(sink)).await {
                Err(_) => break,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => {}
            }
        }
    }
    streams.clear();
    let ended = match closed {
        0 => "still open".to_owned(),
        n if n == attack.connections => "closed by the server".to_owned(),
        n => format!("{n} of {} closed by the server", attack.connections),
    };
    match unread {
        Some(held) => format!(
            "{ended}; {:.1} MiB held at 1 s, the peer's socket still open and unread",
            held as f64 / (1 << 20) as f64
        ),
        None => ended,
    }
}
