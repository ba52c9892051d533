//! `rpc registry watch`: a registry's changes as JSON lines, until Ctrl-C or `--count`.

use clap::Args;
use futures::StreamExt;
use rpc_server::naming::Change;
use serde_json::json;

use super::{FilterArgs, Session};
use crate::failure::{within, Failure};
use crate::output;

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct WatchCmd {
    #[command(flatten)]
    filter: FilterArgs,

    /// Stop after this many changes [default: at Ctrl-C].
    #[arg(long, short = 'c', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
}

const AFTER_HELP: &str = "\
Each change is one line: {\"change\": \"registered\"|\"removed\"|\"expired\", \"entry\": {...}}.
Once the watch is in place, `watching ...` is written on stderr.

Examples:
  rpc registry watch
  rpc registry watch --prefix home. --count 1";

/// Runs the command.
pub async fn run(cmd: WatchCmd, session: &Session<'_>) -> Result<(), Failure> {
    let filter = cmd.filter.filter()?;
    let stop = crate::stop_signal()?;
    let what = format!("watch {}", session.shown());
    let reg = session.open().await?;
    let changes = within(session.client.timeout.0, &what, async {
        reg.watch(filter).await.map_err(|e| Failure::rpc(&what, &e))
    })
    .await?;
    eprintln!("watching {} (Ctrl-C ends)", session.shown());
    let printing = async {
        let mut changes = std::pin::pin!(changes);
        let mut seen = 0u64;
        while cmd.count.is_none_or(|count| seen < count) {
            match changes.next().await {
                Some(Ok(change)) => output::json(&line(&change), false)?,
                Some(Err(e)) => return Err(Failure::rpc(&what, &e)),
                None => {
                    return Err(Failure::Connection(format!(
                        "{what}: the registry ended the watch"
                    )))
                }
            }
            seen += 1;
        }
        Ok(())
    };
    tokio::select! {
        result = printing => result,
        _ = stop => Ok(()),
    }
}

/// `{"change": "registered", "entry": {...}}`.
fn line(change: &Change) -> serde_json::Value {
    let kind = match change {
        Change::Registered(_) => "registered",
        Change::Removed(_) => "removed",
        Change::Expired(_) => "expired",
    };
    json!({ "change": kind, "entry": change.entry() })
}
