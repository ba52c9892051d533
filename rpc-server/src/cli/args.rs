//! The flags every server binary shares ([`ServeArgs`]). Defaults are read from the
//! library's own (`ServerConfig::default()`, `ConnectionConfig::default()`), so `--help` shows
//! what a plain `Server` would do.

use std::path::PathBuf;

use clap::Args;
use rpc_core::ConnectionConfig;

use super::units::{KeepaliveArg, Size, Span, Timeout};
use crate::ServerConfig;

/// The command-line flags of a server that every server binary shares: security (TLS, a
/// shared secret), limits, timeouts, keepalive, per-connection memory budgets and `--log`.
/// Flatten it into a binary's own arguments (which add `--host`, `--port` and what to serve):
///
/// ```
/// use clap::Parser;
/// use rpc_server::cli::ServeArgs;
///
/// #[derive(Parser)]
/// struct Args {
///     /// Address to listen on.
///     #[arg(long, default_value = "127.0.0.1")]
///     host: String,
///     #[command(flatten)]
///     serve: ServeArgs,
/// }
///
/// let args = Args::parse_from(["demo", "--keepalive", "5s", "--max-frame-size", "1MiB"]);
/// assert_eq!(args.serve.connection_config().max_frame_size, 1 << 20);
/// ```
///
/// [`configure`](super::configure) applies them to a [`Server`](crate::Server).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Speak TLS, with this certificate chain (PEM). Needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key", help_heading = "Security")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert", help_heading = "Security")]
    pub tls_key: Option<PathBuf>,

    /// Require a client certificate signed by one of these CAs (PEM); its name becomes the
    /// client's credentials. Needs --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert", help_heading = "Security")]
    pub client_ca: Option<PathBuf>,

    /// Require clients to prove they know the secret in this file (its bytes, less a trailing
    /// newline; never sent over the wire). Works with or without TLS.
    #[arg(long, value_name = "PATH", help_heading = "Security")]
    pub secret_file: Option<PathBuf>,

    /// Most connections served at once; more are told "server full".
    #[arg(long, value_name = "N", help_heading = "Limits", default_value_t = server().max_connections)]
    pub max_connections: usize,

    /// Most sockets still in their handshake (TLS, secret, hello) at once; more are closed.
    #[arg(long, value_name = "N", help_heading = "Limits", default_value_t = server().max_handshaking)]
    pub max_handshaking: usize,

    /// Ping a client silent for INTERVAL, drop it when silent for DEADLINE (default: three
    /// intervals), e.g. `5s,15s`; or `off`.
    #[arg(long, value_name = "INTERVAL[,DEADLINE]", help_heading = "Timeouts",
          default_value_t = KeepaliveArg(server().keepalive))]
    pub keepalive: KeepaliveArg,

    /// Close a connection silent this long with no call outstanding; or `off`.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts",
          default_value_t = Timeout(server().idle_timeout))]
    pub idle_timeout: Timeout,

    /// How long a client's TLS, secret and hello exchange may take.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts",
          default_value_t = Span(connection().handshake_timeout))]
    pub handshake_timeout: Span,

    /// Timeout of the server's own calls to a client (callbacks); or `off`.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts",
          default_value_t = Timeout(connection().call_timeout))]
    pub call_timeout: Timeout,

    /// On Ctrl-C or SIGTERM, how long running calls get to finish before connections close.
    #[arg(long, value_name = "DURATION", help_heading = "Timeouts",
          default_value_t = Span(server().drain_timeout))]
    pub drain_timeout: Span,

    /// Largest frame accepted or sent.
    #[arg(long, value_name = "BYTES", help_heading = "Memory budgets (per connection)",
          default_value_t = Size(connection().max_frame_size))]
    pub max_frame_size: Size,

    /// Most bytes one received message may take once decoded [default: --max-frame-size].
    #[arg(long, value_name = "BYTES", help_heading = "Memory budgets (per connection)")]
    pub max_decoded_size: Option<Size>,

    /// Most bytes of arguments held by a client's running and queued requests; a request
    /// over it is refused with `Busy` [default: --max-frame-size].
    #[arg(long, value_name = "BYTES", help_heading = "Memory budgets (per connection)")]
    pub max_pending_bytes: Option<Size>,

    /// Most bytes waiting to be written to a client; one that does not read is disconnected.
    #[arg(long, value_name = "BYTES", help_heading = "Memory budgets (per connection)",
          default_value_t = Size(connection().max_unwritten_bytes))]
    pub max_unwritten_bytes: Size,

    /// Most requests of one client running at once; more are refused.
    #[arg(long, value_name = "N", help_heading = "Memory budgets (per connection)",
          default_value_t = connection().max_in_flight)]
    pub max_in_flight: usize,

    /// Most objects exported to one client at once.
    #[arg(long, value_name = "N", help_heading = "Memory budgets (per connection)",
          default_value_t = connection().max_exported_objects)]
    pub max_exported_objects: usize,

    /// Deepest nesting of a value received or sent.
    #[arg(long, value_name = "N", help_heading = "Memory budgets (per connection)",
          default_value_t = connection().max_depth)]
    pub max_depth: usize,

    /// What to log on stderr: a level (error, warn, info, debug, trace) or tracing
    /// directives (`info,rpc_core=debug`) [default: $RUST_LOG, else info].
    #[arg(long, value_name = "LEVEL")]
    pub log: Option<String>,
}

/// What the `[default: …]` of `--help` and the tests compare against: a plain server's.
fn server() -> ServerConfig {
    ServerConfig::default()
}

fn connection() -> ConnectionConfig {
    ConnectionConfig::default()
}

impl ServeArgs {
    /// The connection settings these arguments ask for (keepalive and idle timeout are the
    /// server's, set apart).
    pub fn connection_config(&self) -> ConnectionConfig {
        let mut config = ConnectionConfig::default()
            .max_frame_size(self.max_frame_size.0)
            .max_unwritten_bytes(self.max_unwritten_bytes.0)
            .max_in_flight(self.max_in_flight)
            .max_exported_objects(self.max_exported_objects)
            .max_depth(self.max_depth)
            .handshake_timeout(self.handshake_timeout.0)
            .call_timeout(self.call_timeout.0);
        config.max_decoded_size = self.max_decoded_size.map(|s| s.0);
        config.max_pending_bytes = self.max_pending_bytes.map(|s| s.0);
        config
    }

    /// Whether clients must speak TLS (`--tls-cert`).
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// Whether clients are authenticated: they must know the shared secret (`--secret-file`)
    /// or show a certificate signed by `--client-ca`.
    pub fn authenticates(&self) -> bool {
        self.secret_file.is_some() || (self.tls_cert.is_some() && self.client_ca.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// A binary's arguments, as the server binaries flatten them.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("server").chain(args.iter().copied())).map(|c| c.serve)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        let args = parse(&[]).expect("no arguments");
        let ours = args.connection_config();
        let theirs = ConnectionConfig::default();
        assert_eq!(ours.max_frame_size, theirs.max_frame_size);
        assert_eq!(ours.max_decoded_size, theirs.max_decoded_size);
        assert_eq!(ours.call_timeout, theirs.call_timeout);
        assert_eq!(args.keepalive.0, server().keepalive);
        assert_eq!(args.idle_timeout.0, server().idle_timeout);
        assert_eq!(args.drain_timeout.0, server().drain_timeout);
    }

    #[test]
    fn budgets_reach_the_connection_config() {
        let args = parse(&[
            "--max-frame-size=1MiB",
            "--max-decoded-size=4MiB",
            "--max-pending-bytes=512KiB",
            "--max-in-flight=8",
            "--call-timeout=off",
        ])
        .expect("budgets");
        let config = args.connection_config();
        assert_eq!(config.max_frame_size, 1 << 20);
        assert_eq!(config.max_decoded_size, Some(4 << 20));
        assert_eq!(config.max_pending_bytes, Some(512 << 10));
        assert_eq!(config.max_in_flight, 8);
        assert_eq!(config.call_timeout, None);
    }

    #[test]
    fn tls_files_come_in_pairs() {
        assert!(parse(&["--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["--client-ca", "ca.pem"]).is_err());
        assert!(parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).is_ok());
    }

    #[test]
    fn a_secret_or_client_certificates_authenticate() {
        let plain = parse(&[]).expect("plain");
        assert!(!plain.tls() && !plain.authenticates());
        let tls = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).expect("TLS");
        assert!(
            tls.tls() && !tls.authenticates(),
            "a server certificate checks no client"
        );
        let certs = parse(&[
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--client-ca",
            "ca.pem",
        ]);
        assert!(certs.expect("client certificates").authenticates());
        assert!(parse(&["--secret-file", "s"]).expect("secret").authenticates());
    }
}
