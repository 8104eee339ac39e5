//! Writing one batch through the sink, and what a failed write costs: which lines are in the
//! file, which are lost, and the marker that says so.
//!
//! A write that fails part way leaves the file in the middle of a line. The rest of that line
//! is kept ([`Losses::torn_rest`]) and written first when the file takes writes again, so the
//! line ends whole (a JSON file stays one object per line) and is not lost. Lines the file
//! could not take are counted, and a [`Marker::Lost`] line, in the file's format, says how many
//! at the point where they are missing.

use std::io;
use std::time::SystemTime;

use bunctl_log_buffer::{ends_in_piece, write_marker, LineFormat, Marker};
use bunctl_log_channel::Batch;
use bunctl_log_sink::Sink;

/// What the file is missing: lines lost since the last marker, and the end of a line a failed
/// write cut.
#[derive(Debug, Default)]
pub(crate) struct Losses {
    /// Lines lost to write errors since the last [`Marker::Lost`] made it into the file.
    lost_since_marker: u64,
    /// The unwritten end of the line a failed write cut (empty: the file is at a line
    /// boundary), with its `\n`.
    torn_rest: Vec<u8>,
    /// Whether that line is a producer's (not a drop marker): it counts once written, or lost.
    torn_is_line: bool,
    /// The lines a loss marker cut by a failure reports: they are reported again if its rest
    /// is never written.
    torn_marker_lines: u64,
    /// A failed write stopped right after a piece of a split line: the rest of that line is
    /// lost, so a cut-short marker comes before anything else (a reader joining pieces must
    /// not join the next line to it).
    after_piece: bool,
}

/// What writing one batch came to.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Producer lines now in the file (a torn line finished included).
    pub(crate) lines_done: u64,
    /// Producer lines of this batch lost (a torn line whose end is kept is not).
    pub(crate) lines_lost: u64,
    /// The first error met.
    pub(crate) error: Option<io::Error>,
}

impl Losses {
    /// Writes `batch` after whatever the file is missing (the end of a torn line, then the
    /// loss marker); if those cannot be written, the batch is not tried and is lost.
    pub(crate) fn write_batch(
        &mut self,
        sink: &mut dyn Sink,
        format: LineFormat,
        batch: &Batch,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        if let Err(e) = self.catch_up(sink, format, &mut outcome) {
            outcome.lines_lost = batch.lines;
            self.lost_since_marker += batch.lines;
            outcome.error = Some(e);
            return outcome;
        }
        match sink.write_all(&batch.bytes) {
            Ok(()) => {
                outcome.lines_done += batch.lines;
                // Hands buffered data to the OS (a no-op for files) and counts the flush.
                if let Err(e) = sink.flush() {
                    outcome.error = Some(e);
                }
            }
            Err(partial) => {
                let (done, rest) = batch.bytes.split_at(partial.written.min(batch.bytes.len()));
                let whole = count_producer_lines(done);
                outcome.lines_done += whole;
                let mut pending = 0;
                let tail = &done[done.len().saturating_sub(64 << 10)..];
                self.after_piece = ends_in_piece(format, tail);
                if done.last().is_some_and(|&b| b != b'\n') {
                    let start = memchr::memrchr(b'\n', done).map_or(0, |i| i + 1);
                    let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
                    let line = &batch.bytes[start..done.len() + end];
                    self.torn_rest = rest[..end].to_vec();
                    self.torn_is_line = Marker::dropped_lines(line).is_none();
                    pending = u64::from(self.torn_is_line);
                }
                let lost = batch.lines.saturating_sub(whole + pending);
                outcome.lines_lost = lost;
                self.lost_since_marker += lost;
                outcome.error = Some(partial.error);
            }
        }
        outcome
    }

    /// At the end: the last of what the file is missing. A torn line whose end cannot be
    /// written is lost (counted in the returned outcome), and the marker starts on a line of
    /// its own.
    pub(crate) fn write_last(&mut self, sink: &mut dyn Sink, format: LineFormat) -> Outcome {
        let mut outcome = Outcome::default();
        // A breaker opened by earlier failures must not keep the last marker out of a file
        // that takes writes again.
        sink.before_close();
        if let Err(e) = self.catch_up(sink, format, &mut outcome) {
            outcome.error = Some(e);
        }
        if !self.torn_rest.is_empty() {
            self.torn_rest = Vec::new();
            if std::mem::take(&mut self.torn_is_line) {
                outcome.lines_lost += 1;
                self.lost_since_marker += 1;
            }
            // A loss marker never finished: the new one reports its lines too.
            self.lost_since_marker += std::mem::take(&mut self.torn_marker_lines);
            let mut marker = b"\n".to_vec();
            write_marker(
                format,
                &Marker::Lost {
                    lines: self.lost_since_marker,
                },
                SystemTime::now(),
                &mut marker,
            );
            if sink.write_all(&marker).is_ok() {
                self.lost_since_marker = 0;
            }
        }
        outcome
    }

    /// Producer lines a failed write cut whose rest is still to be written (0 or 1): neither
    /// written nor lost yet.
    pub(crate) fn torn_lines(&self) -> u64 {
        u64::from(self.torn_is_line && !self.torn_rest.is_empty())
    }

    /// Writes the end of a torn line, then the loss marker, if due.
    fn catch_up(
        &mut self,
        sink: &mut dyn Sink,
        format: LineFormat,
        outcome: &mut Outcome,
    ) -> io::Result<()> {
        if !self.torn_rest.is_empty() {
            if let Err(partial) = sink.write_all(&self.torn_rest) {
                self.torn_rest
                    .drain(..partial.written.min(self.torn_rest.len()));
                return Err(partial.error);
            }
            self.torn_rest = Vec::new();
            self.torn_marker_lines = 0;
            if std::mem::take(&mut self.torn_is_line) {
                outcome.lines_done += 1;
            }
        }
        if self.lost_since_marker > 0 {
            let mut marker = Vec::new();
            if self.after_piece {
                write_marker(format, &Marker::CutShort, SystemTime::now(), &mut marker);
            }
            let lost = Marker::Lost {
                lines: self.lost_since_marker,
            };
            write_marker(format, &lost, SystemTime::now(), &mut marker);
            if let Err(partial) = sink.write_all(&marker) {
                if partial.written > 0 {
                    // Its rest is written first next time, and it reports these lines.
                    self.torn_rest = marker[partial.written..].to_vec();
                    self.torn_is_line = false;
                    self.torn_marker_lines = self.lost_since_marker;
                    self.lost_since_marker = 0;
                    self.after_piece = false;
                }
                return Err(partial.error);
            }
            self.lost_since_marker = 0;
            self.after_piece = false;
        }
        Ok(())
    }
}

/// Producer lines in a written prefix: its newlines, less the channel's drop markers.
fn count_producer_lines(done: &[u8]) -> u64 {
    let mut count = 0;
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', done) {
        if Marker::dropped_lines(&done[start..=nl]).is_none() {
            count += 1;
        }
        start = nl + 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_buffer::{format_message, is_marker, TimeCache};

    /// Takes `budget` bytes, then fails until given more.
    #[derive(Default)]
    struct Budget {
        data: Vec<u8>,
        budget: usize,
    }

    impl Sink for Budget {
        fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::Error::other("no room"));
            }
            let n = batch.len().min(self.budget);
            self.budget -= n;
            self.data.extend_from_slice(&batch[..n]);
            Ok(n)
        }
    }

    fn json_batch(lines: &[&str]) -> Batch {
        let mut bytes = Vec::new();
        let mut cache = TimeCache::default();
        for l in lines {
            let now = SystemTime::now();
            format_message(
                LineFormat::Json,
                l.as_bytes(),
                "stdout",
                now,
                1 << 20,
                &mut cache,
                &mut bytes,
            );
        }
        Batch {
            bytes,
            lines: lines.len() as u64,
            generation: 0,
        }
    }

    #[test]
    fn a_line_cut_by_a_failed_write_is_finished_and_counted_once_the_file_takes_writes() {
        let mut sink = Budget {
            budget: 80,
            ..Budget::default()
        };
        let mut losses = Losses::default();
        let first = json_batch(&["alpha", "beta", "gamma"]);
        let out = losses.write_batch(&mut sink, LineFormat::Json, &first);
        // The first line (73 bytes) fits, the second is cut, the third is lost.
        assert_eq!((out.lines_done, out.lines_lost), (1, 1));
        assert!(out.error.is_some());
        sink.budget = usize::MAX;
        let out = losses.write_batch(&mut sink, LineFormat::Json, &json_batch(&["delta"]));
        assert_eq!((out.lines_done, out.lines_lost), (2, 0));
        let text = String::from_utf8(sink.data).unwrap();
        let logs: Vec<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect(l);
                v["log"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(
            logs,
            [
                "alpha\n",
                "beta\n",
                "[bunctl-log] 1 lines lost here: the log file was not writable\n",
                "delta\n"
            ]
        );
    }

    #[test]
    fn a_torn_line_never_finished_is_lost_and_the_marker_starts_its_own_line() {
        let mut sink = Budget {
            budget: 3,
            ..Budget::default()
        };
        let mut losses = Losses::default();
        let batch = Batch {
            bytes: b"hello\nworld\n".to_vec(),
            lines: 2,
            generation: 0,
        };
        let out = losses.write_batch(&mut sink, LineFormat::Raw, &batch);
        assert_eq!((out.lines_done, out.lines_lost), (0, 1));
        let out = losses.write_last(&mut sink, LineFormat::Raw);
        assert_eq!(out.lines_lost, 1, "the torn line is lost at the end");
        sink.budget = usize::MAX;
        // The file refused the marker too: nothing more is written, nothing panics.
        assert_eq!(sink.data, b"hel");
        let mut sink = Budget {
            budget: 3,
            ..Budget::default()
        };
        let mut losses = Losses::default();
        losses.write_batch(&mut sink, LineFormat::Raw, &batch);
        // Room for the rest of "hello\n" but not the marker, then for everything.
        sink.budget = 3;
        assert_eq!(losses.write_last(&mut sink, LineFormat::Raw).lines_done, 1);
        sink.budget = usize::MAX;
        losses.write_last(&mut sink, LineFormat::Raw);
        assert!(text_of(&sink).starts_with("hello\n[bunctl-log] 1 lines lost here"));
        let text = text_of(&sink);
        let last = text.lines().last().unwrap();
        assert!(is_marker(last.as_bytes()), "{text:?}");
    }

    fn text_of(sink: &Budget) -> String {
        String::from_utf8(sink.data.clone()).unwrap()
    }

    #[test]
    fn a_loss_marker_cut_by_a_failure_is_finished_and_its_lines_are_not_reported_twice() {
        let mut sink = Budget::default();
        let mut losses = Losses::default();
        let batch = |bytes: &[u8], lines| Batch {
            bytes: bytes.to_vec(),
            lines,
            generation: 0,
        };
        // Nothing fits: 2 lines lost.
        losses.write_batch(&mut sink, LineFormat::Raw, &batch(b"a\nb\n", 2));
        // Room for 10 bytes of the marker only: the marker is cut, the batch lost (3 more).
        sink.budget = 10;
        let out = losses.write_batch(&mut sink, LineFormat::Raw, &batch(b"c\nd\ne\n", 3));
        assert_eq!(out.lines_lost, 3);
        sink.budget = usize::MAX;
        losses.write_batch(&mut sink, LineFormat::Raw, &batch(b"f\n", 1));
        let text = text_of(&sink);
        let counts: Vec<u64> = text
            .lines()
            .filter_map(|l| Marker::lost_lines(l.as_bytes()))
            .collect();
        assert_eq!(counts, [2, 3], "{text:?}");
        assert!(text.ends_with("f\n"));
    }

    #[test]
    fn the_rest_of_a_split_line_lost_after_a_piece_gets_the_cut_short_marker() {
        // The write stops right after the first piece: the next pieces are lost, and a reader
        // joining pieces must not join the loss marker or the next line to it.
        let piece = [&b"abcd"[..], bunctl_log_buffer::CONTINUATION_MARKER, b"\n"].concat();
        let bytes = [&piece[..], b"efgh\n"].concat();
        let mut sink = Budget {
            budget: piece.len(),
            ..Budget::default()
        };
        let mut losses = Losses::default();
        let batch = Batch {
            bytes,
            lines: 2,
            generation: 0,
        };
        losses.write_batch(&mut sink, LineFormat::Raw, &batch);
        sink.budget = usize::MAX;
        let next = Batch {
            bytes: b"next\n".to_vec(),
            lines: 1,
            generation: 0,
        };
        losses.write_batch(&mut sink, LineFormat::Raw, &next);
        let text = text_of(&sink);
        let lines: Vec<&str> = text.lines().collect();
        assert!(Marker::dropped_lines(lines[1].as_bytes()).is_none());
        assert!(lines[1].contains("cut short"), "{text:?}");
        assert!(
            Marker::lost_lines(lines[2].as_bytes()).is_some(),
            "{text:?}"
        );
        assert_eq!(lines[3], "next");
    }

    #[test]
    fn drop_markers_in_a_batch_are_not_counted_as_lines() {
        let mut bytes = b"a\n".to_vec();
        write_marker(
            LineFormat::Timestamped,
            &Marker::Dropped { lines: 4 },
            SystemTime::now(),
            &mut bytes,
        );
        bytes.extend_from_slice(b"b\n");
        assert_eq!(count_producer_lines(&bytes), 2);
    }
}
