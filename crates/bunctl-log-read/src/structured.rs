//! An app's last lines, stdout apart from stderr, however they were written.
//!
//! An app's output reaches its files in one of three ways, and all three are read back the
//! same way:
//!
//! * **separate files**: stdout in `<app>.log`, stderr in `<app>.err.log` (and their archives):
//!   every line of the stderr files is stderr;
//! * **merged**: both streams in `<app>.log`, each line saying which (a `[stderr] ` tag, or the
//!   `stream` field of a JSON line): see [`StreamTags::origin`];
//! * **bunctl's daemon**: plain lines written as `[app] [time] [stderr] text`, read the same
//!   way.
//!
//! A line that says nothing is stdout.
//!
//! **What "the last N" means.** The last `n` lines of the app as a whole, then split: both
//! lists together hold at most `n` lines, each in the order it was written. When the streams
//! are in separate files, the last `n` lines of each are merged by their times (timestamped or
//! JSON lines; a marker line without one takes the time of the line before it) and the newest
//! `n` kept. Lines without times (the raw format) cannot be interleaved across two files: then
//! each list holds the last `n` lines of its own files.

use std::path::Path;

use bunctl_log_fs::Filesystem;

use crate::error::Result;
use crate::last::last_lines;
use crate::line::{line_time, Origin, Stamp, StreamTags};

/// An app's lines, split by stream (each without its `\n`, oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByStream {
    /// Lines from standard error.
    pub stderr: Vec<Vec<u8>>,
    /// Lines from standard output (and lines that do not say).
    pub stdout: Vec<Vec<u8>>,
}

/// The last `n` lines of an app whose live files are `live` (stdout, or both streams merged)
/// and `stderr_live` (stderr kept apart), split by stream (see the [module docs](self)).
///
/// # Errors
/// If a file cannot be listed or read. An app without files has no lines.
pub fn last_by_stream(
    fs: &dyn Filesystem,
    live: &Path,
    stderr_live: &Path,
    n: usize,
    tags: &StreamTags<'_>,
) -> Result<ByStream> {
    let main = last_lines(fs, live, n)?;
    let errors = last_lines(fs, stderr_live, n)?;
    Ok(split(main, errors, n, tags))
}

/// Splits the last lines of the main files (`main`) and of the stderr files (`errors`), at most
/// `n` of each, into the last `n` by stream.
pub fn split(
    main: Vec<Vec<u8>>,
    errors: Vec<Vec<u8>>,
    n: usize,
    tags: &StreamTags<'_>,
) -> ByStream {
    let origin = |line: &[u8]| tags.origin(line).unwrap_or(Origin::Stdout);
    let mut out = ByStream::default();
    let mut put = |origin: Origin, line: Vec<u8>| match origin {
        Origin::Stderr => out.stderr.push(line),
        Origin::Stdout => out.stdout.push(line),
    };
    match (times(&main), times(&errors)) {
        _ if errors.is_empty() || main.is_empty() => {
            for line in main {
                put(origin(&line), line);
            }
            for line in errors {
                put(Origin::Stderr, line);
            }
        }
        (Some(main_times), Some(error_times)) => {
            // Merge by time (each file's order kept), then the newest n.
            let mut all: Vec<(Stamp, Origin, Vec<u8>)> =
                Vec::with_capacity(main.len() + errors.len());
            let mut main = main.into_iter().zip(main_times).peekable();
            let mut errors = errors.into_iter().zip(error_times).peekable();
            loop {
                let take_main = match (main.peek(), errors.peek()) {
                    (Some((_, a)), Some((_, b))) => a <= b,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                let (line, t, o) = if take_main {
                    match main.next() {
                        Some((line, t)) => {
                            let o = origin(&line);
                            (line, t, o)
                        }
                        None => break,
                    }
                } else {
                    match errors.next() {
                        Some((line, t)) => (line, t, Origin::Stderr),
                        None => break,
                    }
                };
                all.push((t, o, line));
            }
            let skip = all.len().saturating_sub(n);
            for (_, o, line) in all.into_iter().skip(skip) {
                put(o, line);
            }
        }
        // No times to interleave by: each stream's own last lines.
        _ => {
            for line in main {
                put(origin(&line), line);
            }
            for line in errors {
                put(Origin::Stderr, line);
            }
        }
    }
    out
}

/// The time of each line, a line without one taking the time of the line before it (the first
/// ones, that of the first line with a time); `None` if no line has a time.
fn times(lines: &[Vec<u8>]) -> Option<Vec<Stamp>> {
    let own: Vec<Option<Stamp>> = lines.iter().map(|l| line_time(l)).collect();
    let first = own.iter().flatten().next().copied()?;
    let mut current = first;
    Some(
        own.into_iter()
            .map(|t| {
                if let Some(t) = t {
                    current = t;
                }
                current
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAGS: StreamTags<'static> = StreamTags {
        stdout: b"[stdout] ",
        stderr: b"[stderr] ",
    };

    fn lines(text: &[&str]) -> Vec<Vec<u8>> {
        text.iter().map(|l| l.as_bytes().to_vec()).collect()
    }

    #[test]
    fn one_file_is_split_by_tags() {
        let got = split(
            lines(&["[stdout] a", "[stderr] b", "c", "[web] [t] [stderr] d"]),
            vec![],
            4,
            &TAGS,
        );
        assert_eq!(got.stdout, lines(&["[stdout] a", "c"]));
        assert_eq!(got.stderr, lines(&["[stderr] b", "[web] [t] [stderr] d"]));
    }

    #[test]
    fn separate_timed_files_interleave_and_keep_the_newest_n() {
        let t = |s: u32, text: &str| format!("2026-11-27T01:00:{s:02}.000000Z {text}");
        let main = [
            t(1, "o1"),
            t(3, "o3"),
            "[bunctl-log] marker".into(),
            t(6, "o6"),
        ];
        let errs = [t(2, "e2"), t(4, "e4"), t(5, "e5")];
        let main: Vec<&str> = main.iter().map(String::as_str).collect();
        let errs: Vec<&str> = errs.iter().map(String::as_str).collect();
        let got = split(lines(&main), lines(&errs), 4, &TAGS);
        // Newest 4 overall: o3's marker (03), e4, e5, o6.
        assert_eq!(got.stdout, lines(&["[bunctl-log] marker", &t(6, "o6")]));
        assert_eq!(got.stderr, lines(&[&t(4, "e4"), &t(5, "e5")]));
        let got = split(lines(&main), lines(&errs), 100, &TAGS);
        assert_eq!(got.stdout.len() + got.stderr.len(), 7);
    }

    #[test]
    fn separate_untimed_files_keep_n_each() {
        let got = split(lines(&["a", "b"]), lines(&["x", "y"]), 2, &TAGS);
        assert_eq!(got.stdout, lines(&["a", "b"]));
        assert_eq!(got.stderr, lines(&["x", "y"]));
    }
}
