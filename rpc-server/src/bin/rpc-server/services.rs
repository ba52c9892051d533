//! The services the binary can serve (`--service`).

use std::time::Duration;

use rpc_core::{service, Connection, Value};

/// What `fail` returns.
#[derive(Debug, thiserror::Error)]
#[error("this method always fails")]
pub struct AlwaysFails;

/// RPyC's `TestService`, plus `echo` and `whoami`.
pub struct Demo;

#[service(name = "demo")]
impl Demo {
    /// Adds one.
    fn exposed_test(&self, num: i64) -> i64 {
        num.wrapping_add(1)
    }

    /// Returns its argument.
    fn exposed_echo(&self, value: Value) -> Value {
        value
    }

    /// Sleeps without blocking anyone else, then says how long.
    async fn exposed_slow(&self, ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        format!("slept {ms} ms")
    }

    /// Who the caller is: the name its credentials give (certificate or secret label), else
    /// its address.
    fn exposed_whoami(&self, conn: &Connection) -> String {
        let name = conn.credentials().and_then(|c| c.name()).map(str::to_owned);
        let addr = conn.peer_addr().map(|a| a.to_string());
        name.or(addr).unwrap_or_else(|| "anonymous".to_owned())
    }

    /// Always fails, to show how remote errors arrive.
    fn exposed_fail(&self) -> Result<(), AlwaysFails> {
        Err(AlwaysFails)
    }

    /// An exposed attribute.
    #[attribute]
    fn exposed_the_real_answer_though(&self) -> i64 {
        43
    }
}

/// Echoes whatever it is sent.
pub struct Echo;

#[service(name = "echo")]
impl Echo {
    /// Returns its argument.
    fn exposed_echo(&self, value: Value) -> Value {
        value
    }
}
