//! The delivery's side: what rsyslog delivered, line by line in delivery order; each seq's count,
//! the lines late, altered or skipped ahead, and the missing and duplicated ranges.

use std::fs::File;
use std::io::{BufRead, BufReader};

use super::config::Paths;
use super::writer::{data_line, parse_line};
use super::APP;
use crate::harness::lines::digits;
use crate::harness::report::{excerpt, thousands, Errors};

/// What rsyslog delivered, line by line, in delivery order.
pub(super) struct DeliveryCheck {
    pub(super) lines: u64,
    /// Times each seq was delivered.
    pub(super) times: Vec<u32>,
    /// The highest seq delivered so far.
    pub(super) max: Option<u64>,
    /// Lines delivered after a higher seq (whether or not delivered before).
    pub(super) backward: u64,
    /// Lines that are not exactly a line the writer was given.
    pub(super) altered: u64,
    /// The first thing that went wrong, in delivery order.
    pub(super) first: Option<String>,
    /// Every violation but skips ahead (the missing ranges tell those): duplicates, late
    /// lines, altered lines, in delivery order; consecutive lines of one kind are one entry.
    pub(super) others: Errors,
    /// The run of consecutive duplicates or late lines being read.
    pub(super) run: Option<Run>,
}

/// Consecutive delivered lines, consecutive seqs, all duplicates or all late.
pub(super) struct Run {
    pub(super) again: bool,
    pub(super) lines: (u64, u64),
    pub(super) seqs: (u64, u64),
    /// The highest seq delivered before the run.
    pub(super) after: u64,
}

impl Run {
    pub(super) fn message(&self) -> String {
        let lines = if self.lines.0 == self.lines.1 {
            format!("line {}", thousands(self.lines.0))
        } else {
            format!(
                "lines {}..{}",
                thousands(self.lines.0),
                thousands(self.lines.1)
            )
        };
        let what = if self.again {
            "delivered again".to_string()
        } else {
            format!("delivered late, after seq {}", self.after)
        };
        format!(
            "delivered.log {lines}: {} {what}",
            span(self.seqs.0, self.seqs.1)
        )
    }
}

impl DeliveryCheck {
    pub(super) fn new(lines: u64) -> Self {
        Self {
            lines: 0,
            times: vec![0; usize::try_from(lines).unwrap_or(usize::MAX)],
            max: None,
            backward: 0,
            altered: 0,
            first: None,
            others: Errors::default(),
            run: None,
        }
    }

    /// Ends the run of duplicates or late lines, if any.
    pub(super) fn end_run(&mut self) {
        if let Some(run) = self.run.take() {
            self.others.push(run.message());
        }
    }

    /// A duplicate (`again`) or late line: extends the current run or starts one.
    pub(super) fn out_of_order(&mut self, at: u64, seq: u64, again: bool) {
        let after = self.max.unwrap_or(0);
        if let Some(run) = &mut self.run {
            if run.again == again && run.lines.1 + 1 == at && run.seqs.1 + 1 == seq {
                run.lines.1 = at;
                run.seqs.1 = seq;
                return;
            }
        }
        self.end_run();
        let run = Run {
            again,
            lines: (at, at),
            seqs: (seq, seq),
            after,
        };
        if self.first.is_none() {
            self.first = Some(run.message());
        }
        self.run = Some(run);
    }

    pub(super) fn violation(&mut self, at: u64, msg: String, skip: bool) {
        let msg = format!("delivered.log line {}: {msg}", thousands(at));
        if self.first.is_none() {
            self.first = Some(msg.clone());
        }
        if !skip {
            self.others.push(msg);
        }
    }

    pub(super) fn line(&mut self, line: &[u8], at: u64) {
        self.lines += 1;
        let Some(seq) = parse_line(line, self.times.len() as u64) else {
            self.end_run();
            self.altered += 1;
            let msg = altered(line, self.times.len() as u64);
            self.violation(at, msg, false);
            return;
        };
        let i = usize::try_from(seq).unwrap_or(usize::MAX);
        self.times[i] += 1;
        let expected = self.max.map_or(0, |m| m + 1);
        if self.times[i] > 1 || seq < expected {
            self.out_of_order(at, seq, self.times[i] > 1);
        } else if seq > expected {
            self.end_run();
            let msg = format!(
                "seq {seq} follows seq {}: {} not delivered before it",
                self.max.map_or_else(|| "nothing".into(), |m| m.to_string()),
                span(expected, seq - 1)
            );
            self.violation(at, msg, true);
        } else {
            self.end_run();
        }
        if seq < expected {
            self.backward += 1;
        }
        self.max = Some(self.max.map_or(seq, |m| m.max(seq)));
    }

    /// Seq ranges delivered `pred(times)`.
    pub(super) fn ranges(&self, pred: impl Fn(u32) -> bool) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (seq, &t) in self.times.iter().enumerate() {
            if !pred(t) {
                continue;
            }
            let seq = seq as u64;
            match out.last_mut() {
                Some(r) if r.1 + 1 == seq => r.1 = seq,
                _ => out.push((seq, seq)),
            }
        }
        out
    }

    pub(super) fn missing(&self) -> u64 {
        self.times.iter().filter(|&&t| t == 0).count() as u64
    }

    pub(super) fn duplicates(&self) -> u64 {
        self.times
            .iter()
            .map(|&t| u64::from(t.saturating_sub(1)))
            .sum()
    }

    pub(super) fn passed(&self) -> bool {
        self.first.is_none() && self.missing() == 0 && self.lines == self.times.len() as u64
    }
}

/// `seq 5` or `seqs 5..9`.
pub(super) fn span(first: u64, last: u64) -> String {
    if first == last {
        format!("seq {first}")
    } else {
        format!(
            "seqs {first}..{last} ({} lines)",
            thousands(last - first + 1)
        )
    }
}

/// What is wrong with a delivered line that is not exactly one the writer was given.
pub(super) fn altered(line: &[u8], lines: u64) -> String {
    let trimmed = line.trim_ascii_start();
    if trimmed.len() < line.len() && parse_line(trimmed, lines).is_some() {
        return format!(
            "{} byte(s) of white space added before the line: {}",
            line.len() - trimmed.len(),
            excerpt(line)
        );
    }
    let seq = line
        .get(APP.len() + 1..APP.len() + 10)
        .and_then(digits)
        .filter(|&s| s < lines);
    match seq {
        Some(seq) => {
            let mut expected = Vec::new();
            data_line(seq, &mut expected);
            let at = line
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(line.len().min(expected.len()));
            format!(
                "seq {seq} altered from byte {at}: delivered {} ({} bytes), written {} ({} bytes)",
                excerpt(&line[at..]),
                line.len(),
                excerpt(&expected[at..]),
                expected.len()
            )
        }
        None => format!("not a line the writer was given: {}", excerpt(line)),
    }
}

pub(super) fn check_delivery(paths: &Paths, lines: u64) -> Result<DeliveryCheck, String> {
    let f = File::open(&paths.delivered)
        .map_err(|e| format!("cannot open {}: {e}", paths.delivered.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, f);
    let mut check = DeliveryCheck::new(lines);
    let mut buf = Vec::new();
    let mut at = 0;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => {
                check.end_run();
                return Ok(check);
            }
            Ok(_) => {
                at += 1;
                let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
                check.line(text, at);
            }
            Err(e) => return Err(format!("reading {}: {e}", paths.delivered.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64) -> Vec<u8> {
        let mut v = Vec::new();
        data_line(seq, &mut v);
        v
    }

    fn deliver(lines: u64, seqs: &[u64]) -> DeliveryCheck {
        let mut c = DeliveryCheck::new(lines);
        for (i, &s) in seqs.iter().enumerate() {
            c.line(&line(s), i as u64 + 1);
        }
        c.end_run();
        c
    }

    #[test]
    fn in_order_once_passes() {
        let c = deliver(5, &[0, 1, 2, 3, 4]);
        assert!(c.passed());
        assert_eq!((c.missing(), c.duplicates(), c.backward), (0, 0, 0));
    }

    #[test]
    fn gaps_duplicates_and_reordering_are_found() {
        let c = deliver(6, &[0, 3, 4, 3, 1, 5]);
        assert!(!c.passed());
        assert_eq!(c.missing(), 1); // seq 2
        assert_eq!(c.duplicates(), 1); // seq 3
        assert_eq!(c.backward, 2); // the second 3, and 1
        assert_eq!(c.ranges(|t| t == 0), [(2, 2)]);
        let first = c.first.as_deref().unwrap();
        assert!(
            first.contains("line 2: seq 3 follows seq 0: seqs 1..2"),
            "{first}"
        );
        assert!(c.others.shown[0].contains("line 4: seq 3 delivered again"));
        assert!(c.others.shown[1].contains("line 5: seq 1 delivered late, after seq 4"));
        assert_eq!(c.others.count, 2, "skips are told by the missing ranges");
        // Consecutive duplicates are one entry.
        let c = deliver(4, &[0, 1, 2, 3, 1, 2, 3]);
        assert_eq!(c.duplicates(), 3);
        assert_eq!(c.others.count, 1);
        assert_eq!(
            c.first.as_deref(),
            Some("delivered.log line 5: seq 1 delivered again")
        );
        assert_eq!(
            c.others.shown[0],
            "delivered.log lines 5..7: seqs 1..3 (3 lines) delivered again"
        );
        assert!(!deliver(3, &[0, 1]).passed(), "a missing tail");
    }

    #[test]
    fn altered_bytes_are_described() {
        let mut spaced = b" ".to_vec();
        spaced.extend(line(4));
        assert!(altered(&spaced, 10).contains("white space added"));
        let mut changed = line(4);
        let n = changed.len();
        changed[n - 1] = b'#';
        assert!(altered(&changed, 10).contains(&format!("seq 4 altered from byte {}", n - 1)));
        assert!(altered(b"hello", 10).contains("not a line"));
        let mut c = DeliveryCheck::new(2);
        c.line(&changed[..], 1);
        assert_eq!(c.altered, 1);
    }
}
