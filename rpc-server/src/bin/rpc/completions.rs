//! `rpc completions SHELL`: the shell's completion script for `rpc`, on stdout.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::args::Cli;
use crate::failure::Failure;

/// Prints the completion script of SHELL for rpc.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CompletionsCmd {
    /// The shell.
    shell: Shell,
}

const AFTER_HELP: &str = "\
Examples:
  rpc completions bash > /etc/bash_completion.d/rpc
  rpc completions zsh > \"${fpath[1]}/_rpc\"
  rpc completions fish > ~/.config/fish/completions/rpc.fish";

/// Runs the command.
pub fn run(cmd: &CompletionsCmd) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(cmd.shell, &mut Cli::command(), "rpc", &mut script);
    let script =
        String::from_utf8(script).map_err(|e| Failure::Local(format!("the completion script: {e}")))?;
    crate::output::line(script.trim_end())
}
