//! `bunctl-log pipe` as a child process: its command line, its stderr read on the side, waiting
//! for it with a timeout, telling whether SIGKILL ended it.

use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::binary::bunctl_log;

/// `bunctl-log pipe --app APP --dir DIR --max-size SIZE --keep KEEP`, ready to run.
pub(crate) fn pipe_command(
    bin: &Path,
    app: &str,
    dir: &Path,
    max_size: &str,
    keep: &str,
) -> Command {
    let mut c = bunctl_log(bin, "pipe", app, dir);
    c.args(["--max-size", max_size, "--keep", keep]);
    c
}

/// Reads `stderr` to its end on a thread of its own (so that the child never blocks on a full
/// pipe); joining the thread gives the text.
pub(crate) fn read_on_the_side(mut stderr: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    })
}

/// Waits for `child` until `timeout` after `started`, then kills it (SIGKILL) and reaps it.
/// Returns its status and whether it had to be killed.
pub(crate) fn wait_or_kill(
    child: &mut Child,
    started: Instant,
    timeout: Duration,
) -> io::Result<(ExitStatus, bool)> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            return Ok((child.wait()?, true));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(unix)]
pub(crate) fn killed_by_sigkill(status: ExitStatus) -> bool {
    std::os::unix::process::ExitStatusExt::signal(&status) == Some(9)
}

#[cfg(not(unix))]
pub(crate) fn killed_by_sigkill(status: ExitStatus) -> bool {
    !status.success()
}
