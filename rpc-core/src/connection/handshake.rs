//! Opening a connection: each side sends its preamble and `Hello`, and reads the peer's.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::frame::{encode_frame, FrameDecoder};
use crate::protocol::{Hello, Message, Preamble, PREAMBLE_LEN, PROTOCOL_VERSION};

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

/// Reads the peer's side of the handshake. Returns its `Hello` and whatever bytes followed it.
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
    let mut decoder = FrameDecoder::new(max_frame);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        if let Some(frame) = decoder.decode(&mut buf)? {
            return match Message::decode(&frame) {
                Ok(Message::Hello(hello)) => Ok((hello, buf)),
                Ok(other) => Err(Error::Handshake(format!("expected hello, got {other:?}"))),
                Err(e) => Err(Error::Handshake(format!("invalid hello: {e}"))),
            };
        }
        if r.read_buf(&mut buf).await? == 0 {
            decoder.decode_eof(&buf)?;
            return Err(Error::Handshake(
                "the peer closed the connection before its hello".into(),
            ));
        }
    }
}
