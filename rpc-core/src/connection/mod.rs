//! The connection layer: one peer-to-peer session.
//!
//! A [`Connection`] owns a reader task, a writer task fed by a channel, the table of our
//! pending calls, the export and import tables of objects passed by reference, and the root
//! service that answers the peer. Both sides are equal: either may call the other at any time,
//! and each may expose a root service.

mod config;
mod direct;
mod dispatch;
mod handshake;
mod idle;
mod inner;
mod keepalive;
mod lookup;
mod objects;
mod outbox;
mod pending;
mod reader;
mod reaper;
mod reply_slot;
mod rpyc;
mod writer;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use crate::callback::{Callback, CallbackFn};
use crate::credentials::{Credentials, PeerInfo};
use crate::error::{Error, Result};
use crate::netref::NetRef;
use crate::protocol::{
    feature, EncodeError, Hello, Message, MessageRef, ObjectId, Op, OpRef, Request, RequestRef, FLAG_ONEWAY,
};
use crate::published::Published;
use crate::service::Service;
use crate::spill::{Outgoing, Spill};
use crate::value::Value;

pub use config::{ConnectionConfig, ConnectionStats};
pub(crate) use dispatch::panic_error;
#[allow(unused_imports)] // for the fuzzing entry points
pub(crate) use handshake::opening;
use inner::Inner;
pub use keepalive::Keepalive;
pub(crate) use rpyc::quick_ack;

/// What one side brings to a connection it opens: its root service, its settings, what is
/// known of the peer before the hello, and the objects it publishes by name (if any).
pub(crate) struct Setup {
    pub(crate) service: Arc<dyn Service>,
    pub(crate) config: ConnectionConfig,
    pub(crate) peer: PeerInfo,
    pub(crate) published: Option<Published>,
}

impl Setup {
    /// `service` and `config`, nothing known of the peer, nothing published.
    pub(crate) fn new(service: Arc<dyn Service>, config: ConnectionConfig) -> Self {
        Setup {
            service,
            config,
            peer: PeerInfo::default(),
            published: None,
        }
    }
}

/// One side of a connection. Cheap to clone; the connection closes when the last handle (and
/// every [`NetRef`] made from it) is dropped, when [`close`](Connection::close) is called, or
/// when the peer goes away.
#[derive(Clone)]
pub struct Connection {
    handle: Arc<Handle>,
}

/// Closes the connection when the last user handle goes.
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.shutdown(None);
    }
}

impl Connection {
    /// Opens a connection over any byte stream: performs the handshake, starts the reader and
    /// writer tasks and runs the service's `on_connect`.
    pub async fn start<S>(
        stream: S,
        service: Arc<dyn Service>,
        config: ConnectionConfig,
    ) -> Result<Connection>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::start_with(stream, Setup::new(service, config)).await
    }

    /// Like [`start`](Connection::start), over separate read and write halves.
    pub async fn start_split<R, W>(
        r: R,
        w: W,
        service: Arc<dyn Service>,
        config: ConnectionConfig,
    ) -> Result<Connection>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        Self::start_split_with(r, w, Setup::new(service, config)).await
    }

    /// Like [`start`](Connection::start), with everything this side brings in one [`Setup`].
    pub(crate) async fn start_with<S>(stream: S, setup: Setup) -> Result<Connection>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, w) = tokio::io::split(stream);
        Self::start_split_with(r, w, setup).await
    }

    /// Like [`start_split`](Connection::start_split), with everything this side brings in
    /// one [`Setup`].
    pub(crate) async fn start_split_with<R, W>(mut r: R, mut w: W, setup: Setup) -> Result<Connection>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let Setup {
            service,
            config,
            peer: peer_info,
            published,
        } = setup;
        let hello = Hello {
            service: service.name().to_owned(),
            aliases: service.aliases(),
            features: feature::SUPPORTED,
        };
        let max = config.max_frame_size;
        let exchange = async {
            tokio::try_join!(
                handshake::send_hello(&mut w, &hello, max),
                handshake::read_hello(&mut r, max)
            )
        };
        let ((), (peer, leftover)) = tokio::time::timeout(config.handshake_timeout, exchange)
            .await
            .map_err(|_| Error::Handshake(format!("no handshake within {:?}", config.handshake_timeout)))??;
        let missing = config.required_features & !peer.features;
        if missing != 0 {
            let e = Error::Unsupported(feature::names(missing).join(", "));
            let _ = handshake::refuse(&mut w, &e.to_string(), config.max_frame_size).await;
            return Err(e);
        }

        let inner = Inner::new(config, service, peer, peer_info, published, None);
        Self::launch(inner, r, w, leftover, false).await
    }

    /// Starts the tasks of a connection whose opening is done (`leftover`: what was read past
    /// it), on this protocol's wire or (`rpyc`) on RPyC's, and runs the service's
    /// `on_connect`.
    async fn launch<R, W>(
        inner: Arc<Inner>,
        r: R,
        w: W,
        leftover: bytes::BytesMut,
        rpyc: bool,
    ) -> Result<Connection>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let span = tracing::debug_span!("connection", id = inner.id, peer = %inner.peer.service);
        tracing::debug!(parent: &span, "connection open");
        let handle = Arc::new(Handle { inner: inner.clone() });
        inner.set_handle(&handle);
        inner.write_side.install(Box::pin(w));
        let writer = tokio::spawn(writer::run(inner.clone()).instrument(span.clone()));
        inner.set_writer(writer.abort_handle());
        if let Some(limit) = inner.config.call_timeout {
            tokio::spawn(reaper::run(inner.clone(), limit).instrument(span.clone()));
        }
        if let Some(limit) = inner.config.idle_timeout {
            tokio::spawn(idle::run(inner.clone(), limit).instrument(span.clone()));
        }
        if let Some(keepalive) = inner.config.keepalive {
            tokio::spawn(keepalive::run(inner.clone(), keepalive).instrument(span.clone()));
        }
        let reader = if rpyc {
            tokio::spawn(rpyc::read(inner.clone(), r, leftover).instrument(span))
        } else {
            tokio::spawn(reader::run(inner.clone(), r, leftover).instrument(span))
        };
        inner.set_reader(reader.abort_handle());
        let conn = Connection { handle };
        inner.service.clone().on_connect(conn.clone()).await;
        Ok(conn)
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    /// The peer's root object.
    pub fn root(&self) -> NetRef {
        NetRef::root(self.clone())
    }

    /// Makes a local closure callable by the peer: pass the result as an argument and the peer
    /// calls it back on this side. Same as [`Callback::new`].
    pub fn callback<F, M>(&self, f: F) -> Callback
    where
        F: CallbackFn<M>,
    {
        Callback::new(f)
    }

    /// The name of the peer's root service.
    pub fn peer_service_name(&self) -> &str {
        &self.inner().peer.service
    }

    /// Other names of the peer's root service.
    pub fn peer_service_aliases(&self) -> &[String] {
        &self.inner().peer.aliases
    }

    /// The peer's network address, if the connection runs over TCP (`None` over a Unix
    /// socket, a pipe or in memory).
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.inner().peer_info.addr
    }

    /// What authentication proved about the peer before the protocol started: a server's
    /// view of a client (its verified certificate, its knowledge of the shared secret), or a
    /// client's view of the server. `None` when nothing was checked.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.inner().peer_info.credentials.as_ref()
    }

    /// A number that tells this connection apart from the others of this process (for logs).
    pub fn id(&self) -> u64 {
        self.inner().id
    }

    /// This connection's settings.
    pub fn config(&self) -> &ConnectionConfig {
        &self.inner().config
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.inner().closed.load(Ordering::Acquire)
    }

    /// Measures a round trip: sends a `Ping` and waits for the peer's `Pong` (it answers
    /// at once, ahead of anything it is running). Fails with [`Error::Unsupported`] if the
    /// peer's hello lacks [`feature::KEEPALIVE`](crate::protocol::feature::KEEPALIVE), or with
    /// [`Error::ConnectionClosed`] if the connection closes first; on the RPyC wire, with
    /// [`Error::Unsupported`].
    pub async fn ping(&self) -> Result<Duration> {
        if self.inner().rpyc_state().is_some() {
            // rpyc's PING is answered (a Python client's `c.ping()`), not sent.
            return Err(Error::Unsupported(
                "ping on the RPyC wire (make a call instead)".into(),
            ));
        }
        keepalive::ping(self.inner()).await
    }

    /// Closes gracefully: tells the peer this side is shutting down (it then fails its new
    /// calls at once with [`Error::PeerClosing`]), refuses the requests that still arrive,
    /// waits up to `grace` for the peer's running requests to finish (their replies go out),
    /// then closes. What this side is waiting for fails as on any close.
    pub async fn drain(&self, reason: &str, grace: Duration) {
        keepalive::drain(self.inner(), reason, grace).await;
        self.closed().await;
    }

    /// Closes the connection: tells the peer, fails every pending call, stops the tasks.
    pub async fn close(&self) {
        let inner = self.inner();
        if !inner.closed.load(Ordering::Acquire) {
            let _ = inner.send(&Message::Close { reason: None });
        }
        inner.shutdown(None);
        self.closed().await;
    }

    /// Closes the connection telling the peer why: its side fails with
    /// [`Error::PeerClosed`] naming `reason` (a server turning a client away, an operator
    /// ending a session). This side's close reason is [`Error::Limit`]`(reason)`.
    pub async fn close_with_reason(&self, reason: impl Into<String>) {
        let inner = self.inner();
        let reason = reason.into();
        if !inner.closed.load(Ordering::Acquire) {
            let _ = inner.send(&Message::Close {
                reason: Some(reason.clone()),
            });
        }
        inner.shutdown(Some(Arc::new(Error::Limit(reason))));
        self.closed().await;
    }

    /// A signal that turns `true` when the connection closes, without keeping it open.
    pub(crate) fn closed_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner().closed_tx.subscribe()
    }

    /// Waits until the connection is closed.
    pub async fn closed(&self) {
        let mut rx = self.inner().closed_tx.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Why the connection closed, if it closed because of an error (ours or the peer's).
    pub fn close_reason(&self) -> Option<Arc<Error>> {
        self.inner().close_reason()
    }

    /// Current counters.
    pub fn stats(&self) -> ConnectionStats {
        self.inner().stats()
    }

    /// Sends a request and waits for its reply. `timeout` overrides the connection's default.
    /// Dropping the future before the reply tells the peer to cancel the request.
    pub(crate) async fn request(
        &self,
        target: ObjectId,
        op: OpRef<'_>,
        args: Vec<Value>,
        timeout: Option<Option<Duration>>,
    ) -> Result<Value> {
        match timeout {
            // The connection's timeout: its reaper fails the call when due.
            None => self.send_request_timed(target, op, args, true)?.wait().await,
            Some(Some(limit)) => {
                let call = self.send_request(target, op, args)?;
                match tokio::time::timeout(limit, call.wait()).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::Timeout(limit)),
                }
            }
            Some(None) => self.send_request(target, op, args)?.wait().await,
        }
    }

    /// Sends a request now; the returned handle waits for the reply (or cancels it when
    /// dropped first). No timeout applies.
    pub(crate) fn send_request(
        &self,
        target: ObjectId,
        op: OpRef<'_>,
        args: Vec<Value>,
    ) -> Result<PendingCall> {
        self.send_request_timed(target, op, args, false)
    }

    /// Like [`send_request`](Connection::send_request); with `timed`, the connection's call
    /// timeout (if it has one) applies.
    pub(crate) fn send_request_timed(
        &self,
        target: ObjectId,
        op: OpRef<'_>,
        args: Vec<Value>,
        timed: bool,
    ) -> Result<PendingCall> {
        let inner = self.inner();
        new_call_allowed(inner)?;
        let (seq, rx, alone) = inner.register(timed)?;
        let call = PendingCall {
            inner: inner.clone(),
            seq,
            rx: Some(rx),
        };
        let request = OutRequest {
            seq,
            target,
            op,
            args,
            flags: 0,
        };
        if alone {
            inner.send_owned_direct(request)?;
        } else {
            inner.send_owned(request)?;
        }
        Ok(call)
    }

    /// Sends requests in one frame; each handle waits for its own reply.
    pub(crate) fn send_batch(&self, calls: Vec<(ObjectId, Op, Vec<Value>)>) -> Result<Vec<PendingCall>> {
        let inner = self.inner();
        new_call_allowed(inner)?;
        let mut pending = Vec::with_capacity(calls.len());
        let mut requests = Vec::with_capacity(calls.len());
        for (target, op, args) in calls {
            let (seq, rx, _) = inner.register(false)?;
            pending.push(PendingCall {
                inner: inner.clone(),
                seq,
                rx: Some(rx),
            });
            requests.push(Request {
                seq,
                target,
                op,
                args,
                flags: 0,
            });
        }
        inner.send_owned(Message::Batch(requests))?;
        Ok(pending)
    }

    /// Sends a one-way request: no reply comes, errors are only logged by the peer.
    pub(crate) fn send_oneway(&self, target: ObjectId, op: OpRef<'_>, args: Vec<Value>) -> Result<()> {
        let inner = self.inner();
        if inner.closed.load(Ordering::Acquire) {
            return Err(Error::ConnectionClosed(inner.close_reason()));
        }
        new_call_allowed(inner)?;
        inner.send_owned(OutRequest {
            seq: 0,
            target,
            op,
            args,
            flags: FLAG_ONEWAY,
        })
    }

    /// A proxy of ours for `id` was dropped after `count` receipts: tell the owner.
    pub(crate) fn release_import(&self, id: ObjectId, count: u64, proxy: *const crate::netref::Proxy) {
        self.inner().release_import(id, count, proxy);
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id())
            .field("peer", &self.peer_service_name())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Fails a new call at once if the peer said it is shutting down; a closed connection is left
/// to fail it as closed.
fn new_call_allowed(inner: &Inner) -> Result<()> {
    if inner.closed.load(Ordering::Acquire) {
        return Ok(());
    }
    inner.liveness.check_new_call()
}

/// A request as the caller gives it: the operation borrowed, the arguments given away.
struct OutRequest<'a> {
    seq: u64,
    target: ObjectId,
    op: OpRef<'a>,
    args: Vec<Value>,
    flags: u8,
}

impl Drop for OutRequest<'_> {
    fn drop(&mut self) {
        crate::value::recycle_args(std::mem::take(&mut self.args));
    }
}

impl Outgoing for OutRequest<'_> {
    fn encode(&self, out: &mut Vec<u8>, spills: Option<&mut Vec<Spill>>) -> Result<(), EncodeError> {
        let request = RequestRef {
            seq: self.seq,
            target: self.target,
            op: self.op,
            args: &self.args,
            flags: self.flags,
        };
        MessageRef::Request(request).encode_with(out, spills)
    }

    fn values(&mut self) -> Vec<&mut Value> {
        self.args.iter_mut().collect()
    }

    fn view(&self) -> crate::spill::View<'_> {
        crate::spill::View::Request(RequestRef {
            seq: self.seq,
            target: self.target,
            op: self.op,
            args: &self.args,
            flags: self.flags,
        })
    }
}

/// A request on its way. Waiting consumes it; dropping it before the reply removes the
/// pending entry and tells the peer to cancel the request.
pub(crate) struct PendingCall {
    inner: Arc<Inner>,
    seq: u64,
    rx: Option<reply_slot::ReplyReceiver>,
}

impl PendingCall {
    /// Waits for the reply.
    pub(crate) async fn wait(mut self) -> Result<Value> {
        self.wait_mut().await
    }

    /// Waits for the reply without giving the call up: dropped half-way, the call can still
    /// be [detached](PendingCall::detach) instead of cancelled.
    pub(crate) async fn wait_mut(&mut self) -> Result<Value> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(Error::ConnectionClosed(self.inner.close_reason()));
        };
        let received = rx.await;
        self.rx = None;
        match received {
            // The waiter was dropped unanswered: say why the connection closed, if it did.
            Err(Error::ConnectionClosed(None)) => Err(Error::ConnectionClosed(self.inner.close_reason())),
            other => other,
        }
    }

    /// Gives the call up without cancelling it: it runs to its end on the peer, and its reply
    /// is dropped on arrival.
    pub(crate) fn detach(mut self) {
        if self.rx.take().is_some() {
            self.inner.pending.lock().take(self.seq);
        }
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if self.rx.is_some() && self.inner.pending.lock().take(self.seq).is_some() {
            // Nobody will read the answer: let the peer stop working on it.
            if !self.inner.closed.load(Ordering::Acquire) {
                let _ = self.inner.send(&Message::Cancel { seq: self.seq });
            }
        }
    }
}
