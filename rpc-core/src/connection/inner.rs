//! The state a connection's tasks and handles share: the outgoing queue, the pending calls,
//! the two object tables, and the closing logic. Also how object references are resolved while
//! a message is encoded or decoded.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::AbortHandle;

use super::direct::WriteSide;
use super::keepalive::Liveness;
use super::objects::{ExportTable, ImportTable, TableError};
use super::outbox::{Closed, Outbox};
use super::pending::PendingCalls;
use super::{dispatch, Connection, ConnectionConfig, ConnectionStats, Handle};
use crate::error::{Error, RemoteError, RemoteErrorKind, Result};
use crate::frame::{seal_frame, HEADER_LEN};
use crate::netref::{NetRef, Proxy};
use crate::object::{Object, Referent};
use crate::protocol::{
    self, tag, DecodeError, DecodeLimits, Decoded, Hello, Message, MessageIn, ObjectId, ROOT_ID,
};
use crate::service::{CallResult, Outcome, Service};
use crate::spill::{self, Outgoing, Spill};
use crate::value::{self, ObjectRef, Value, WireContext, WireRef};

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// A sender that has queued this many frames without the writer getting to run nudges it.
const NUDGE_EVERY: usize = 256;

/// Gets a writer that was woken but has not run off this worker's "next task" slot. Tokio runs
/// a task woken from a worker next on that same worker, and no other worker may take it from
/// there; a sender that queues frames in a loop without yielding would keep it from running
/// until the loop ends. A newly spawned (empty) task takes that slot instead, moving the writer
/// to the queue the idle worker steals from.
fn nudge_writer() {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async {});
    }
}

/// How long a closing connection's writer may take to send what is queued (the `Close` with
/// its reason, replies already made) before it is stopped and everything it holds is let go.
pub(super) const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What a frame is decoded under (see [`Inner::budget_for`]).
pub(crate) struct Budget {
    pub(super) limits: DecodeLimits,
    /// The decode budget is what is left of the pending-work budget, not the whole of it.
    pub(super) by_pending: bool,
}

/// Largest scratch buffer a thread keeps between frames.
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

pub(crate) struct Inner {
    pub(super) id: u64,
    pub(super) config: ConnectionConfig,
    pub(super) service: Arc<dyn Service>,
    pub(super) peer: Hello,
    /// The peer's address and verified credentials, as the transport found them.
    pub(super) peer_info: crate::credentials::PeerInfo,
    /// The objects this side publishes by name, if it publishes any (see `lookup`).
    pub(super) published: Option<crate::published::Published>,
    pub(super) outbox: Outbox,
    pub(super) outbox_ready: Notify,
    /// The transport's write half (see `direct`).
    pub(super) write_side: WriteSide,
    pub(super) pending: Mutex<PendingCalls>,
    pub(super) in_flight: AtomicUsize,
    /// Bytes of arguments held by the peer's running and queued requests.
    pub(super) pending_bytes: AtomicUsize,
    /// The reader's last run of frames answered several calls, whose callers are likely to
    /// call again at once: a call then goes through the writer even when it is the only one
    /// waiting, so that the next calls leave in the same write (cleared by the writer).
    pub(super) burst: AtomicBool,
    /// Counts runs of frames read and batches written (see `idle`).
    pub(super) activity: AtomicU64,
    /// The call-timeout epoch (see `reaper`).
    pub(super) epoch: AtomicU32,
    /// Wakes the reaper: a call with the connection's timeout started while none waited.
    pub(super) timed_call: Notify,
    pub(super) requests_received: AtomicU64,
    pub(super) closed: AtomicBool,
    pub(super) closed_tx: watch::Sender<bool>,
    /// Keepalive, pings and graceful shutdown (see `keepalive`).
    pub(super) liveness: Liveness,
    exports: Mutex<ExportTable>,
    /// Incoming requests running as tasks, by the peer's sequence number, for `Cancel`.
    running: Mutex<HashMap<u64, AbortHandle>>,
    /// One queue per target object for one-way calls, so they run in the order sent; with
    /// the task running it, stopped on close.
    oneway: Mutex<HashMap<ObjectId, OnewayQueue>>,
    imports: Mutex<ImportTable<Proxy>>,
    handle: OnceLock<Weak<Handle>>,
    reader: OnceLock<AbortHandle>,
    writer: OnceLock<AbortHandle>,
    runtime: tokio::runtime::Handle,
    /// Set on a connection that speaks RPyC's wire instead of this protocol's.
    rpyc: Option<super::rpyc::State>,
}

impl Inner {
    pub(super) fn new(
        config: ConnectionConfig,
        service: Arc<dyn Service>,
        peer: Hello,
        peer_info: crate::credentials::PeerInfo,
        published: Option<crate::published::Published>,
        rpyc: Option<super::rpyc::State>,
    ) -> Arc<Inner> {
        let outbox = Outbox::new(config.max_frame_size);
        Arc::new(Inner {
            id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
            exports: Mutex::new(ExportTable::new(config.max_exported_objects)),
            config,
            service,
            peer,
            peer_info,
            published,
            outbox,
            outbox_ready: Notify::new(),
            write_side: WriteSide::default(),
            pending: Mutex::new(PendingCalls::default()),
            in_flight: AtomicUsize::new(0),
            pending_bytes: AtomicUsize::new(0),
            burst: AtomicBool::new(false),
            activity: AtomicU64::new(0),
            epoch: AtomicU32::new(0),
            timed_call: Notify::new(),
            requests_received: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            closed_tx: watch::channel(false).0,
            liveness: Liveness::default(),
            imports: Mutex::new(ImportTable::default()),
            running: Mutex::new(HashMap::new()),
            oneway: Mutex::new(HashMap::new()),
            handle: OnceLock::new(),
            reader: OnceLock::new(),
            writer: OnceLock::new(),
            runtime: tokio::runtime::Handle::current(),
            rpyc,
        })
    }

    /// What the RPyC wire keeps, if the connection is on it.
    pub(crate) fn rpyc_state(&self) -> Option<&super::rpyc::State> {
        self.rpyc.as_ref()
    }

    /// A sequence number for a request whose reply nobody waits for (RPyC's `DEL`, `CLOSE`).
    pub(super) fn unanswered_seq(&self) -> i64 {
        self.pending.lock().unanswered_seq() as i64
    }

    /// Queues bytes already framed for the wire.
    pub(super) fn send_raw(self: &Arc<Self>, mut bytes: Vec<u8>) -> Result<()> {
        self.push(&mut bytes, Vec::new(), false)
    }

    pub(super) fn set_handle(&self, handle: &Arc<Handle>) {
        let _ = self.handle.set(Arc::downgrade(handle));
    }

    pub(super) fn set_reader(&self, reader: AbortHandle) {
        let _ = self.reader.set(reader);
    }

    pub(super) fn set_writer(&self, writer: AbortHandle) {
        let _ = self.writer.set(writer);
    }

    /// Frames went one way or the other: the connection is not idle.
    pub(super) fn touch(&self) {
        self.activity.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether more frames are likely to be queued right after the one that woke the writer:
    /// the reader just answered several calls at once, or several of our calls wait for
    /// replies (their callers run concurrently), or several of the peer's requests run here
    /// (their answers come from concurrent tasks). Not so for a lone call, a callback, or a
    /// release, where waiting for company only adds latency.
    pub(super) fn others_about_to_send(&self) -> bool {
        self.burst.load(Ordering::Relaxed)
            || self.in_flight.load(Ordering::Relaxed) > 1
            || self.pending.lock().len() > 1
    }

    /// A user-level handle, unless every handle is already gone.
    pub(super) fn connection(&self) -> Option<Connection> {
        self.handle.get()?.upgrade().map(|handle| Connection { handle })
    }

    /// Registers a call waiting for its reply; with `timed`, the connection's call timeout
    /// (if any) applies to it. Also says whether it is the only call waiting (the caller then
    /// writes its request itself if it can, see `direct`).
    pub(super) fn register(&self, timed: bool) -> Result<(u64, super::reply_slot::ReplyReceiver, bool)> {
        let born = (timed && self.config.call_timeout.is_some()).then(|| self.epoch.load(Ordering::Relaxed));
        let mut pending = self.pending.lock();
        let first = born.is_some() && !pending.has_timed();
        let registered = pending.register(born);
        let alone = pending.len() == 1 && !self.burst.load(Ordering::Relaxed);
        drop(pending);
        if first {
            self.timed_call.notify_one();
        }
        registered.map(|(seq, rx)| (seq, rx, alone))
    }

    /// Encodes a message (exporting any objects it carries) and queues it for the writer.
    pub(super) fn send(self: &Arc<Self>, msg: &Message) -> Result<()> {
        self.queue(&mut Borrowed(msg), false, false)
    }

    /// Like [`send`](Inner::send) for a message given away: its large byte values are moved
    /// into the outgoing queue instead of being copied into the frame.
    pub(super) fn send_owned(self: &Arc<Self>, mut msg: impl Outgoing) -> Result<()> {
        self.queue(&mut msg, true, false)
    }

    /// Like [`send_owned`](Inner::send_owned), and writes the frame straight to the transport
    /// if the writer task is idle (see `direct`): for a message nothing else is likely to join.
    pub(super) fn send_owned_direct(self: &Arc<Self>, mut msg: impl Outgoing) -> Result<()> {
        self.queue(&mut msg, true, true)
    }

    fn queue(self: &Arc<Self>, msg: &mut impl Outgoing, spill: bool, direct: bool) -> Result<()> {
        // Encode into this thread's scratch buffer: no allocation per frame once it has grown.
        let mut frame = SCRATCH.with(Cell::take);
        frame.clear();
        let result = self
            .encode_frame(&mut frame, msg, spill)
            .and_then(|parts| self.push(&mut frame, parts, direct));
        if frame.capacity() <= SCRATCH_KEEP {
            SCRATCH.with(|s| s.set(frame));
        }
        if self.rpyc.is_some() {
            super::rpyc::flush_deferred(self);
        }
        result
    }

    /// Encodes `msg` as one frame into the empty `frame`; returns the spilled byte values with
    /// the offsets in `frame` where they belong.
    fn encode_frame(
        self: &Arc<Self>,
        frame: &mut Vec<u8>,
        msg: &mut impl Outgoing,
        spill: bool,
    ) -> Result<Vec<(usize, Vec<u8>)>> {
        if self.rpyc.is_some() {
            super::rpyc::encode(self, msg.view(), frame)?;
            return Ok(Vec::new());
        }
        let mut spills = Vec::new();
        frame.extend_from_slice(&[0; HEADER_LEN]);
        let encoded = value::with_context(self, || msg.encode(frame, spill.then_some(&mut spills)));
        match encoded {
            Ok(()) => {}
            Err(crate::protocol::EncodeError::Object(e)) => return Err(Error::Limit(e)),
            Err(e) => return Err(Error::Encode(e.to_string())),
        }
        let spilled = spills.iter().map(|s| s.len).sum();
        seal_frame(frame, 0, spilled, self.config.max_frame_size)
            .map_err(|e| Error::Encode(e.to_string()))?;
        if spills.is_empty() {
            return Ok(Vec::new());
        }
        spill::take_spilled(msg, &spills)
            .ok_or_else(|| Error::Encode("a spilled byte value went missing from its message".into()))
    }

    /// Queues an encoded frame (and the byte values spilled from it) for the writer.
    fn push(self: &Arc<Self>, frame: &mut Vec<u8>, parts: Vec<(usize, Vec<u8>)>, direct: bool) -> Result<()> {
        let size = frame.len() + parts.iter().map(|(_, part)| part.len()).sum::<usize>();
        if self.outbox.unwritten() + size > self.config.max_unwritten_bytes {
            // Checked before queuing: what waits for the peer never exceeds the limit.
            return Err(self.not_reading());
        }
        match self.outbox.push_parts(frame, parts) {
            Ok(_) if self.outbox.unwritten() > self.config.max_unwritten_bytes => Err(self.not_reading()),
            Ok((wake, queued)) => {
                if wake && !(direct && self.write_side.try_direct(&self.outbox)) {
                    self.outbox_ready.notify_one();
                } else if queued % NUDGE_EVERY == 0 {
                    nudge_writer();
                }
                Ok(())
            }
            Err(Closed) => Err(Error::ConnectionClosed(self.close_reason())),
        }
    }

    /// The peer lets more output pile up than `max_unwritten_bytes`: closes the connection at
    /// once (nothing queued is worth waiting for) and returns the error.
    fn not_reading(self: &Arc<Self>) -> Error {
        let e = Error::Limit(format!(
            "the peer is not reading: {} bytes wait to be written (limit {})",
            self.outbox.unwritten(),
            self.config.max_unwritten_bytes
        ));
        tracing::warn!(error = %e, "closing connection");
        self.shutdown_now(Some(Arc::new(e.clone())));
        e
    }

    /// The limits to decode `frame` under: the connection's, except that a frame of requests
    /// gets no more than what is left of the pending-work budget, so that the work pending and
    /// the message being decoded together stay within it.
    pub(super) fn budget_for(&self, frame: &[u8]) -> Budget {
        let mut limits = self.config.decode_limits();
        let mut by_pending = false;
        if matches!(frame.first(), Some(&(tag::REQUEST | tag::BATCH))) {
            let held = self.pending_bytes.load(Ordering::Relaxed);
            let room = self.config.pending_bytes_limit().saturating_sub(held);
            if room < limits.max_decoded_size {
                limits.max_decoded_size = room;
                by_pending = true;
            }
        }
        Budget { limits, by_pending }
    }

    /// Decodes one frame under `limits`, resolving the object references it carries. The
    /// second item is the first reference that named nothing this side gave out, if any.
    pub(super) fn decode<'a>(
        self: &Arc<Self>,
        frame: &'a [u8],
        limits: DecodeLimits,
    ) -> (Result<Decoded<MessageIn<'a>>, DecodeError>, Option<ObjectId>) {
        value::take_forged();
        let msg = value::with_context(self, || protocol::decode_in(frame, limits));
        (msg, value::take_forged())
    }

    /// Answers request `seq`; a reply that cannot be sent becomes an error reply.
    pub(super) fn reply(self: &Arc<Self>, seq: u64, result: CallResult) {
        self.reply_with(seq, result, false);
    }

    /// Like [`reply`](Inner::reply); with `direct`, written straight to the transport if the
    /// writer task is idle (an answer nothing else is about to join).
    pub(super) fn reply_with(self: &Arc<Self>, seq: u64, result: CallResult, direct: bool) {
        let msg = dispatch::reply_message(seq, result);
        let sent = if direct {
            self.send_owned_direct(msg)
        } else {
            self.send_owned(msg)
        };
        match sent {
            Ok(()) | Err(Error::ConnectionClosed(_)) => {}
            Err(e) => {
                let (kind, type_name) = match e {
                    Error::Limit(_) => (RemoteErrorKind::Refused, "rpc::LimitExceeded"),
                    _ => (RemoteErrorKind::Application, "rpc::ReplyNotSent"),
                };
                let error = RemoteError::new(kind, type_name, format!("the reply could not be sent: {e}"));
                let _ = self.send(&Message::Error { seq, error });
            }
        }
    }

    /// Delivers a reply to whoever waits for `seq`; a late reply (after a timeout) is dropped.
    pub(super) fn complete(&self, seq: u64, result: Result<Value>) {
        let waiter = self.pending.lock().take(seq);
        match waiter {
            Some(tx) => {
                tx.send(result);
            }
            None => tracing::debug!(seq, "reply to a call nobody waits for"),
        }
    }

    /// Runs an incoming request as its own task, cancellable by the peer.
    pub(super) fn spawn_request(&self, seq: u64, task: impl Future<Output = ()> + Send + 'static) {
        // Registered under the lock the task's end also takes, so the entry cannot outlive it.
        let mut running = self.running.lock();
        let handle = tokio::spawn(task);
        running.insert(seq, handle.abort_handle());
    }

    /// An incoming request ended (or was aborted), letting go of arguments of `weight` bytes.
    pub(super) fn request_done(&self, seq: Option<u64>, weight: usize) {
        let left = self.in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        self.pending_bytes.fetch_sub(weight, Ordering::Relaxed);
        self.liveness.request_ended(left);
        if let Some(seq) = seq {
            self.running.lock().remove(&seq);
        }
    }

    /// The peer no longer wants the answer to `seq`: stop the task running it.
    pub(super) fn cancel(&self, seq: u64) {
        let handle = self.running.lock().remove(&seq);
        match handle {
            Some(h) => {
                tracing::debug!(seq, "request cancelled by the peer");
                h.abort();
            }
            None => tracing::trace!(seq, "cancel of a request that is not running"),
        }
    }

    /// Queues a one-way call behind the earlier ones to the same object. (What the queue
    /// holds is weighed against the pending-work budget by the tasks themselves.)
    pub(super) fn enqueue_oneway(&self, target: ObjectId, task: BoxFuture<'static, ()>) {
        let mut queues = self.oneway.lock();
        let queue = queues.entry(target).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<BoxFuture<'static, ()>>();
            let runner = tokio::spawn(async move {
                while let Some(task) = rx.recv().await {
                    task.await;
                }
            });
            OnewayQueue {
                tx,
                runner: runner.abort_handle(),
            }
        });
        let _ = queue.tx.send(task);
    }

    /// The object a request targets: the root, or an exported object.
    pub(super) fn target(&self, id: ObjectId) -> Option<Arc<dyn Service>> {
        if id == ROOT_ID {
            Some(self.service.clone())
        } else {
            self.exports.lock().get(id)
        }
    }

    /// The peer dropped references to objects of ours.
    pub(super) fn release_exports(&self, refs: &[(ObjectId, u64)]) -> Result<(), TableError> {
        let mut freed = Vec::new();
        let result = {
            let mut exports = self.exports.lock();
            refs.iter().try_for_each(|&(id, count)| {
                freed.extend(exports.release(id, count)?);
                Ok(())
            })
        };
        // Objects may do anything when dropped: not under the lock.
        drop(freed);
        result
    }

    /// Runs `then` unless a proxy of the peer's object `id` is live, under the import table's
    /// lock: a proxy made meanwhile is either seen, or made after `then` has run.
    pub(super) fn unless_imported(&self, id: ObjectId, then: impl FnOnce()) {
        let imports = self.imports.lock();
        if !imports.is_live(id) {
            then();
        }
    }

    /// One of our proxies went away: forget it and tell the owner. The release waits in the
    /// outbox like any frame and counts against `max_unwritten_bytes` like one.
    pub(super) fn release_import(self: &Arc<Self>, id: ObjectId, count: u64, proxy: *const Proxy) {
        self.imports.lock().remove_if(id, proxy);
        if count == 0 {
            return;
        }
        if let Some(state) = &self.rpyc {
            super::rpyc::release_python(self, state, id, count, &self.runtime);
            return;
        }
        match self.outbox.release(id, count) {
            Ok(_) if self.outbox.unwritten() > self.config.max_unwritten_bytes => {
                self.not_reading();
            }
            Ok(true) => self.outbox_ready.notify_one(),
            Ok(false) | Err(Closed) => {}
        }
    }

    /// The reference `id` of the peer arrived: the existing proxy, or a new one.
    fn import(&self, id: ObjectId) -> Option<NetRef> {
        let conn = self.connection()?;
        if id == ROOT_ID {
            return Some(conn.root());
        }
        let mut imports = self.imports.lock();
        let (proxy, _) = imports.get_or_insert(id, || Proxy::received(conn.clone(), id));
        proxy.count_receipt();
        drop(imports);
        Some(NetRef::from_proxy(proxy))
    }

    pub(super) fn close_reason(&self) -> Option<Arc<Error>> {
        self.pending.lock().close_reason()
    }

    pub(super) fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            pending_calls: self.pending.lock().len(),
            running_requests: self.in_flight.load(Ordering::Relaxed),
            requests_received: self.requests_received.load(Ordering::Relaxed),
            exported_objects: self.exports.lock().len(),
            imported_objects: self.imports.lock().len(),
            unwritten_bytes: self.outbox.unwritten(),
            pending_bytes: self.pending_bytes.load(Ordering::Relaxed),
            cancellable_requests: self.running.lock().len(),
        }
    }

    /// Closes the connection once: fails pending calls, frees both object tables, stops the
    /// tasks, runs `on_disconnect`. The writer gets [`CLOSE_GRACE`] to send what is queued
    /// (the `Close` first of all), then it is stopped wherever it is.
    pub(super) fn shutdown(self: &Arc<Self>, reason: Option<Arc<Error>>) {
        if !self.close(reason) {
            return;
        }
        if let Some(writer) = self.writer.get().cloned() {
            self.runtime.spawn(async move {
                tokio::time::sleep(CLOSE_GRACE).await;
                writer.abort();
            });
        }
    }

    /// Like [`shutdown`](Inner::shutdown), for a peer that reads nothing: the writer is
    /// stopped at once and what it queued is dropped.
    pub(super) fn shutdown_now(self: &Arc<Self>, reason: Option<Arc<Error>>) {
        self.close(reason);
        if let Some(writer) = self.writer.get() {
            writer.abort();
        }
        self.outbox.clear();
    }

    /// The closing common to both ways; false if the connection was already closed.
    fn close(self: &Arc<Self>, reason: Option<Arc<Error>>) -> bool {
        if self.closed.swap(true, Ordering::AcqRel) {
            return false;
        }
        let waiters = self.pending.lock().close(reason.clone());
        for tx in waiters {
            tx.send(Err(Error::ConnectionClosed(reason.clone())));
        }
        if self.outbox.close() {
            self.outbox_ready.notify_one();
        }
        if let Some(reader) = self.reader.get() {
            reader.abort();
        }
        for (_, task) in self.running.lock().drain() {
            task.abort();
        }
        // One-way calls still queued are dropped with their arguments, not run.
        for (_, queue) in self.oneway.lock().drain() {
            queue.runner.abort();
        }
        let freed = self.exports.lock().clear();
        drop(freed);
        self.imports.lock().clear();
        self.closed_tx.send_replace(true);
        // A handle of its own: the last user handle may be the one being dropped right now.
        let conn = Connection {
            handle: Arc::new(Handle { inner: self.clone() }),
        };
        let service = self.service.clone();
        self.runtime
            .spawn(async move { service.on_disconnect(conn).await });
        true
    }
}

/// The queue of one-way calls to one object, and the task that runs them in order.
struct OnewayQueue {
    tx: mpsc::UnboundedSender<BoxFuture<'static, ()>>,
    runner: AbortHandle,
}

impl WireContext for Inner {
    fn export(&self, object: &ObjectRef) -> Result<WireRef, String> {
        let local = match object.referent() {
            Some(Referent::Remote(r)) if r.connection().id() == self.id => {
                return Ok(WireRef::Receiver(r.id()))
            }
            // Someone else's object: this side forwards calls to it.
            Some(Referent::Remote(r)) => Arc::new(Forward(r)) as Arc<dyn Service>,
            Some(Referent::Local(o)) => o.into_service(),
            None => return Err(format!("{object:?} cannot be sent by reference")),
        };
        self.exports
            .lock()
            .export(&local)
            .map(WireRef::Sender)
            .map_err(|e| e.to_string())
    }

    fn import(&self, reference: WireRef) -> Option<ObjectRef> {
        match reference {
            WireRef::Sender(id) => self.import(id).map(ObjectRef::from),
            WireRef::Receiver(id) => self.target(id).map(|s| ObjectRef::from(Object::from_arc(s))),
        }
    }

    fn max_depth(&self) -> usize {
        self.config.max_depth
    }
}

/// Stands for an object of a third party: calls go on to it over its own connection.
struct Forward(NetRef);

fn forwarded(e: Error) -> RemoteError {
    match e {
        Error::Remote(r) => r,
        other => RemoteError::new(
            RemoteErrorKind::Application,
            "rpc::ForwardFailed",
            other.to_string(),
        ),
    }
}

impl Service for Forward {
    fn name(&self) -> &str {
        "FORWARD"
    }

    fn call(self: Arc<Self>, _conn: &Connection, method: &str, args: Vec<Value>) -> Outcome {
        let method = method.to_owned();
        Outcome::pending(async move { self.0.call_value(&method, args).await.map_err(forwarded) })
    }

    fn getattr(self: Arc<Self>, _conn: &Connection, name: &str) -> Outcome {
        let name = name.to_owned();
        Outcome::pending(async move { self.0.getattr_value(&name).await.map_err(forwarded) })
    }

    fn call_self(self: Arc<Self>, _conn: &Connection, args: Vec<Value>) -> Outcome {
        Outcome::pending(async move { self.0.call_self_value(args).await.map_err(forwarded) })
    }
}

/// A message only lent to the connection: encoded without spilling.
struct Borrowed<'a>(&'a Message);

impl Outgoing for Borrowed<'_> {
    fn encode(
        &self,
        out: &mut Vec<u8>,
        spills: Option<&mut Vec<Spill>>,
    ) -> Result<(), crate::protocol::EncodeError> {
        self.0.encode_with(out, spills)
    }

    fn values(&mut self) -> Vec<&mut Value> {
        Vec::new()
    }

    fn view(&self) -> spill::View<'_> {
        spill::View::Message(self.0)
    }
}
