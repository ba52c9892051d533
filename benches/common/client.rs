//! The raw client: request frames of fixed sizes, one round trip at a time, pipelined, or
//! streamed without replies.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::frames::{frame_of, FrameCounter};

/// A raw client connection that sends request frames of fixed sizes (one size, or several
/// taken in turn). The stream is TCP, or another over it (the `secure` bench's raw TLS).
pub struct RawClient<S = TcpStream> {
    /// The connection, `TCP_NODELAY` on.
    stream: S,
    /// Splits the server's answers into frames.
    counter: FrameCounter,
    /// The request frames, sent in turn by [`RawClient::round_trip`].
    requests: Vec<Vec<u8>>,
    /// Index in `requests` of the next one to send.
    next: usize,
}

impl RawClient {
    /// Connects to an echo server (`start_raw_server`), sending requests of `request_len` bytes.
    pub async fn connect(addr: SocketAddr, request_len: usize) -> RawClient {
        RawClient::connect_cycle(addr, &[request_len]).await
    }

    /// Connects to a server from `start_raw_cycle_server`; successive round trips send
    /// requests of the sizes in `request_lens` in turn.
    pub async fn connect_cycle(addr: SocketAddr, request_lens: &[usize]) -> RawClient {
        assert!(addr.ip().is_loopback(), "benchmarks stay on loopback");
        let stream = TcpStream::connect(addr).await.expect("raw connect");
        stream.set_nodelay(true).expect("nodelay");
        RawClient::over(stream, request_lens)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawClient<S> {
    /// A raw client on a connected `stream` whose server answers as `start_raw_cycle_server`'s
    /// does; successive round trips send requests of the sizes in `request_lens` in turn.
    pub fn over(stream: S, request_lens: &[usize]) -> RawClient<S> {
        assert!(!request_lens.is_empty(), "at least one request size");
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
        // A no-op on TCP; a TLS stream may hold the record until flushed.
        self.stream.flush().await.expect("raw flush");
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

    /// Like [`RawClient::pipelined`] against a
    /// [`start_raw_fanout_server`](super::start_raw_fanout_server): every request is answered
    /// by `fanout` frames, and a request counts as done when all of them are in (the replies
    /// come in request order). Returns the elapsed time.
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

    /// Streams `total` request frames to a
    /// [`start_raw_sink_server`](super::start_raw_sink_server), `per_write` frames per write
    /// and no reply expected, then sends `ping` (from [`ping_frame_of`](super::ping_frame_of))
    /// and waits for its answer. Returns the elapsed time and the number of frames the server
    /// counted.
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
