//! `cargo xtask shipper [--lines N] [--rate R]`: ship `bunctl-log pipe`'s files with a real log
//! shipper, rsyslog's `imfile`, and check that it delivered every line exactly once, in order.
//!
//! Shippers (rsyslog, Vector, Fluent Bit, Promtail) follow the live file by name and inode and
//! expect rotation by rename: the old file is complete when it is renamed, never written again,
//! and a new live file appears under the name. This runs a private `rsyslogd` (own config, pid
//! file and state directory; no system inputs, never `/etc/rsyslog.conf` or `/dev/log`) whose
//! only input is `imfile` on `DIR/ship.log` and whose only output is the message text, byte for
//! byte, in `OUT/delivered.log`. It pushes numbered lines through `bunctl-log pipe` rotating at
//! 256 KiB with compression, as fast as the pipe takes them (or paced with `--rate`), waits for
//! the delivery, stops rsyslogd, and checks the delivered lines. It also reads the files back
//! with `bunctl-log cat` (the contract: every line in the files once, in order), so that a line
//! rsyslog missed can be named by the file it was in, whole or in part.
//!
//! What it showed (rsyslog 8.2302, Debian 12, 2 shared cores): the contract holds in every run,
//! and every file imfile opened was delivered whole, to its last line, renamed or not. But imfile
//! only ever opens whatever file has the name when it gets round to it: a live file that is
//! created, filled and renamed away before then is never read (at full speed a 256 KiB file can
//! live a few milliseconds: the writer catches up after each fsync in bursts), and when it
//! recorded the inode of one file but opened the next, it drops the file it is reading and reads
//! it again from the start (duplicates). As fast as the pipe takes them, a fifth to a half of the
//! files were never read in every run; at 100,000 and 50,000 lines/s, up to 15 files (one run of
//! three at 50,000 lost none); at 30,000, 20,000 and 10,000 lines/s (a file lives 0.3-1.2 s)
//! every line arrived once, in order, in every run, at 20,000 also with a CPU hog and an
//! fsync-heavy writer running (one early trial at 28,600 lines/s, fed by a script, lost one file).
//! CI runs it at 20,000 lines/s.
//!
//! This module reads the arguments and runs the trial; [`install`] finds or installs rsyslogd,
//! [`config`] lays out the work directory and writes rsyslog's configuration, [`daemon`] runs
//! rsyslogd, [`writer`] runs `bunctl-log pipe`, [`delivery`] waits for rsyslog to deliver,
//! [`files_check`] and [`delivery_check`] check the files and the delivery, and [`report`]
//! prints the outcome.

mod config;
mod daemon;
mod delivery;
mod delivery_check;
mod files_check;
mod install;
mod report;
mod writer;

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::harness::binary::{build_bunctl_log, work_dir};
use crate::harness::report::thousands;
use config::{rsyslog_conf, Paths};
use daemon::Rsyslogd;
use delivery::await_delivery;
use delivery_check::check_delivery;
use files_check::check_files;
use install::{ensure_rsyslogd, rsyslogd_version};
use report::Report;
use writer::write_logs;

/// The app name: the live file is `ship.log`.
const APP: &str = "ship";
/// Small, so that rotations (and compressions) are frequent. `--max-size` of 512K or more
/// tests the rotations that the writer finishes in the background (the new live file comes
/// from renaming the hidden `.ship.log.next`).
const MAX_SIZE: &str = "256K";

const DEFAULT_LINES: u64 = 300_000;

const USAGE: &str =
    "usage: cargo xtask shipper [--lines N] [--rate LINES_PER_SECOND] [--max-size SIZE]
  --lines N        lines to push through bunctl-log pipe (default 300000)
  --rate R         feed R lines per second instead of as fast as the pipe takes them
  --max-size SIZE  bunctl-log pipe's rotation size (default 256K)";

/// `cargo xtask shipper`: exit code 0 if rsyslog delivered every line once, in order; 1 if not,
/// or if something failed on the way; 2 on bad arguments; a failed build's or install's own code.
pub fn shipper(args: &[OsString]) -> Result<(), i32> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = parse_args(args).map_err(|e| {
        eprintln!("xtask shipper: {e}\n{USAGE}");
        2
    })?;
    let rsyslogd = ensure_rsyslogd()?;
    let bin = build_bunctl_log()?;
    let work = work_dir("shipper");
    let paths = Paths::new(&work);
    if let Err(e) = paths.create() {
        eprintln!("xtask shipper: cannot create {}: {e}", work.display());
        return Err(1);
    }
    let start = Instant::now();
    let outcome = trial(&rsyslogd, &bin, &paths, &opts);
    let total = start.elapsed();
    match outcome {
        Ok(report) => {
            report.print(&opts, total);
            if report.passed() {
                println!(
                    "xtask shipper: passed, rsyslog delivered all {} lines once, in order",
                    thousands(opts.lines)
                );
                if let Err(e) = fs::remove_dir_all(&work) {
                    eprintln!("xtask shipper: cannot remove {}: {e}", work.display());
                }
                Ok(())
            } else {
                eprintln!(
                    "xtask shipper: FAILED; the files, rsyslog's config, output and state are kept in {}",
                    work.display()
                );
                Err(1)
            }
        }
        Err(e) => {
            eprintln!("xtask shipper: {e}");
            eprintln!(
                "xtask shipper: FAILED after {:.1} s; the files, rsyslog's config, output and state are kept in {}",
                total.as_secs_f64(),
                work.display()
            );
            Err(1)
        }
    }
}

/// What the flags ask for.
struct Opts {
    lines: u64,
    /// Lines per second, or as fast as the pipe takes them.
    rate: Option<u64>,
    /// bunctl-log pipe's `--max-size`.
    max_size: String,
}

fn parse_args(args: &[OsString]) -> Result<Opts, String> {
    let mut opts = Opts {
        lines: DEFAULT_LINES,
        rate: None,
        max_size: MAX_SIZE.to_owned(),
    };
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            match v.parse() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name} takes a whole number above 0, not {v:?}")),
            }
        };
        match arg.as_str() {
            // Sequence numbers are written with nine digits.
            "--lines" => match value("--lines")? {
                n if n <= 999_999_999 => opts.lines = n,
                n => return Err(format!("--lines must be at most 999999999, not {n}")),
            },
            "--rate" => opts.rate = Some(value("--rate")?),
            // bunctl-log checks it, and says what is wrong with it.
            "--max-size" => opts.max_size = it.next().ok_or("--max-size needs a value")?,
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(opts)
}

/// Writes the config, starts rsyslogd, writes the logs, waits for the delivery, stops rsyslogd,
/// checks. rsyslogd is stopped on every path out (see [`Rsyslogd`]'s `Drop`).
fn trial(rsyslogd: &Path, bin: &Path, paths: &Paths, opts: &Opts) -> Result<Report, String> {
    let conf = rsyslog_conf(paths)?;
    fs::write(&paths.conf, conf)
        .map_err(|e| format!("cannot write {}: {e}", paths.conf.display()))?;
    let validate = Command::new(rsyslogd)
        .arg("-N1")
        .arg("-f")
        .arg(&paths.conf)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", rsyslogd.display()))?;
    if !validate.status.success() {
        return Err(format!(
            "rsyslogd -N1 rejects {}: {}{}",
            paths.conf.display(),
            String::from_utf8_lossy(&validate.stdout).trim(),
            String::from_utf8_lossy(&validate.stderr).trim()
        ));
    }
    let version = rsyslogd_version(rsyslogd);
    let mut daemon = Rsyslogd::start(rsyslogd, paths)?;
    daemon.wait_ready(&paths.logs, &paths.console)?;
    eprintln!(
        "xtask shipper: {version} (pid {}) follows {}; writing {} lines {}",
        daemon.id(),
        paths.live().display(),
        thousands(opts.lines),
        opts.rate.map_or_else(
            || "as fast as the pipe takes them".into(),
            |r| format!("at {} lines/s", thousands(r))
        )
    );
    let writer = write_logs(bin, paths, opts)?;
    let writer_done = Instant::now();
    eprintln!("{}", writer.said);
    let delivery = await_delivery(&mut daemon, paths, opts.lines, writer_done)?;
    let stopped = daemon.stop()?;
    drop(daemon);
    let files = check_files(bin, paths, opts.lines);
    let delivered = check_delivery(paths, opts.lines)?;
    let said = fs::read_to_string(&paths.console).unwrap_or_default();
    Ok(Report {
        version,
        said,
        writer,
        delivery,
        stopped,
        files,
        delivered,
    })
}
