//! `rpc registry list|lookup|register|remove|watch`: a registry's entries (`rpyc_registry`'s
//! and `pyro5-nsc`'s job), through [`Registry`], the registry's client.
//!
//! Entries print as JSON objects: `{"name", "uri", "metadata": [tags], "lease", "ttl_ms"}`.

mod register;
mod watch;

use clap::{Args, Subcommand};
use rpc_server::cli::ClientArgs;
use rpc_server::naming::{Filter, Registry};

use crate::failure::{within, Failure};
use crate::output;
use crate::target::{open_registry, Target};

/// Lists, looks up, registers, removes and watches the entries of a registry.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RegistryCmd {
    /// The registry: rpc://HOST:PORT or HOST:PORT [default: $RPC_REGISTRY, else the one
    /// discovery finds if $RPC_DISCOVERY is set, else localhost:18811].
    #[arg(long, global = true, value_name = "URI")]
    registry: Option<Target>,

    #[command(subcommand)]
    command: RegistryCommand,
}

const AFTER_HELP: &str = "\
Examples:
  rpc registry list --prefix home.
  rpc registry lookup home.thermostat --registry 10.0.0.2:18811
  rpc registry register home.thermostat rpc://10.0.0.5:18861 --tag climate --ttl 30s
  rpc registry remove home.thermostat
  rpc registry watch --tag climate --count 1";

#[derive(Debug, Subcommand)]
enum RegistryCommand {
    /// Prints the entries that pass the filter (all of them by default), sorted by name, as a
    /// JSON array.
    #[command(
        after_help = "Examples:\n  rpc registry list\n  rpc registry list --prefix home. --tag climate"
    )]
    List(ListCmd),
    /// Prints the entry registered under NAME as JSON; exit status 1 if there is none.
    #[command(after_help = "Example:\n  rpc registry lookup home.thermostat")]
    Lookup(LookupCmd),
    /// Registers NAME at URI and keeps the entry alive until Ctrl-C or SIGTERM, then removes
    /// it. Prints the entry as JSON once registered.
    Register(register::RegisterCmd),
    /// Removes the entry NAME, whoever registered it; exit status 1 if there is none.
    #[command(after_help = "Example:\n  rpc registry remove home.thermostat")]
    Remove(RemoveCmd),
    /// Prints each change (registered, removed, expired) of the entries that pass the filter,
    /// one JSON line each, until Ctrl-C or --count.
    Watch(watch::WatchCmd),
}

#[derive(Debug, Args)]
struct ListCmd {
    #[command(flatten)]
    filter: FilterArgs,
    /// Print the entries indented over several lines.
    #[arg(long)]
    pretty: bool,
}

#[derive(Debug, Args)]
struct LookupCmd {
    /// The entry's name.
    name: String,
    /// Print the entry indented over several lines.
    #[arg(long)]
    pretty: bool,
}

#[derive(Debug, Args)]
struct RemoveCmd {
    /// The entry's name.
    name: String,
}

/// Which entries a listing or a watch wants; every condition given must hold.
#[derive(Debug, Args)]
struct FilterArgs {
    /// Names that start with this.
    #[arg(long, value_name = "TEXT")]
    prefix: Option<String>,
    /// Names that match this regular expression.
    #[arg(long, value_name = "REGEX")]
    regex: Option<String>,
    /// Entries with this tag (repeat: all of them).
    #[arg(long = "tag", value_name = "TAG")]
    all: Vec<String>,
    /// Entries with at least one of these tags (repeat for more).
    #[arg(long = "any-tag", value_name = "TAG")]
    any: Vec<String>,
}

impl FilterArgs {
    /// The filter, its pattern checked here rather than by the registry.
    fn filter(&self) -> Result<Filter, Failure> {
        let filter = Filter {
            prefix: self.prefix.clone(),
            regex: self.regex.clone(),
            ..Filter::everything()
        }
        .with_all(self.all.iter().cloned())
        .with_any(self.any.iter().cloned());
        filter
            .compile()
            .map_err(|e| Failure::Usage(format!("--regex: {e}")))?;
        Ok(filter)
    }
}

/// Runs the command.
pub async fn run(cmd: RegistryCmd, client: &ClientArgs) -> Result<(), Failure> {
    let session = Session {
        target: cmd.registry,
        client,
    };
    match cmd.command {
        RegistryCommand::List(list) => {
            let filter = list.filter.filter()?;
            let entries = session
                .run("list", |reg| async move { reg.list(filter).await })
                .await?;
            output::json(&entries, list.pretty)
        }
        RegistryCommand::Lookup(lookup) => {
            let name = lookup.name;
            let what = format!("lookup {name:?}");
            let entry = session
                .run(&what, |reg| async move { reg.lookup(&name).await })
                .await?;
            output::json(&entry, lookup.pretty)
        }
        RegistryCommand::Remove(remove) => {
            let name = remove.name;
            let what = format!("remove {name:?}");
            let removed = session
                .run(&what, |reg| async move { reg.remove(&name).await })
                .await?;
            match removed {
                true => Ok(()),
                false => Err(Failure::Remote(format!(
                    "{what}: no entry of that name in {}",
                    session.shown()
                ))),
            }
        }
        RegistryCommand::Register(register) => register::run(register, &session).await,
        RegistryCommand::Watch(watch) => watch::run(watch, &session).await,
    }
}

/// A registry command's registry and flags.
struct Session<'a> {
    /// `--registry`, or `None` for the default one.
    target: Option<Target>,
    client: &'a ClientArgs,
}

impl Session<'_> {
    /// The registry, for messages.
    pub(super) fn shown(&self) -> String {
        match &self.target {
            Some(target) => format!("the registry at {target}"),
            None => "the default registry".to_owned(),
        }
    }

    /// Connects to the registry, within `--timeout`.
    async fn open(&self) -> Result<Registry, Failure> {
        let what = format!("connect to {}", self.shown());
        within(self.client.timeout.0, what, self.connect()).await
    }

    /// Connects to the registry.
    async fn connect(&self) -> Result<Registry, Failure> {
        let options = self.client.connect_options().map_err(Failure::Usage)?;
        open_registry(self.target.as_ref(), options).await
    }

    /// Connects and does `work`, the two within `--timeout`; a failure says it was `what`.
    async fn run<T, F>(&self, what: &str, work: impl FnOnce(Registry) -> F) -> Result<T, Failure>
    where
        F: std::future::Future<Output = rpc_core::Result<T>>,
    {
        let what = format!("{what} at {}", self.shown());
        within(self.client.timeout.0, &what, async {
            let reg = self.connect().await?;
            work(reg).await.map_err(|e| Failure::rpc(&what, &e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_pattern_is_a_usage_error() {
        let args = FilterArgs {
            prefix: None,
            regex: Some("(".into()),
            all: vec![],
            any: vec![],
        };
        assert!(matches!(args.filter(), Err(Failure::Usage(m)) if m.starts_with("--regex")));
    }
}
