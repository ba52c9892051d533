//! A connection's settings ([`ConnectionConfig`]: limits, budgets, timeouts, keepalive) and
//! counters ([`ConnectionStats`]).

use std::time::Duration;

use super::Keepalive;
use crate::frame::DEFAULT_MAX_FRAME_SIZE;
use crate::value::{DecodeLimits, DEFAULT_MAX_DEPTH};

/// Settings of one connection. `Default` gives the documented defaults.
///
/// # Memory budgets
///
/// What one peer can make this side hold is bounded by budgets it cannot talk its way past,
/// each enforced before the memory is spent:
///
/// | what | bound | default |
/// |---|---|---|
/// | the frame being read | [`max_frame_size`](Self::max_frame_size) (the buffer grows as bytes arrive, and shrinks back after a large frame) | 64 MiB |
/// | a message once decoded | [`max_decoded_size`](Self::max_decoded_size), charged as the decoder allocates | the frame size |
/// | arguments held by running and queued requests | [`max_pending_bytes`](Self::max_pending_bytes) | the frame size |
/// | output queued for the peer (releases included) | [`max_unwritten_bytes`](Self::max_unwritten_bytes) | 256 MiB |
/// | the handshake | [`PRE_HANDSHAKE_MAX_FRAME`](crate::protocol::PRE_HANDSHAKE_MAX_FRAME), a bounded hello, [`handshake_timeout`](Self::handshake_timeout) | 64 KiB, 10 s |
/// | a silent connection | [`idle_timeout`](Self::idle_timeout) | off (servers: 10 min) |
///
/// # Keepalive
///
/// With [`keepalive`](Self::keepalive) set, a peer silent (nothing received) for its interval
/// is pinged, and one silent past its deadline is declared dead: the connection closes and
/// every pending call fails with [`Error::ConnectionClosed`](crate::Error::ConnectionClosed) whose reason is
/// [`Error::DeadPeer`](crate::Error::DeadPeer). Off by default (memory pipes, clients); servers turn it on (20 s, dead
/// after 60 s). A peer whose hello lacks [`feature::KEEPALIVE`](crate::protocol::feature) is
/// not pinged (it is still declared dead when silent past the deadline). The peer's own pings
/// count as traffic for the idle timeout; ours, and the pongs answering them, do not, so a
/// server's keepalive never keeps an idle connection open.
///
/// A call whose arguments are over the decode budget, or would take the pending work over its
/// budget, is refused with an error naming the limit (`rpc::TooLarge`, `rpc::Busy`) and the
/// connection goes on; a one-way call refused that way closes the connection, since it has
/// no reply to carry the error. A reply over the budget fails that call alone.
///
/// **Two peers streaming at each other cannot deadlock**: a side never stops reading because
/// of its own output or its pending work. Over a budget it refuses (an error reply) or, for a
/// peer that does not read what it is sent, disconnects; it never waits for the peer. Pausing
/// the reader instead would let two peers that both write faster than the other reads each
/// wait for the other forever, and would keep a waiting request from ever reading the reply
/// of a callback it made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// Largest frame accepted or sent, in bytes (default 64 MiB).
    pub max_frame_size: usize,
    /// Deepest nesting of a value received or sent (default 128).
    pub max_depth: usize,
    /// Most bytes one received message may take once decoded (`None`, the default: the same
    /// as [`max_frame_size`](Self::max_frame_size)).
    pub max_decoded_size: Option<usize>,
    /// Most bytes of arguments that requests of the peer running or queued (one-way calls)
    /// may hold at once (`None`, the default: the same as
    /// [`max_frame_size`](Self::max_frame_size)). A request that would go over is refused with
    /// a `rpc::Busy` error.
    pub max_pending_bytes: Option<usize>,
    /// Close the connection when no frame went either way for this long and no call is
    /// outstanding in either direction (default `None`: never; servers turn it on).
    pub idle_timeout: Option<Duration>,
    /// Timeout of every call unless a call sets its own (default 30 s; `None` waits forever).
    pub call_timeout: Option<Duration>,
    /// How long the handshake may take (default 10 s).
    pub handshake_timeout: Duration,
    /// Most incoming requests running at once; more are refused with an error (default 65,536).
    pub max_in_flight: usize,
    /// Most objects this side exports to the peer at once; sending more fails with an error
    /// (default 100,000).
    pub max_exported_objects: usize,
    /// Most bytes that may wait to be written to the peer; a peer that does not read what it
    /// is sent, and so lets more pile up, is disconnected with a clear error rather than
    /// buffered without bound (default 256 MiB, four maximum-size frames).
    pub max_unwritten_bytes: usize,
    /// Ping a silent peer, and declare it dead past a deadline (default `None`: off; see
    /// [Keepalive](#keepalive)).
    pub keepalive: Option<Keepalive>,
    /// Protocol features the peer must have (bits of [`feature`](crate::protocol::feature));
    /// a peer without one is refused at the handshake with an error naming it (default none).
    pub required_features: u64,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_depth: DEFAULT_MAX_DEPTH,
            max_decoded_size: None,
            max_pending_bytes: None,
            idle_timeout: None,
            call_timeout: Some(Duration::from_secs(30)),
            handshake_timeout: Duration::from_secs(10),
            max_in_flight: 65_536,
            max_exported_objects: 100_000,
            max_unwritten_bytes: 256 << 20,
            keepalive: None,
            required_features: 0,
        }
    }
}

impl ConnectionConfig {
    /// Sets the default call timeout (`None`: wait forever).
    pub fn call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets the maximum frame size.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets the maximum nesting depth of values received and sent.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets the decode budget of one received message, in bytes.
    pub fn max_decoded_size(mut self, bytes: usize) -> Self {
        self.max_decoded_size = Some(bytes);
        self
    }

    /// Sets the budget of arguments held by the peer's running and queued requests, in bytes.
    pub fn max_pending_bytes(mut self, bytes: usize) -> Self {
        self.max_pending_bytes = Some(bytes);
        self
    }

    /// Sets the idle timeout (`None`: never close an idle connection).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The decode budget of one message: [`max_decoded_size`](Self::max_decoded_size), or
    /// the frame size.
    pub fn decoded_size_limit(&self) -> usize {
        self.max_decoded_size.unwrap_or(self.max_frame_size)
    }

    /// The pending-work budget: [`max_pending_bytes`](Self::max_pending_bytes), or the frame
    /// size.
    pub fn pending_bytes_limit(&self) -> usize {
        self.max_pending_bytes.unwrap_or(self.max_frame_size)
    }

    /// The limits a received message is decoded under.
    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_depth: self.max_depth,
            max_decoded_size: self.decoded_size_limit(),
        }
    }

    /// Sets the handshake timeout.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets how many bytes may wait to be written before the peer is disconnected.
    pub fn max_unwritten_bytes(mut self, bytes: usize) -> Self {
        self.max_unwritten_bytes = bytes;
        self
    }

    /// Sets the limit of objects exported to the peer at once.
    pub fn max_exported_objects(mut self, n: usize) -> Self {
        self.max_exported_objects = n;
        self
    }

    /// Sets the limit of incoming requests running at once.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }
}

/// Counters of a connection, for monitoring and leak checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Our requests waiting for a reply.
    pub pending_calls: usize,
    /// Incoming requests running as tasks.
    pub running_requests: usize,
    /// Requests received from the peer since the connection opened.
    pub requests_received: u64,
    /// Objects of ours the peer holds references to.
    pub exported_objects: usize,
    /// Live proxies of the peer's objects (our protocol's root excluded; on the RPyC wire
    /// the peer's root is a proxy like any other, released when dropped).
    pub imported_objects: usize,
    /// Bytes queued for the peer and not yet written.
    pub unwritten_bytes: usize,
    /// Bytes of arguments held by the peer's running and queued requests.
    pub pending_bytes: usize,
    /// Incoming requests running as tasks that a `Cancel` from the peer can stop (one-way
    /// calls are not among them); back to 0 when they end, so a leak shows here.
    pub cancellable_requests: usize,
}
