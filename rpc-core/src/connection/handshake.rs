//! Opening a connection: each side sends its preamble and `Hello`, and reads the peer's.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{shortened, Error, Result};
use crate::frame::{encode_frame, make_room, FrameDecoder};
use crate::protocol::{
    tag, DecodeLimits, Hello, Message, Preamble, PREAMBLE_LEN, PRE_HANDSHAKE_MAX_FRAME, PROTOCOL_VERSION,
};

/// Most characters of a peer's close reason kept.
pub(super) const REASON_MAX: usize = 1024;

/// First room of the handshake's read buffer.
const READ_CHUNK: usize = 8 * 1024;

/// Writes our side of the handshake.
pub(super) async fn send_hello<W: AsyncWrite + Unpin>(
    w: &mut W,
    hello: &Hello,
    max_frame: usize,
) -> Result<()> {
    let mut out = Preamble::current().to_bytes().to_vec();
    encode_frame(&mut out, max_frame, |o| {
        Message::Hello(hello.clone()).encode_into(o)
    })
    .map_err(|e| Error::Encode(e.to_string()))??;
    w.write_all(&out).await?;
    w.flush().await?;
    Ok(())
}

/// Refuses the peer after the hellos: a `Close` saying why.
pub(super) async fn refuse<W: AsyncWrite + Unpin>(w: &mut W, reason: &str, max_frame: usize) -> Result<()> {
    let mut out = Vec::new();
    encode_frame(&mut out, max_frame, |o| {
        Message::Close {
            reason: Some(reason.to_owned()),
        }
        .encode_into(o)
    })
    .map_err(|e| Error::Encode(e.to_string()))??;
    w.write_all(&out).await?;
    w.flush().await?;
    Ok(())
}

/// Reads the peer's side of the handshake. Returns its `Hello` and whatever bytes followed it.
/// A frame of more than [`PRE_HANDSHAKE_MAX_FRAME`] bytes (or `max_frame`) is refused.
pub(super) async fn read_hello<R: AsyncRead + Unpin>(
    r: &mut R,
    max_frame: usize,
) -> Result<(Hello, BytesMut)> {
    let mut pre = [0u8; PREAMBLE_LEN];
    let mut got = 0;
    while got < PREAMBLE_LEN {
        let n = r.read(&mut pre[got..]).await?;
        if n == 0 {
            return Err(Error::Handshake(format!(
                "the peer closed the connection during the handshake (after {got} bytes)"
            )));
        }
        got += n;
    }
    let Some(preamble) = Preamble::parse(&pre) else {
        // A TLS record starts with 0x16 (handshake) and a 3.x version.
        if pre[0] == 0x16 && pre[1] == 0x03 {
            return Err(Error::Handshake(
                "the peer speaks TLS, and this side does not (give the server its TLS settings)".into(),
            ));
        }
        return Err(Error::Handshake(format!(
            "the peer does not speak this protocol (it sent {:?})",
            String::from_utf8_lossy(&pre)
        )));
    };
    if preamble.version != PROTOCOL_VERSION {
        return Err(Error::VersionMismatch {
            local: PROTOCOL_VERSION,
            peer: preamble.version,
        });
    }
    // A stranger gets a small frame, and only a hello (or a refusal) is decoded from it.
    let max = max_frame.min(PRE_HANDSHAKE_MAX_FRAME);
    let mut decoder = FrameDecoder::new(max);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        if let Some(frame) = decoder.decode(&mut buf)? {
            return opening(&frame).map(|hello| (hello, buf));
        }
        make_room(&mut buf, max);
        if r.read_buf(&mut buf).await? == 0 {
            decoder.decode_eof(&buf)?;
            return Err(Error::Handshake(
                "the peer closed the connection before its hello".into(),
            ));
        }
    }
}

/// The peer's first message: its hello, or a refusal (a `Close` naming why, e.g. a full
/// server). Anything else is refused by its kind alone, without being decoded.
pub(crate) fn opening(frame: &[u8]) -> Result<Hello> {
    let limits = DecodeLimits {
        max_depth: 1,
        max_decoded_size: PRE_HANDSHAKE_MAX_FRAME,
    };
    match frame.first() {
        Some(&tag::HELLO) | Some(&tag::CLOSE) => {}
        Some(&tag) => {
            return Err(Error::Handshake(format!(
                "expected a hello, got a message of kind {tag} instead"
            )))
        }
        None => return Err(Error::Handshake("expected a hello, got an empty frame".into())),
    }
    match Message::decode_with(frame, limits) {
        Ok(Message::Hello(hello)) => Ok(hello),
        Ok(Message::Close { reason }) => Err(Error::PeerClosed(shortened(
            reason.as_deref().unwrap_or("it refused the connection"),
            REASON_MAX,
        ))),
        Ok(other) => Err(Error::Handshake(format!(
            "expected a hello, got a {}",
            other.kind()
        ))),
        Err(e) => Err(Error::Handshake(format!("invalid hello: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tls_client_hello_is_named_as_such() {
        // The first bytes of a TLS 1.2/1.3 ClientHello record.
        let mut bytes: &[u8] = &[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00,
        ];
        let e = read_hello(&mut bytes, 1 << 20)
            .await
            .expect_err("not our protocol");
        assert!(e.to_string().contains("speaks TLS"), "{e}");
        let mut bytes: &[u8] = b"GET / HTTP/1.1\r\n";
        let e = read_hello(&mut bytes, 1 << 20)
            .await
            .expect_err("not our protocol");
        assert!(e.to_string().contains("does not speak this protocol"), "{e}");
    }
}
