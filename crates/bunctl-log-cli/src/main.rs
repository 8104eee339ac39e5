//! `bunctl-log`: the log subsystem's main job from a shell.
//!
//! `bunctl-log pipe --app NAME` reads stdin until EOF into `./logs/NAME.log`, rotated at a size,
//! compressed and bounded, losing nothing (when the disk is slower than the input, reading
//! stops and the producer waits on its full pipe, as with s6-log or multilog). SIGTERM, SIGINT
//! or SIGHUP stop it the same way as EOF, after writing what it read. `bunctl-log run --app
//! NAME -- COMMAND` captures a command's output, forwards those signals to it and exits with its
//! status; on Linux the command dies with bunctl-log even if bunctl-log is killed with SIGKILL.
//! `files` and `cat` read the logs back, oldest first, and `tail` their end, a time window or
//! what comes next (`-f`), all through bunctl-log-read. Run `bunctl-log --help` for the flags.

mod args;
mod capture;
mod completions;
mod config;
#[cfg(target_os = "linux")]
mod exec;
#[cfg(unix)]
mod fdlimit;
mod metrics;
mod pipe;
mod print;
mod read;
mod read_commands;
mod report;
mod run;
#[cfg(unix)]
mod signals;
mod spawn;
#[cfg(unix)]
mod stdin;
mod time;

use std::process::ExitCode;

use args::{Cli, Command, TailArgs};
use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    // The hidden exec helper of `run`, before clap: it is in no help, error or completion.
    #[cfg(target_os = "linux")]
    {
        let mut argv = std::env::args_os().skip(1);
        if argv.next().is_some_and(|a| a == exec::EXEC) {
            return exec::exec(&argv.collect::<Vec<_>>());
        }
    }
    // After the exec helper: the command it becomes gets the limit bunctl-log started with.
    #[cfg(unix)]
    fdlimit::raise();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` print on stdout and exit 0; a usage error prints what is
            // wrong and the usage on stderr and exits 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    if let Some(conflict) = usage_conflict(&cli.command) {
        let _ = Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, conflict)
            .print();
        return ExitCode::from(2);
    }
    // Before the runtime: its signal setup panics when it finds no descriptor.
    #[cfg(unix)]
    if matches!(cli.command, Command::Pipe(_) | Command::Run(_)) {
        if let Err(e) = fdlimit::check_free(fdlimit::NEEDED_TO_START) {
            eprintln!("bunctl-log: {e}");
            return ExitCode::from(1);
        }
    }
    let result = match cli.command {
        Command::Pipe(a) => on_runtime(pipe::pipe(a)),
        Command::Run(a) => match on_runtime(run::run(a)) {
            // The command's own exit code, as a supervisor or shell script expects.
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Command::Files(t) => read_commands::files(&t),
        Command::Cat(t) => read_commands::cat(&t),
        Command::Tail(a) => read_commands::tail(&a),
        Command::Completions(a) => completions::completions(a.shell),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `bunctl-log cat ... | head`: the reader has what it wanted.
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bunctl-log: {e}");
            ExitCode::from(1)
        }
    }
}

/// What makes flags that clap accepted one by one wrong together (a usage error, exit 2), the
/// first found: checked before anything is read or written.
fn usage_conflict(command: &Command) -> Option<String> {
    if let Command::Tail(TailArgs {
        since: Some(since),
        until: Some(until),
        ..
    }) = command
    {
        if since > until {
            return Some(format!("--since {since} is after --until {until}"));
        }
    }
    if let Command::Files(t)
    | Command::Cat(args::CatArgs { target: t, .. })
    | Command::Tail(TailArgs { target: t, .. }) = command
    {
        if let Err(e) = t.target() {
            return Some(e);
        }
    }
    if let Command::Tail(TailArgs {
        lines: Some(args::LineCount::From(_)),
        follow,
        since,
        until,
        ..
    }) = command
    {
        if *follow || since.is_some() || until.is_some() {
            return Some(
                "-n +LINES (from line LINES on) cannot be used with -f, --since or --until".into(),
            );
        }
    }
    None
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// What a command that prints or writes returns: `Err` is printed, and bunctl-log exits 1.
type CliResult = Result<(), Box<dyn std::error::Error>>;

/// `command` run to its end on a runtime of two worker threads (`pipe` and `run` are async).
fn on_runtime<T>(
    command: impl std::future::Future<Output = Result<T, Box<dyn std::error::Error>>>,
) -> Result<T, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(command);
    // `command` awaited everything the command does; a blocking read left on a silent stdin (the
    // non-Unix `pipe`) must not keep the process alive, as dropping the runtime would.
    runtime.shutdown_background();
    result
}
