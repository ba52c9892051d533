//! The tarpc side: a `#[tarpc::service]` over TCP, set up as tarpc's own examples do, except
//! that this harness turns `TCP_NODELAY` on at both ends: tarpc's `serde_transport::tcp` helpers
//! leave it off, and rpc and the raw baseline have it on.
//!
//! Configuration: tarpc's serde transport, a `tokio_util` `LengthDelimitedCodec` (4-byte length
//! prefix, max frame raised from 8 MiB to 64 MiB like rpc's default) and the bincode codec of
//! `tokio-serde` (bincode 1 `DefaultOptions`: varint integers). Client and server configs are
//! the defaults (1,000 requests in flight, a 100-request buffer to the client's dispatch task).
//! The server spawns a task per request (`execute(..).for_each(spawn)`), the pattern of tarpc's
//! examples and docs (`--tarpc-inline` runs them in the connection's task instead). Every call
//! carries `context::current()` (a 10 s deadline and trace ids).

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::LengthDelimitedCodec;
use tarpc::{client, context, serde_transport};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::placement::on_server_side;

/// The benchmarked service.
#[tarpc::service]
pub trait Bench {
    /// Does nothing.
    async fn null();
    /// The length of its bytes argument. `bytes::Bytes` serializes as bytes (one length and a
    /// copy, not an element per byte) and clones without copying, so the caller pays no copy
    /// for handing over an owned argument, like rpc's borrowed one.
    async fn len(data: Bytes) -> u64;
}

/// The server's implementation.
#[derive(Clone)]
struct BenchServer;

impl Bench for BenchServer {
    async fn null(self, _: context::Context) {}

    async fn len(self, _: context::Context, data: Bytes) -> u64 {
        data.len() as u64
    }
}

/// The framing both ends use.
fn framed(stream: TcpStream) -> tarpc::tokio_util::codec::Framed<TcpStream, LengthDelimitedCodec> {
    stream.set_nodelay(true).expect("tarpc nodelay");
    LengthDelimitedCodec::builder()
        .max_frame_length(64 << 20)
        .new_framed(stream)
}

/// A tarpc server on `127.0.0.1` and one client to it.
pub struct TarpcPeer {
    /// The client (cheap to clone; all clones share the one connection).
    client: BenchClient,
    /// The accepting task.
    accepting: JoinHandle<()>,
}

impl TarpcPeer {
    /// Starts the server and connects to it. With `inline` the server runs each request inside
    /// its connection's task instead of spawning a task per request (like rpc runs a synchronous
    /// method inline on its reader); the default is tarpc's documented spawning.
    pub async fn start(inline: bool) -> TarpcPeer {
        let (port, accepting) = on_server_side(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tarpc server");
            let port = listener.local_addr().expect("tarpc server address").port();
            let accepting = tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.expect("tarpc accept");
                    let transport = serde_transport::new(framed(stream), Bincode::default());
                    let requests = BaseChannel::with_defaults(transport).execute(BenchServer.serve());
                    if inline {
                        tokio::spawn(requests.for_each(|request| request));
                    } else {
                        tokio::spawn(requests.for_each(|request| async move {
                            tokio::spawn(request);
                        }));
                    }
                }
            });
            (port, accepting)
        })
        .await;
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("tarpc connect");
        let transport = serde_transport::new(framed(stream), Bincode::default());
        let client = BenchClient::new(client::Config::default(), transport).spawn();
        TarpcPeer { client, accepting }
    }

    /// One `null()` call.
    pub async fn null(&self) {
        self.client.null(context::current()).await.expect("tarpc null()");
    }

    /// One `len(data)` call.
    pub async fn len(&self, data: &Bytes) -> u64 {
        self.client
            .len(context::current(), data.clone())
            .await
            .expect("tarpc len()")
    }

    /// `total` `null()` calls from `window` tasks on clones of the client (`total / window`
    /// each).
    pub async fn pipelined(&self, total: usize, window: usize) -> Duration {
        let per_task = total / window;
        let start = Instant::now();
        let tasks: Vec<_> = (0..window)
            .map(|_| {
                let client = self.client.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        client
                            .null(context::current())
                            .await
                            .expect("tarpc pipelined null()");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("tarpc pipelined task");
        }
        start.elapsed()
    }

    /// Drops the client (its dispatch task then closes the connection) and stops accepting.
    pub fn stop(self) {
        drop(self.client);
        self.accepting.abort();
    }
}
