//! The command line: the subcommands (each defined by its module) and the connection flags
//! they all take ([`ClientArgs`]).

use clap::{Parser, Subcommand};
use rpc_server::cli::ClientArgs;

use crate::call::CallCmd;
use crate::completions::CompletionsCmd;
use crate::describe::DescribeCmd;
use crate::ping::PingCmd;
use crate::registry::RegistryCmd;

/// Calls, describes and pings servers of the rpc framework, and works a registry, from a
/// shell.
#[derive(Debug, Parser)]
#[command(name = "rpc", version, max_term_width = 100, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    // --tls, --ca-file, --secret-file, --timeout...: global, so after any subcommand too.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What `rpc` does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Calls a method with JSON arguments and prints the result as JSON.
    Call(CallCmd),
    /// Lists an object's methods and attributes with their signatures and docs.
    Describe(DescribeCmd),
    /// Measures round trips to a server.
    Ping(PingCmd),
    /// Lists, looks up, registers, removes and watches a registry's entries.
    Registry(RegistryCmd),
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsCmd),
}

/// After the options of `rpc --help`.
const AFTER_HELP: &str = "\
URIs: rpc://HOST:PORT or HOST:PORT (an IPv6 host in brackets: rpc://[::1]:18861).
JSON: arguments and results are JSON; bytes are {\"$bytes\": \"<base64>\"} in arguments and a base64
string in results; objects passed by reference print as \"<ref NAME#ID>\" (see rpc call --help).
Durations: 500ms, 5s, 2m, 1h, or a bare number of seconds.

Examples:
  rpc call 127.0.0.1:18861 test 41
  rpc describe 127.0.0.1:18861
  rpc ping 127.0.0.1:18861 --count 3
  rpc registry list --registry 127.0.0.1:18811
  rpc call server.example:18861 whoami --tls --ca-file ca.pem --secret-file secret.txt

Errors are one line on stderr: `rpc: <what failed>: <why>`.
Exit status: 0 success; 1 the server answered with an error (a failed, unknown or refused call, no
such registry entry); 2 bad usage (flags, URI, a JSON argument, an unreadable file); 3 no connection
(unreachable, --timeout passed, TLS or authentication failed, connection lost); 4 a local failure.";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn connection_flags_go_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from(["rpc", "--timeout", "2s", "ping", "h:1"]).expect("before");
        assert_eq!(cli.client.timeout.0, Some(std::time::Duration::from_secs(2)));
        let cli = Cli::try_parse_from([
            "rpc",
            "registry",
            "list",
            "--secret-file",
            "s",
            "--registry",
            "h:1",
        ])
        .expect("after");
        assert!(cli.client.secret_file.is_some());
    }

    #[test]
    fn negative_numbers_are_arguments() {
        let cli = Cli::try_parse_from(["rpc", "call", "h:1", "add", "-5", "-2.5"]).expect("negatives");
        assert!(matches!(cli.command, Command::Call(_)));
    }
}
