//! The connection engine on RPyC 6's wire: one engine, two wires.
//!
//! A connection on this wire is the same [`Connection`] as on the native protocol — the same
//! pending calls, object tables with counted releases, concurrent and re-entrant dispatch,
//! reaper, limits and budgets, and the same [`Service`](crate::Service) types. What differs
//! sits at the edges: the reader splits RPyC frames and turns Python's requests into the
//! engine's (`reader`), and outgoing messages are written as RPyC frames (`encode`). Values
//! and references are translated at the wire (`values`, `fetch`), and so are errors
//! (`errors`). There is no handshake (an rpyc client sends nothing until it first reads
//! `conn.root`), no keepalive and no shared-secret authentication: both are this protocol's,
//! and a Python client without a serving thread could not answer them.
//!
//! Our object ids go out as RPyC instance ids plus one: RPyC's instance id 0 means "a class".

mod encode;
mod errors;
mod fetch;
mod reader;
mod values;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};

use super::inner::Inner;
use super::{Connection, Setup};
use crate::error::Result;
use crate::protocol::{Hello, ObjectId};
use crate::rpyc::IdPack;
use crate::value::Value;

pub(crate) use encode::encode;
use encode::release;

/// What a connection on the RPyC wire keeps beyond the engine's state: the id packs of the
/// Python objects it holds proxies of, to name them back to Python.
#[derive(Default)]
pub(crate) struct State {
    packs: Mutex<HashMap<ObjectId, IdPack>>,
    /// `DEL` frames waiting to follow the next frame sent (see `Inner::release_import`).
    deferred: Mutex<Vec<u8>>,
}

/// Longest a `DEL` waits for a frame to follow before it is sent alone.
const DEFER_LIMIT: std::time::Duration = std::time::Duration::from_millis(20);

impl State {
    /// Holds a `DEL` frame back; true if it is the first one held (the caller then makes sure
    /// it goes out within [`DEFER_LIMIT`]).
    fn defer(&self, frame: Vec<u8>) -> bool {
        let mut deferred = self.deferred.lock();
        let first = deferred.is_empty();
        deferred.extend_from_slice(&frame);
        first
    }

    /// The `DEL` frames held back, if any.
    fn take_deferred(&self) -> Option<Vec<u8>> {
        let mut deferred = self.deferred.lock();
        (!deferred.is_empty()).then(|| std::mem::take(&mut *deferred))
    }

    /// Python sent its object `id` with this id pack.
    pub(super) fn remember(&self, id: ObjectId, pack: IdPack) {
        self.packs.lock().insert(id, pack);
    }

    /// The id pack of Python's object `id`, while a proxy of it lives.
    pub(crate) fn idpack(&self, id: ObjectId) -> Option<IdPack> {
        self.packs.lock().get(&id).cloned()
    }

    /// The proxy of Python's object `id` is gone.
    fn forget(&self, id: ObjectId) {
        self.packs.lock().remove(&id);
    }
}

impl Connection {
    /// Starts a connection on RPyC 6's wire over `r` and `w`: no handshake, no keepalive.
    ///
    /// `after_read` runs after every read of the socket (see [`quick_ack`]).
    pub(crate) async fn start_rpyc<R, W>(r: R, w: W, setup: Setup, after_read: fn(&R)) -> Result<Connection>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let Setup {
            service,
            mut config,
            peer: peer_info,
            published,
        } = setup;
        config.keepalive = None;
        config.required_features = 0;
        let peer = Hello {
            service: "rpyc".to_owned(),
            aliases: Vec::new(),
            features: 0,
        };
        let inner = Inner::new(
            config,
            service,
            peer,
            peer_info,
            published,
            Some(State::default()),
        );
        Connection::launch(inner, Reading { r, after_read }, w, bytes::BytesMut::new(), true).await
    }
}

impl Connection {
    /// `value` with every Python container in it (a proxy of a `list`, `tuple`, `set` or
    /// `dict` of the peer) replaced by its content, fetched in few round trips (see `fetch`).
    pub(crate) async fn fetch_python(&self, value: Value) -> Result<Value> {
        let inner = self.inner().clone();
        let mut fetched = fetch::all(&inner, vec![value])
            .await
            .map_err(crate::error::Error::Remote)?;
        Ok(fetched.pop().unwrap_or(Value::Unit))
    }
}

/// Our proxy of Python's object `id` went away after `count` receipts: a `DEL` request of
/// its own, held back to follow the next frame this side sends (or sent alone within
/// [`DEFER_LIMIT`]). Python answers every `DEL`, and a `DEL` sent ahead of a call's reply (the
/// call's Python arguments are dropped before it is made) has Python write that answer just
/// before its next request; with Nagle on (rpyc's client sockets) and this side's delayed
/// ACK, the request then waits 40 ms. After the reply, Python answers it behind its next
/// request instead, as with Python's own servers, which send `DEL`s after the reply. The id
/// pack is forgotten unless a newer proxy holds it (remembered after the proxy is made, see
/// `values`).
/// (`runtime`: the connection's; a proxy may be dropped on a thread outside it.)
pub(super) fn release_python(
    inner: &Arc<Inner>,
    state: &State,
    id: ObjectId,
    count: u64,
    runtime: &tokio::runtime::Handle,
) {
    let mut frame = Vec::new();
    match release(inner, id, count, &mut frame) {
        Ok(()) if state.defer(frame) => {
            let inner = inner.clone();
            runtime.spawn(async move {
                tokio::time::sleep(DEFER_LIMIT).await;
                flush_deferred(&inner);
            });
        }
        Ok(()) => {}
        Err(e) => tracing::debug!(error = %e, "a release was not encoded"),
    }
    inner.unless_imported(id, || state.forget(id));
}

/// Sends the `DEL`s held back, if any: after a frame, or when they have waited long enough.
pub(super) fn flush_deferred(inner: &Arc<Inner>) {
    if let Some(deferred) = inner.rpyc_state().and_then(State::take_deferred) {
        let _ = inner.send_raw(deferred);
    }
}

/// The read half of a connection on the RPyC wire, and what to do after each read.
pub(super) struct Reading<R> {
    pub(super) r: R,
    pub(super) after_read: fn(&R),
}

impl<R: AsyncRead + Unpin> AsyncRead for Reading<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut this.r).poll_read(cx, buf);
        if polled.is_ready() {
            (this.after_read)(&this.r);
        }
        polled
    }
}

/// Keeps TCP acknowledging at once what a Python peer sends: rpyc's sockets leave Nagle's
/// algorithm on, so a small write of Python's waits for the ACK of its previous one, and with
/// this side's ACKs delayed (Linux: up to 40 ms) a callback's answer written right after
/// Python's answer to a `DEL` would wait that long. Linux clears the setting as it goes, so it
/// is set again after every read.
pub(crate) fn quick_ack(r: &tokio::net::tcp::OwnedReadHalf) {
    #[cfg(target_os = "linux")]
    {
        let _ = socket2::SockRef::from(r.as_ref()).set_tcp_quickack(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = r;
}

/// Reads a connection on the RPyC wire until it ends.
pub(super) async fn read<R: AsyncRead + Unpin>(inner: Arc<Inner>, r: R, buf: bytes::BytesMut) {
    reader::run(inner, r, buf).await;
}
