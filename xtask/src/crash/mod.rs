//! `cargo xtask crash [N] [--seed S]`: kill `bunctl-log pipe` with SIGKILL at random moments,
//! N times on one directory, then check that the files hold every written line once, in order,
//! whole (or cut and marked), and that every archive is a valid gzip.
//!
//! The library promises (ARCHITECTURE.md, invariants 1 and 2) that a restart repairs what a crash
//! left: a half-written `.gz.tmp` is removed, an archive not yet compressed is compressed, a torn
//! last line is ended and marked, and nothing is repeated or reordered. Unit tests inject faults
//! through the `Filesystem` seam; this runs the real binary and kills it for real, constantly
//! mid-rotation (64 KiB files) and mid-compression. A SIGKILL keeps the page cache, so this
//! tests process crashes, not power loss: the fsync ordering is not exercised.
//!
//! This module reads the arguments and says whether the campaign passed; [`workload`] runs and
//! kills `bunctl-log pipe`, [`dir`] tells what a kill left, [`verify`] checks the lines,
//! [`mod@campaign`] puts them together and [`report`] prints what it found.

mod campaign;
mod dir;
mod lines;
mod report;
mod verify;
mod workload;

use std::ffi::OsString;
use std::fs;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::harness::binary::{build_bunctl_log, work_dir};
use crate::harness::lines::mix;
use campaign::campaign;

/// The app name: the live file is `crash.log`.
const APP: &str = "crash";

const USAGE: &str = "usage: cargo xtask crash [N] [--seed S]   (N runs, default 100)";

/// `cargo xtask crash`: exit code 0 if every check passed, 1 on a violation, 2 on bad arguments.
pub fn crash(args: &[OsString]) -> Result<(), i32> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let (runs, seed) = parse_args(args).map_err(|e| {
        eprintln!("xtask crash: {e}\n{USAGE}");
        2
    })?;
    let seed = seed.unwrap_or_else(seed_from_clock);
    let bin = build_bunctl_log()?;
    let start = Instant::now();
    let dir = work_dir("crash");
    if let Err(e) = fs::create_dir_all(&dir) {
        eprintln!("xtask crash: cannot create {}: {e}", dir.display());
        return Err(1);
    }
    eprintln!(
        "xtask crash: {runs} runs on {}, seed {seed} (replay the kill times: cargo xtask crash {runs} --seed {seed})",
        dir.display()
    );
    let report = campaign(&bin, &dir, runs, seed);
    report.print(seed, start.elapsed());
    if report.errors.count == 0 {
        println!("xtask crash: passed, every check held");
        if let Err(e) = fs::remove_dir_all(&dir) {
            eprintln!("xtask crash: cannot remove {}: {e}", dir.display());
        }
        Ok(())
    } else {
        eprintln!(
            "xtask crash: FAILED, {} violation(s); the files are kept in {}; seed {seed}",
            report.errors.count,
            dir.display()
        );
        Err(1)
    }
}

/// `[N] [--seed S]`, in any order.
fn parse_args(args: &[OsString]) -> Result<(usize, Option<u64>), String> {
    let mut runs = None;
    let mut seed = None;
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        if arg == "--seed" {
            let v = it.next().ok_or("--seed needs a value")?;
            seed = Some(
                v.parse()
                    .map_err(|_| format!("--seed takes a whole number, not {v:?}"))?,
            );
        } else if runs.is_none() {
            let n: usize = arg
                .parse()
                .map_err(|_| format!("N must be a whole number, not {arg:?}"))?;
            // Run numbers are written with five digits.
            if !(1..=100_000).contains(&n) {
                return Err(format!("N must be between 1 and 100000, not {n}"));
            }
            runs = Some(n);
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
    }
    Ok((runs.unwrap_or(100), seed))
}

fn seed_from_clock() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    mix(nanos ^ (u64::from(std::process::id()) << 32))
}
