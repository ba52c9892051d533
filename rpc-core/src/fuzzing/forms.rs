//! The two forms of the message decoder against each other, and each against the budget:
//! [`Message::decode_with`] (owned) and the reader's [`decode_in`] (borrowing).
//!
//! * They accept and refuse the same frames, with the same error; what both accept is the same
//!   message; when the borrowing form reports `over` (a value ran past the budget and the rest
//!   was skipped), the owned form fails with `OverBudget`.
//! * A batch's requests are charged at their own size in each form (a borrowed request is
//!   larger), so at the budget's edge the forms may part on a batch: there they are compared
//!   under a budget with room to spare instead.
//! * A decode under a small budget that did not run out gives what the default budget gives
//!   (the budget never changes what is parsed, only what is kept).
//! * What is accepted is within the limits: no value nested deeper than allowed, no more room
//!   held than the budget (counted from the message: a lower bound of what was charged), and
//!   it encodes to bytes that decode to the same message.

use crate::protocol::{
    decode_in, DecodeError, Decoded, Hello, Message, MessageIn, MAX_ALIASES, MAX_NAME_LEN,
};
use crate::value::{DecodeLimits, Value, DEFAULT_MAX_DECODED_SIZE};

/// The tag of `Message::Batch` on the wire.
const BATCH: u8 = 2;

/// What the forms made of one payload.
pub(super) struct Forms {
    /// The owned form accepted it.
    pub(super) decoded: bool,
    /// The borrowing form ran out of budget inside a value.
    pub(super) over: bool,
}

type Owned = Result<Message, DecodeError>;
type Borrowed<'a> = Result<Decoded<MessageIn<'a>>, DecodeError>;

/// Decodes `bytes` both ways under `limits` and checks everything above.
pub(super) fn compare(bytes: &[u8], limits: DecodeLimits) -> Result<Forms, String> {
    let owned = Message::decode_with(bytes, limits);
    let borrowed = decode_in(bytes, limits);
    let encoding = match &owned {
        Ok(msg) => {
            within(msg, limits)?;
            Some(stable(msg)?)
        }
        Err(_) => None,
    };
    if let Ok(decoded) = &borrowed {
        arguments_say_over(decoded, limits)?;
    }
    let forms = Forms {
        decoded: owned.is_ok(),
        over: borrowed.as_ref().is_ok_and(|d| d.over),
    };
    let generous = DecodeLimits {
        max_decoded_size: DEFAULT_MAX_DECODED_SIZE.max(limits.max_decoded_size),
        ..limits
    };
    if bytes.first() == Some(&BATCH) && (ran_out(&owned) || ran_out_borrowed(&borrowed)) {
        let owned = Message::decode_with(bytes, generous);
        let borrowed = decode_in(bytes, generous);
        if !ran_out(&owned) && !ran_out_borrowed(&borrowed) {
            agree(&owned, None, borrowed, generous)?;
        }
    } else {
        agree(&owned, encoding.as_deref(), borrowed, limits)?;
    }
    if limits.max_decoded_size < generous.max_decoded_size {
        budget_keeps_the_parse(bytes, &owned, encoding.as_deref(), generous)?;
    }
    Ok(forms)
}

/// Whether the owned form ran out of budget.
fn ran_out(owned: &Owned) -> bool {
    matches!(owned, Err(DecodeError::OverBudget { .. }))
}

/// Whether the borrowing form ran out of budget, inside a value or not.
fn ran_out_borrowed(borrowed: &Borrowed<'_>) -> bool {
    match borrowed {
        Ok(d) => d.over,
        Err(e) => matches!(e, DecodeError::OverBudget { .. }),
    }
}

/// `encoding` is the owned message's, if already known.
fn agree(
    owned: &Owned,
    encoding: Option<&[u8]>,
    borrowed: Borrowed<'_>,
    limits: DecodeLimits,
) -> Result<(), String> {
    match (owned, borrowed) {
        (Ok(msg), Ok(d)) if !d.over => same(msg, encoding, &Message::from(d.msg)),
        (Err(DecodeError::OverBudget { limit }), Ok(d)) if d.over && *limit == limits.max_decoded_size => {
            Ok(())
        }
        (Err(a), Err(b)) if format!("{a:?}") == format!("{b:?}") => Ok(()),
        (owned, borrowed) => Err(format!(
            "the forms disagree: owned {}, borrowed {}",
            brief(owned.as_ref().map(Message::kind)),
            brief(borrowed.map(|d| (d.over, Message::from(d.msg).kind())))
        )),
    }
}

/// A small budget changes only what is kept: a decode that did not run out of it gives what
/// the `generous` budget gives.
fn budget_keeps_the_parse(
    bytes: &[u8],
    owned: &Owned,
    encoding: Option<&[u8]>,
    generous: DecodeLimits,
) -> Result<(), String> {
    let again = Message::decode_with(bytes, generous);
    match (owned, &again) {
        (Ok(a), Ok(b)) => same(a, encoding, b),
        (Err(DecodeError::OverBudget { .. }), _) => Ok(()),
        (Err(a), Err(b)) if format!("{a:?}") == format!("{b:?}") => Ok(()),
        _ => Err(format!(
            "a smaller budget changed the parse: {} then {}",
            brief(owned.as_ref().map(Message::kind)),
            brief(again.as_ref().map(Message::kind))
        )),
    }
}

/// The same message: the same bytes once encoded (so that NaN floats compare equal).
/// `a_encoded` is `a`'s encoding, if already known.
fn same(a: &Message, a_encoded: Option<&[u8]>, b: &Message) -> Result<(), String> {
    let a_bytes = match a_encoded {
        Some(bytes) => bytes.to_vec(),
        None => encoded(a)?,
    };
    if a_bytes == encoded(b)? {
        Ok(())
    } else {
        Err(format!("different messages: {} and {}", brief(a), brief(b)))
    }
}

fn encoded(msg: &Message) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    msg.encode_into(&mut out)
        .map_err(|e| format!("a decoded {} does not encode: {e}", msg.kind()))?;
    Ok(out)
}

/// What was decoded encodes to bytes that decode to it again; its encoding.
fn stable(msg: &Message) -> Result<Vec<u8>, String> {
    let bytes = encoded(msg)?;
    let again = Message::decode(&bytes).map_err(|e| format!("a re-encoded {} fails: {e}", msg.kind()))?;
    same(msg, Some(&bytes), &again)?;
    Ok(bytes)
}

/// The borrowed requests say whether their arguments were all kept, as the message does.
fn arguments_say_over(decoded: &Decoded<MessageIn<'_>>, limits: DecodeLimits) -> Result<(), String> {
    let requests = match &decoded.msg {
        Message::Request(r) => std::slice::from_ref(r),
        Message::Batch(rs) => rs.as_slice(),
        _ => return Ok(()),
    };
    let any_over = requests.iter().any(|r| r.args.over);
    let heaviest = requests.iter().map(|r| r.args.weight).max().unwrap_or(0);
    if any_over != decoded.over || heaviest > limits.max_decoded_size {
        return Err(format!(
            "arguments say over: {any_over}, the message: {}; heaviest arguments {heaviest} bytes",
            decoded.over
        ));
    }
    Ok(())
}

/// What an accepted message holds is within `limits`.
fn within(msg: &Message, limits: DecodeLimits) -> Result<(), String> {
    let values: Vec<&Value> = match msg {
        Message::Request(r) => r.args.iter().collect(),
        Message::Batch(rs) => rs.iter().flat_map(|r| &r.args).collect(),
        Message::Reply { value, .. } => vec![value],
        Message::Hello(hello) => return bounded(hello),
        _ => Vec::new(),
    };
    let deepest = values.iter().map(|v| nesting(v)).max().unwrap_or(0);
    let held = room(msg);
    if deepest > limits.max_depth || held > limits.max_decoded_size {
        return Err(format!(
            "a {} nested {deepest} deep holding {held} bytes passed {limits:?}",
            msg.kind()
        ));
    }
    Ok(())
}

fn bounded(hello: &Hello) -> Result<(), String> {
    let names = std::iter::once(&hello.service).chain(&hello.aliases);
    if hello.aliases.len() > MAX_ALIASES || names.into_iter().any(|n| n.len() > MAX_NAME_LEN) {
        return Err(format!(
            "a hello over its bounds was accepted: {} aliases",
            hello.aliases.len()
        ));
    }
    Ok(())
}

/// How deep a value nests: 0 for a scalar or an empty container.
fn nesting(v: &Value) -> usize {
    match v {
        Value::Seq(items) => items.iter().map(|i| 1 + nesting(i)).max().unwrap_or(0),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| 1 + nesting(k).max(nesting(v)))
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

/// The least the budget was charged for `msg`: the room of its lists and the bytes of its
/// values (text outside values, a name or a reason, is not charged).
fn room(msg: &Message) -> usize {
    match msg {
        Message::Request(r) => args_room(&r.args),
        Message::Batch(rs) => rs.iter().map(|r| size_of_val(r) + args_room(&r.args)).sum(),
        Message::Reply { value, .. } => value_room(value),
        Message::Error { error, .. } => size_of_val(error.causes.as_slice()),
        Message::Release { refs } => size_of_val(refs.as_slice()),
        _ => 0,
    }
}

fn args_room(args: &[Value]) -> usize {
    size_of_val(args) + args.iter().map(value_room).sum::<usize>()
}

fn value_room(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Seq(items) => args_room(items),
        Value::Map(entries) => {
            size_of_val(entries.as_slice())
                + entries
                    .iter()
                    .map(|(k, v)| value_room(k) + value_room(v))
                    .sum::<usize>()
        }
        _ => 0,
    }
}

/// At most a line of `what`'s debug form, for a failure's message.
fn brief(what: impl std::fmt::Debug) -> String {
    let mut text = format!("{what:?}");
    if let Some((end, _)) = text.char_indices().nth(300) {
        text.truncate(end);
        text.push_str("...");
    }
    text
}
