//! The rules of the names objects are published under (the objects layer's `Published`) and
//! of the tags of `rpcmeta:` URIs: short, printable words a URI carries without escaping.

use crate::protocol::MAX_NAME_LEN;

/// Why a name cannot be published (or looked up).
///
/// A name is 1 to [`MAX_NAME_LEN`] bytes of UTF-8 without whitespace or control characters;
/// anything else (dots, slashes, colons, `#`) is allowed, so `sensor.kitchen` and
/// `floor:1/thermostat` are names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("an object name must not be empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    #[error("an object name of {len} bytes is too long (at most {MAX_NAME_LEN})")]
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// The name holds whitespace or a control character.
    #[error("an object name must not contain whitespace or control characters ({ch:?} at byte {at})")]
    Forbidden {
        /// The character.
        ch: char,
        /// Its byte offset in the name.
        at: usize,
    },
    /// Another object is already published under the name.
    #[error("an object is already published as {0:?} (unpublish it first)")]
    Taken(String),
}

/// What is wrong with a name or a tag, before it is said which of the two it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    Empty,
    TooLong(usize),
    Forbidden(char, usize),
}

/// The first character of `text` that no name or tag may hold, with its byte offset.
pub(crate) fn forbidden_char(text: &str) -> Option<(usize, char)> {
    text.char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
}

/// Checks `text` against the rules of names, also refusing the characters of `also`.
pub(crate) fn problem(text: &str, also: &[char]) -> Option<Problem> {
    if text.is_empty() {
        return Some(Problem::Empty);
    }
    if text.len() > MAX_NAME_LEN {
        return Some(Problem::TooLong(text.len()));
    }
    let bad = forbidden_char(text).or_else(|| text.char_indices().find(|(_, c)| also.contains(c)));
    bad.map(|(at, ch)| Problem::Forbidden(ch, at))
}

/// Checks a name an object is published or looked up under.
pub fn check_name(name: &str) -> Result<(), NameError> {
    match problem(name, &[]) {
        None => Ok(()),
        Some(Problem::Empty) => Err(NameError::Empty),
        Some(Problem::TooLong(len)) => Err(NameError::TooLong { len }),
        Some(Problem::Forbidden(ch, at)) => Err(NameError::Forbidden { ch, at }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        for ok in [
            "a",
            "sensor.kitchen",
            "floor:1/thermostat#2",
            "ünïcode",
            &"n".repeat(MAX_NAME_LEN),
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(
            check_name(&"n".repeat(MAX_NAME_LEN + 1)),
            Err(NameError::TooLong {
                len: MAX_NAME_LEN + 1
            })
        );
        assert_eq!(check_name("a b"), Err(NameError::Forbidden { ch: ' ', at: 1 }));
        assert_eq!(
            check_name("ab\u{7}"),
            Err(NameError::Forbidden { ch: '\u{7}', at: 2 })
        );
        assert_eq!(check_name("\tx"), Err(NameError::Forbidden { ch: '\t', at: 0 }));
        assert_eq!(problem("a,b", &[',']), Some(Problem::Forbidden(',', 1)));
    }
}
