//! Many calls in flight leave together: the requests of callers woken by one run of replies go
//! out in a few writes, not one write each (issue 16, part 2). Counted at the transport.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use rpc::ConnectOptions;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::harness::TestService;

/// A stream that counts the writes that moved bytes.
struct CountedWrites<S> {
    inner: S,
    writes: Arc<AtomicUsize>,
}

impl<S> CountedWrites<S> {
    fn count(&self, written: &Poll<std::io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CountedWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountedWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.count(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.count(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// 64 tasks keep 64 calls in flight on a multi-thread runtime, where a task woken from a
/// worker runs next on it: the writer woken by the first request must not take the requests
/// one at a time. (Before the fix, 64 callers wrote 1.8 requests per write here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_callers_share_their_writes() {
    const CALLERS: usize = 64;
    const ROUNDS: usize = 50;
    let port = server_on_its_own_runtime();
    let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let writes = Arc::new(AtomicUsize::new(0));
    let counted = CountedWrites {
        inner: stream,
        writes: writes.clone(),
    };
    let client = rpc::connect_stream(counted, ConnectOptions::new())
        .await
        .expect("connected");
    let root = client.root();
    assert_eq!(root.call::<i64>("test", (1,)).await.expect("warm-up"), 2);

    let before = writes.load(Ordering::Relaxed);
    let callers: Vec<_> = (0..CALLERS)
        .map(|k| {
            let root = root.clone();
            tokio::spawn(async move {
                for i in 0..ROUNDS as i64 {
                    let n = k as i64 * 1_000 + i;
                    assert_eq!(root.call::<i64>("test", (n,)).await.expect("call"), n + 1);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.expect("caller");
    }
    let writes = writes.load(Ordering::Relaxed) - before;
    let calls = CALLERS * ROUNDS;
    assert!(
        writes * 8 <= calls,
        "{calls} calls took {writes} writes: fewer than 8 requests a write"
    );
}

/// Starts a server on 127.0.0.1 on a runtime of its own thread (as another process would
/// have), for as long as the test process lives; returns its port.
fn server_on_its_own_runtime() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let server = rpc::server::Server::new(TestService::default)
                .bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(server.local_addr().expect("address").port())
                .expect("port");
            server.serve().await.expect("serve");
        });
    });
    rx.recv().expect("the server thread started")
}
