//! Clients of another protocol: a Python `rpyc` client that connects gets a Python exception
//! saying what this server is, instead of bytes it cannot read (and instead of waiting on a
//! server that waits on it).
//!
//! An rpyc client sends its first request as soon as its code reads `conn.root` (at once in
//! `rpyc.classic.connect`), and expects nothing before the reply. So the server looks at a
//! client's first bytes before it writes anything: this protocol's preamble goes on to the
//! handshake; an rpyc frame gets `builtins.ConnectionRefusedError(message)` as the answer to
//! its request, in the client's own layout (6.x, or 5.x and older), and the connection ends.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use rpc_core::rpyc::frame::{decode_frame, FrameLimits};
use rpc_core::rpyc::{refusal, Generation, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::listener::read_until_hangup;

/// What a Python rpyc client is told by default.
pub const DEFAULT_RPYC_REFUSAL: &str = "this is a server of the Rust rpc framework, which does not serve \
     RPyC's protocol on this port: connect with an rpc client (rpc::connect), or ask its operator for the \
     port that serves rpyc clients";

/// The remote traceback text Python shows under the refusal.
const DETAIL: &str = "(no Python traceback: the server is written in Rust with the rpc framework)";

/// Most bytes of an rpyc client's first frame read to find its sequence number.
const FIRST_FRAME_MAX: usize = 64 << 10;

/// How long turning an rpyc client away may take.
const DEADLINE: Duration = Duration::from_secs(2);

/// How many first bytes tell an rpyc client (its frame header and message kind).
pub(crate) const SNIFF_LEN: usize = 6;

/// Answers an rpyc client's first request with a `ConnectionRefusedError(message)`, then
/// closes. Bounded in bytes read and in time.
pub(crate) async fn refuse_rpyc<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    generation: Generation,
    message: &str,
) -> io::Result<()> {
    match tokio::time::timeout(DEADLINE, refuse(stream, generation, message)).await {
        Ok(done) => done,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "the rpyc client stalled")),
    }
}

async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    generation: Generation,
    message: &str,
) -> io::Result<()> {
    let seq = first_seq(&mut s, generation).await?;
    s.write_all(&refusal(seq, generation, message, DETAIL)).await?;
    s.flush().await?;
    // Let the client read the answer and hang up (it sends CLOSE).
    read_until_hangup(&mut s, FIRST_FRAME_MAX).await?;
    let _ = s.shutdown().await;
    Ok(())
}

/// The sequence number of the client's first request (0, its counter's start, when the
/// frame is too large to read or does not decode).
async fn first_seq<S: AsyncRead + Unpin>(s: &mut S, generation: Generation) -> io::Result<i64> {
    let limits = FrameLimits {
        max_frame: FIRST_FRAME_MAX,
        max_payload: FIRST_FRAME_MAX,
    };
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        match decode_frame(&mut buf, limits) {
            Ok(Some(payload)) => {
                return Ok(Message::decode(&payload, generation).map_or(0, |m| m.seq));
            }
            Ok(None) => {}
            Err(_) => return Ok(0),
        }
        if s.read_buf(&mut buf).await? == 0 {
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use rpc_core::rpyc::frame::encode_frame;
    use rpc_core::rpyc::{Brine, Kind, Vinegar};

    use super::*;

    #[tokio::test]
    async fn a_python_request_gets_a_refusal_with_its_seq() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        // A ping with seq 5, as rpyc 6 writes it.
        let ping = Message {
            kind: Kind::Request,
            seq: 5,
            body: Brine::Tuple(vec![
                Brine::Int(1),
                Brine::Tuple(vec![Brine::Int(1), Brine::Tuple(vec![Brine::str("x")])]),
            ]),
        };
        let mut frame = Vec::new();
        encode_frame(&ping.encode(Generation::V6), true, &mut frame);
        client.write_all(&frame).await.expect("write");
        let serving = tokio::spawn(refuse_rpyc(server, Generation::V6, "not here"));
        let mut buf = BytesMut::new();
        let payload = loop {
            if let Some(p) = decode_frame(&mut buf, FrameLimits::default()).expect("frame") {
                break p;
            }
            assert_ne!(client.read_buf(&mut buf).await.expect("read"), 0, "closed early");
        };
        drop(client);
        serving.await.expect("join").expect("refused");
        let reply = Message::decode(&payload, Generation::V6).expect("message");
        assert_eq!((reply.kind, reply.seq), (Kind::Exception, 5));
        let Some(Vinegar::Exception(e)) = Vinegar::from_brine(&reply.body) else {
            panic!("not an exception: {:?}", reply.body);
        };
        assert_eq!(e.name, "ConnectionRefusedError");
        assert_eq!(e.args, vec![Brine::str("not here")]);
    }
}
