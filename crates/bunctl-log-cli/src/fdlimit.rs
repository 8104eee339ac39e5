//! The descriptor limit (RLIMIT_NOFILE): raised to its hard limit at start, given back to the
//! commands `run` starts, and checked before `pipe` and `run` set up, so that a low limit is a
//! one-line error instead of a panic in the runtime's signal setup.

use std::io;
use std::sync::OnceLock;

use rustix::process::{getrlimit, setrlimit, Resource};

/// The environment variable that hands the soft limit bunctl-log started with to `run`'s exec
/// helper, which sets it back before it `exec`s the command.
pub const SOFT_LIMIT_VAR: &str = "BUNCTL_LOG_NOFILE_SOFT";

/// Free descriptors `pipe` and `run` need to start: the runtime (epoll, its waker, the signal
/// pipe pair), the stdin thread's poll, the log file and its directory. Measured: `pipe`
/// writes its lines with 10 free and cannot open its log file with 8 (a clean error); with 4
/// free tokio's signal setup panics. A rotation or `run`'s child pipes need more: those fail
/// with an error naming what they could not open.
pub const NEEDED_TO_START: usize = 10;

/// The soft limit bunctl-log started with, if [`raise`] raised it.
static STARTED_WITH: OnceLock<u64> = OnceLock::new();

/// The soft limit bunctl-log started with, if [`raise`] raised it: what `run`'s command gets.
pub fn started_with() -> Option<u64> {
    STARTED_WITH.get().copied()
}

/// Raises the soft limit to the hard one, as Go's runtime does since 1.19: bunctl-log holds one
/// descriptor per log file, and a default soft limit of 1024 (or less) would make a busy
/// `pipe` fail on what the system allows anyway. A failure leaves the limit as it was.
pub fn raise() {
    let limit = getrlimit(Resource::Nofile);
    // An unlimited hard limit is not a value the kernel takes for this one (nr_open caps it).
    let (Some(soft), Some(hard)) = (limit.current, limit.maximum) else {
        return;
    };
    if soft >= hard {
        return;
    }
    let raised = rustix::process::Rlimit {
        current: Some(hard),
        maximum: Some(hard),
    };
    if setrlimit(Resource::Nofile, raised).is_ok() {
        let _ = STARTED_WITH.set(soft);
    }
}

/// Sets the soft limit back to `soft` (in `run`'s exec helper, before the command starts:
/// a program that uses `select(2)` breaks above 1024).
///
/// # Errors
/// If the limit cannot be set.
pub fn restore(soft: u64) -> io::Result<()> {
    let limit = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(soft),
            maximum: limit.maximum,
        },
    )?;
    Ok(())
}

/// `Err` naming the shortage unless `needed` descriptors are free: opens up to that many and
/// closes them again.
///
/// # Errors
/// `too few file descriptors: ...` with the limit, if fewer are free.
pub fn check_free(needed: usize) -> Result<(), String> {
    let mut opened = Vec::with_capacity(needed);
    while opened.len() < needed {
        match std::fs::File::open("/dev/null") {
            Ok(f) => opened.push(f),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) => {
                let limit = getrlimit(Resource::Nofile)
                    .current
                    .map_or("unlimited".to_owned(), |n| n.to_string());
                return Err(format!(
                    "too few file descriptors: {} free under the limit of {limit} (ulimit -n); \
                     bunctl-log needs {needed} free to start",
                    opened.len()
                ));
            }
            // /dev/null missing or refused: the probe proves nothing; let the start try.
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}
