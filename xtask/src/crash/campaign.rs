//! The campaign: N runs on one directory, all but the last killed, what each kill left recorded;
//! then the checks of what the files hold after the clean run.

use std::path::Path;
use std::time::{Duration, Instant};

use super::dir::{ends_mid_line, inspect};
use super::verify::{verify_cat, Pos, Verifier};
use super::workload::{clean_run, drain, killed_run, Rng};
use super::APP;
use crate::harness::files::{gzip_test, log_files};
use crate::harness::report::Errors;

/// What one kill left.
pub(super) struct Kill {
    pub(super) delay: Duration,
    pub(super) fed: u64,
    pub(super) tmp: usize,
    pub(super) plain: usize,
    pub(super) plain_leftover: usize,
    pub(super) next: bool,
    pub(super) torn_tail: bool,
}

#[derive(Default)]
pub(super) struct Report {
    pub(super) runs: usize,
    pub(super) kills: Vec<Kill>,
    /// Lines fed to each run, and found in the files.
    pub(super) fed: Vec<u64>,
    pub(super) found: Vec<u64>,
    pub(super) archives: usize,
    pub(super) markers: u64,
    pub(super) cut_partial: u64,
    pub(super) cut_whole: u64,
    pub(super) torn_unmarked: u64,
    pub(super) runs_time: Duration,
    /// The clean run alone (its startup compresses what the kills left plain).
    pub(super) clean_time: Duration,
    /// Starts with no input after the clean run until no archive was left plain: a shutdown
    /// spends at most half its timeout on a compression backlog and leaves the rest, as
    /// valid plain archives, to the next start.
    pub(super) drain_starts: usize,
    pub(super) check_time: Duration,
    pub(super) errors: Errors,
}

/// Runs, kills, inspects, verifies. Every failure ends up in `report.errors`.
pub(super) fn campaign(bin: &Path, dir: &Path, runs: usize, seed: u64) -> Report {
    let mut report = Report {
        runs,
        ..Report::default()
    };
    let mut rng = Rng(seed);
    let started = Instant::now();
    for r in 0..runs {
        let outcome = if r + 1 < runs {
            let delay = rng.kill_delay();
            killed_run(bin, dir, r, delay).and_then(|fed| {
                let state = inspect(dir)
                    .map_err(|e| format!("after run {r}: cannot list {}: {e}", dir.display()))?;
                let torn_tail = match &state.live {
                    Some(live) => ends_mid_line(live).map_err(|e| {
                        format!("after run {r}: cannot read {}: {e}", live.display())
                    })?,
                    None => false,
                };
                report.kills.push(Kill {
                    delay,
                    fed,
                    tmp: state.tmp.len(),
                    plain: state.plain.len(),
                    plain_leftover: state.plain_leftover,
                    next: state.next,
                    torn_tail,
                });
                Ok(fed)
            })
        } else {
            let pending = report.kills.last().map_or(0, |k| k.plain);
            let clean_start = Instant::now();
            let fed = clean_run(bin, dir, r, pending, &mut report.errors);
            report.clean_time = clean_start.elapsed();
            fed.and_then(|fed| {
                report.drain_starts = drain(bin, dir, &mut report.errors)?;
                Ok(fed)
            })
        };
        match outcome {
            Ok(fed) => report.fed.push(fed),
            Err(e) => {
                report.errors.push(e);
                report.runs_time = started.elapsed();
                return report;
            }
        }
    }
    report.runs_time = started.elapsed();
    let started = Instant::now();
    check_files(bin, dir, &mut report);
    report.check_time = started.elapsed();
    report
}

/// The checks after the clean run: the files present, gzip's test, every line.
pub(super) fn check_files(bin: &Path, dir: &Path, report: &mut Report) {
    let state = match inspect(dir) {
        Ok(s) => s,
        Err(e) => {
            report
                .errors
                .push(format!("cannot list {}: {e}", dir.display()));
            return;
        }
    };
    // One message per kind of leftover: after a failed clean run there can be thousands.
    if let Some(first) = state.tmp.first() {
        report.errors.push(format!(
            "{} .gz.tmp file(s) left after the clean run (a compression it did not finish, or a leftover its startup did not remove), e.g. {}",
            state.tmp.len(),
            first.display()
        ));
    }
    if state.next {
        report.errors.push(format!(
            ".{APP}.log.next left after the clean run: an interrupted rotation was not finished"
        ));
    }
    if let Some(first) = state.plain.first() {
        report.errors.push(format!(
            "{} rotated file(s) left uncompressed after the clean run, e.g. {}",
            state.plain.len(),
            first.display()
        ));
    }
    for other in &state.other {
        report.errors.push(format!(
            "{}: unexpected file (not crash.log, nor one of its archives)",
            other.display()
        ));
    }
    match &state.live {
        None => report
            .errors
            .push(format!("{}: no live file crash.log", dir.display())),
        Some(live) => {
            if ends_mid_line(live).unwrap_or(true) {
                report.errors.push(format!(
                    "{}: unreadable, or does not end with a newline after the clean run",
                    live.display()
                ));
            }
        }
    }
    report.archives = state.gz.len();
    gzip_test(&state.gz, "", &mut report.errors);
    if let Err(e) = check_lines(bin, dir, report) {
        report.errors.push(e);
    }
}

/// Reads every line back through `bunctl-log cat` and checks it.
pub(super) fn check_lines(bin: &Path, dir: &Path, report: &mut Report) -> Result<(), String> {
    let (files, ends) = log_files(bin, APP, dir)?;
    let total = ends.last().copied().unwrap_or(0);

    let mut v = Verifier::new(report.runs);
    let (offset, _) = verify_cat(bin, APP, dir, &ends, &mut v)?;
    v.finish();
    if offset != total {
        eprintln!(
            "xtask crash: warning: bunctl-log cat printed {offset} bytes, the files hold {total}: the file names below may be off"
        );
    }
    let name = |p: &Pos| {
        files
            .get(p.file)
            .map_or_else(|| "?".to_string(), |f| f.display().to_string())
    };
    for (at, msg) in v.errors.drain(..) {
        report.errors.push(format!(
            "{}:{} (line {} of bunctl-log cat): {msg}",
            name(&at),
            at.line,
            at.cat_line
        ));
    }
    report.errors.count += v.unshown;
    for (r, &k) in v.found.iter().enumerate() {
        let fed = report.fed.get(r).copied().unwrap_or(0);
        if k > fed {
            report.errors.push(format!(
                "run {r}: {k} lines in the files, but only {fed} were fed to it"
            ));
        } else if r + 1 == report.runs && k != fed {
            report.errors.push(format!(
                "run {r} (clean): {k} of its {fed} lines in the files"
            ));
        }
    }
    report.found = v.found;
    report.markers = v.markers;
    report.cut_partial = v.cut_partial;
    report.cut_whole = v.cut_whole;
    report.torn_unmarked = v.torn_unmarked;
    Ok(())
}
