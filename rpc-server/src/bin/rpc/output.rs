//! Writing to stdout: lines, JSON (compact, one value a line, or indented with `--pretty`),
//! each flushed at once so a reader of a pipe sees it; a reader that went away ends the
//! command quietly.

use std::io::{ErrorKind, Write};

use crate::failure::Failure;

/// Writes `text` and a line break to stdout, flushed.
pub fn line(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|e| match e.kind() {
            ErrorKind::BrokenPipe => Failure::OutputClosed,
            _ => Failure::Local(format!("cannot write to stdout: {e}")),
        })
}

/// Writes `value` as JSON on one line, or indented when `pretty`.
pub fn json(value: &impl serde::Serialize, pretty: bool) -> Result<(), Failure> {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    let text = text.map_err(|e| Failure::Local(format!("cannot write JSON: {e}")))?;
    line(&text)
}
