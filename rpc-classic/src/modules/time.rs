//! The `time` module: the clock and sleeping.

use std::time::{Duration, SystemTime};

use rpc_core::{service, RemoteError};

/// The longest `time.sleep` (one hour, in milliseconds); a longer one is refused. A sleeping
/// call holds one of the connection's in-flight requests, nothing else.
pub const MAX_SLEEP_MS: u64 = 3_600_000;

/// The `time` module.
#[derive(Debug, Default, Clone, Copy)]
pub struct Time;

impl Time {
    /// The module.
    pub fn new() -> Time {
        Time
    }
}

fn since_epoch() -> Duration {
    // A clock set before 1970 reads as the epoch.
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

#[service]
impl Time {
    /// Seconds since the Unix epoch, by the server's clock (Python's `time.time()`).
    pub fn exposed_now(&self) -> f64 {
        since_epoch().as_secs_f64()
    }

    /// Milliseconds since the Unix epoch, by the server's clock.
    pub fn exposed_now_ms(&self) -> u64 {
        u64::try_from(since_epoch().as_millis()).unwrap_or(u64::MAX)
    }

    /// Waits `ms` milliseconds without holding a thread (at most [`MAX_SLEEP_MS`]: one hour).
    pub async fn exposed_sleep(&self, ms: u64) -> Result<(), RemoteError> {
        if ms > MAX_SLEEP_MS {
            return Err(super::bad_argument(format!(
                "sleep({ms}): at most {MAX_SLEEP_MS} ms (one hour)"
            )));
        }
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(())
    }
}
