//! Starting `run`'s command: found as `execvp` finds it, in its own process group, with its
//! output piped; or [`CannotRun`], with the status a shell gives when it cannot start it.

use std::ffi::{OsStr, OsString};

#[cfg(target_os = "linux")]
use crate::exec;

/// Why `run` cannot start its command, with the exit status a shell gives then.
pub(crate) struct CannotRun {
    /// 127: not found; 126: found but not executable.
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl CannotRun {
    fn new(program: &OsStr, code: u8, why: &str) -> Self {
        Self {
            code,
            message: format!("cannot run {program:?}: {why}"),
        }
    }

    /// From the error of starting it.
    pub(crate) fn of_spawn(program: &OsStr, e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => Self::new(program, 127, "not found"),
            std::io::ErrorKind::PermissionDenied => Self::new(program, 126, "not executable"),
            _ => Self::new(program, 126, &e.to_string()),
        }
    }
}

/// The command `run` starts, in its own process group (so that signals reach all of it and
/// only it: the terminal's Ctrl-C goes to bunctl-log, which forwards it).
pub(crate) fn command(
    program: &OsStr,
    args: &[OsString],
) -> Result<tokio::process::Command, CannotRun> {
    #[cfg(target_os = "linux")]
    let mut cmd = {
        // The exec helper would report a missing program into the log file: say it here.
        check_program(program)?;
        exec::command(program, args)
    };
    #[cfg(not(target_os = "linux"))]
    let mut cmd = {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args);
        cmd
    };
    #[cfg(unix)]
    cmd.process_group(0);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Ok(cmd)
}

/// `Err` unless `program` names an executable file, looked up as `execvp` does: in `PATH`
/// unless it has a `/`.
#[cfg(target_os = "linux")]
pub(crate) fn check_program(program: &OsStr) -> Result<(), CannotRun> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |m: &std::fs::Metadata| m.is_file() && m.permissions().mode() & 0o111 != 0;
    if program.as_encoded_bytes().contains(&b'/') {
        return match std::fs::metadata(program) {
            Ok(m) if runnable(&m) => Ok(()),
            Ok(m) if m.is_dir() => Err(CannotRun::new(program, 126, "not executable: a directory")),
            Ok(_) => Err(CannotRun::new(program, 126, "not executable")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(CannotRun::new(program, 127, "not found"))
            }
            Err(e) => Err(CannotRun::new(program, 126, &e.to_string())),
        };
    }
    let found = match std::env::var_os("PATH") {
        Some(path) => std::env::split_paths(&path)
            .any(|dir| std::fs::metadata(dir.join(program)).is_ok_and(|m| runnable(&m))),
        // execvp's default path then: let the exec helper try.
        None => true,
    };
    if found {
        Ok(())
    } else {
        Err(CannotRun::new(program, 127, "not found in PATH"))
    }
}
