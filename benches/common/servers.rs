//! The raw servers: each answers the raw client's frames as the rpc server answers the calls
//! they stand for, writing all the answers to one read's worth of frames with one write.

use std::future::Future;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::frames::{frame_of, FrameCounter, HEADER_LEN};

/// Starts an echo server on `127.0.0.1` that answers every request frame with one frame of
/// `reply_len` bytes, writing all replies to one read's worth of requests with one write.
pub async fn start_raw_server(reply_len: usize) -> SocketAddr {
    start_raw_cycle_server(vec![reply_len]).await
}

/// Like [`start_raw_server`], but the replies on each connection take their sizes from
/// `reply_lens` in turn: the first request frame gets a reply of `reply_lens[0]` bytes, the
/// second one of `reply_lens[1]` bytes, and so on, starting over at the end. With a client that
/// sends its frames of matching sizes in turn (`RawClient::connect_cycle`), this stands for a
/// sequence of round trips whose frames differ, such as an rpc call that calls back.
pub(super) async fn start_raw_cycle_server(reply_lens: Vec<usize>) -> SocketAddr {
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
    listen(move |stream| answer_frames(stream, answers.clone())).await
}

/// Serves one raw connection until the client closes it: the n-th request frame is answered
/// with the bytes `answers[n % answers.len()]` (whole frames, see
/// [`frame_of`](super::frame_of)), the answers to all the request frames of one read in one
/// write. `stream` is TCP, or another over it (the `secure` bench's raw TLS).
pub async fn answer_frames<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, answers: Vec<Vec<u8>>) {
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
            // A no-op on TCP; a TLS stream may hold the record until flushed.
            stream.flush().await.expect("raw server flush");
            out.clear();
        }
    }
}

/// Starts a server on `127.0.0.1` that answers nothing but counts the frames it receives, the
/// raw side of one-way calls. The exception is a "ping" frame (payload starting with a nonzero
/// byte, see [`ping_frame_of`](super::ping_frame_of)): it is answered with one frame of
/// `reply_len` bytes whose payload starts with the number of frames received before it since
/// the previous ping, as a little-endian `u32`.
pub async fn start_raw_sink_server(reply_len: usize) -> SocketAddr {
    assert!(reply_len >= HEADER_LEN + 4, "the reply carries a u32 count");
    listen(move |mut stream| async move {
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
    })
    .await
}

/// Listens on `127.0.0.1` (a free port) and runs `serve` on every accepted connection, with
/// `TCP_NODELAY` on, in a task of its own; returns the address. Runs where the servers run
/// (see `placement`).
pub async fn listen<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    super::on_server_side(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind raw server");
        let addr = listener.local_addr().expect("raw server address");
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                stream.set_nodelay(true).expect("nodelay");
                tokio::spawn(serve(stream));
            }
        });
        addr
    })
    .await
}
