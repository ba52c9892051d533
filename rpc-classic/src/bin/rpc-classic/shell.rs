//! `rpc-classic shell HOST[:PORT]`: an interactive session on a classic server (RPyC's
//! `interact`).
//!
//! Each complete input is evaluated in the session; its value is printed (a string plainly,
//! other values as rhai literals, unit not at all), an error as `error: <message>` (the
//! server's message gives the script position), and the shell goes on. An input is complete
//! when it compiles, or fails to compile other than for ending early: `fn f(a) {` waits for
//! more lines. On a terminal the line editor keeps a history (`~/.rpc_classic_history`);
//! otherwise lines are read from stdin with no prompts, so input can be piped in. End of input
//! or `:quit` ends the session.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::Args;
use rpc_classic::{Classic, DEFAULT_PORT};
use rpc_core::{ClientTls, ConnectOptions, Error, Value};
use rpc_server::cli::{error_chain, read_secret};
use rustyline::error::ReadlineError;

use crate::{print, runtime, Failure};

/// Connects to a classic server and reads scripts to run there, printing what they return.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ShellCmd {
    /// The server: a host name or IP address, with an optional port (`[::1]:18812` for IPv6)
    /// [default port: 18812].
    #[arg(value_name = "HOST[:PORT]")]
    server: String,

    /// Speak TLS, trusting a server certificate signed by one of these CAs (PEM).
    #[arg(long, value_name = "PEM", help_heading = "Security")]
    tls_ca: Option<PathBuf>,

    /// The name the server's certificate must be valid for [default: HOST].
    #[arg(long, value_name = "NAME", requires = "tls_ca", help_heading = "Security")]
    server_name: Option<String>,

    /// Show this client certificate (PEM) to a server that requires one. Needs --client-key.
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_ca",
        requires = "client_key",
        help_heading = "Security"
    )]
    client_cert: Option<PathBuf>,

    /// The private key of --client-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "client_cert", help_heading = "Security")]
    client_key: Option<PathBuf>,

    /// Prove knowledge of the secret in this file (its bytes, less a trailing newline).
    #[arg(long, value_name = "PATH", help_heading = "Security")]
    secret_file: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Input: a statement or expression per line; one left open (`fn f(a) {`) goes on over the next lines.
Ctrl-C drops the input being typed; Ctrl-D or :quit leaves.

Examples:
  rpc-classic shell 127.0.0.1
  echo '1 + 1' | rpc-classic shell 127.0.0.1:18812
  rpc-classic shell server.example --tls-ca ca.pem --secret-file secret.txt

Exit status: 0 at the end of input or :quit, 1 if the server cannot be reached or the connection is
lost, 2 on bad arguments.";

pub fn main(args: ShellCmd) -> Result<(), Failure> {
    let (host, port) = split_host_port(&args.server).map_err(Failure::Usage)?;
    let options = connect_options(&args)?;
    let runtime = runtime()?;
    let classic = runtime
        .block_on(rpc_classic::connect_with(&host, port, options))
        .map_err(|e| format!("cannot connect to {}: {}", args.server, error_chain(&e)))?;
    // The session's `print` and `debug` lines, shown here rather than in the server's log.
    let redirect = runtime
        .block_on(classic.redirect_output(|line| println!("{line}")))
        .map_err(|e| format!("cannot redirect the session's output: {}", error_chain(&e)))?;
    let mut input = Input::new();
    if input.is_terminal() {
        println!("rpc-classic shell on {host}:{port}: rhai scripts; :quit or Ctrl-D to leave");
    }
    let result = repl(&runtime, &classic, &mut input);
    input.save();
    drop(redirect);
    runtime.block_on(classic.close());
    result
}

/// Reads, evaluates and prints until the end of input or `:quit`; fails only when the
/// connection is lost.
fn repl(runtime: &tokio::runtime::Runtime, classic: &Classic, input: &mut Input) -> Result<(), Failure> {
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { ">>> " } else { "... " };
        let line = match input.read(prompt)? {
            Read::Line(line) => line,
            Read::Interrupted => {
                pending.clear();
                continue;
            }
            Read::End => {
                if !pending.trim().is_empty() {
                    // Unfinished: evaluated all the same, for its error.
                    evaluate(runtime, classic, &pending)?;
                }
                return Ok(());
            }
        };
        if pending.is_empty() {
            match line.trim() {
                "" => continue,
                ":quit" | ":q" => return Ok(()),
                _ => {}
            }
        } else {
            pending.push('\n');
        }
        pending.push_str(&line);
        if incomplete(&pending) {
            continue;
        }
        input.remember(&pending);
        evaluate(runtime, classic, &pending)?;
        pending.clear();
    }
}

/// Evaluates `code` in the session and prints its value or its error. Fails only when the
/// connection is gone.
fn evaluate(runtime: &tokio::runtime::Runtime, classic: &Classic, code: &str) -> Result<(), Failure> {
    match runtime.block_on(classic.eval::<Value>(code)) {
        Ok(value) => {
            if let Some(text) = print::show(&value) {
                println!("{text}");
            }
            Ok(())
        }
        Err(Error::Remote(e)) => {
            println!("error: {}", e.message);
            Ok(())
        }
        Err(e) => match classic.connection().close_reason() {
            Some(reason) => Err(Failure::Error(format!(
                "connection lost: {}",
                error_chain(&*reason)
            ))),
            None => {
                println!("error: {}", error_chain(&e));
                Ok(())
            }
        },
    }
}

/// Whether `code` stops short of complete: it does not compile, and only because it ends too
/// early (an open block, bracket or backtick string; an operator with nothing after it). Any
/// other error is the server's to report, with the rest of the session's context.
fn incomplete(code: &str) -> bool {
    let code = code.trim_end();
    let Err(error) = rhai::Engine::new_raw().compile(code) else {
        return false;
    };
    match error.err_type() {
        rhai::ParseErrorType::UnexpectedEOF => return true,
        rhai::ParseErrorType::BadInput(rhai::LexError::UnterminatedString) => return code.contains('`'),
        _ => {}
    }
    let (Some(line), Some(column)) = (error.position().line(), error.position().position()) else {
        return false;
    };
    // Where the input ends: rhai reports what is missing there.
    let last_line = code.lines().count().max(1);
    let end_column = code.lines().last().map_or(0, |l| l.chars().count()) + 1;
    (line, column) >= (last_line, end_column)
}

/// `HOST`, `HOST:PORT`, `[IPV6]`, `[IPV6]:PORT` or a bare IPv6 address; the port defaults to
/// the classic one.
fn split_host_port(server: &str) -> Result<(String, u16), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("{server:?}: {p:?} is not a port number"))
    };
    if let Some(rest) = server.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{server:?}: no ']' closes the IPv6 address"))?;
        return match after {
            "" => Ok((host.to_owned(), DEFAULT_PORT)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host.to_owned(), port(p)?)),
                None => Err(format!("{server:?}: expected ':PORT' after ']'")),
            },
        };
    }
    if server.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((server.to_owned(), DEFAULT_PORT));
    }
    let (host, port) = match server.rsplit_once(':') {
        Some((host, p)) => (host, port(p)?),
        None => (server, DEFAULT_PORT),
    };
    if host.is_empty() {
        return Err(format!("{server:?}: no host"));
    }
    Ok((host.to_owned(), port))
}

/// TLS and the shared secret from the flags; each file error names its flag.
fn connect_options(args: &ShellCmd) -> Result<ConnectOptions, Failure> {
    let mut options = ConnectOptions::new();
    if let Some(ca) = &args.tls_ca {
        let at =
            |flag: &str, path: &PathBuf, e: Error| format!("{flag} {}: {}", path.display(), error_chain(&e));
        let mut tls = ClientTls::from_pem_file(ca).map_err(|e| at("--tls-ca", ca, e))?;
        if let Some(name) = &args.server_name {
            tls = tls
                .server_name(name)
                .map_err(|e| format!("--server-name: {}", error_chain(&e)))?;
        }
        if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
            tls = tls
                .client_cert_files(cert, key)
                .map_err(|e| at("--client-cert", cert, e))?;
        }
        options = options.tls(tls);
    }
    if let Some(path) = &args.secret_file {
        options = options.secret(read_secret(path)?);
    }
    Ok(options)
}

/// What [`Input::read`] got.
enum Read {
    Line(String),
    /// Ctrl-C: drop what was typed.
    Interrupted,
    End,
}

/// Where input comes from: the line editor on a terminal, else stdin's lines.
enum Input {
    Editor {
        editor: Box<rustyline::DefaultEditor>,
        history: Option<PathBuf>,
    },
    Piped(std::io::Lines<std::io::StdinLock<'static>>),
}

impl Input {
    fn new() -> Input {
        let stdin = std::io::stdin();
        if stdin.is_terminal() && std::io::stdout().is_terminal() {
            if let Ok(mut editor) = rustyline::DefaultEditor::new() {
                let history =
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".rpc_classic_history"));
                if let Some(path) = &history {
                    // None yet on a first run.
                    let _ = editor.load_history(path);
                }
                return Input::Editor {
                    editor: Box::new(editor),
                    history,
                };
            }
        }
        Input::Piped(stdin.lock().lines())
    }

    fn is_terminal(&self) -> bool {
        matches!(self, Input::Editor { .. })
    }

    fn read(&mut self, prompt: &str) -> Result<Read, Failure> {
        match self {
            Input::Editor { editor, .. } => match editor.readline(prompt) {
                Ok(line) => Ok(Read::Line(line)),
                Err(ReadlineError::Interrupted) => Ok(Read::Interrupted),
                Err(ReadlineError::Eof) => Ok(Read::End),
                Err(e) => Err(Failure::Error(format!("cannot read the terminal: {e}"))),
            },
            Input::Piped(lines) => match lines.next() {
                Some(Ok(line)) => Ok(Read::Line(line)),
                None => Ok(Read::End),
                Some(Err(e)) => Err(Failure::Error(format!("cannot read stdin: {e}"))),
            },
        }
    }

    /// Adds a complete input to the history.
    fn remember(&mut self, entry: &str) {
        if let Input::Editor { editor, .. } = self {
            // A refused entry (a repeat, say) is no matter.
            let _ = editor.add_history_entry(entry);
        }
    }

    /// Writes the history file, if there is one; a failure costs only the history.
    fn save(&mut self) {
        if let Input::Editor {
            editor,
            history: Some(path),
        } = self
        {
            let _ = editor.save_history(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        let ok = |s: &str| split_host_port(s).expect(s);
        assert_eq!(ok("example.org"), ("example.org".into(), DEFAULT_PORT));
        assert_eq!(ok("127.0.0.1:4000"), ("127.0.0.1".into(), 4000));
        assert_eq!(ok("::1"), ("::1".into(), DEFAULT_PORT));
        assert_eq!(ok("[::1]"), ("::1".into(), DEFAULT_PORT));
        assert_eq!(ok("[::1]:4000"), ("::1".into(), 4000));
        for bad in ["host:port", "host:70000", ":4000", "[::1", "[::1]4000", "host:"] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn open_input_waits_for_more() {
        for open in [
            "fn f(a) {",
            "fn f(a) {\n a * 2",
            "if true {",
            "let x = [1,\n2",
            "(1 + 2",
            "x +",
            "foo(1,",
            "#{a: 1,",
            "fn f(a) {   ",
            "let s = `multi\nline",
        ] {
            assert!(incomplete(open), "{open:?} is incomplete");
        }
    }

    #[test]
    fn complete_or_wrong_input_goes_to_the_server() {
        for done in [
            "1 + 1",
            "let x = 20;",
            "x + 22",
            "fn f(a) {\n a * 2\n}",
            "undefined_thing",
            "1 +* 2",
            "let = 3",
            "1 + 1;\n }",
            "\"unterminated",
            "f(21)\nundefined_thing",
        ] {
            assert!(!incomplete(done), "{done:?} is not incomplete");
        }
    }
}
