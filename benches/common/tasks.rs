//! A raw baseline with the machinery no pipelining client can do without: `window` tasks on
//! one connection, each sending its request frame and waiting for its own reply, through one
//! writer task (it writes what is queued in one write) and one reader task (it splits the
//! replies into frames and wakes each waiter; the echo server answers in order, so the n-th
//! reply is the n-th request's). Beside the bulk echo of [`RawClient::pipelined`]
//! (super::RawClient::pipelined), which no caller waits on, this is what an RPC's own work per
//! call is measured against.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::frames::{frame_of, FrameCounter};

/// Requests waiting for their replies, in the order they were queued for the writer.
type Waiters = Arc<Mutex<VecDeque<oneshot::Sender<()>>>>;

/// Makes `total` round trips of `request_len`-byte frames to the echo server at `addr` from
/// `window` tasks; returns the elapsed time.
pub async fn pipelined_in_tasks(
    addr: SocketAddr,
    request_len: usize,
    window: usize,
    total: usize,
) -> Duration {
    assert!(addr.ip().is_loopback(), "benchmarks stay on loopback");
    let stream = TcpStream::connect(addr).await.expect("raw connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut r, mut w) = stream.into_split();
    let request = frame_of(request_len);
    let (queue, mut queued) = mpsc::unbounded_channel::<()>();
    let waiters: Waiters = Arc::default();

    let start = Instant::now();
    let writer = tokio::spawn(async move {
        let mut out = Vec::new();
        while queued.recv().await.is_some() {
            out.clear();
            out.extend_from_slice(&request);
            while queued.try_recv().is_ok() {
                out.extend_from_slice(&request);
            }
            w.write_all(&out).await.expect("raw write");
        }
    });
    let reader = {
        let waiters = waiters.clone();
        tokio::spawn(async move {
            let mut counter = FrameCounter::default();
            let mut replies = 0;
            while replies < total {
                let got = counter.read(&mut r).await.expect("raw server closed");
                let mut waiting = waiters.lock();
                for _ in 0..got {
                    let waiter = waiting.pop_front().expect("a reply to a request sent");
                    let _ = waiter.send(());
                }
                replies += got;
            }
        })
    };
    let left = Arc::new(AtomicUsize::new(total));
    let callers: Vec<_> = (0..window)
        .map(|_| {
            let (left, waiters, queue) = (left.clone(), waiters.clone(), queue.clone());
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let (done, reply) = oneshot::channel();
                    {
                        // Queued under the lock, so the waiters' order is the frames' order.
                        let mut waiting = waiters.lock();
                        waiting.push_back(done);
                        queue.send(()).expect("the writer runs");
                    }
                    reply.await.expect("the reader answers");
                }
            })
        })
        .collect();
    drop(queue);
    for caller in callers {
        caller.await.expect("caller");
    }
    reader.await.expect("reader");
    let elapsed = start.elapsed();
    writer.await.expect("writer");
    elapsed
}
