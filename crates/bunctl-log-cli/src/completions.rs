//! `completions`: the shell's completion script, from the same declaration clap parses.

use std::io::Write;

use clap::CommandFactory;

use crate::args::{self, Cli};
use crate::CliResult;

/// `completions`: the shell's completion script on stdout.
pub(crate) fn completions(shell: args::Shell) -> CliResult {
    // Into memory first: clap_complete panics if its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut Cli::command(),
        "bunctl-log",
        &mut script,
    );
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}
