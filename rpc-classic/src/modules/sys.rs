//! The `sys` module: the server's version and arguments, and ending the session.

use std::time::Duration;

use rpc_core::{service, Connection};

/// How long `exit` waits before closing, so that its own reply goes out first.
const EXIT_DELAY: Duration = Duration::from_millis(50);

/// The `sys` module.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sys;

impl Sys {
    /// The module.
    pub fn new() -> Sys {
        Sys
    }
}

#[service]
impl Sys {
    /// The server's classic-mode version: `"rpc-classic 0.1.0"` (the crate's name and version).
    pub fn exposed_version(&self) -> String {
        format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    /// The server process's command line (non-UTF-8 arguments made lossy).
    pub fn exposed_argv(&self) -> Vec<String> {
        std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// Ends the calling session (Python's `sys.exit` ends the interpreter; here the
    /// connection, not the server): replies, then closes the connection shortly after with
    /// the reason `session ended by sys.exit(<code>)`, which the client sees as
    /// `Error::PeerClosed`. The reply can lose the race with the close: the caller should treat
    /// a closed connection as success too.
    pub fn exposed_exit(&self, conn: Connection, code: Option<i32>) {
        let reason = match code {
            Some(code) => format!("session ended by sys.exit({code})"),
            None => "session ended by sys.exit()".to_owned(),
        };
        tokio::spawn(async move {
            tokio::time::sleep(EXIT_DELAY).await;
            conn.close_with_reason(reason).await;
        });
    }
}
