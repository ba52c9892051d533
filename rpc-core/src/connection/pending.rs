//! The pending-call table: sequence numbers of our requests and who waits for each reply.
//! Plain bookkeeping, no I/O.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

pub(crate) use super::reply_slot::ReplySender;
use super::reply_slot::{self, ReplyReceiver};
use crate::error::{Error, Result};

/// Hashes the sequence numbers of our own requests with one multiplication. They are
/// consecutive numbers this side chooses (a peer only names them in replies), so no one can
/// make them collide; a keyed hash would only cost time on every call.
#[derive(Default)]
pub(crate) struct SeqHasher(u64);

impl Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the high bits, which hashbrown uses, mix all of `n`.
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// One waiting call.
struct Waiter {
    tx: ReplySender,
    /// The timeout epoch the call started in, if the connection's timeout applies to it.
    born: Option<u32>,
}

/// Outstanding requests of one connection.
#[derive(Default)]
pub(crate) struct PendingCalls {
    next_seq: u64,
    /// One waiting call kept beside the map: a connection making one call at a time never
    /// touches the map (on a server process with many connections, its memory is as likely
    /// cold as not).
    one: Option<(u64, Waiter)>,
    calls: HashMap<u64, Waiter, BuildHasherDefault<SeqHasher>>,
    /// Calls with a `born` epoch.
    timed: usize,
    /// Set once the connection is closed, with the reason if there was one.
    closed: Option<Option<Arc<Error>>>,
}

impl PendingCalls {
    /// Allocates a sequence number and registers a waiter, unless the connection is closed.
    /// `born` is the current timeout epoch if the connection's timeout applies to the call.
    pub(crate) fn register(&mut self, born: Option<u32>) -> Result<(u64, ReplyReceiver)> {
        if let Some(reason) = &self.closed {
            return Err(Error::ConnectionClosed(reason.clone()));
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let (tx, rx) = reply_slot::channel();
        self.timed += usize::from(born.is_some());
        let waiter = Waiter { tx, born };
        if self.one.is_none() {
            self.one = Some((seq, waiter));
        } else {
            self.calls.insert(seq, waiter);
        }
        Ok((seq, rx))
    }

    /// Allocates a sequence number nobody waits on (a request whose reply is dropped).
    pub(crate) fn unanswered_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        seq
    }

    /// Takes the waiter of `seq`, if it still waits.
    pub(crate) fn take(&mut self, seq: u64) -> Option<ReplySender> {
        let waiter = match self.one.take_if(|(one, _)| *one == seq) {
            Some((_, waiter)) => waiter,
            None => self.calls.remove(&seq)?,
        };
        self.timed -= usize::from(waiter.born.is_some());
        Some(waiter.tx)
    }

    /// Whether a call the connection's timeout applies to is waiting.
    pub(crate) fn has_timed(&self) -> bool {
        self.timed > 0
    }

    /// Takes the timed calls that started `ticks` or more epochs before `epoch`.
    pub(crate) fn expire(&mut self, epoch: u32, ticks: u32) -> Vec<(u64, ReplySender)> {
        let due: Vec<u64> = self
            .calls
            .iter()
            .chain(self.one.iter().map(|(seq, w)| (seq, w)))
            .filter(|(_, w)| w.born.is_some_and(|born| epoch.wrapping_sub(born) >= ticks))
            .map(|(&seq, _)| seq)
            .collect();
        due.into_iter()
            .filter_map(|seq| self.take(seq).map(|tx| (seq, tx)))
            .collect()
    }

    /// Marks the table closed and hands back every waiter, to be failed outside the lock.
    pub(crate) fn close(&mut self, reason: Option<Arc<Error>>) -> Vec<ReplySender> {
        if self.closed.is_none() {
            self.closed = Some(reason);
        }
        self.timed = 0;
        let one = self.one.take().map(|(_, w)| w.tx);
        self.calls.drain().map(|(_, w)| w.tx).chain(one).collect()
    }

    /// The reason the table was closed with.
    pub(crate) fn close_reason(&self) -> Option<Arc<Error>> {
        self.closed.clone().flatten()
    }

    /// Number of requests waiting for a reply.
    pub(crate) fn len(&self) -> usize {
        self.calls.len() + usize::from(self.one.is_some())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::future::Future;
    use std::hash::BuildHasher;

    use super::*;
    use crate::value::Value;

    /// A map still works with a hasher that sends every key to one bucket, only slowly: the
    /// hasher's own quality is checked here. Consecutive sequence numbers get distinct hashes
    /// whose top 7 bits (hashbrown's control byte) spread; so do byte strings (the `Hasher`
    /// contract, though the table only hashes `u64`s).
    #[test]
    fn the_sequence_hasher_spreads_consecutive_numbers_and_bytes() {
        let build = BuildHasherDefault::<SeqHasher>::default();
        let hashes: Vec<u64> = (0..4096u64).map(|n| build.hash_one(n)).collect();
        assert_eq!(hashes.iter().collect::<HashSet<_>>().len(), 4096, "distinct");
        let tops: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(tops.len() > 100, "the control bits spread: {} of 128", tops.len());
        let of_bytes = |bytes: &[u8]| {
            let mut h = SeqHasher::default();
            h.write(bytes);
            h.finish()
        };
        let strings: HashSet<u64> = (0..1024u32).map(|n| of_bytes(&n.to_le_bytes())).collect();
        assert_eq!(strings.len(), 1024, "distinct byte strings hash apart");
        assert_ne!(of_bytes(&[1, 2]), of_bytes(&[3]), "bytes are mixed, not or-ed");
    }

    #[test]
    fn sequence_numbers_are_distinct_and_replies_route() {
        let mut p = PendingCalls::default();
        let (a, mut ra) = p.register(None).expect("open");
        let (b, mut rb) = p.register(None).expect("open");
        assert_ne!(a, b);
        assert_eq!(p.len(), 2);
        p.take(b).expect("waiting").send(Ok(Value::Int(2)));
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(matches!(
            std::pin::Pin::new(&mut rb).poll(&mut cx),
            std::task::Poll::Ready(Ok(Value::Int(2)))
        ));
        assert!(std::pin::Pin::new(&mut ra).poll(&mut cx).is_pending());
        assert!(p.take(b).is_none(), "a reply is delivered once");
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn close_hands_back_every_waiter_and_refuses_new_ones() {
        let mut p = PendingCalls::default();
        let _ = p.register(None).expect("open");
        let _ = p.register(Some(3)).expect("open");
        assert_eq!(p.close(None).len(), 2);
        assert_eq!(p.len(), 0);
        assert!(!p.has_timed());
        assert!(matches!(p.register(None), Err(Error::ConnectionClosed(None))));
    }

    #[test]
    fn timed_calls_expire_after_their_ticks_and_others_never() {
        let mut p = PendingCalls::default();
        let (untimed, _r0) = p.register(None).expect("open");
        let (early, _r1) = p.register(Some(u32::MAX)).expect("open");
        let (late, _r2) = p.register(Some(2)).expect("open");
        assert!(p.has_timed());
        // The epoch wraps: u32::MAX + 9 is 8.
        assert!(p.expire(7, 9).is_empty(), "8 epochs are not enough");
        let expired: Vec<u64> = p.expire(8, 9).into_iter().map(|(seq, _)| seq).collect();
        assert_eq!(expired, vec![early]);
        assert!(p.take(early).is_none(), "an expired call is gone");
        p.take(late).expect("still waiting");
        assert!(!p.has_timed(), "a reply takes a timed call out of the count");
        assert!(p.expire(1_000, 9).is_empty(), "an untimed call never expires");
        assert!(p.take(untimed).is_some());
    }

    #[test]
    fn the_call_kept_beside_the_map_expires_closes_and_frees_its_place() {
        let mut p = PendingCalls::default();
        let (first, _r0) = p.register(Some(0)).expect("open");
        let (second, _r1) = p.register(None).expect("open");
        let expired: Vec<u64> = p.expire(5, 5).into_iter().map(|(seq, _)| seq).collect();
        assert_eq!(expired, vec![first], "the timed call beside the map expires");
        assert_eq!(p.len(), 1);
        let (third, _r2) = p.register(None).expect("open");
        assert_eq!(p.len(), 2);
        assert!(p.take(first).is_none(), "gone once expired");
        assert!(p.take(third).is_some() && p.take(second).is_some());
        assert_eq!(p.len(), 0);
        let _ = p.register(None).expect("open");
        let _ = p.register(None).expect("open");
        assert_eq!(
            p.close(None).len(),
            2,
            "close hands back the call beside the map too"
        );
    }
}
