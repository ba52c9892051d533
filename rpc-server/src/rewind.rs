//! Looking at a stranger's first bytes without losing them: [`sniff`] reads them, and
//! [`Rewind`] hands them out again before the rest of the stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rpc_core::protocol::MAGIC;
use rpc_core::rpyc::frame::sniff as sniff_rpyc;
use rpc_core::rpyc::Generation;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// How many bytes [`sniff`] reads: the length of the protocol's magic.
const SNIFFED: usize = MAGIC.len();

/// What a client's first bytes say it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// This protocol's preamble, without authentication.
    Protocol,
    /// A TLS handshake record.
    Tls,
    /// A Python rpyc client's first frame.
    Rpyc(Generation),
    /// Anything else (a shared-secret exchange, or garbage).
    Other,
}

/// Reads the client's first bytes and says what they look like; the returned stream
/// still yields them.
pub(crate) async fn sniff<S: AsyncRead + Unpin>(mut stream: S) -> io::Result<(Opening, Rewind<S>)> {
    let mut first = [0u8; SNIFFED];
    stream.read_exact(&mut first).await?;
    let opening = if first == MAGIC {
        Opening::Protocol
    } else if first[0] == 0x16 && first[1] == 0x03 {
        Opening::Tls
    } else if let Some(generation) = sniff_rpyc(&first, usize::MAX) {
        Opening::Rpyc(generation)
    } else {
        Opening::Other
    };
    Ok((
        opening,
        Rewind {
            prefix: first.to_vec(),
            pos: 0,
            inner: stream,
        },
    ))
}

/// A stream whose first bytes were read already: it gives them back first.
pub(crate) struct Rewind<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn sniffed_bytes_come_back_first() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b"\x00RPC-RS\nmore").await.expect("write");
        drop(a);
        let (opening, mut rest) = sniff(b).await.expect("sniff");
        assert_eq!(opening, Opening::Protocol);
        let mut all = Vec::new();
        rest.read_to_end(&mut all).await.expect("read");
        assert_eq!(all, b"\x00RPC-RS\nmore");
    }
}
