//! `rpc registry register NAME URI`: an entry kept alive while the command runs (a
//! [`Registration`] refreshes it), removed at Ctrl-C or SIGTERM.

use std::time::Duration;

use clap::Args;
use rpc_server::cli::Span;
use rpc_server::naming::{Entry, Registration};

use super::Session;
use crate::failure::{within, Failure};
use crate::output;

/// How often the command looks whether its registration was lost.
const CHECK_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RegisterCmd {
    /// The entry's name, e.g. home.thermostat.
    name: String,

    /// Where the service is, registered as written (e.g. rpc://10.0.0.5:18861).
    uri: String,

    /// A tag to find the entry by (repeat for more), e.g. climate, floor:1.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,

    /// How long the entry lives without a refresh; it is refreshed at a third of it.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    ttl: Span,
}

const AFTER_HELP: &str = "\
The entry is printed as JSON once registered. If someone else registers the name meanwhile, the
command ends with exit status 1; if the registry restarts, the entry is registered again.

Examples:
  rpc registry register home.thermostat rpc://10.0.0.5:18861 --tag climate --tag floor:1
  rpc registry register worker.1 rpc://10.0.0.6:18861 --ttl 10s --registry 10.0.0.2:18811 &";

/// Runs the command.
pub async fn run(cmd: RegisterCmd, session: &Session<'_>) -> Result<(), Failure> {
    // The registry's rules, checked before anything is sent.
    Entry::new(&cmd.name, &cmd.uri, &cmd.tags, cmd.ttl.0).map_err(Failure::Usage)?;
    let stop = crate::stop_signal()?;
    let what = format!("register {:?} in {}", cmd.name, session.shown());
    let registration = within(session.client.timeout.0, &what, async {
        let reg = session.connect().await?;
        reg.register(&cmd.name, &cmd.uri, &cmd.tags, cmd.ttl.0)
            .await
            .map_err(|e| Failure::rpc(&what, &e))
    })
    .await?;
    output::json(&registration.entry(), false)?;
    tokio::select! {
        _ = stop => {}
        () = lost(&registration) => {
            return Err(Failure::Remote(format!(
                "{what}: the name was registered by someone else, so this registration ended"
            )));
        }
    }
    let what = format!("remove {:?} from {}", cmd.name, session.shown());
    within(session.client.timeout.0, &what, async {
        registration.remove().await.map_err(|e| Failure::rpc(&what, &e))
    })
    .await?;
    Ok(())
}

/// Completes when `registration` gave up its entry.
async fn lost(registration: &Registration) {
    while !registration.is_lost() {
        tokio::time::sleep(CHECK_EVERY).await;
    }
}
