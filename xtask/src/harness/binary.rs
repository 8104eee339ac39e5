//! The `bunctl-log` binary: built in release mode and located in the target directory; commands
//! for it; a fresh work directory under the target directory for each run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{cargo, run, target_dir};

/// Builds `bunctl-log` (`--release`) and returns its path; on failure, the build's exit code.
pub(crate) fn build_bunctl_log() -> Result<PathBuf, i32> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "bunctl-log-cli"]);
    run(build)?;
    Ok(target_dir()
        .join("release")
        .join(format!("bunctl-log{}", std::env::consts::EXE_SUFFIX)))
}

/// `<target>/<command>/<time>-<pid>`: the work directory of one run of an xtask command.
pub(crate) fn work_dir(command: &str) -> PathBuf {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    target_dir()
        .join(command)
        .join(format!("{stamp}-{}", std::process::id()))
}

/// `bunctl-log COMMAND --app APP --dir DIR`, ready to run.
pub(crate) fn bunctl_log(bin: &Path, command: &str, app: &str, dir: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([command, "--app", app, "--dir"]).arg(dir);
    c
}
