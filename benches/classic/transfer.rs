//! Transfers: `upload` and `download` of a large file through a classic session, beside
//! sequential calls with a 1 MiB `serde_bytes` argument, raw 1 MiB ping-pongs and a local copy
//! with the same file I/O, and each process's peak resident memory during the transfers.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use rpc::classic::transfer::{download, upload, IN_FLIGHT};
use rpc::core::protocol::{Op, ROOT_ID};
use rpc::{NetRef, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{median, Latency, RawClient};
use crate::frames::{reply_len, request_len};
use crate::peer::Peer;
use crate::rss::{cpu_ms, Sampler, Watch};
use crate::timing::rotation;
use crate::timing::run_selected;
use crate::{Goal, Plan, Scratch};

/// The scenario's name, for filters.
const NAME: &str = "file transfer";

/// The argument's size, and the transfers' chunk.
const MIB: usize = 1 << 20;

/// The goals: a transfer at least this fraction of the 1 MiB-argument rate, each
/// process at most this many bytes above its idle resident memory.
const RATE_GOAL: f64 = 0.7;
const RSS_GOAL: u64 = 64 << 20;

/// The sides, in the order [`measure`] returns their figures.
const SIDES: [&str; 6] = [
    "upload",
    "download",
    "1 MiB arguments, sequential calls",
    "raw TCP 1 MiB ping-pongs",
    "local copy, no network",
    "local copy, no network, no sync_all",
];

/// Indexes into [`SIDES`].
const UPLOAD: usize = 0;
const DOWNLOAD: usize = 1;
const ARGS: usize = 2;
const RAW: usize = 3;
const COPY: usize = 4;
const COPY_NO_SYNC: usize = 5;

/// Bytes on the wire of `size(data)`'s request with 1 MiB of data, and of its reply.
pub fn bulk_frames() -> (usize, usize) {
    (
        request_len(ROOT_ID, Op::Call("size".into()), vec![Value::Bytes(vec![0; MIB])]),
        reply_len(Value::Int(MIB as i64)),
    )
}

/// Writes `size` bytes of a cheap pseudo-random stream to `path` (each MiB differs, so that
/// a chunk out of place shows).
fn make_file(path: &Path, size: usize) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create the source"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; MIB];
    for _ in 0..size / MIB {
        for word in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        file.write_all(&chunk).expect("write the source");
    }
    file.flush().expect("flush the source");
}

/// Whether the files at `a` and `b` hold the same bytes.
fn same_content(a: &Path, b: &Path) -> bool {
    let open = |p: &Path| std::fs::File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
    let (mut a, mut b) = (open(a), open(b));
    let (mut x, mut y) = (vec![0u8; MIB], vec![0u8; MIB]);
    loop {
        let n = read_full(&mut a, &mut x);
        let m = read_full(&mut b, &mut y);
        if n != m || x[..n] != y[..m] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]).expect("read") {
            0 => break,
            n => filled += n,
        }
    }
    filled
}

/// Checks (on a blocking thread) that `copy` holds what `source` does, then removes `copy`.
async fn check_and_remove(source: &Path, copy: &Path, what: &str) {
    let (source, copy) = (source.to_owned(), copy.to_owned());
    let same = {
        let copy = copy.clone();
        tokio::task::spawn_blocking(move || same_content(&source, &copy))
    };
    assert!(
        same.await.expect("compare"),
        "{what}: the copy differs from the source"
    );
    std::fs::remove_file(&copy).expect("remove the copy");
}

/// A local copy of `from` to `to`, no network (tokio::fs, 1 MiB chunks, the written file
/// synced at the end if `sync`).
async fn local_copy(from: &Path, to: &Path, sync: bool) {
    let mut input = tokio::fs::File::open(from).await.expect("open the source");
    let mut output = tokio::fs::File::create(to).await.expect("create the copy");
    let mut buf = vec![0u8; MIB];
    loop {
        let mut filled = 0;
        while filled < MIB {
            match input.read(&mut buf[filled..]).await.expect("read the source") {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            break;
        }
        output.write_all(&buf[..filled]).await.expect("write the copy");
    }
    if sync {
        output.sync_all().await.expect("sync the copy");
    }
}

/// One call of `size(data)`, checking the answer.
async fn size_call(root: &NetRef, data: &[u8]) {
    let n: usize = root
        .call("size", (rpc::serde_bytes::Bytes::new(data),))
        .await
        .expect("size call");
    assert_eq!(n, MIB);
}

/// What the rounds measured.
#[derive(Default)]
struct Figures {
    /// MiB/s of each side in each round.
    rates: [Vec<f64>; 6],
    /// Nanoseconds of each 1 MiB call.
    call_ns: Vec<u64>,
    /// Bytes above idle at the peak, per round: [upload, download] × [client, server].
    peaks: [[Vec<u64>; 2]; 2],
    /// CPU milliseconds per round: [upload, download, 1 MiB arguments] × [client, server].
    cpu: [[Vec<u64>; 2]; 3],
    /// Whether every peak came from a reset `VmHWM` (else from sampling too).
    exact: bool,
}

/// The CPU milliseconds [this process, the server's] have used so far.
fn cpu_now(peer: &Peer) -> [u64; 2] {
    [cpu_ms("self"), cpu_ms(&peer.pid.to_string())]
}

/// What `op` cost: its time and [client, server] CPU milliseconds.
async fn timed<F: std::future::Future<Output = ()>>(peer: &Peer, op: F) -> (Duration, [u64; 2]) {
    let cpu = cpu_now(peer);
    let start = Instant::now();
    op.await;
    let elapsed = start.elapsed();
    let used = cpu_now(peer);
    (elapsed, [0, 1].map(|k| used[k].saturating_sub(cpu[k])))
}

/// A transfer of `size` bytes by `op`, timed, with each process's CPU time and peak resident
/// memory above its idle baseline: (seconds, [client, server] CPU ms, [client, server] bytes,
/// exact). The client's CPU time includes the memory sampler's (a few ms a second).
async fn watched<F>(peer: &Peer, op: F) -> (Duration, [u64; 2], [u64; 2], bool)
where
    F: std::future::Future<Output = ()>,
{
    let server = peer.pid.to_string();
    let watches = [Watch::begin("self"), Watch::begin(&server)];
    let sampler = Sampler::start(&["self", &server]);
    let (elapsed, cpu) = timed(peer, op).await;
    let sampled = sampler.finish();
    let peaks = [0, 1].map(|k| watches[k].peak_above(sampled[k]));
    (elapsed, cpu, peaks, watches.iter().all(Watch::exact))
}

/// The rounds, each side in turn, the order rotating.
async fn measure(plan: &Plan, peer: &Peer, scratch: &Scratch) -> Figures {
    let size = plan.file_size;
    let source = scratch.client().join("source.bin");
    let made = {
        let source = source.clone();
        tokio::task::spawn_blocking(move || make_file(&source, size))
    };
    made.await.expect("make the source");
    // The download's source on the server: the same file under the server's root.
    std::fs::hard_link(&source, scratch.server().join("source.bin"))
        .or_else(|_| std::fs::copy(&source, scratch.server().join("source.bin")).map(drop))
        .expect("the download's source");
    let calls = size / MIB;
    let data = vec![7u8; MIB];
    let mut f = Figures {
        exact: true,
        ..Figures::default()
    };
    let mib = size as f64 / MIB as f64;
    for round in 0..plan.transfer_rounds {
        for side in rotation(round, SIDES.len()) {
            let elapsed = match side {
                UPLOAD | DOWNLOAD => {
                    let c = rpc::classic::connect("127.0.0.1", peer.classic)
                        .await
                        .expect("connect to the classic server");
                    let (remote, local) = if side == UPLOAD {
                        let name = format!("up-{round}.bin");
                        (name.clone(), scratch.server().join(name))
                    } else {
                        (
                            "source.bin".to_owned(),
                            scratch.client().join(format!("down-{round}.bin")),
                        )
                    };
                    let (elapsed, cpu, peaks, exact) = watched(peer, async {
                        let stats = if side == UPLOAD {
                            upload(&c, &source, &remote).await.expect("upload")
                        } else {
                            download(&c, &remote, &local).await.expect("download")
                        };
                        assert_eq!((stats.files, stats.bytes), (1, size as u64), "{}", SIDES[side]);
                    })
                    .await;
                    c.close().await;
                    check_and_remove(&source, &local, SIDES[side]).await;
                    for k in 0..2 {
                        f.peaks[side][k].push(peaks[k]);
                        f.cpu[side][k].push(cpu[k]);
                    }
                    f.exact &= exact;
                    elapsed
                }
                ARGS => {
                    let conn = rpc::connect("127.0.0.1", peer.plain)
                        .await
                        .expect("connect to the plain server");
                    let root = conn.root();
                    size_call(&root, &data).await;
                    let (elapsed, cpu) = timed(peer, async {
                        for _ in 0..calls {
                            let call = Instant::now();
                            size_call(&root, &data).await;
                            f.call_ns.push(call.elapsed().as_nanos() as u64);
                        }
                    })
                    .await;
                    for (k, used) in cpu.into_iter().enumerate() {
                        f.cpu[ARGS][k].push(used);
                    }
                    conn.close().await;
                    elapsed
                }
                RAW => {
                    let addr = ([127, 0, 0, 1], peer.raw_bulk).into();
                    let mut raw = RawClient::connect(addr, bulk_frames().0).await;
                    raw.round_trip().await;
                    let start = Instant::now();
                    for _ in 0..calls {
                        raw.round_trip().await;
                    }
                    start.elapsed()
                }
                COPY | COPY_NO_SYNC => {
                    let copy = scratch.client().join(format!("copy-{round}.bin"));
                    let start = Instant::now();
                    local_copy(&source, &copy, side == COPY).await;
                    let elapsed = start.elapsed();
                    check_and_remove(&source, &copy, SIDES[side]).await;
                    elapsed
                }
                _ => unreachable!("{} sides", SIDES.len()),
            };
            f.rates[side].push(mib / elapsed.as_secs_f64());
        }
    }
    std::fs::remove_file(scratch.server().join("source.bin")).expect("remove the download's source");
    std::fs::remove_file(&source).expect("remove the source");
    f
}

/// Measures the transfers if the plan selects them, prints their rows and adds the goals.
pub async fn report(plan: &Plan, peer: &Peer, scratch: &Scratch, goals: &mut Vec<Goal>) {
    let Some(mut f) = run_selected(plan, NAME, measure(plan, peer, scratch)).await else {
        return;
    };
    let mib = plan.file_size / MIB;
    let (req, rep) = bulk_frames();
    println!();
    println!(
        "{NAME}: a {mib} MiB file (1 MiB chunks, one call each, {IN_FLIGHT} on the way at once, no sync) beside {mib} 1 MiB calls (size(data), \
         serde_bytes; request frame {req} bytes, reply {rep}), {mib} raw ping-pongs of those frame \
         sizes, and local copies; {} rounds, MiB/s of each whole run, median",
        plan.transfer_rounds
    );
    println!(
        "{:<36} {:>9} {:>12} {:>13} {:>13}  rounds",
        "transfer (MiB/s)", "median", "÷ 1 MiB args", "client +MiB", "server +MiB"
    );
    let rates: Vec<f64> = f.rates.iter_mut().map(|r| median(&mut r.clone())).collect();
    // The median of the rounds' own ratios of a side's rate to the 1 MiB arguments' rate.
    let paired = |side: usize| {
        let mut ratios: Vec<f64> = f.rates[side]
            .iter()
            .zip(&f.rates[ARGS])
            .map(|(s, a)| s / a)
            .collect();
        median(&mut ratios)
    };
    let (up_paired, down_paired) = (paired(UPLOAD), paired(DOWNLOAD));
    let worst = |side: usize, k: usize| f.peaks[side][k].iter().copied().max().unwrap_or(0);
    for (side, name) in SIDES.iter().enumerate() {
        let peaks = if side == UPLOAD || side == DOWNLOAD {
            let mib = |b: u64| b as f64 / MIB as f64;
            format!("{:>13.1} {:>13.1}", mib(worst(side, 0)), mib(worst(side, 1)))
        } else {
            format!("{:>13} {:>13}", "", "")
        };
        let each: Vec<String> = f.rates[side].iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{name:<36} {:>9.1} {:>11.0}% {peaks}  {}",
            rates[side],
            rates[side] / rates[ARGS] * 100.0,
            each.join(" / ")
        );
    }
    // 1 MiB per call: MiB/s is calls per second.
    let at_median = 1e6 / Latency::of(&mut f.call_ns).p50;
    println!(
        "(1 MiB arguments at the median call time: {at_median:.1} MiB/s; rpc ÷ raw, whole runs: {:.2}x)",
        rates[ARGS] / rates[RAW]
    );
    println!(
        "(median of the rounds' own rate ÷ 1 MiB arguments' rate: upload {:.0}%, download {:.0}%)",
        up_paired * 100.0,
        down_paired * 100.0
    );
    let cpu: Vec<String> = [
        (UPLOAD, "upload"),
        (DOWNLOAD, "download"),
        (ARGS, "1 MiB arguments"),
    ]
    .into_iter()
    .map(|(side, name)| {
        let [client, server] = f.cpu[side].clone().map(|mut ms| {
            ms.sort_unstable();
            ms.get(ms.len() / 2).copied().unwrap_or(0)
        });
        format!("{name} {client} + {server}")
    })
    .collect();
    println!(
        "(CPU time of a whole run, client + server ms, median; /proc/PID/stat, 10 ms ticks: {})",
        cpu.join(", ")
    );
    println!(
        "(+MiB: the highest over the rounds of the process's peak resident memory during the \
         transfer above its VmRSS just before; peak from {})",
        if f.exact {
            "VmHWM reset through clear_refs, and VmRSS sampled every 2 ms"
        } else {
            "VmRSS sampled every 2 ms only (a VmHWM reset was refused)"
        }
    );
    for side in [UPLOAD, DOWNLOAD] {
        let share = rates[side] / rates[ARGS];
        goals.push(Goal {
            what: format!("{} {mib} MiB, % of the 1 MiB-argument rate", SIDES[side]),
            figure: format!("{:.0}%", share * 100.0),
            target: "≥ 70%",
            met: share >= RATE_GOAL,
        });
        for (k, process) in ["client", "server"].iter().enumerate() {
            let peak = worst(side, k);
            goals.push(Goal {
                what: format!("{}: {process} peak RSS above idle", SIDES[side]),
                figure: format!("{:.1} MiB", peak as f64 / MIB as f64),
                target: "≤ 64 MiB",
                met: peak <= RSS_GOAL,
            });
        }
    }
}
