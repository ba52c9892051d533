//! The service the quickstart, server and client examples share: RPyC's tutorial
//! `TestService`, in Rust.

use std::time::Duration;

use rpc::service;

/// What `exposed_fail` returns.
#[derive(Debug, thiserror::Error)]
#[error("this method always fails")]
pub struct AlwaysFails;

/// RPyC's tutorial service.
pub struct TestService;

#[service]
impl TestService {
    /// Adds one.
    fn exposed_test(&self, num: i64) -> i64 {
        1 + num
    }

    /// Sleeps without blocking anyone else, then says how long.
    async fn exposed_slow(&self, ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        format!("slept {ms} ms")
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

    /// Not exposed: the peer cannot reach it.
    #[allow(dead_code)]
    fn get_question(&self) -> &'static str {
        "what is the airspeed velocity of an unladen swallow?"
    }
}
