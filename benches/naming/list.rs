//! Listing by metadata: `Registry::list(Filter::everything().with_all([TAG]))` answering
//! `entries` entries in one call, beside the raw TCP ping-pong of the same frame sizes; the
//! reply's frame size, computed and seen on the wire; the store's list and the reply's
//! encoding and decoding alone, with no rpc.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rpc::core::protocol::Message;
use rpc::naming::{Entry, Registry};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::servers::{listen, start_raw_server};
use crate::common::{Latency, RawClient};
use crate::frames::reply_frame;
use crate::sides::{list_filter, listed_entries, registry_frames, Servers, TAG};
use crate::timing::{raw_samples, rotation, run_selected};
use crate::Plan;

/// The scenario's name, for filters.
const SCENARIO: &str = "list by metadata";

/// The sides, in the order [`measure`] returns their samples.
const SIDES: [&str; 2] = ["Registry::list(with_all([tag]))", "raw TCP, the same frames"];

/// One listing, checked against `want` (after the clock stopped); nanoseconds.
async fn list(reg: &Registry, want: &[Entry]) -> u64 {
    let start = Instant::now();
    let got = reg.list(list_filter()).await.expect("list");
    let ns = start.elapsed().as_nanos() as u64;
    assert!(got == want, "the listing answered the tagged entries");
    ns
}

/// The first listing, checked: exactly the tagged entries, in name order, as registered, and
/// what the store itself answers.
async fn first_listing(servers: &Servers) -> Vec<Entry> {
    let got = servers.registry().await.list(list_filter()).await.expect("list");
    let want = listed_entries(servers.entries);
    assert_eq!(got.len(), want.len(), "one entry per tagged registration");
    for (got, want) in got.iter().zip(&want) {
        let (mut got, mut want) = (got.clone(), want.clone());
        // The store sets the lease.
        (got.lease, want.lease) = (0, 0);
        assert_eq!(got, want, "a tagged entry as registered");
    }
    let stored = servers.store.list(list_filter()).await.expect("store list");
    assert!(got == stored, "the listing is the store's");
    got
}

/// Copies `from` to `to` until `from` ends, adding the bytes to `count`.
async fn count_copy(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    count: Arc<AtomicU64>,
) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::SeqCst);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

/// The bytes one listing took on the wire (request, reply), seen by a relay in front of the
/// registry that counts what it forwards each way.
async fn on_the_wire(servers: &Servers, want: &[Entry]) -> (u64, u64) {
    let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (up_relay, down_relay) = (up.clone(), down.clone());
    let registry = servers.registry_port();
    let relay = listen(move |client| {
        let (up, down) = (up_relay.clone(), down_relay.clone());
        async move {
            let server = TcpStream::connect(("127.0.0.1", registry))
                .await
                .expect("relay: connect to the registry");
            server.set_nodelay(true).expect("nodelay");
            let (client_in, client_out) = client.into_split();
            let (server_in, server_out) = server.into_split();
            tokio::join!(
                count_copy(client_in, server_out, up),
                count_copy(server_in, client_out, down)
            );
        }
    })
    .await;
    let reg = Registry::connect("127.0.0.1", relay.port())
        .await
        .expect("connect through the relay");
    // The handshake is over: the counts from here on are the listing's.
    let before = (up.load(Ordering::SeqCst), down.load(Ordering::SeqCst));
    list(&reg, want).await;
    (
        up.load(Ordering::SeqCst) - before.0,
        down.load(Ordering::SeqCst) - before.1,
    )
}

/// `rounds` rounds of each side in turn, the order rotating; in each round a side connects
/// afresh, makes one untimed listing, then `calls` timed ones. Nanoseconds per side.
async fn measure(plan: &Plan, servers: &Servers, want: &[Entry]) -> [Vec<u64>; 2] {
    let (request, reply) = registry_frames("list", list_filter(), want);
    let raw_server = start_raw_server(reply).await;
    let mut ns: [Vec<u64>; 2] = Default::default();
    let mut untimed = Vec::new();
    for round in 0..plan.list_rounds {
        for side in rotation(round, SIDES.len()) {
            let out = &mut ns[side];
            if side == 0 {
                let reg = servers.registry().await;
                list(&reg, want).await;
                for _ in 0..plan.list_calls {
                    out.push(list(&reg, want).await);
                }
            } else {
                let mut raw = RawClient::connect(raw_server, request).await;
                raw_samples(1, 1, &mut raw, &mut untimed).await;
                raw_samples(plan.list_calls, 1, &mut raw, out).await;
            }
        }
    }
    ns
}

/// The p50 of `n` timed runs of `op` (µs).
fn p50_of(n: usize, mut op: impl FnMut()) -> f64 {
    let mut ns: Vec<u64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            op();
            start.elapsed().as_nanos() as u64
        })
        .collect();
    Latency::of(&mut ns).p50
}

/// With no rpc: p50s (µs) of the store's list, of encoding the reply frame (the entries to a
/// `Value`, the `Value` to the frame) and of decoding it (the frame to a `Value`, the `Value`
/// to entries), as the connection does each; `n` runs of each.
async fn alone(servers: &Servers, want: &[Entry], n: usize) -> [f64; 3] {
    let mut store = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let got = servers.store.list(list_filter()).await.expect("store list");
        store.push(start.elapsed().as_nanos() as u64);
        assert_eq!(got.len(), want.len());
    }
    let frame = reply_frame(rpc::to_value(want).expect("encode the entries"));
    let encode = p50_of(n, || {
        let again = reply_frame(rpc::to_value(want).expect("encode the entries"));
        assert_eq!(again.len(), frame.len());
    });
    let decode = p50_of(n, || {
        let Message::Reply { value, .. } = Message::decode(&frame[4..]).expect("decode the frame") else {
            panic!("a reply");
        };
        let back: Vec<Entry> = rpc::from_value(value).expect("decode the entries");
        assert_eq!(back.len(), want.len());
    });
    [Latency::of(&mut store).p50, encode, decode]
}

/// Measures the listing if the plan selects it and prints its rows.
pub async fn report(plan: &Plan, servers: &Servers) {
    let scenario = async {
        let want = first_listing(servers).await;
        let wire = on_the_wire(servers, &want).await;
        let mut ns = measure(plan, servers, &want).await;
        // After the rounds: CPU only, it gains nothing from alternating.
        let alone = alone(servers, &want, plan.list_rounds * plan.list_calls).await;
        (want, wire, ns.each_mut().map(|ns| Latency::of(ns)), alone)
    };
    let Some((want, (wire_up, wire_down), l, [store, encode, decode])) =
        run_selected(plan, SCENARIO, scenario).await
    else {
        return;
    };
    let (request, reply) = registry_frames("list", list_filter(), &want);
    // The computed frames carry a 2-byte sequence number (as in every bench); the relay's
    // listing was the connection's first call, whose sequence number takes 1 byte.
    assert!(
        (request - 1..=request).contains(&(wire_up as usize))
            && (reply - 1..=reply).contains(&(wire_down as usize)),
        "the listing took {wire_up}/{wire_down} bytes on the wire, computed {request}/{reply}"
    );
    println!();
    println!(
        "{SCENARIO}: Filter::everything().with_all([{TAG:?}]) answering {} of the store's {} entries \
         in one call; {} timed listings per side in {} rounds (one untimed first in each), a fresh \
         connection each",
        want.len(),
        servers.store_len(),
        plan.list_calls * plan.list_rounds,
        plan.list_rounds
    );
    println!(
        "frames: request {request} bytes, reply {reply} bytes ({:.1} KiB, {:.1} bytes per entry); \
         a relay in front of the registry saw the listing take {wire_up} and {wire_down} bytes",
        reply as f64 / 1024.0,
        reply as f64 / want.len() as f64
    );
    println!(
        "{:<38} {:>9} {:>9} {:>9} {:>10}",
        "listing (ms)", "p50", "p99", "mean", "÷ raw p50"
    );
    for (name, lat) in SIDES.iter().zip(&l) {
        println!(
            "{name:<38} {:>9.2} {:>9.2} {:>9.2} {:>9.2}x",
            lat.p50 / 1e3,
            lat.p99 / 1e3,
            lat.mean / 1e3,
            lat.p50 / l[1].p50
        );
    }
    println!(
        "no rpc, p50 (ms): the store's list {:.2}, encoding the reply frame {:.2}, decoding it {:.2}; \
         together {:.2} of the listing's {:.2} (the raw wire {:.2})",
        store / 1e3,
        encode / 1e3,
        decode / 1e3,
        (store + encode + decode) / 1e3,
        l[0].p50 / 1e3,
        l[1].p50 / 1e3
    );
}
