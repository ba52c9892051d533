//! The raw baseline of every benchmark: plain tokio TCP over loopback (`TCP_NODELAY` on),
//! length-prefixed frames of exactly the sizes the rpc frames have, and no rpc code at all.
//! Also the small statistics the table needs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Size of the little-endian `u32` length prefix of a frame.
const HEADER_LEN: usize = 4;

/// One frame of `total` bytes on the wire (prefix included), payload all zeros.
pub fn frame_of(total: usize) -> Vec<u8> {
    assert!(
        total >= HEADER_LEN,
        "a frame holds at least its {HEADER_LEN}-byte prefix"
    );
    let len = u32::try_from(total - HEADER_LEN).expect("frame fits a u32 length");
    let mut frame = vec![0; total];
    frame[..HEADER_LEN].copy_from_slice(&len.to_le_bytes());
    frame
}

/// Splits a byte stream into frames. Only counts them: the baseline never looks inside.
#[derive(Default)]
struct FrameCounter {
    buf: Vec<u8>,
}

impl FrameCounter {
    /// Reads once from `stream` and returns how many whole frames are now complete (consuming
    /// them); `None` at end of stream.
    async fn read(&mut self, stream: &mut TcpStream) -> Option<usize> {
        self.read_each(stream, |_| {}).await
    }

    /// Like [`FrameCounter::read`], and hands each complete frame's payload to `each`.
    async fn read_each(&mut self, stream: &mut TcpStream, mut each: impl FnMut(&[u8])) -> Option<usize> {
        self.buf.reserve(16 * 1024);
        if stream.read_buf(&mut self.buf).await.expect("raw read") == 0 {
            return None;
        }
        let mut start = 0;
        let mut frames = 0;
        while let Some(header) = self.buf.get(start..start + HEADER_LEN) {
            let len = u32::from_le_bytes(header.try_into().expect("4-byte header")) as usize;
            let end = start + HEADER_LEN + len;
            let Some(payload) = self.buf.get(start + HEADER_LEN..end) else {
                break;
            };
            each(payload);
            start = end;
            frames += 1;
        }
        self.buf.drain(..start);
        Some(frames)
    }
}

/// Starts an echo server on `127.0.0.1` that answers every request frame with one frame of
/// `reply_len` bytes, writing all replies to one read's worth of requests with one write.
pub async fn start_raw_server(reply_len: usize) -> SocketAddr {
    start_raw_cycle_server(vec![reply_len]).await
}

/// Like [`start_raw_server`], but the replies on each connection take their sizes from
/// `reply_lens` in turn: the first request frame gets a reply of `reply_lens[0]` bytes, the
/// second one of `reply_lens[1]` bytes, and so on, starting over at the end. With a client that
/// sends its frames of matching sizes in turn ([`RawClient::connect_cycle`]), this stands for a
/// sequence of round trips whose frames differ, such as an rpc call that calls back.
pub async fn start_raw_cycle_server(reply_lens: Vec<usize>) -> SocketAddr {
    assert!(!reply_lens.is_empty(), "at least one reply size");
    serve_raw(reply_lens.into_iter().map(frame_of).collect()).await
}

/// Like [`start_raw_server`], but every request frame is answered with `fanout` frames of
/// `reply_len` bytes (written together): the shape of a batch of `fanout` calls sent in one
/// frame whose replies come back one frame each.
pub async fn start_raw_fanout_server(reply_len: usize, fanout: usize) -> SocketAddr {
    assert!(fanout > 0, "at least one reply per request");
    serve_raw(vec![frame_of(reply_len).repeat(fanout)]).await
}

/// Serves raw connections on `127.0.0.1`: the n-th request frame on a connection is answered
/// with the bytes `answers[n % answers.len()]`, and the answers to all the request frames of
/// one read go out in one write.
async fn serve_raw(answers: Vec<Vec<u8>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind raw server");
    let addr = listener.local_addr().expect("raw server address");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            stream.set_nodelay(true).expect("nodelay");
            let answers = answers.clone();
            tokio::spawn(async move {
                let mut counter = FrameCounter::default();
                let mut out = Vec::new();
                let mut next = 0;
                while let Some(frames) = counter.read(&mut stream).await {
                    for _ in 0..frames {
                        out.extend_from_slice(&answers[next]);
                        next = (next + 1) % answers.len();
                    }
                    if !out.is_empty() {
                        stream.write_all(&out).await.expect("raw server write");
                        out.clear();
                    }
                }
            });
        }
    });
    addr
}

/// Starts a server on `127.0.0.1` that answers nothing but counts the frames it receives, the
/// raw side of one-way calls. The exception is a "ping" frame (payload starting with a nonzero
/// byte, see [`ping_frame_of`]): it is answered with one frame of `reply_len` bytes whose
/// payload starts with the number of frames received before it since the previous ping, as a
/// little-endian `u32`.
pub async fn start_raw_sink_server(reply_len: usize) -> SocketAddr {
    assert!(reply_len >= HEADER_LEN + 4, "the reply carries a u32 count");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind raw sink server");
    let addr = listener.local_addr().expect("raw sink server address");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            stream.set_nodelay(true).expect("nodelay");
            tokio::spawn(async move {
                let mut counter = FrameCounter::default();
                let mut count: u32 = 0;
                let mut out = Vec::new();
                loop {
                    let read = counter.read_each(&mut stream, |payload| {
                        if payload.first().is_some_and(|&b| b != 0) {
                            let mut reply = frame_of(reply_len);
                            reply[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&count.to_le_bytes());
                            out.extend_from_slice(&reply);
                            count = 0;
                        } else {
                            count += 1;
                        }
                    });
                    if read.await.is_none() {
                        return;
                    }
                    if !out.is_empty() {
                        stream.write_all(&out).await.expect("raw sink write");
                        out.clear();
                    }
                }
            });
        }
    });
    addr
}

/// A frame of `total` bytes that a [`start_raw_sink_server`] answers: payload `1, 0, 0, ...`.
pub fn ping_frame_of(total: usize) -> Vec<u8> {
    assert!(total > HEADER_LEN, "a ping frame has a payload");
    let mut frame = frame_of(total);
    frame[HEADER_LEN] = 1;
    frame
}

/// A raw client connection that sends request frames of fixed sizes (one size, or several
/// taken in turn).
pub struct RawClient {
    stream: TcpStream,
    counter: FrameCounter,
    /// The request frames, sent in turn by [`RawClient::round_trip`].
    requests: Vec<Vec<u8>>,
    /// Index in `requests` of the next one to send.
    next: usize,
}

impl RawClient {
    /// Connects to a server from [`start_raw_server`], sending requests of `request_len` bytes.
    pub async fn connect(addr: SocketAddr, request_len: usize) -> RawClient {
        RawClient::connect_cycle(addr, &[request_len]).await
    }

    /// Connects to a server from [`start_raw_cycle_server`]; successive round trips send
    /// requests of the sizes in `request_lens` in turn.
    pub async fn connect_cycle(addr: SocketAddr, request_lens: &[usize]) -> RawClient {
        assert!(addr.ip().is_loopback(), "benchmarks stay on loopback");
        assert!(!request_lens.is_empty(), "at least one request size");
        let stream = TcpStream::connect(addr).await.expect("raw connect");
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            stream,
            counter: FrameCounter::default(),
            requests: request_lens.iter().map(|&len| frame_of(len)).collect(),
            next: 0,
        }
    }

    /// One request (the next size in turn), then waits for its reply.
    pub async fn round_trip(&mut self) {
        let request = &self.requests[self.next];
        self.next = (self.next + 1) % self.requests.len();
        self.stream.write_all(request).await.expect("raw write");
        let mut got = 0;
        while got == 0 {
            got = self
                .counter
                .read(&mut self.stream)
                .await
                .expect("raw server closed");
        }
        assert_eq!(got, 1, "one reply per request");
    }

    /// Sends `total` requests keeping `window` of them outstanding; returns the elapsed time.
    /// Each batch of replies read is answered with as many new requests in one write.
    pub async fn pipelined(&mut self, window: usize, total: usize) -> Duration {
        self.pipelined_fanout(window, total, 1).await
    }

    /// Like [`RawClient::pipelined`] against a [`start_raw_fanout_server`]: every request is
    /// answered by `fanout` frames, and a request counts as done when all of them are in (the
    /// replies come in request order). Returns the elapsed time.
    pub async fn pipelined_fanout(&mut self, window: usize, total: usize, fanout: usize) -> Duration {
        assert_eq!(self.requests.len(), 1, "pipelining uses one request size");
        assert!(fanout > 0, "at least one reply per request");
        let request = self.requests[0].clone();
        let start = Instant::now();
        let mut sent = window.min(total);
        self.stream
            .write_all(&request.repeat(sent))
            .await
            .expect("raw write");
        let mut replies = 0;
        let mut batch = Vec::new();
        while replies < total * fanout {
            let got = self
                .counter
                .read(&mut self.stream)
                .await
                .expect("raw server closed");
            let done_before = replies / fanout;
            replies += got;
            let more = (replies / fanout - done_before).min(total - sent);
            if more > 0 {
                batch.clear();
                for _ in 0..more {
                    batch.extend_from_slice(&request);
                }
                self.stream.write_all(&batch).await.expect("raw write");
                sent += more;
            }
        }
        assert_eq!(replies, total * fanout, "no reply beyond the requests sent");
        start.elapsed()
    }

    /// Streams `total` request frames to a [`start_raw_sink_server`], `per_write` frames per
    /// write and no reply expected, then sends `ping` (from [`ping_frame_of`]) and waits for its
    /// answer. Returns the elapsed time and the number of frames the server counted.
    pub async fn stream_then_ping(&mut self, total: usize, per_write: usize, ping: &[u8]) -> (Duration, u32) {
        assert_eq!(self.requests.len(), 1, "streaming uses one request size");
        assert!(per_write > 0, "at least one frame per write");
        let chunk = self.requests[0].repeat(per_write);
        let frame_len = self.requests[0].len();
        let start = Instant::now();
        let mut sent = 0;
        while sent < total {
            let n = per_write.min(total - sent);
            self.stream
                .write_all(&chunk[..n * frame_len])
                .await
                .expect("raw write");
            sent += n;
        }
        self.stream.write_all(ping).await.expect("raw write");
        let mut counted = None;
        while counted.is_none() {
            let read = self.counter.read_each(&mut self.stream, |payload| {
                let count = payload.get(..4).expect("count in the reply");
                counted = Some(u32::from_le_bytes(count.try_into().expect("4 bytes")));
            });
            read.await.expect("raw sink server closed");
        }
        (start.elapsed(), counted.expect("answered"))
    }
}

/// Latency figures of a set of samples, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Latency {
    /// Summarises samples given in nanoseconds.
    pub fn of(samples: &mut [u64]) -> Latency {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
        let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64 / 1e3;
        Latency {
            p50: at(0.50),
            p99: at(0.99),
            mean,
        }
    }
}

/// The median of a few figures (rates of repeated rounds).
pub fn median(values: &mut [f64]) -> f64 {
    assert!(!values.is_empty(), "no values");
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
