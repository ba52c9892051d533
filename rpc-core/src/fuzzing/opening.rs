//! The decoders that run before the handshake is done: the [`Preamble`], and the peer's first
//! message ([`opening`]), which must be a bounded hello or a close and nothing else.

use crate::connection::opening;
use crate::error::Error;
use crate::protocol::tag;
use crate::protocol::{Message, Preamble, MAGIC, PREAMBLE_LEN, PRE_HANDSHAKE_MAX_FRAME};
use crate::value::DecodeLimits;

/// Most characters of a refusal's reason kept in the error, with room for a note of its length.
const REASON_MAX: usize = 2048;

/// Parses the preamble at the start of `bytes`, if they are long enough; true if it is one.
pub(super) fn preamble(bytes: &[u8]) -> Result<bool, String> {
    let Some(head) = bytes.first_chunk::<PREAMBLE_LEN>() else {
        return Ok(false);
    };
    match Preamble::parse(head) {
        Some(p) if head[..MAGIC.len()] == MAGIC && p.to_bytes() == *head => Ok(true),
        None if head[..MAGIC.len()] != MAGIC => Ok(false),
        other => Err(format!("preamble {head:?} parsed as {other:?}")),
    }
}

/// Runs [`opening`] on `frame` and checks its answer against the message decoder under the
/// handshake's limits; true if it accepted a hello.
pub(super) fn first_message(frame: &[u8]) -> Result<bool, String> {
    let got = opening(frame);
    if !matches!(frame.first(), Some(&tag::HELLO | &tag::CLOSE)) {
        return match got {
            Err(Error::Handshake(_)) => Ok(false),
            other => Err(format!(
                "a first message of kind {:?} gave {other:?}",
                frame.first()
            )),
        };
    }
    let limits = DecodeLimits {
        max_depth: 1,
        max_decoded_size: PRE_HANDSHAKE_MAX_FRAME,
    };
    match (got, Message::decode_with(frame, limits)) {
        (Ok(hello), Ok(Message::Hello(decoded))) if hello == decoded => Ok(true),
        // A refusal's reason is cut short (the peer controls its length).
        (Err(Error::PeerClosed(why)), Ok(Message::Close { .. })) if why.chars().count() <= REASON_MAX => {
            Ok(false)
        }
        (Err(Error::Handshake(_)), Err(_)) => Ok(false),
        (got, decoded) => Err(format!(
            "opening gave {:?} where the decoder gave {:?}",
            got.map(|h| h.service.len()),
            decoded.map(|m| m.kind())
        )),
    }
}
