//! Prints what the campaign found: the runs and kills, the time, the lines fed and found, the
//! markers, what each kill left, and the violations.

use std::time::Duration;

use super::campaign::{Kill, Report};
use crate::harness::report::thousands;

impl Report {
    pub(super) fn print(&self, seed: u64, total: Duration) {
        let kills = self.kills.len();
        let early = self
            .kills
            .iter()
            .filter(|k| k.delay < Duration::from_millis(5))
            .count();
        let fed: u64 = self.fed.iter().sum();
        let found: u64 = self.found.iter().sum();
        let mut lost: Vec<u64> = self
            .kills
            .iter()
            .enumerate()
            .map(|(r, k)| {
                k.fed
                    .saturating_sub(self.found.get(r).copied().unwrap_or(0))
            })
            .collect();
        lost.sort_unstable();
        let left = |f: fn(&Kill) -> usize| {
            let files: usize = self.kills.iter().map(f).sum();
            let kills_with = self.kills.iter().filter(|k| f(k) > 0).count();
            let max = self.kills.iter().map(f).max().unwrap_or(0);
            format!("{kills_with}/{kills} kills ({files} files summed over the kills, at most {max} at once)")
        };
        let secs = |d: Duration| d.as_secs_f64();
        println!(
            "xtask crash: {} runs, {kills} killed ({early} in their first 5 ms), seed {seed}",
            self.runs
        );
        println!(
            "  time          {:.1} s (build excluded): runs {:.1} s (the clean one {:.1} s), checks {:.1} s",
            secs(total),
            secs(self.runs_time),
            secs(self.clean_time),
            secs(self.check_time)
        );
        println!(
            "  backlog       {} start(s) with no input after the clean run to compress what its shutdown left plain",
            self.drain_starts
        );
        println!(
            "  lines         fed {}, found {}, lost {} (at kills: still in the pipe or not yet written)",
            thousands(fed),
            thousands(found),
            thousands(fed.saturating_sub(found))
        );
        if let (Some(min), Some(max)) = (lost.first(), lost.last()) {
            println!(
                "  lost per kill min {}, median {}, max {}",
                thousands(*min),
                thousands(lost[lost.len() / 2]),
                thousands(*max)
            );
        }
        println!(
            "  rotations     {} archives ({}) at the end",
            thousands(self.archives as u64),
            bunctl_log_rotation::GZ_SUFFIX
        );
        println!(
            "  markers       {} lines starting {:?}; cut-short marks: {} after a partial line, {} after a line missing only its newline",
            self.markers,
            String::from_utf8_lossy(bunctl_log_buffer::MARKER_PREFIX),
            self.cut_partial,
            self.cut_whole
        );
        println!(
            "  torn lines    {} without the cut-short marker",
            self.torn_unmarked
        );
        println!("  after a kill  .gz.tmp: {}", left(|k| k.tmp));
        println!(
            "                plain archives pending: {}",
            left(|k| k.plain)
        );
        println!(
            "                plain archive next to its .gz: {}",
            left(|k| k.plain_leftover)
        );
        println!(
            "                rotation finishing (.next present): {}/{kills} kills",
            self.kills.iter().filter(|k| k.next).count()
        );
        println!(
            "                live file ending mid-line: {}/{kills} kills",
            self.kills.iter().filter(|k| k.torn_tail).count()
        );
        for e in &self.errors.shown {
            eprintln!("xtask crash: {e}");
        }
        if self.errors.count > self.errors.shown.len() {
            eprintln!(
                "xtask crash: ... and {} more violations",
                self.errors.count - self.errors.shown.len()
            );
        }
    }
}
