//! The baseline: plain tokio TCP, length-prefixed frames, no serialization at all.
//!
//! Frames are a 4-byte little-endian length and that many bytes. The server reads whatever
//! arrives into one reused 2 MiB buffer (so one `read` can take a whole 1 MiB frame, as rpc's
//! reader can), walks the frames in it without copying them, and answers every complete frame
//! with an 8-byte frame (length 4, then the request's payload length as a `u32`); the answers to
//! everything one `read` returned go out in one `write`. The client writes each request (or each
//! batch of pipelined requests) with one `write_all`. `TCP_NODELAY` is on at both ends, as it is
//! for rpc and (set by this harness) for tarpc.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Size of a small request frame (prefix included): the size of an rpc `null()` request frame.
pub const REQUEST: usize = 16;
/// Size of every reply frame (prefix included): the size of an rpc `null()` reply frame.
pub const REPLY: usize = 8;

/// A frame of `len` bytes in all: the length prefix and `len - 4` bytes of payload.
pub fn frame(len: usize) -> Vec<u8> {
    let payload = len.checked_sub(4).expect("a frame holds at least its prefix");
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&u32::try_from(payload).expect("payload fits a u32").to_le_bytes());
    out.resize(len, 0xAB);
    out
}

/// The raw server on `127.0.0.1`, one task per connection.
pub struct RawServer {
    /// The port it listens on.
    pub port: u16,
    /// The accepting task (aborted on drop of the runtime or by [`RawServer::stop`]).
    accepting: JoinHandle<()>,
}

impl RawServer {
    /// Binds a free port and starts accepting.
    pub async fn start() -> RawServer {
        crate::placement::on_server_side(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind raw server");
            let port = listener.local_addr().expect("raw server address").port();
            let accepting = tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.expect("raw accept");
                    tokio::spawn(serve(stream));
                }
            });
            RawServer { port, accepting }
        })
        .await
    }

    /// Stops accepting (open connections end when their client closes).
    pub fn stop(self) {
        self.accepting.abort();
    }
}

/// Answers every frame with an 8-byte frame carrying the request's payload length.
async fn serve(mut stream: TcpStream) {
    stream.set_nodelay(true).expect("raw server nodelay");
    let mut buf = vec![0u8; 2 << 20];
    let mut out = Vec::with_capacity(64 * REPLY);
    let mut header = [0u8; 4];
    let mut have = 0usize; // bytes of the current frame's prefix seen so far
    let mut left = 0usize; // payload bytes of the current frame still to come
    let mut payload = 0u32; // payload length of the current frame
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut i = 0;
        while i < n {
            if have < 4 {
                let take = (4 - have).min(n - i);
                header[have..have + take].copy_from_slice(&buf[i..i + take]);
                have += take;
                i += take;
                if have < 4 {
                    continue;
                }
                payload = u32::from_le_bytes(header);
                left = payload as usize;
            } else {
                let take = left.min(n - i);
                left -= take;
                i += take;
            }
            if left == 0 {
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&payload.to_le_bytes());
                have = 0;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

/// A client connection to the raw server.
pub struct RawClient {
    /// The socket.
    stream: TcpStream,
}

impl RawClient {
    /// Connects with `TCP_NODELAY`.
    pub async fn connect(port: u16) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("raw connect");
        stream.set_nodelay(true).expect("raw client nodelay");
        RawClient { stream }
    }

    /// One round trip: `request` out, one reply frame back; returns the length it reports.
    pub async fn round_trip(&mut self, request: &[u8]) -> u32 {
        self.stream.write_all(request).await.expect("raw write");
        let mut reply = [0u8; REPLY];
        self.stream.read_exact(&mut reply).await.expect("raw read");
        u32::from_le_bytes(reply[4..8].try_into().expect("4 bytes"))
    }

    /// `total` small round trips with `window` requests kept outstanding; returns the time taken.
    /// Every batch of replies one `read` returns is answered with as many new requests in one
    /// `write`.
    pub async fn pipelined(&mut self, total: usize, window: usize) -> Duration {
        let requests: Vec<u8> = (0..window).flat_map(|_| frame(REQUEST)).collect();
        let mut buf = vec![0u8; 64 << 10];
        let start = Instant::now();
        let first = window.min(total);
        self.stream
            .write_all(&requests[..first * REQUEST])
            .await
            .expect("raw pipelined write");
        let (mut sent, mut done, mut carry) = (first, 0usize, 0usize);
        while done < total {
            let n = self.stream.read(&mut buf).await.expect("raw pipelined read");
            assert!(n > 0, "raw server closed the connection");
            carry += n;
            let replies = carry / REPLY;
            carry %= REPLY;
            done += replies;
            let more = replies.min(total - sent);
            if more > 0 {
                self.stream
                    .write_all(&requests[..more * REQUEST])
                    .await
                    .expect("raw pipelined write");
                sent += more;
            }
        }
        start.elapsed()
    }
}
