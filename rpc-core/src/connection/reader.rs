//! The reader task: splits the incoming byte stream into frames, decodes messages, routes
//! replies to their waiters and hands requests to the dispatch.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{dispatch, Inner};
use crate::error::{Error, Result};
use crate::frame::FrameDecoder;
use crate::protocol::Message;
use crate::value;

/// Keep at least this much room free in the read buffer.
const MIN_READ_ROOM: usize = 8 * 1024;

/// Why the reader stopped without an error.
#[derive(Debug)]
pub(super) enum Stop {
    /// The stream ended.
    Eof,
    /// The peer said `Close`.
    PeerClosed,
}

pub(super) async fn run<R: AsyncRead + Unpin>(inner: Arc<Inner>, mut r: R, mut buf: BytesMut) {
    let result = read_loop(&inner, &mut r, &mut buf).await;
    match result {
        Ok(stop) => {
            tracing::debug!(?stop, "connection ended");
            inner.shutdown(None);
        }
        Err(e) => {
            tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "closing connection");
            inner.shutdown(Some(Arc::new(e)));
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(inner: &Arc<Inner>, r: &mut R, buf: &mut BytesMut) -> Result<Stop> {
    let mut decoder = FrameDecoder::new(inner.config.max_frame_size);
    loop {
        while let Some(frame) = decoder.decode(buf)? {
            value::set_depth_limit(inner.config.max_depth);
            let msg = Message::decode(&frame).map_err(|e| Error::Protocol(e.to_string()))?;
            tracing::trace!(?msg, "received");
            if let Some(stop) = handle(inner, msg)? {
                return Ok(stop);
            }
        }
        if buf.capacity() - buf.len() < MIN_READ_ROOM {
            buf.reserve(MIN_READ_ROOM);
        }
        if r.read_buf(buf).await? == 0 {
            decoder.decode_eof(buf)?;
            return Ok(Stop::Eof);
        }
    }
}

fn handle(inner: &Arc<Inner>, msg: Message) -> Result<Option<Stop>> {
    match msg {
        Message::Request(req) => dispatch::handle_request(inner, req),
        Message::Reply { seq, value } => inner.complete(seq, Ok(value)),
        Message::Error { seq, error } => inner.complete(seq, Err(Error::Remote(error))),
        Message::Release { refs } => {
            tracing::debug!(?refs, "release of references this side never exported");
        }
        Message::Cancel { seq } => {
            tracing::debug!(seq, "cancel of a request that is not running");
        }
        Message::Close => return Ok(Some(Stop::PeerClosed)),
        Message::Hello(_) => return Err(Error::Protocol("unexpected hello after the handshake".into())),
    }
    Ok(None)
}
