//! How a command fails: [`Failure`], its exit status, and its one line on stderr.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use rpc_core::Error;
use rpc_server::cli::{error_chain, Span};

/// Why a command failed; each kind has its exit status (listed in `rpc --help`).
#[derive(Debug)]
pub enum Failure {
    /// The server answered with an error: the method failed, does not exist or refused its
    /// arguments; a registry has no such name. Exit status 1.
    Remote(String),
    /// The command line asks for something that cannot be done: a bad flag, URI or JSON
    /// argument, a file that cannot be read. Exit status 2 (clap's own usage errors too).
    Usage(String),
    /// The server could not be reached or did not answer in time; TLS or authentication
    /// failed; the connection was lost or broke the protocol. Exit status 3.
    Connection(String),
    /// Something failed on this side: stdout, signal handlers. Exit status 4.
    Local(String),
    /// Whoever read stdout went away (`rpc registry watch | head -1`): stop quietly.
    OutputClosed,
}

/// Exit statuses, as `rpc --help` lists them.
pub const EXIT_REMOTE: u8 = 1;
/// See [`Failure::Usage`].
pub const EXIT_USAGE: u8 = 2;
/// See [`Failure::Connection`].
pub const EXIT_CONNECTION: u8 = 3;
/// See [`Failure::Local`].
pub const EXIT_LOCAL: u8 = 4;

impl Failure {
    /// `e`, which happened while doing `what` (`call test`, `connect to rpc://…`), sorted by
    /// kind: the peer's errors, ours in encoding arguments, the rest the connection's.
    pub fn rpc(what: impl fmt::Display, e: &Error) -> Failure {
        Failure::of(e).context(what)
    }

    /// `e`, which says itself what failed (a registry's errors name the registry).
    pub fn of(e: &Error) -> Failure {
        match e {
            // A remote error's causes travel with it; its Display shows them when alternate.
            Error::Remote(remote) => Failure::Remote(format!("{remote:#}")),
            Error::Encode(_) => Failure::Usage(error_chain(e)),
            _ => Failure::Connection(error_chain(e)),
        }
    }

    /// The same failure, said to have happened while doing `what`.
    fn context(self, what: impl fmt::Display) -> Failure {
        match self {
            Failure::Remote(m) => Failure::Remote(format!("{what}: {m}")),
            Failure::Usage(m) => Failure::Usage(format!("{what}: {m}")),
            Failure::Connection(m) => Failure::Connection(format!("{what}: {m}")),
            Failure::Local(m) => Failure::Local(format!("{what}: {m}")),
            Failure::OutputClosed => Failure::OutputClosed,
        }
    }

    /// The exit status (0 for [`Failure::OutputClosed`]) and the message, if any.
    pub fn report(&self) -> (u8, Option<&str>) {
        match self {
            Failure::Remote(m) => (EXIT_REMOTE, Some(m)),
            Failure::Usage(m) => (EXIT_USAGE, Some(m)),
            Failure::Connection(m) => (EXIT_CONNECTION, Some(m)),
            Failure::Local(m) => (EXIT_LOCAL, Some(m)),
            Failure::OutputClosed => (0, None),
        }
    }
}

/// `text` on one line, whatever a peer put in it: line breaks and other control characters
/// escaped (`\n`, `\u{1b}`), so a message is one line and cannot drive the terminal.
pub fn one_line(text: &str) -> String {
    escape_controls(text, false)
}

/// `text` with control characters escaped, but for line breaks when `keep_newlines`: what a
/// peer sent, made safe to print.
pub fn escape_controls(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !(keep_newlines && c == '\n') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `work` within `limit` (`--timeout`; `None`: no limit); past it, a connection failure
/// saying that `what` did not finish in time.
pub async fn within<T>(
    limit: Option<Duration>,
    what: impl fmt::Display,
    work: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let Some(limit) = limit else {
        return work.await;
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(Failure::Connection(format!(
            "{what}: no answer within {} (--timeout)",
            Span(limit)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpc_core::{RemoteError, RemoteErrorKind};

    #[test]
    fn peer_text_stays_on_one_line() {
        assert_eq!(one_line("a\nb\u{1b}[31mc"), "a\\nb\\u{1b}[31mc");
        assert_eq!(escape_controls("a\nb\tc", true), "a\nb\\tc");
        assert_eq!(one_line("plain é"), "plain é");
    }

    #[test]
    fn errors_are_sorted_by_kind() {
        let mut remote = RemoteError::new(RemoteErrorKind::Application, "app::Oops", "it broke");
        remote.causes = vec!["the disk is full".into()];
        let failure = Failure::rpc("call save", &Error::Remote(remote));
        assert_eq!(
            failure.report(),
            (
                EXIT_REMOTE,
                Some("call save: remote app::Oops: it broke: the disk is full")
            )
        );
        let timeout = Failure::rpc("call slow", &Error::Timeout(Duration::from_secs(1)));
        assert_eq!(timeout.report().0, EXIT_CONNECTION);
        let encode = Failure::rpc("call f", &Error::Encode("too deep".into()));
        assert_eq!(encode.report().0, EXIT_USAGE);
    }

    #[tokio::test]
    async fn work_past_its_time_is_a_connection_failure() {
        let slow = within(Some(Duration::from_millis(10)), "connect", async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(())
        });
        let failure = slow.await.expect_err("too slow");
        assert_eq!(
            failure.report(),
            (
                EXIT_CONNECTION,
                Some("connect: no answer within 10ms (--timeout)")
            )
        );
        assert_eq!(within(None, "x", async { Ok(5) }).await.expect("no limit"), 5);
    }
}
