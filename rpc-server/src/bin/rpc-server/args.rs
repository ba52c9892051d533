//! The command line: what to serve and where; the rest is [`ServeArgs`], which every server
//! binary shares.

use clap::{Parser, ValueEnum};
use rpc_server::cli::ServeArgs;

/// Serves a demo service of the rpc framework over TCP, optionally with TLS and a shared
/// secret, until Ctrl-C or SIGTERM (then drains: running calls finish, clients are told).
#[derive(Debug, Parser)]
#[command(name = "rpc-server", version, max_term_width = 100)]
#[command(after_help = format!("{}\n\n{EXAMPLES}", rpc_server::cli::UNITS_HELP))]
pub struct Args {
    /// The service each connection gets.
    #[arg(long, value_enum, default_value_t = ServiceKind::Demo)]
    pub service: ServiceKind,

    /// Address to listen on: an IP address or a host name. Anything but a loopback address
    /// without --tls-cert or --secret-file gets a loud warning.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to listen on (0: any free port; the one chosen is printed).
    #[arg(long, short, default_value_t = 18861)]
    pub port: u16,

    // What every server binary takes: security, limits, timeouts, memory budgets, --log.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The services `--service` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceKind {
    /// RPyC's TestService: test(n) -> n+1, slow(ms), echo(value), whoami(), fail(), and the
    /// attribute the_real_answer_though
    Demo,
    /// echo(value) returns its argument
    Echo,
}

/// After the options in `--help`: the units, then this.
const EXAMPLES: &str = "\
Examples:
  rpc-server --service demo --port 18861
  rpc-server --host 0.0.0.0 --tls-cert server.pem --tls-key server.key --secret-file secret.txt
  rpc-server --port 0 --keepalive 5s,15s --max-frame-size 1MiB --log debug

The bound address is printed on stdout (`rpc-server: serving demo on 127.0.0.1:18861`); logs go to stderr.
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
    fn defaults() {
        let args = Args::try_parse_from(["rpc-server"]).expect("no arguments");
        assert_eq!(args.host, "127.0.0.1");
        assert_eq!(args.port, 18861);
        assert_eq!(args.service, ServiceKind::Demo);
        assert!(!args.serve.tls() && args.serve.secret_file.is_none());
    }

    #[test]
    fn the_shared_flags_are_there() {
        let args = Args::try_parse_from(["rpc-server", "--max-in-flight=8", "--call-timeout=off"])
            .expect("shared flags");
        let config = args.serve.connection_config();
        assert_eq!(config.max_in_flight, 8);
        assert_eq!(config.call_timeout, None);
        assert!(Args::try_parse_from(["rpc-server", "--tls-cert", "c.pem"]).is_err());
    }
}
