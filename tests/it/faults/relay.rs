//! The fault-injecting TCP relay: forwards each accepted connection to a loopback server in
//! both directions, applying the direction's schedule at its byte offsets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::schedule::{schedule, Dir, Event, Fault, Profile, XorShift};

/// How many faults the relays applied, over all seeds.
#[derive(Default)]
pub(super) struct Applied {
    pub(super) delays: AtomicUsize,
    pub(super) splits: AtomicUsize,
    pub(super) stalls: AtomicUsize,
    pub(super) resets: AtomicUsize,
    pub(super) half_closes: AtomicUsize,
}

/// A fault-injecting relay from `127.0.0.1:<port>` to a loopback server; stops when dropped.
pub(super) struct Relay {
    pub(super) port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The accept task owns every connection task: they all go.
        self.task.abort();
    }
}

impl Relay {
    pub(super) async fn start(target: u16, seed: u64, salt: u64, applied: Arc<Applied>) -> Relay {
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
