//! The reader task: splits the incoming byte stream into frames, decodes messages, routes
//! replies to their waiters and hands requests to the dispatch.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::dispatch;
use super::handshake::REASON_MAX;
use super::inner::Budget;
use super::inner::Inner;
use super::Connection;
use crate::error::{shortened, Error, Result};
use crate::error::{RemoteError, RemoteErrorKind};
use crate::frame::{holds_a_frame, make_room, shrink, FrameDecoder, HEADER_LEN};
use crate::protocol::{self, Decoded, Message, MessageIn, ObjectId};

/// Why the reader stopped without an error.
#[derive(Debug)]
pub(super) enum Stop {
    /// The stream ended.
    Eof,
    /// The peer said `Close` without an error.
    PeerClosed,
}

pub(super) async fn run<R: AsyncRead + Unpin>(inner: Arc<Inner>, mut r: R, mut buf: BytesMut) {
    match read_loop(&inner, &mut r, &mut buf).await {
        Ok(stop) => {
            tracing::debug!(?stop, "connection ended");
            inner.shutdown(None);
        }
        Err(e) => {
            tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "closing connection");
            if !matches!(e, Error::PeerClosed(_) | Error::Io(_)) {
                // Tell the peer why, so its side shows more than "connection closed".
                let _ = inner.send(&Message::Close {
                    reason: Some(e.chain()),
                });
            }
            inner.shutdown(Some(Arc::new(e)));
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(inner: &Arc<Inner>, r: &mut R, buf: &mut BytesMut) -> Result<Stop> {
    let max_frame = inner.config.max_frame_size;
    let mut decoder = FrameDecoder::new(max_frame);
    loop {
        // A user-level handle for this run of frames (requests need one), dropped before the
        // next read so that the reader never keeps the connection open.
        let mut conn = None;
        let mut frames = 0;
        // Frames other than pongs: a pong answers our own keepalive, which must not keep an
        // idle connection open.
        let mut lively = false;
        // Replies in this run: several mean several callers about to call again.
        let mut replies = 0;
        while let Some(len) = decoder.next_frame(buf)? {
            frames += 1;
            let frame = &buf[HEADER_LEN..HEADER_LEN + len];
            let budget = inner.budget_for(frame);
            // The message borrows from the buffer (a request's member name) until handled.
            let (decoded, forged) = inner.decode(frame, budget.limits);
            let last = !holds_a_frame(&buf[HEADER_LEN + len..]);
            let Decoded { msg, over } = decoded.map_err(|e| Error::Protocol(e.to_string()))?;
            // The kind only: a message's content is the peer's, and may be huge.
            tracing::trace!(kind = protocol::kind_name(&msg), "received");
            lively |= !matches!(msg, Message::Pong { .. });
            replies += matches!(msg, Message::Reply { .. } | Message::Error { .. }) as usize;
            if replies == 2 {
                // Set before the callers are woken: on another worker they may call at once.
                inner.burst.store(true, Ordering::Relaxed);
            }
            let stop = match forged {
                Some(id) => {
                    refuse_forged(inner, msg, id);
                    None
                }
                None => handle(inner, msg, over, &budget, last, &mut conn)?,
            };
            buf.advance(HEADER_LEN + len);
            if let Some(stop) = stop {
                return Ok(stop);
            }
        }
        if frames > 0 {
            inner.liveness.heard();
        }
        if lively {
            inner.touch();
        }
        drop(conn);
        shrink(buf);
        make_room(buf, max_frame);
        if r.read_buf(buf).await? == 0 {
            decoder.decode_eof(buf)?;
            return Ok(Stop::Eof);
        }
    }
}

fn handle(
    inner: &Arc<Inner>,
    msg: MessageIn<'_>,
    over: bool,
    budget: &Budget,
    last: bool,
    conn: &mut Option<Connection>,
) -> Result<Option<Stop>> {
    match msg {
        Message::Request(req) => dispatch::handle_request(inner, req, budget, last, conn)?,
        Message::Reply { seq, .. } if over => {
            let limit = budget.limits.max_decoded_size;
            let e = Error::Limit(format!(
                "the reply decodes to more than the budget of {limit} bytes"
            ));
            inner.complete(seq, Err(e));
        }
        Message::Reply { seq, value } => inner.complete(seq, Ok(value)),
        Message::Error { seq, error } => inner.complete(seq, Err(Error::Remote(error))),
        Message::Release { refs } => {
            inner
                .release_exports(&refs)
                .map_err(|e| Error::Protocol(e.to_string()))?;
        }
        Message::Cancel { seq } => inner.cancel(seq),
        Message::Batch(requests) => {
            for req in requests {
                dispatch::handle_request(inner, req, budget, false, conn)?;
            }
        }
        Message::Close { reason: None } => return Ok(Some(Stop::PeerClosed)),
        Message::Close { reason: Some(reason) } => {
            // The peer's words, for our logs and errors: a line, not a frame's worth.
            return Err(Error::PeerClosed(shortened(&reason, REASON_MAX)));
        }
        Message::Hello(_) => return Err(Error::Protocol("unexpected hello after the handshake".into())),
        Message::Ping { nonce } => inner.send_owned_direct(Message::Pong { nonce })?,
        Message::Pong { nonce } => inner.liveness.pong(nonce),
        Message::Closing { reason } => {
            let reason = reason.map(|r| shortened(&r, REASON_MAX));
            tracing::debug!(?reason, "the peer is shutting down");
            inner.liveness.peer_closing(reason);
        }
    }
    Ok(None)
}

/// A message named an object this side never gave out (or that was released): the request
/// gets an error and reaches nothing; anything else is dropped.
fn refuse_forged(inner: &Arc<Inner>, msg: MessageIn<'_>, id: ObjectId) {
    let text = format!("reference to object {id}, which this side does not export");
    tracing::warn!(id, "message with a forged reference refused");
    match msg {
        Message::Request(req) => {
            let error = RemoteError::new(RemoteErrorKind::Refused, "rpc::UnknownObject", text);
            inner.reply(req.seq, Err(error));
        }
        Message::Reply { seq, .. } => inner.complete(seq, Err(Error::Protocol(text))),
        _ => {}
    }
}
