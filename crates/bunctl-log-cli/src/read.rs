//! `files`, `cat`, `tail`, `tail -f` and `tail --since/--until`: the logs read back by
//! bunctl-log-read, printed.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use bunctl_log_read::{Follower, Window};
use bunctl_logging::StdFs;

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// Prints the files of the logs whose live file is `live`, oldest first, the live file last.
pub fn files(live: &Path, out: &mut impl Write) -> io::Result<()> {
    for f in bunctl_log_read::list_files(&StdFs, live)? {
        writeln!(out, "{}", f.display())?;
    }
    out.flush()
}

/// Prints the logs, oldest first, decompressing rotated files.
pub fn cat(live: &Path, out: &mut impl Write) -> io::Result<()> {
    Ok(bunctl_log_read::cat(&StdFs, live, out)?)
}

/// Prints the last `n` lines.
pub fn tail(live: &Path, n: usize, out: &mut impl Write) -> io::Result<()> {
    for line in bunctl_log_read::last_lines(&StdFs, live, n)? {
        out.write_all(&line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Prints the last `n` lines, then every line written after them, forever (until writing to
/// `out` fails).
pub fn follow(live: &Path, n: usize, out: &mut impl Write) -> io::Result<()> {
    let mut follower = Follower::new(StdFs::shared(), live, n)?;
    loop {
        let idle = follower.poll(&mut |lines| out.write_all(lines))?;
        out.flush()?;
        for notice in follower.take_notices() {
            eprintln!("bunctl-log: {notice}");
        }
        if idle {
            follower.wait(Duration::MAX);
        }
    }
}

/// Prints the lines whose time is in `window` (the last `n` of them, if given).
///
/// # Errors
/// If a file cannot be read, or if the logs have lines but none with a time (raw format).
pub fn window(live: &Path, window: &Window, n: Option<usize>, out: &mut impl Write) -> CliResult {
    let counts = match n {
        None => bunctl_log_read::lines_in_window(&StdFs, live, window, &mut |line| {
            out.write_all(line)?;
            out.write_all(b"\n")
        })
        .map_err(io::Error::from)?,
        Some(n) => {
            let (lines, counts) = bunctl_log_read::last_in_window(&StdFs, live, window, n)
                .map_err(io::Error::from)?;
            for line in lines {
                out.write_all(&line)?;
                out.write_all(b"\n")?;
            }
            counts
        }
    };
    out.flush()?;
    for file in &counts.untimed_files {
        eprintln!(
            "bunctl-log: {}: no line has a time (raw format?): skipped",
            file.display()
        );
    }
    if counts.no_times() {
        return Err(format!(
            "the lines of {} have no times: they were written with --format raw; --since and \
             --until read logs written with --format timestamped or json",
            live.display()
        )
        .into());
    }
    Ok(())
}
