//! Sampling the process through `/proc/self`: peak and current RSS, CPU time in clock ticks,
//! context switches summed over threads, and whether a thread of a given name is alive.
//!
//! Reading `/proc` takes file descriptors: a process at its descriptor limit (10,000 idle
//! writers hold two each) cannot. CPU time and context switches say so (`None`) instead of
//! passing for zero.

use std::process::Command;

/// A field (in KiB) of `/proc/self/status`.
pub(crate) fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

pub(crate) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of the process, in clock ticks; `None` if `/proc/self/stat` is unreadable.
pub(crate) fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // after ")": field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Some(get(11) + get(12))
}

/// CPU of the process in % of one core between two [`cpu_ticks`] samples `secs` apart.
pub(crate) fn cpu_pct(from: Option<u64>, to: Option<u64>, secs: f64) -> Option<f64> {
    Some(100.0 * to?.saturating_sub(from?) as f64 / clock_ticks() / secs)
}

/// Voluntary + involuntary context switches summed over the process's threads, and the
/// number of threads; `None` if a thread's status could not be read (other than because the
/// thread just ended).
pub(crate) fn context_switches() -> Option<(u64, u64)> {
    let mut sum = 0;
    let mut threads = 0;
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let t = t.ok()?;
        let status = match std::fs::read_to_string(t.path().join("status")) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return None,
        };
        threads += 1;
        for l in status.lines() {
            if let Some(v) = l
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                sum += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    Some((sum, threads))
}

/// The number of threads of the process (`/proc/self/task` needs one descriptor).
/// Descriptors the process has open.
pub(crate) fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

pub(crate) fn threads() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/task").ok()?.count() as u64)
}

pub(crate) fn thread_alive(name: &str) -> bool {
    // comm is truncated to 15 bytes.
    let name = &name.as_bytes()[..name.len().min(15)];
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read(t.path().join("comm"))
            .map(|c| c.strip_suffix(b"\n").unwrap_or(&c) == name)
            .unwrap_or(false)
    })
}
