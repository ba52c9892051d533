//! The decode budget: how much memory decoding one message from a peer may spend, checked as
//! the decoder allocates (Cap'n Proto's traversal limit), beside the nesting-depth limit.
//!
//! A frame of many tiny values decodes to a tree many times its size (a unit is one byte on the
//! wire and a 32-byte [`Value`](super::Value) in memory), so the frame limit alone does not
//! bound what a peer makes us hold. Every allocation a decode makes on the word of the peer is
//! charged here first: the room of each vector of values, pairs, requests or strings, the bytes
//! of each string and byte value, a fixed cost per object reference.
//!
//! What happens when the budget runs out depends on where:
//!
//! * inside a value (call arguments, a reply's value) the decoder goes on *skipping*: it reads
//!   the rest of the message without keeping anything, so the message's other parts (its
//!   sequence number, the references it carries, which must be counted and released) are still
//!   known, and the connection answers that one call with a clear error and goes on;
//! * anywhere else (a release list, a batch's list of requests, an error's causes) the decode
//!   fails: no honest peer sends that much, and the connection is closed with the reason.
//!
//! The state is per thread and lives only while [`Scope`] is held: one decode at a time.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// Default limit on how deeply values may nest when decoded from the wire.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Default decode budget of one message: 64 MiB, the default maximum frame size.
pub const DEFAULT_MAX_DECODED_SIZE: usize = 64 << 20;

/// What each object reference received is charged: its proxy and its import-table entry.
pub(crate) const REFERENCE_COST: usize = 128;

/// Never reserve more than this many elements on the word of the peer before they arrive (the
/// room is charged, but a frame of nested sequences that each announce many elements would
/// otherwise have every level reserve room its few bytes never fill: 128 levels of maps
/// announcing 1,024 entries held 8 MiB for a 2.4 KB frame; with 128, 1 MiB).
const CAUTIOUS_CAPACITY: usize = 128;

/// Limits applied while decoding one message from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Deepest nesting of a value (default [`DEFAULT_MAX_DEPTH`]).
    pub max_depth: usize,
    /// Most bytes the decoded message may occupy in memory (default
    /// [`DEFAULT_MAX_DECODED_SIZE`]).
    pub max_decoded_size: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_decoded_size: DEFAULT_MAX_DECODED_SIZE,
        }
    }
}

/// A limit a decode ran into, fatally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitHit {
    /// A value nested deeper than the limit.
    TooDeep(usize),
    /// The decoded size went over the budget outside a value.
    OverBudget(usize),
    /// A bounded field (a name, a list of aliases) was too large.
    Field(String),
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::TooDeep(limit) => write!(f, "value nested deeper than the limit of {limit}"),
            LimitHit::OverBudget(limit) => {
                write!(f, "message decodes to more than the budget of {limit} bytes")
            }
            LimitHit::Field(what) => f.write_str(what),
        }
    }
}

thread_local! {
    static DEPTH_LIMIT: Cell<usize> = const { Cell::new(DEFAULT_MAX_DEPTH) };
    static LIMIT: Cell<usize> = const { Cell::new(DEFAULT_MAX_DECODED_SIZE) };
    static LEFT: Cell<usize> = const { Cell::new(DEFAULT_MAX_DECODED_SIZE) };
    /// The budget ran out inside a value: the rest of the message is read, not kept.
    static SKIPPING: Cell<bool> = const { Cell::new(false) };
    static HIT: Cell<Option<LimitHit>> = const { Cell::new(None) };
}

/// One decode's budget, installed for this thread while it lives.
pub(crate) struct Scope(());

impl Scope {
    /// Starts a decode under `limits`.
    pub(crate) fn enter(limits: DecodeLimits) -> Scope {
        DEPTH_LIMIT.with(|d| d.set(limits.max_depth));
        LIMIT.with(|l| l.set(limits.max_decoded_size));
        LEFT.with(|l| l.set(limits.max_decoded_size));
        SKIPPING.with(|s| s.set(false));
        HIT.with(|h| h.set(None));
        Scope(())
    }

    /// Bytes charged so far.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        used()
    }

    /// Whether the budget ran out inside a value (the message was read but not all kept).
    pub(crate) fn over(&self) -> bool {
        skipping()
    }

    /// The limit that made the decode fail, if one did.
    pub(crate) fn take_hit(&self) -> Option<LimitHit> {
        HIT.with(Cell::take)
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        SKIPPING.with(|s| s.set(false));
        HIT.with(|h| h.set(None));
    }
}

/// Bytes charged since the decode started.
pub(crate) fn used() -> usize {
    LIMIT.with(Cell::get) - LEFT.with(Cell::get)
}

/// The decode budget of this thread's current decode.
pub(crate) fn limit() -> usize {
    LIMIT.with(Cell::get)
}

/// The nesting limit of this thread's current decode.
pub(crate) fn depth_limit() -> usize {
    DEPTH_LIMIT.with(Cell::get)
}

/// Whether the current decode reads without keeping (its budget ran out inside a value).
pub(crate) fn skipping() -> bool {
    SKIPPING.with(Cell::get)
}

/// Charges `bytes` to a value; false (and skipping from now on) if the budget cannot pay.
pub(crate) fn charge_value(bytes: usize) -> bool {
    if skipping() {
        return false;
    }
    let paid = LEFT.with(|left| match left.get().checked_sub(bytes) {
        Some(rest) => {
            left.set(rest);
            true
        }
        None => false,
    });
    if !paid {
        SKIPPING.with(|s| s.set(true));
    }
    paid
}

/// Charges `bytes` outside a value: the decode fails if the budget cannot pay.
pub(crate) fn charge<E: de::Error>(bytes: usize) -> Result<(), E> {
    LEFT.with(|left| match left.get().checked_sub(bytes) {
        Some(rest) => {
            left.set(rest);
            Ok(())
        }
        None => Err(fail(LimitHit::OverBudget(limit()))),
    })
}

/// Records `hit` as the reason the decode fails and returns the error to fail it with.
pub(crate) fn fail<E: de::Error>(hit: LimitHit) -> E {
    let error = E::custom(&hit);
    HIT.with(|h| h.set(Some(hit)));
    error
}

/// How many elements to make room for when a sequence announces `hint`.
pub(crate) fn cautious_len(hint: Option<usize>) -> usize {
    hint.unwrap_or(0).min(CAUTIOUS_CAPACITY)
}

/// A vector of `T` for up to `hint` elements, its room paid for by `pay` (false: not paid, and
/// an empty vector is returned).
pub(crate) fn cautious_vec<T>(hint: Option<usize>, pay: impl FnOnce(usize) -> bool) -> Vec<T> {
    let n = cautious_len(hint);
    if n > 0 && pay(n * size_of::<T>()) {
        Vec::with_capacity(n)
    } else {
        Vec::new()
    }
}

/// Makes room for one more element of `v`, paid for by `pay` first. False if it was not paid.
pub(crate) fn room_for_one<T>(v: &mut Vec<T>, pay: impl FnOnce(usize) -> bool) -> bool {
    if v.len() < v.capacity() {
        return true;
    }
    let extra = v.capacity().max(4);
    if !pay(extra * size_of::<T>()) {
        return false;
    }
    v.reserve_exact(extra);
    true
}

/// `deserialize_with` helper for a vector outside values: each element's room is charged to the
/// budget before it is allocated, and running out fails the decode.
pub(crate) fn deserialize_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_seq(BudgetedVec(std::marker::PhantomData))
}

/// `deserialize_with` helper for text outside values (a member name, an error's text, a close's
/// reason): its bytes are charged before they are copied, and running out fails the decode.
pub(crate) fn deserialize_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(ChargedText)
}

/// [`deserialize_string`] for optional text.
pub(crate) fn deserialize_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<ChargedString>::deserialize(d).map(|s| s.map(|s| s.0))
}

/// [`deserialize_string`] for a list of texts, the list's room charged as [`deserialize_vec`]'s.
pub(crate) fn deserialize_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    deserialize_vec::<D, ChargedString>(d).map(|v| v.into_iter().map(|s| s.0).collect())
}

/// A text charged to the budget when decoded.
struct ChargedString(String);

impl<'de> Deserialize<'de> for ChargedString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_string(d).map(ChargedString)
    }
}

struct ChargedText;

impl Visitor<'_> for ChargedText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
        charge(s.len())?;
        Ok(s.to_owned())
    }
}

struct BudgetedVec<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for BudgetedVec<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let paid = Cell::new(true);
        let pay = |bytes| {
            let ok = charge::<A::Error>(bytes).is_ok();
            paid.set(ok);
            ok
        };
        let mut out = cautious_vec(seq.size_hint(), pay);
        while paid.get() && room_for_one(&mut out, pay) {
            match seq.next_element()? {
                Some(item) => out.push(item),
                None => return Ok(out),
            }
        }
        Err(fail(LimitHit::OverBudget(limit())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_charged_for_their_room_before_it_is_allocated() {
        let scope = Scope::enter(DecodeLimits {
            max_depth: 8,
            max_decoded_size: 90,
        });
        let mut v: Vec<u64> = cautious_vec(Some(2), charge_value);
        assert_eq!((v.capacity(), scope.used()), (2, 16));
        v.extend([1, 2]);
        assert!(room_for_one(&mut v, charge_value), "4 more u64 fit: 48 of 90");
        assert_eq!((v.capacity(), scope.used()), (6, 48));
        v.extend([3, 4, 5, 6]);
        assert!(!room_for_one(&mut v, charge_value), "6 more would make 96 of 90");
        assert_eq!(v.capacity(), 6, "nothing allocated for what was not paid");
        assert!(scope.over(), "a value over budget skips the rest");
        assert!(!charge_value(1), "and nothing more is paid for");
        drop(scope);
        let scope = Scope::enter(DecodeLimits::default());
        assert!(!scope.over(), "the next decode starts afresh");
    }

    #[test]
    fn outside_values_running_out_is_fatal() {
        let scope = Scope::enter(DecodeLimits {
            max_depth: 8,
            max_decoded_size: 10,
        });
        assert!(charge::<serde::de::value::Error>(8).is_ok());
        assert!(charge::<serde::de::value::Error>(8).is_err());
        assert_eq!(scope.take_hit(), Some(LimitHit::OverBudget(10)));
    }
}
