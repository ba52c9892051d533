//! `rpc-classic serve`: classic sessions over TCP (threaded or one-shot) or over stdin/stdout.
//!
//! Its security flags, limits, timeouts and budgets are the ones every server binary shares
//! ([`ServeArgs`]); it adds what to serve (the modules, the root, the script limits), and one
//! rule of its own: a classic session runs anything as this user, so it does not listen on a
//! non-loopback address unless clients are authenticated, or the operator says
//! `--insecure-allow-remote` (logged loudly at start and on every connection).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use futures::future::BoxFuture;
use rpc_classic::{ClassicConfig, ClassicService, ScriptLimits, DEFAULT_PORT};
use rpc_core::{
    ConnectOptions, Connection, Description, Outcome, RemoteError, RemoteErrorKind, Service, Value,
};
use rpc_server::cli::{self, ServeArgs, Serving, Span};
use rpc_server::Server;

use crate::{runtime, Failure};

/// Serves classic sessions: each connection gets a script session of its own (variables and
/// functions persist between its calls) with the host modules allowed. Until Ctrl-C or SIGTERM
/// (then drains), or one connection with --mode oneshot.
#[derive(Debug, Args)]
#[command(after_help = after_help())]
pub struct ServeCmd {
    /// Address to listen on: an IP address or a host name. A non-loopback address is refused
    /// unless clients are authenticated (--secret-file, or --client-ca with TLS) or
    /// --insecure-allow-remote is given.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// TCP port to listen on (0: any free port; the one chosen is printed).
    #[arg(long, short, default_value_t = DEFAULT_PORT)]
    port: u16,

    /// How many sessions to serve, and over what.
    #[arg(long, value_enum, default_value_t = Mode::Threaded)]
    mode: Mode,

    /// Allow only these host modules (of fs, os, process, sys, time); the others refuse every
    /// call [default: all].
    #[arg(
        long,
        value_name = "MODULE,...",
        value_delimiter = ',',
        help_heading = "Sessions"
    )]
    allow: Option<Vec<String>>,

    /// Confine fs, open and file transfers to this directory, where sessions start [default:
    /// the whole machine, as this user].
    #[arg(long, value_name = "DIR", help_heading = "Sessions")]
    root: Option<PathBuf>,

    /// Most operations one evaluation may run.
    #[arg(long, value_name = "N", help_heading = "Sessions", default_value_t = limits().max_operations)]
    max_operations: u64,

    /// Longest one evaluation may run, by the clock.
    #[arg(long, value_name = "DURATION", help_heading = "Sessions",
          default_value_t = Span(limits().wall_time))]
    wall_time: Span,

    /// Deepest nesting of script function calls.
    #[arg(long, value_name = "N", help_heading = "Sessions", default_value_t = limits().max_call_levels)]
    max_call_levels: usize,

    /// Listen on a non-loopback address with no client authentication: anyone who can reach
    /// the port can run anything as this user. Logged loudly at start and on every connection.
    #[arg(long, help_heading = "Security")]
    insecure_allow_remote: bool,

    // What every server binary takes: security, limits, timeouts, memory budgets, --log.
    #[command(flatten)]
    serve: ServeArgs,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Any number of connections at once, until Ctrl-C or SIGTERM (RPyC's ThreadedServer)
    Threaded,
    /// One connection, then exit (RPyC's OneShotServer)
    Oneshot,
    /// One session over stdin and stdout, for a parent process (no network; logs on stderr)
    Stdio,
}

fn limits() -> ScriptLimits {
    ScriptLimits::default()
}

fn after_help() -> String {
    format!(
        "{}\n\n\
         Examples:\n  \
         rpc-classic serve --root /srv/scratch --allow fs,time\n  \
         rpc-classic serve --host 0.0.0.0 --tls-cert server.pem --tls-key server.key --client-ca ca.pem\n  \
         rpc-classic serve --mode stdio\n\n\
         The bound address is printed on stdout (`rpc-classic: serving classic on 127.0.0.1:{DEFAULT_PORT}`); logs go to stderr.\n\
         Exit status: 0 after a clean shutdown, 1 on an error (a bad file, a port in use), 2 on bad arguments\n\
         (an unsafe address included).",
        cli::UNITS_HELP
    )
}

impl ServeCmd {
    /// The sessions' settings.
    fn classic_config(&self) -> ClassicConfig {
        let mut limits = ScriptLimits::default();
        limits.max_operations = self.max_operations;
        limits.wall_time = self.wall_time.0;
        limits.max_call_levels = self.max_call_levels;
        let mut config = ClassicConfig::default().limits(limits);
        if let Some(root) = &self.root {
            config = config.root(root);
        }
        if let Some(allow) = &self.allow {
            config = config.allow(allow.iter().map(|name| name.trim()));
        }
        config
    }
}

pub fn main(args: ServeCmd) -> Result<(), Failure> {
    cli::init_logging(args.serve.log.as_deref()).map_err(Failure::Usage)?;
    runtime()?.block_on(run(args))
}

async fn run(args: ServeCmd) -> Result<(), Failure> {
    let config = args.classic_config();
    // A root that is no directory, an unknown module: said once, before serving anyone.
    ClassicService::new(&config).map_err(|e| Failure::Usage(format!("--root/--allow: {e}")))?;
    let serving = match args.mode {
        Mode::Stdio => return stdio(&args, &config).await,
        Mode::Threaded => Serving::Connections,
        Mode::Oneshot => Serving::OneConnection,
    };
    let addrs = cli::resolve(&args.host, args.port).await?;
    let ips: Vec<IpAddr> = addrs.iter().map(|a| a.ip()).collect();
    let exposure =
        exposure(&ips, args.serve.authenticates(), args.insecure_allow_remote).map_err(Failure::Usage)?;
    let insecure = exposure == Exposure::Insecure;
    match exposure {
        Exposure::Local => {}
        Exposure::Authenticated if !args.serve.tls() => tracing::warn!(
            "listening on {} without TLS: scripts, their results and files travel in clear text",
            args.host
        ),
        Exposure::Authenticated => {}
        Exposure::Insecure => eprintln!("{}", insecure_warning(&args.host)),
    }
    let server =
        Server::new(move || Root::new(&config, insecure)).rpyc_refusal(rpc_classic::PYTHON_CLIENT_REFUSAL);
    let server = cli::configure(server, &args.serve)?;
    let bound = cli::bind(server, &addrs).await?;
    cli::serve(bound, "rpc-classic", "classic", &args.serve, serving).await?;
    Ok(())
}

/// `--mode stdio`: one session over stdin and stdout, with the connection limits of the flags.
async fn stdio(args: &ServeCmd, config: &ClassicConfig) -> Result<(), Failure> {
    if args.serve.tls() || args.serve.secret_file.is_some() {
        return Err(Failure::Usage(
            "--mode stdio speaks over stdin and stdout, its parent's pipes: --tls-cert and --secret-file do not apply"
                .into(),
        ));
    }
    let service = ClassicService::new(config).map_err(|e| format!("cannot start a session: {e}"))?;
    let options = ConnectOptions::new()
        .service(service)
        .config(args.serve.connection_config());
    rpc_core::serve_stdio(options)
        .await
        .map_err(|e| cli::error_chain(&e))?;
    Ok(())
}

/// Who can reach a classic server, and why that is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exposure {
    /// Only this machine: every address is a loopback one.
    Local,
    /// The network, but every client must authenticate.
    Authenticated,
    /// The network, with no authentication: the operator said `--insecure-allow-remote`.
    Insecure,
}

/// The rule for listening on `ips`: a classic session runs anything as the server's user, so a
/// non-loopback address needs authenticated clients (`authenticated`: a shared secret or
/// client certificates) or the operator's explicit `--insecure-allow-remote` (`insecure`).
/// Otherwise the refusal, saying what would do.
fn exposure(ips: &[IpAddr], authenticated: bool, insecure: bool) -> Result<Exposure, String> {
    let Some(open) = ips.iter().find(|ip| !cli::is_loopback(**ip)) else {
        return Ok(Exposure::Local);
    };
    if authenticated {
        Ok(Exposure::Authenticated)
    } else if insecure {
        Ok(Exposure::Insecure)
    } else {
        Err(format!(
            "refusing to listen on {open}, which is not a loopback address, without client \
             authentication: anyone who could reach it could run scripts and programs as this \
             user. Require a shared secret (--secret-file) or client certificates (--tls-cert, \
             --tls-key, --client-ca); or, knowing what it means, pass --insecure-allow-remote"
        ))
    }
}

/// What `--insecure-allow-remote` prints at start.
fn insecure_warning(host: &str) -> String {
    cli::loud_warning(&format!(
        "WARNING: rpc-classic serves {host}, which is not a loopback address, with\n\
         NO AUTHENTICATION (--insecure-allow-remote). Anyone who can reach this port can\n\
         run scripts and programs and read and write files as this user. Every connection\n\
         is logged with this warning. Use --secret-file or --client-ca instead."
    ))
}

/// Each connection's root: its classic session, or, if one could not be made (the root
/// directory went away, say), a service of the same name whose every call says why. With
/// `insecure`, each connection is logged with a warning.
struct Root {
    session: Result<Arc<ClassicService>, RemoteError>,
    insecure: bool,
}

impl Root {
    fn new(config: &ClassicConfig, insecure: bool) -> Root {
        let session = ClassicService::new(config).map(Arc::new).map_err(|e| {
            tracing::error!("cannot start a session: {e}");
            RemoteError::new(
                RemoteErrorKind::Refused,
                "rpc_classic::NoSession",
                format!("the server cannot start a session: {e}"),
            )
        });
        Root { session, insecure }
    }

    /// The session's answer, or the reason there is no session.
    fn with<F>(&self, f: F) -> Outcome
    where
        F: FnOnce(Arc<ClassicService>) -> Outcome,
    {
        match &self.session {
            Ok(session) => f(session.clone()),
            Err(e) => Outcome::Ready(Err(e.clone())),
        }
    }
}

impl Service for Root {
    fn name(&self) -> &str {
        match &self.session {
            Ok(session) => session.name(),
            Err(_) => "CLASSIC",
        }
    }

    fn aliases(&self) -> Vec<String> {
        self.session.as_ref().map(|s| s.aliases()).unwrap_or_default()
    }

    fn call(self: Arc<Self>, conn: &Connection, method: &str, args: Vec<Value>) -> Outcome {
        self.with(|s| s.call(conn, method, args))
    }

    fn is_oneway(&self, method: &str) -> bool {
        self.session.as_ref().is_ok_and(|s| s.is_oneway(method))
    }

    fn getattr(self: Arc<Self>, conn: &Connection, name: &str) -> Outcome {
        self.with(|s| s.getattr(conn, name))
    }

    fn setattr(self: Arc<Self>, conn: &Connection, name: &str, value: Value) -> Outcome {
        self.with(|s| s.setattr(conn, name, value))
    }

    fn call_self(self: Arc<Self>, conn: &Connection, args: Vec<Value>) -> Outcome {
        self.with(|s| s.call_self(conn, args))
    }

    fn describe(&self) -> Description {
        match &self.session {
            Ok(session) => session.describe(),
            Err(_) => Description {
                name: self.name().to_owned(),
                methods: Vec::new(),
                attributes: Vec::new(),
            },
        }
    }

    fn display(&self) -> String {
        match &self.session {
            Ok(session) => session.display(),
            Err(_) => "<CLASSIC service, no session>".to_owned(),
        }
    }

    fn repr(&self) -> String {
        match &self.session {
            Ok(session) => session.repr(),
            Err(_) => "<CLASSIC object, no session>".to_owned(),
        }
    }

    fn on_connect(self: Arc<Self>, conn: Connection) -> BoxFuture<'static, ()> {
        if self.insecure {
            let peer = conn
                .peer_addr()
                .map_or_else(|| "an unknown address".to_owned(), |a| a.to_string());
            tracing::warn!(
                "UNAUTHENTICATED classic session for {peer} (--insecure-allow-remote): it can run \
                 anything as this user"
            );
        }
        match &self.session {
            Ok(session) => session.clone().on_connect(conn),
            Err(_) => Box::pin(async {}),
        }
    }

    fn on_disconnect(self: Arc<Self>, conn: Connection) -> BoxFuture<'static, ()> {
        match &self.session {
            Ok(session) => session.clone().on_disconnect(conn),
            Err(_) => Box::pin(async {}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().expect("an IP address")).collect()
    }

    #[test]
    fn loopback_needs_nothing() {
        for addr in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(
                exposure(&ips(&[addr]), false, false),
                Ok(Exposure::Local),
                "{addr}"
            );
        }
        assert_eq!(
            exposure(&ips(&["::1", "127.0.0.1"]), false, false),
            Ok(Exposure::Local),
            "localhost's addresses"
        );
    }

    #[test]
    fn a_non_loopback_address_without_authentication_is_refused() {
        for addr in ["0.0.0.0", "::", "192.0.2.7", "2001:db8::1", "::ffff:192.0.2.7"] {
            let refusal = exposure(&ips(&[addr]), false, false).expect_err(addr);
            assert!(
                refusal.contains("refusing") && refusal.contains(addr),
                "{refusal}"
            );
            for flag in ["--secret-file", "--client-ca", "--insecure-allow-remote"] {
                assert!(
                    refusal.contains(flag),
                    "the refusal says what would do: {refusal}"
                );
            }
        }
        let refusal = exposure(&ips(&["127.0.0.1", "192.0.2.7"]), false, false);
        assert!(
            refusal.is_err(),
            "one open address among loopback ones is enough to refuse"
        );
    }

    #[test]
    fn authentication_or_the_insecure_flag_allows_it() {
        let open = ips(&["0.0.0.0"]);
        assert_eq!(exposure(&open, true, false), Ok(Exposure::Authenticated));
        assert_eq!(exposure(&open, true, true), Ok(Exposure::Authenticated));
        assert_eq!(exposure(&open, false, true), Ok(Exposure::Insecure));
    }

    fn parse(args: &[&str]) -> ServeCmd {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeCmd,
        }
        Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .expect("valid arguments")
            .serve
    }

    /// The decision as `serve` takes it, from the flags.
    fn decide(args: &[&str], ip: &str) -> Result<Exposure, String> {
        let cmd = parse(args);
        exposure(&ips(&[ip]), cmd.serve.authenticates(), cmd.insecure_allow_remote)
    }

    #[test]
    fn the_flags_decide() {
        let tls = ["--tls-cert", "s.pem", "--tls-key", "s.key"];
        assert_eq!(decide(&[], "127.0.0.1"), Ok(Exposure::Local));
        assert!(decide(&[], "0.0.0.0").is_err());
        assert!(
            decide(&tls, "0.0.0.0").is_err(),
            "TLS alone authenticates the server, not its clients"
        );
        let client_certs = [&tls[..], &["--client-ca", "ca.pem"]].concat();
        assert_eq!(decide(&client_certs, "0.0.0.0"), Ok(Exposure::Authenticated));
        assert_eq!(
            decide(&["--secret-file", "s"], "0.0.0.0"),
            Ok(Exposure::Authenticated)
        );
        assert_eq!(
            decide(&["--insecure-allow-remote"], "0.0.0.0"),
            Ok(Exposure::Insecure)
        );
    }

    #[test]
    fn flags_reach_the_config() {
        let cmd = parse(&[
            "--allow",
            "fs,time",
            "--root",
            "/srv",
            "--max-operations",
            "1000",
            "--wall-time",
            "2s",
            "--max-call-levels",
            "8",
        ]);
        let config = cmd.classic_config();
        let allowed: Vec<&str> = config.allow.iter().flatten().map(String::as_str).collect();
        assert_eq!(allowed, ["fs", "time"]);
        assert_eq!(config.root.as_deref(), Some(std::path::Path::new("/srv")));
        assert_eq!(config.limits.max_operations, 1000);
        assert_eq!(config.limits.wall_time, std::time::Duration::from_secs(2));
        assert_eq!(config.limits.max_call_levels, 8);

        let defaults = parse(&[]);
        assert_eq!(defaults.port, DEFAULT_PORT);
        assert_eq!(defaults.host, "127.0.0.1");
        assert_eq!(defaults.mode, Mode::Threaded);
        assert_eq!(defaults.classic_config().limits, ScriptLimits::default());
        assert!(defaults.classic_config().allow.is_none());
    }
}
