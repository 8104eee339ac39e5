//! Checks the lines `bunctl-log cat` prints after the campaign, one at a time: every run's lines
//! once, in order, each whole or cut by the kill and marked as such, and the runs in order.

use std::path::Path;

use bunctl_log_buffer::{is_marker, CUT_LINE_MARKER};

use super::lines::{data_line, parse_data};
use crate::harness::files::cat_lines;
use crate::harness::lines::digits;
use crate::harness::report::{excerpt, MAX_REPORTED};

/// What the writer appends after a last line a kill left without its `\n`: the library's
/// marker, without the `\n` (the lines checked here are split on it).
const CUT_MARKER: &[u8] = match CUT_LINE_MARKER.split_last() {
    Some((b'\n', text)) => text,
    _ => panic!("CUT_LINE_MARKER ends with a newline"),
};

/// Where a line is: its file (index in `bunctl-log files`), its line there, its line in `cat`.
#[derive(Clone, Copy)]
pub(super) struct Pos {
    pub(super) file: usize,
    pub(super) line: u64,
    pub(super) cat_line: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Prev {
    Start,
    Data,
    Marker,
    Other,
}

/// Checks lines one at a time, with one line of look-ahead for the cut-short marker.
pub(super) struct Verifier {
    pub(super) runs: usize,
    /// Lines of each run found so far: its next expected seq.
    pub(super) found: Vec<u64>,
    /// The run whose lines are being read; earlier runs are done.
    pub(super) current: Option<usize>,
    /// The current run's last line was cut by its kill: no more lines of it may follow.
    pub(super) cut: bool,
    pub(super) prev: Prev,
    /// A line that is neither data nor marker, waiting to see whether the cut marker follows.
    pub(super) pending: Option<(Vec<u8>, Pos)>,
    pub(super) markers: u64,
    /// Cut-short markers after a partial line, and after a line that lacked only its `\n`.
    pub(super) cut_partial: u64,
    pub(super) cut_whole: u64,
    pub(super) torn_unmarked: u64,
    pub(super) errors: Vec<(Pos, String)>,
    pub(super) unshown: usize,
}

impl Verifier {
    pub(super) fn new(runs: usize) -> Self {
        Self {
            runs,
            found: vec![0; runs],
            current: None,
            cut: false,
            prev: Prev::Start,
            pending: None,
            markers: 0,
            cut_partial: 0,
            cut_whole: 0,
            torn_unmarked: 0,
            errors: Vec::new(),
            unshown: 0,
        }
    }

    pub(super) fn error(&mut self, at: Pos, msg: String, line: &[u8]) {
        if self.errors.len() < MAX_REPORTED {
            self.errors.push((at, format!("{msg}: {}", excerpt(line))));
        } else {
            self.unshown += 1;
        }
    }

    pub(super) fn line(&mut self, line: &[u8], at: Pos) {
        if let Some((bad, bad_at)) = self.pending.take() {
            if line == CUT_MARKER {
                self.markers += 1;
                self.prev = Prev::Marker;
                if self.cut_prefix(&bad) {
                    self.cut_partial += 1;
                } else {
                    let msg = "line before the cut-short marker is not the start of the line expected next".to_string();
                    self.error(bad_at, msg, &bad);
                }
                return;
            }
            self.unmarked(&bad, bad_at);
        }
        if is_marker(line) {
            self.markers += 1;
            if line == CUT_MARKER && self.prev == Prev::Data {
                // The kill cut exactly the `\n`: the line is whole, its run ends here.
                self.cut_whole += 1;
                self.cut = true;
            }
            self.prev = Prev::Marker;
            return;
        }
        match parse_data(line, self.runs) {
            Some((run, seq)) => self.data(run, seq, at, line),
            None => self.pending = Some((line.to_vec(), at)),
        }
    }

    pub(super) fn finish(&mut self) {
        if let Some((bad, at)) = self.pending.take() {
            self.unmarked(&bad, at);
        }
    }

    pub(super) fn data(&mut self, run: usize, seq: u64, at: Pos, line: &[u8]) {
        self.prev = Prev::Data;
        match self.current {
            Some(c) if run == c => {
                if self.cut {
                    let msg = format!("run {run} goes on after its line cut short by the kill");
                    self.error(at, msg, line);
                }
                let next = self.found[run];
                if seq == next {
                    self.found[run] += 1;
                } else if seq < next {
                    let msg = format!("duplicate: run {run} seq {seq} again (seq {next} expected)");
                    self.error(at, msg, line);
                } else {
                    let msg = format!(
                        "gap: run {run} seq {next}..{} missing before it (a kill may lose only the tail of a run)",
                        seq - 1
                    );
                    self.error(at, msg, line);
                    self.found[run] = seq + 1;
                }
            }
            Some(c) if run < c => {
                let msg = format!("out of order: run {run}'s line after run {c}'s lines");
                self.error(at, msg, line);
            }
            _ => {
                if seq != 0 {
                    let msg = format!(
                        "run {run} starts at seq {seq}: its lines 0..{} are missing",
                        seq - 1
                    );
                    self.error(at, msg, line);
                }
                self.current = Some(run);
                self.cut = false;
                self.found[run] = seq + 1;
            }
        }
    }

    /// Whether `bad` is the start of the line expected next: the current run's next line, or
    /// the first line of a later run (a run killed before it wrote a whole line). If so, that
    /// run is cut there.
    pub(super) fn cut_prefix(&mut self, bad: &[u8]) -> bool {
        let mut expected = Vec::with_capacity(256);
        if let (Some(c), false) = (self.current, self.cut) {
            data_line(c, self.found[c], &mut expected);
            if expected.starts_with(bad) {
                self.cut = true;
                return true;
            }
        }
        let from = self.current.map_or(0, |c| c + 1);
        // With its run number readable, only that run can match; otherwise the first that does.
        let candidates = match bad.get(1..6).and_then(digits) {
            Some(r) if bad[0] == b'r' => {
                let r = usize::try_from(r).unwrap_or(usize::MAX);
                r.max(from)..(r + 1).min(self.runs)
            }
            _ => from..self.runs,
        };
        for r in candidates {
            expected.clear();
            data_line(r, 0, &mut expected);
            if expected.starts_with(bad) {
                self.current = Some(r);
                self.cut = true;
                return true;
            }
        }
        false
    }

    /// A line that is neither data nor marker and not followed by the cut marker. Today's
    /// writer appends the next run's first line right after a torn one: if a data line is
    /// glued to it, it is checked as such so one torn line does not cascade into gaps.
    pub(super) fn unmarked(&mut self, bad: &[u8], at: Pos) {
        let glued = (1..bad.len()).find(|&i| parse_data(&bad[i..], self.runs).is_some());
        let head = glued.map_or(bad, |i| &bad[..i]);
        let msg = if self.cut_prefix(head) {
            self.torn_unmarked += 1;
            match glued {
                Some(_) => "torn line, no cut-short marker: a line cut by a kill, the next run's line glued to it",
                None => "torn line, no cut-short marker: a line cut by a kill",
            }
        } else {
            "malformed line: not a data line, not a marker, not the start of the line expected next"
        };
        self.error(at, msg.to_string(), bad);
        self.prev = Prev::Other;
        if let Some(i) = glued {
            if let Some((run, seq)) = parse_data(&bad[i..], self.runs) {
                self.data(run, seq, at, &bad[i..]);
            }
        }
    }
}

/// Feeds `bunctl-log cat`'s lines of `app` in `dir` to `v`, each with its place (`ends`: where
/// each file's content ends in the output). Returns the bytes and lines read.
pub(super) fn verify_cat(
    bin: &Path,
    app: &str,
    dir: &Path,
    ends: &[u64],
    v: &mut Verifier,
) -> Result<(u64, u64), String> {
    cat_lines(bin, app, dir, ends, |l| {
        let at = Pos {
            file: l.file,
            line: l.line_in_file,
            cat_line: l.cat_line,
        };
        v.line(l.text, at);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_buffer::{marker_line, LineFormat, Marker};
    use std::time::SystemTime;

    fn line(run: usize, seq: u64) -> Vec<u8> {
        let mut v = Vec::new();
        data_line(run, seq, &mut v);
        v
    }

    /// Feeds `lines` to a verifier of `runs` runs; returns it finished.
    fn verify(runs: usize, lines: &[Vec<u8>]) -> Verifier {
        let mut v = Verifier::new(runs);
        for (i, l) in lines.iter().enumerate() {
            let at = Pos {
                file: 0,
                line: i as u64 + 1,
                cat_line: i as u64 + 1,
            };
            v.line(l, at);
        }
        v.finish();
        v
    }

    fn messages(v: &Verifier) -> Vec<&str> {
        v.errors.iter().map(|(_, m)| m.as_str()).collect()
    }

    #[test]
    fn runs_in_order_with_lost_tails_and_markers_pass() {
        let lines = vec![
            line(0, 0),
            line(0, 1),
            marker_line(
                LineFormat::Raw,
                &Marker::Dropped { lines: 3 },
                SystemTime::now(),
            )
            .trim_ascii_end()
            .to_vec(),
            line(2, 0), // run 1 wrote nothing
            line(2, 1),
            line(3, 0),
        ];
        let v = verify(4, &lines);
        assert!(v.errors.is_empty(), "{:?}", messages(&v));
        assert_eq!(v.found, [2, 0, 2, 1]);
        assert_eq!(v.markers, 1);
    }

    #[test]
    fn gap_duplicate_order_and_late_start_fail() {
        let v = verify(2, &[line(0, 0), line(0, 2)]);
        assert!(
            messages(&v)[0].starts_with("gap: run 0 seq 1..1"),
            "{:?}",
            messages(&v)
        );
        let v = verify(2, &[line(0, 0), line(0, 1), line(0, 1)]);
        assert!(
            messages(&v)[0].starts_with("duplicate"),
            "{:?}",
            messages(&v)
        );
        let v = verify(2, &[line(1, 0), line(0, 0)]);
        assert!(
            messages(&v)[0].starts_with("out of order"),
            "{:?}",
            messages(&v)
        );
        let v = verify(2, &[line(0, 0), line(1, 5)]);
        assert!(
            messages(&v)[0].starts_with("run 1 starts at seq 5"),
            "{:?}",
            messages(&v)
        );
    }

    #[test]
    fn marked_cut_line_passes_and_ends_its_run() {
        let cut = line(0, 2)[..30].to_vec();
        let v = verify(
            2,
            &[
                line(0, 0),
                line(0, 1),
                cut.clone(),
                CUT_MARKER.to_vec(),
                line(1, 0),
            ],
        );
        assert!(v.errors.is_empty(), "{:?}", messages(&v));
        assert_eq!((v.cut_partial, v.found[0]), (1, 2));
        // The cut line must be the start of the line expected next.
        let v = verify(
            2,
            &[line(0, 0), line(0, 2)[..30].to_vec(), CUT_MARKER.to_vec()],
        );
        assert_eq!(v.errors.len(), 1, "{:?}", messages(&v));
        // Nothing of the run may follow its cut.
        let v = verify(
            2,
            &[line(0, 0), line(0, 1), cut, CUT_MARKER.to_vec(), line(0, 3)],
        );
        assert!(
            messages(&v)[0].starts_with("run 0 goes on"),
            "{:?}",
            messages(&v)
        );
        // A run killed in its very first line, and a cut that took only the newline.
        let v = verify(
            3,
            &[
                line(0, 0),
                b"r0000".to_vec(),
                CUT_MARKER.to_vec(),
                line(2, 0),
            ],
        );
        assert!(v.errors.is_empty(), "{:?}", messages(&v));
        let v = verify(2, &[line(0, 0), CUT_MARKER.to_vec(), line(1, 0)]);
        assert!(v.errors.is_empty(), "{:?}", messages(&v));
        assert_eq!(v.cut_whole, 1);
    }

    #[test]
    fn unmarked_torn_lines_fail_without_cascading() {
        let cut = line(0, 1)[..25].to_vec();
        let v = verify(2, &[line(0, 0), cut.clone(), line(1, 0), line(1, 1)]);
        assert_eq!(v.torn_unmarked, 1);
        assert_eq!(v.errors.len(), 1, "{:?}", messages(&v));
        // Glued to the next run's first line: that line still counts.
        let mut glued = cut;
        glued.extend_from_slice(&line(1, 0));
        let v = verify(2, &[line(0, 0), glued, line(1, 1)]);
        assert_eq!(v.errors.len(), 1, "{:?}", messages(&v));
        assert!(messages(&v)[0].contains("glued"));
        assert_eq!(v.found, [1, 2]);
        // A torn last line, and garbage.
        let v = verify(1, &[line(0, 0), line(0, 1)[..20].to_vec()]);
        assert_eq!(v.torn_unmarked, 1);
        let v = verify(1, &[b"hello".to_vec()]);
        assert!(
            messages(&v)[0].starts_with("malformed"),
            "{:?}",
            messages(&v)
        );
    }
}
