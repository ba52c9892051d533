//! `rpc ping URI`: round trips to a server, printed like ping(8): one line a reply, then the
//! minimum, average and maximum.

use std::time::{Duration, Instant};

use clap::Args;
use rpc_core::Connection;
use rpc_server::cli::{ClientArgs, Span};

use crate::failure::{within, Failure};
use crate::output;
use crate::target::{open, Target};

/// Measures round trips to the server at URI (a protocol ping, answered ahead of any call),
/// one every --interval until --count or Ctrl-C.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct PingCmd {
    /// The server: rpc://HOST:PORT or HOST:PORT.
    #[arg(value_name = "URI")]
    uri: Target,

    /// Stop after this many round trips [default: at Ctrl-C].
    #[arg(long, short = 'c', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    /// The wait between round trips.
    #[arg(long, short = 'i', value_name = "DURATION", default_value = "1s")]
    interval: Span,
}

const AFTER_HELP: &str = "\
Examples:
  rpc ping 127.0.0.1:18861
  rpc ping rpc://127.0.0.1:18861 --count 3 --interval 200ms";

/// Round-trip times so far.
#[derive(Debug, Default)]
struct Stats {
    times: Vec<Duration>,
}

impl Stats {
    /// `3 round trips, rtt min/avg/max = 0.101/0.120/0.143 ms`.
    fn summary(&self) -> String {
        let n = self.times.len();
        let (Some(min), Some(max)) = (self.times.iter().min(), self.times.iter().max()) else {
            return "0 round trips".to_owned();
        };
        let total: Duration = self.times.iter().sum();
        let avg = total / u32::try_from(n).unwrap_or(u32::MAX);
        let plural = if n == 1 { "" } else { "s" };
        format!(
            "{n} round trip{plural}, rtt min/avg/max = {}/{}/{} ms",
            ms(*min),
            ms(avg),
            ms(*max)
        )
    }
}

/// A duration in milliseconds with three decimals.
fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// Runs the command.
pub async fn run(cmd: PingCmd, client: &ClientArgs) -> Result<(), Failure> {
    let options = client.connect_options().map_err(Failure::Usage)?;
    let stop = crate::stop_signal()?;
    let started = Instant::now();
    let what = format!("connect to {}", cmd.uri);
    let object = within(client.timeout.0, &what, open(&cmd.uri, options)).await?;
    let conn = object.connection();
    output::line(&format!(
        "PING {} ({}): connected in {} ms",
        cmd.uri,
        crate::failure::one_line(conn.peer_service_name()),
        ms(started.elapsed())
    ))?;
    let mut stats = Stats::default();
    let pinging = pings(&cmd, client, conn, &mut stats);
    let result = tokio::select! {
        result = pinging => result,
        _ = stop => Ok(()),
    };
    output::line(&format!(
        "\n--- {} ping statistics ---\n{}",
        cmd.uri,
        stats.summary()
    ))?;
    result
}

/// Pings until `--count` (or for ever), adding each time to `stats`.
async fn pings(
    cmd: &PingCmd,
    client: &ClientArgs,
    conn: &Connection,
    stats: &mut Stats,
) -> Result<(), Failure> {
    let mut seq = 0u64;
    loop {
        seq += 1;
        let what = format!("ping {} (seq={seq})", cmd.uri);
        let rtt = within(client.timeout.0, &what, async {
            conn.ping().await.map_err(|e| Failure::rpc(&what, &e))
        })
        .await?;
        stats.times.push(rtt);
        output::line(&format!("reply from {}: seq={seq} time={} ms", cmd.uri, ms(rtt)))?;
        if cmd.count.is_some_and(|count| seq >= count) {
            return Ok(());
        }
        tokio::time::sleep(cmd.interval.0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_min_avg_max() {
        let stats = Stats {
            times: [100, 300, 200].map(Duration::from_micros).to_vec(),
        };
        assert_eq!(
            stats.summary(),
            "3 round trips, rtt min/avg/max = 0.100/0.200/0.300 ms"
        );
        assert_eq!(Stats::default().summary(), "0 round trips");
    }
}
