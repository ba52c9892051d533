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

pub(crate) use encode::{encode, release};

/// What a connection on the RPyC wire keeps beyond the engine's state: the id packs of the
/// Python objects it holds proxies of, to name them back to Python.
#[derive(Default)]
pub(crate) struct State {
    packs: Mutex<HashMap<ObjectId, IdPack>>,
}

impl State {
    /// Python sent its object `id` with this id pack.
    pub(super) fn remember(&self, id: ObjectId, pack: IdPack) {
        self.packs.lock().insert(id, pack);
    }

    /// The id pack of Python's object `id`, while a proxy of it lives.
    pub(crate) fn idpack(&self, id: ObjectId) -> Option<IdPack> {
        self.packs.lock().get(&id).cloned()
    }

    /// The proxy of Python's object `id` is gone.
    pub(crate) fn forget(&self, id: ObjectId) {
        self.packs.lock().remove(&id);
    }
}

impl Connection {
    /// Starts a connection on RPyC 6's wire over `r` and `w`: no handshake, no keepalive.
    pub(crate) async fn start_rpyc<R, W>(r: R, w: W, setup: Setup) -> Result<Connection>
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
        Connection::launch(inner, r, w, bytes::BytesMut::new(), true).await
    }
}

/// Reads a connection on the RPyC wire until it ends.
pub(super) async fn read<R: AsyncRead + Unpin>(inner: Arc<Inner>, r: R, buf: bytes::BytesMut) {
    reader::run(inner, r, buf).await;
}
