//! How `run` starts its command on Linux: through `bunctl-log __exec`, so that the command dies
//! with bunctl-log even when bunctl-log is killed with SIGKILL and cannot forward anything.
//!
//! `PR_SET_PDEATHSIG` must be set in the child between `fork` and `exec`, which std allows only
//! through the `unsafe` `pre_exec`, and the workspace forbids `unsafe`. So the child is a second
//! bunctl-log, the hidden `__exec` subcommand: it sets the signal, checks that its parent is
//! still the bunctl-log that started it, and `exec`s the command, which keeps the setting.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use rustix::process::{getppid, set_parent_process_death_signal, Pid, Signal};

/// The hidden subcommand.
pub const EXEC: &str = "__exec";

/// The pid of the bunctl-log that started `__exec`.
const PARENT_PID: &str = "BUNCTL_LOG_PARENT_PID";

/// `bunctl-log __exec -- PROGRAM ARGS...`, the arguments after `__exec`: becomes `PROGRAM`,
/// killed with SIGKILL when its parent dies. Returns only if that failed, with 127 if
/// `PROGRAM` was not found and 126 if it could not be run, as a shell does.
///
/// Parsed here, before clap sees the command line: the helper is no use to a person, so it
/// is in no help text, error message or completion script.
pub fn exec(args: &[OsString]) -> ExitCode {
    let parsed = match args.split_first() {
        Some((dashes, [program, args @ ..])) if dashes == "--" => std::env::var(PARENT_PID)
            .ok()
            .and_then(|p| p.parse().ok())
            .and_then(Pid::from_raw)
            .map(|parent| (program, args, parent)),
        _ => None,
    };
    let Some((program, args, expected)) = parsed else {
        eprintln!("bunctl-log: {EXEC} is internal to bunctl-log run");
        return ExitCode::from(2);
    };
    // SIGKILL, not SIGTERM: a command that traps or ignores SIGTERM would outlive bunctl-log,
    // and with bunctl-log gone its output has nowhere to go anyway.
    if let Err(e) = set_parent_process_death_signal(Some(Signal::KILL)) {
        eprintln!("bunctl-log: cannot tie {program:?} to bunctl-log's life: {e}");
        return ExitCode::from(126);
    }
    // bunctl-log may have died before the line above, and then nothing would kill the
    // command: this process was handed to another parent.
    if getppid() != Some(expected) {
        return ExitCode::from(1);
    }
    // The descriptor limit bunctl-log raised for itself goes back to what the command would
    // have had without it, as Go does for the programs it starts.
    let soft = std::env::var(crate::fdlimit::SOFT_LIMIT_VAR).ok();
    if let Some(soft) = soft.and_then(|s| s.parse().ok()) {
        if let Err(e) = crate::fdlimit::restore(soft) {
            eprintln!("bunctl-log: cannot set {program:?}'s descriptor limit back to {soft}: {e}");
        }
    }
    let err = std::process::Command::new(program)
        .args(args)
        .env_remove(PARENT_PID)
        .env_remove(crate::fdlimit::SOFT_LIMIT_VAR)
        .exec();
    eprintln!("bunctl-log: cannot run {program:?}: {err}");
    ExitCode::from(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

/// The command that runs `program` with `args` through [`exec`].
///
/// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: spawn
/// it from a thread that lives as long as bunctl-log (`run` spawns from the main thread, in
/// `block_on`).
pub fn command(program: &OsStr, args: &[OsString]) -> tokio::process::Command {
    // /proc/self/exe: the binary that is running, even if its file was replaced since (an
    // upgrade), which `current_exe()`'s path would not give.
    let mut cmd = tokio::process::Command::new("/proc/self/exe");
    cmd.arg0("bunctl-log")
        .args([OsStr::new(EXEC), OsStr::new("--"), program])
        .args(args)
        .env(PARENT_PID, std::process::id().to_string());
    if let Some(soft) = crate::fdlimit::started_with() {
        cmd.env(crate::fdlimit::SOFT_LIMIT_VAR, soft.to_string());
    }
    cmd
}
