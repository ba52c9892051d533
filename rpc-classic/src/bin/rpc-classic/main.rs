//! `rpc-classic`: classic mode from a shell. `rpc-classic serve` is the server (RPyC's
//! `rpyc_classic`), `rpc-classic shell HOST[:PORT]` an interactive remote REPL (RPyC's
//! `interact`).
//!
//! Run: `cargo run -p rpc-classic -- serve --root /srv/scratch` and, in another terminal,
//! `cargo run -p rpc-classic -- shell 127.0.0.1`. `--help` on each lists every option. Exit
//! status: 0 after a clean end, 1 on an error, 2 on bad arguments.

mod print;
mod serve;
mod shell;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Classic mode of the rpc framework: remote scripting (rhai) and administration of a machine,
/// with limits on every script, an allow-list of host modules and a root directory file access
/// cannot leave.
#[derive(Debug, Parser)]
#[command(name = "rpc-classic", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve classic sessions (RPyC's rpyc_classic): one script session per connection.
    Serve(Box<serve::ServeCmd>),
    /// An interactive session on a classic server (RPyC's interact).
    Shell(shell::ShellCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::main(*args),
        Command::Shell(args) => shell::main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("rpc-classic: error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Error(message)) => {
            eprintln!("rpc-classic: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why a subcommand ended badly: its arguments (exit status 2) or anything else (1).
#[derive(Debug)]
enum Failure {
    Usage(String),
    Error(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Error(message)
    }
}

/// A multi-threaded runtime: the connections' tasks run on it while the main thread waits.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new().map_err(|e| Failure::Error(format!("cannot start the runtime: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
