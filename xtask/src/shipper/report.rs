//! What the trial found, and printing it: the writer, the files, the delivery, rsyslogd's end,
//! the files never or partly read, the missing and duplicated ranges and where they were.

use std::time::Duration;

use super::daemon::Stopped;
use super::delivery::Delivery;
use super::delivery_check::{span, DeliveryCheck};
use super::files_check::{locate, FilesCheck};
use super::writer::Writer;
use super::Opts;
use crate::harness::report::thousands;

/// Violations and ranges printed in full; the rest are counted.
pub(super) const MAX_REPORTED: usize = 20;

pub(super) struct Report {
    pub(super) version: String,
    /// rsyslogd's own messages (its stderr).
    pub(super) said: String,
    pub(super) writer: Writer,
    pub(super) delivery: Delivery,
    pub(super) stopped: Stopped,
    pub(super) files: FilesCheck,
    pub(super) delivered: DeliveryCheck,
}

impl Report {
    pub(super) fn passed(&self) -> bool {
        self.files.errors.count == 0 && self.delivered.passed()
    }

    pub(super) fn print(&self, opts: &Opts, total: Duration) {
        let secs = |d: Duration| d.as_secs_f64();
        let d = &self.delivered;
        println!(
            "xtask shipper: {} lines through bunctl-log pipe --max-size {}, shipped by {} (imfile, inotify)",
            thousands(opts.lines),
            opts.max_size,
            self.version
        );
        println!(
            "  writer      {:.2} s ({:.0} lines/s{}), exit 0; {} rotations (archives)",
            secs(self.writer.time),
            opts.lines as f64 / secs(self.writer.time).max(1e-9),
            opts.rate.map_or_else(
                || ", as fast as the pipe took them".into(),
                |r| format!(", fed at {} lines/s", thousands(r))
            ),
            thousands(self.files.archives as u64)
        );
        if self.files.errors.count == 0 {
            println!(
                "  files       every line once, in order, in {} files (the contract held)",
                self.files.archives + 1
            );
        } else {
            println!(
                "  files       {} violation(s) in the files themselves: the writer broke its contract",
                self.files.errors.count
            );
        }
        println!(
            "  delivered   {} lines: {} missing, {} duplicated, {} after a higher seq, {} altered",
            thousands(d.lines),
            thousands(d.missing()),
            thousands(d.duplicates()),
            thousands(d.backward),
            thousands(d.altered)
        );
        println!(
            "  lag         {:.2} s from the writer's exit to the last delivered line ({})",
            secs(self.delivery.lag),
            self.delivery.end
        );
        println!(
            "  rsyslogd    {}{}",
            if self.stopped.early {
                "had exited by itself before the end"
            } else if self.stopped.killed {
                "ignored SIGTERM and was killed"
            } else {
                "stopped on SIGTERM"
            },
            format_args!(" ({})", self.stopped.status)
        );
        for e in &self.files.errors.shown {
            eprintln!("xtask shipper: files: {e}");
        }
        if let Some((never, part, twice)) = self.by_file() {
            println!(
                "  by file     {never} never read, {part} partly missed, {twice} with lines delivered more than once (of {} files)",
                self.files.ranges.len()
            );
        }
        println!("  time        {:.1} s (build excluded)", secs(total));
        for e in &self.files.errors.shown {
            eprintln!("xtask shipper: files: {e}");
        }
        if let Some(first) = &d.first {
            eprintln!("xtask shipper: first violation: {first}");
        }
        let ranges = |what: &str, list: Vec<(u64, u64)>| {
            for (i, &(a, b)) in list.iter().enumerate().take(MAX_REPORTED) {
                if i == 0 {
                    eprintln!(
                        "xtask shipper: {what}, in {} range(s):",
                        thousands(list.len() as u64)
                    );
                }
                eprintln!("  {}: {}", span(a, b), locate(a, b, &self.files.ranges));
            }
            if list.len() > MAX_REPORTED {
                eprintln!("  ... and {} more ranges", list.len() - MAX_REPORTED);
            }
        };
        ranges("missing", d.ranges(|t| t == 0));
        ranges("delivered more than once", d.ranges(|t| t > 1));
        let said: Vec<&str> = self.said.lines().filter(|l| !l.trim().is_empty()).collect();
        if !self.passed() && !said.is_empty() {
            eprintln!("xtask shipper: rsyslogd said ({} lines):", said.len());
            for l in said.iter().take(MAX_REPORTED) {
                eprintln!("  {l}");
            }
            if said.len() > MAX_REPORTED {
                eprintln!("  ... and {} more lines", said.len() - MAX_REPORTED);
            }
        }
        if d.others.count > 0 {
            eprintln!("xtask shipper: duplicates, late and altered lines, in delivery order:");
            for e in &d.others.shown {
                eprintln!("  {e}");
            }
            if d.others.count > d.others.shown.len() {
                eprintln!(
                    "  ... and {} more",
                    thousands((d.others.count - d.others.shown.len()) as u64)
                );
            }
        }
    }

    /// Files none of whose lines were delivered, files some of whose lines were missed, files
    /// some of whose lines were delivered more than once; `None` if the files could not be read.
    pub(super) fn by_file(&self) -> Option<(usize, usize, usize)> {
        if self.files.ranges.is_empty() {
            return None;
        }
        let (mut never, mut part, mut twice) = (0, 0, 0);
        for f in &self.files.ranges {
            let times = self
                .delivered
                .times
                .get(usize::try_from(f.first).ok()?..=usize::try_from(f.last).ok()?)?;
            if times.iter().all(|&t| t == 0) {
                never += 1;
            } else if times.contains(&0) {
                part += 1;
            }
            if times.iter().any(|&t| t > 1) {
                twice += 1;
            }
        }
        Some((never, part, twice))
    }
}
