//! The flags a client binary shares ([`ClientArgs`]): how to reach a server securely, and how
//! long to wait for it.

use std::path::{Path, PathBuf};

use clap::Args;
use rpc_core::{ClientTls, ConnectOptions, ConnectionConfig};

use super::error_chain;
use super::setup::read_secret;
use super::units::Timeout;

/// The command-line flags of a client: TLS (`--tls`, `--ca-file`, a client certificate), a
/// shared secret (`--secret-file`) and `--timeout`. They are global: flattened into a
/// binary's top-level arguments, they may also be given after a subcommand's name.
///
/// ```
/// use clap::Parser;
/// use rpc_server::cli::ClientArgs;
///
/// #[derive(Parser)]
/// struct Args {
///     /// The server.
///     server: String,
///     #[command(flatten)]
///     client: ClientArgs,
/// }
///
/// let args = Args::parse_from(["demo", "127.0.0.1:18861", "--timeout", "5s"]);
/// assert_eq!(args.client.timeout.0, Some(std::time::Duration::from_secs(5)));
/// assert!(!args.client.tls());
/// ```
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Speak TLS, checking the server's certificate against --ca-file (there is no system
    /// trust store).
    #[arg(long, global = true, requires = "ca_file", help_heading = "Connection")]
    pub tls: bool,

    /// Trust server certificates signed by one of these CAs (PEM). Implies --tls.
    #[arg(long, global = true, value_name = "PEM", help_heading = "Connection")]
    pub ca_file: Option<PathBuf>,

    /// The name the server's certificate must be valid for [default: the host connected to].
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        requires = "ca_file",
        help_heading = "Connection"
    )]
    pub server_name: Option<String>,

    /// Show this client certificate (PEM) to a server that requires one. Needs --client-key
    /// and --ca-file.
    #[arg(long, global = true, value_name = "PEM", requires_all = ["client_key", "ca_file"],
          help_heading = "Connection")]
    pub client_cert: Option<PathBuf>,

    /// The private key of --client-cert (PEM).
    #[arg(
        long,
        global = true,
        value_name = "PEM",
        requires = "client_cert",
        help_heading = "Connection"
    )]
    pub client_key: Option<PathBuf>,

    /// Prove knowledge of the secret in this file (its bytes, less a trailing newline; never
    /// sent over the wire).
    #[arg(long, global = true, value_name = "PATH", help_heading = "Connection")]
    pub secret_file: Option<PathBuf>,

    /// How long to wait for the server to connect and to answer (`5`, `500ms`, `2m`), or `off`.
    #[arg(long, global = true, value_name = "DURATION", help_heading = "Connection",
          default_value_t = Timeout(ConnectionConfig::default().call_timeout))]
    pub timeout: Timeout,
}

impl ClientArgs {
    /// Whether the server is spoken to over TLS (`--tls`, or a `--ca-file`).
    pub fn tls(&self) -> bool {
        self.tls || self.ca_file.is_some()
    }

    /// The options these flags ask for: TLS, the shared secret, and `--timeout` as the
    /// handshake's and every call's timeout. Fails, naming the flag and the file, when a
    /// certificate, key or secret cannot be read or is no good.
    pub fn connect_options(&self) -> Result<ConnectOptions, String> {
        let mut config = ConnectionConfig::default().call_timeout(self.timeout.0);
        if let Some(limit) = self.timeout.0 {
            config = config.handshake_timeout(limit);
        }
        let mut options = ConnectOptions::new().config(config);
        if let Some(tls) = self.client_tls()? {
            options = options.tls(tls);
        }
        if let Some(path) = &self.secret_file {
            options = options.secret(read_secret(path)?);
        }
        Ok(options)
    }

    /// TLS from `--ca-file`, `--server-name` and `--client-cert`/`--client-key` (clap makes
    /// sure they come with a CA file).
    fn client_tls(&self) -> Result<Option<ClientTls>, String> {
        let Some(ca) = &self.ca_file else {
            return Ok(None);
        };
        let mut tls = ClientTls::from_pem_file(ca).map_err(|e| at("--ca-file", ca, &e))?;
        if let Some(name) = &self.server_name {
            tls = tls
                .server_name(name)
                .map_err(|e| format!("--server-name: {}", error_chain(&e)))?;
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            tls = tls
                .client_cert_files(cert, key)
                .map_err(|e| at("--client-cert", cert, &e))?;
        }
        Ok(Some(tls))
    }
}

/// `e`, said of the file `path` given to `flag`.
fn at(flag: &str, path: &Path, e: &rpc_core::Error) -> String {
    format!("{flag} {}: {}", path.display(), error_chain(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};
    use std::time::Duration;

    /// A binary with a subcommand, as `rpc` has them.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
        #[command(flatten)]
        client: ClientArgs,
    }

    #[derive(Debug, Subcommand)]
    enum Command {
        Go { server: String },
    }

    fn parse(args: &[&str]) -> Result<ClientArgs, clap::Error> {
        Cli::try_parse_from(["client", "go", "s"].into_iter().chain(args.iter().copied())).map(|c| c.client)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_timeout_is_the_library_default_or_as_given() {
        let plain = parse(&[]).expect("no flags");
        assert_eq!(plain.timeout.0, ConnectionConfig::default().call_timeout);
        assert!(!plain.tls());
        let options = parse(&["--timeout", "2s"])
            .expect("a timeout")
            .connect_options()
            .expect("options");
        let config = options.connection_config();
        assert_eq!(config.call_timeout, Some(Duration::from_secs(2)));
        assert_eq!(config.handshake_timeout, Duration::from_secs(2));
        let off = parse(&["--timeout", "off"]).expect("off");
        assert_eq!(
            off.connect_options()
                .expect("options")
                .connection_config()
                .call_timeout,
            None
        );
    }

    #[test]
    fn tls_needs_a_ca_file_and_a_ca_file_means_tls() {
        assert!(parse(&["--tls"]).is_err());
        assert!(parse(&["--server-name", "x"]).is_err());
        assert!(parse(&["--client-cert", "c.pem", "--client-key", "k.pem"]).is_err());
        assert!(parse(&["--ca-file", "ca.pem", "--client-cert", "c.pem"]).is_err());
        assert!(parse(&["--ca-file", "ca.pem"]).expect("a CA file").tls());
        assert!(parse(&["--tls", "--ca-file", "ca.pem"]).expect("both").tls());
    }

    #[test]
    fn unreadable_files_are_named() {
        let missing = "/nonexistent/rpc-client-test.pem";
        let e = parse(&["--ca-file", missing])
            .expect("parses")
            .connect_options()
            .expect_err("no such file");
        assert!(e.starts_with("--ca-file") && e.contains(missing), "{e}");
        let e = parse(&["--secret-file", missing])
            .expect("parses")
            .connect_options()
            .expect_err("no such file");
        assert!(e.starts_with("--secret-file") && e.contains(missing), "{e}");
    }
}
