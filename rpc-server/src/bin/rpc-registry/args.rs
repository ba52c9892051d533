//! The command line of `rpc-registry`: where to listen, who may write and read, discovery;
//! the rest is [`ServeArgs`], which every server binary shares.

use std::net::SocketAddr;

use clap::Parser;
use rpc_server::cli::ServeArgs;

/// Serves a registry of the rpc framework (RPyC's registry, Pyro5's name server): servers
/// register their URIs under names with metadata tags and a time to live; clients look them
/// up, list and watch them.
#[derive(Debug, Parser)]
#[command(name = "rpc-registry", version, max_term_width = 100)]
#[command(after_help = format!("{}\n\n{EXAMPLES}", rpc_server::cli::UNITS_HELP))]
pub struct Args {
    /// Address to listen on: an IP address or a host name. Anything but a loopback address
    /// without --secret-file lets anyone who reaches it register names (a loud warning).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to listen on (0: any free port; the one chosen is printed).
    #[arg(long, short, default_value_t = rpc_server::naming::DEFAULT_PORT)]
    pub port: u16,

    /// Lookups, listings and watches need the secret too (by default only registering and
    /// removing do). Needs --secret-file.
    #[arg(long, requires = "secret_file", help_heading = "Security")]
    pub private_lookups: bool,

    /// Most entries held; registrations of new names beyond are refused.
    #[arg(long, value_name = "N", default_value_t = rpc_server::naming::DEFAULT_MAX_ENTRIES)]
    pub max_entries: usize,

    /// Answer UDP discovery queries ("where is the registry", "who serves NAME") on this
    /// address (e.g. 0.0.0.0:18811 for the local network's broadcasts).
    #[arg(long, value_name = "ADDR", help_heading = "Discovery")]
    pub discovery: Option<SocketAddr>,

    /// The registry's URI as discovery announces it (default: rpc://ADDR, the bound address;
    /// needed when listening on 0.0.0.0).
    #[arg(long, value_name = "URI", help_heading = "Discovery")]
    pub advertise: Option<String>,

    // What every server binary takes: security, limits, timeouts, memory budgets, --log.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// After the options in `--help`: the units, then this.
const EXAMPLES: &str = "\
Examples:
  rpc-registry                                   # 127.0.0.1:18811, anyone on this machine registers
  rpc-registry --host 0.0.0.0 --secret-file reg.secret --discovery 0.0.0.0:18811 --advertise rpc://10.0.0.2:18811
  RPC_REGISTRY=rpc://127.0.0.1:18811 rpc registry list

The bound address is printed on stdout (`rpc-registry: serving registry on 127.0.0.1:18811`); logs go to stderr.
Exit status: 0 after a clean shutdown, 1 on an error (a bad file, a port in use), 2 on bad arguments.";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn private_lookups_need_a_secret() {
        assert!(Args::try_parse_from(["rpc-registry", "--private-lookups"]).is_err());
        let args = Args::try_parse_from(["rpc-registry", "--private-lookups", "--secret-file", "s"])
            .expect("parses");
        assert!(args.private_lookups);
    }
}
