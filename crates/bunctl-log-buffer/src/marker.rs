//! Marker lines: what the log subsystem itself says in a log file, and how a reader finds them.
//!
//! A marker is one whole line telling a reader about the file: lines dropped or lost at that
//! point, a line a crash cut short, the file reopened after someone moved it, archives deleted
//! for space, a rotation that failed or works again. Every writer builds its markers from
//! [`Marker`] and writes them with [`write_marker`], and every reader (the CLI, the crash
//! checker, the benchmarks' read-back) recognises them with [`marker_text`], so a marker's
//! wording lives here and nowhere else.
//!
//! A marker is written in the file's own [`LineFormat`], so a file stays parseable by the tools
//! that read that format:
//!
//! | format | a marker |
//! |---|---|
//! | [`LineFormat::Raw`] | `[bunctl-log] 3 lines dropped here: the writer was full` |
//! | [`LineFormat::Timestamped`] | `2026-11-27T01:23:45.123456Z [bunctl-log] 3 lines dropped here: ...` |
//! | [`LineFormat::Json`] | `{"log":"[bunctl-log] 3 lines dropped here: ...\n","stream":"bunctl-log","time":"..."}` |
//!
//! In JSON a marker has a `stream` of its own, [`MARKER_STREAM`], so a reader that selects
//! `stdout` or `stderr` never mistakes one for an app's line.
//!
//! ```
//! use bunctl_log_buffer::{marker_text, write_marker, LineFormat, Marker};
//! use std::time::SystemTime;
//!
//! let mut out = Vec::new();
//! write_marker(LineFormat::Json, &Marker::Dropped { lines: 3 }, SystemTime::now(), &mut out);
//! assert!(out.starts_with(b"{\"log\":\"[bunctl-log] 3 lines dropped here"));
//! assert_eq!(marker_text(&out), Some(&b"3 lines dropped here: the writer was full"[..]));
//! assert_eq!(Marker::dropped_lines(&out), Some(3));
//! ```

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use crate::format::{json_line, LineFormat, TimeCache, TIME_LEN};
use crate::parse::leading_time;

// The texts that two constants share, spelled once: `concat!` takes only literals.
macro_rules! prefix {
    () => {
        "[bunctl-log] "
    };
}
macro_rules! rotation_failed {
    () => {
        "rotation failed"
    };
}
macro_rules! rotation_resumed {
    () => {
        "rotation resumed"
    };
}
macro_rules! cut_short {
    () => {
        "the line above was cut short: the previous writer stopped in the middle of it"
    };
}

/// What every marker's text starts with.
pub const MARKER_PREFIX: &[u8] = prefix!().as_bytes();

/// The `stream` of a marker in a JSON file.
pub const MARKER_STREAM: &str = "bunctl-log";

/// Ends every piece of a split line but the last: the line continues on the next piece. Not a
/// line of its own, so not a [`Marker`].
pub const CONTINUATION_MARKER: &[u8] = b" [bunctl-log: line continues]";

const DROPPED: &str = " lines dropped here: the writer was full";
const LOST: &str = " lines lost here: the log file was not writable";

/// One marker line, before it is written in a file's format. Its [`Display`](fmt::Display) is
/// the text after [`MARKER_PREFIX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Marker<'a> {
    /// `N lines dropped here: the writer was full` (non-blocking writes found no room).
    Dropped {
        /// Lines dropped at this point.
        lines: u64,
    },
    /// `N lines lost here: the log file was not writable` (writes to the file failed).
    Lost {
        /// Lines lost at this point.
        lines: u64,
    },
    /// `the line above was cut short: the previous writer stopped in the middle of it`.
    CutShort,
    /// `reopened PATH: the live file was CHANGE by someone else; ...`.
    Reopened {
        /// The live file's path.
        path: &'a Path,
        /// What happened to it: "removed or renamed", ...
        change: &'a str,
    },
    /// `deleted the N oldest archives to make room: the disk was full`.
    ArchivesDeleted {
        /// Archives deleted.
        count: u64,
    },
    /// `rotation failed in DIR: cannot STEP: ERROR; writing goes on in FILE ...`.
    RotationFailed {
        /// The log directory.
        dir: &'a Path,
        /// The step refused: "rename app.log to ...".
        step: &'a str,
        /// The error's text.
        error: &'a str,
        /// The file name writing goes on in.
        writing: &'a str,
        /// Whether that file is past its size limit (the live file, not a fresh `.next`).
        past_limit: bool,
    },
    /// `the system went down while this file was open (no clean close recorded): lines
    /// written after the last sync may be missing here` (a writer found the record of an open
    /// file left by a writer of an earlier boot).
    SystemWentDown,
    /// `rotation resumed in DIR after N failed attempts`.
    RotationResumed {
        /// The log directory.
        dir: &'a Path,
        /// Failed attempts before this one worked.
        attempts: u64,
    },
}

/// The start of [`Marker::RotationFailed`]'s line, for readers looking for it.
pub const ROTATION_FAILED_MARKER: &[u8] = concat!(prefix!(), rotation_failed!()).as_bytes();

/// The start of [`Marker::RotationResumed`]'s line, for readers looking for it.
pub const ROTATION_RESUMED_MARKER: &[u8] = concat!(prefix!(), rotation_resumed!()).as_bytes();

/// [`Marker::CutShort`] as a raw-format line, with its `\n`.
pub const CUT_LINE_MARKER: &[u8] = concat!(prefix!(), cut_short!(), "\n").as_bytes();

impl fmt::Display for Marker<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Dropped { lines } => write!(f, "{lines}{DROPPED}"),
            Self::Lost { lines } => write!(f, "{lines}{LOST}"),
            Self::CutShort => f.write_str(cut_short!()),
            Self::Reopened { path, change } => write!(
                f,
                "reopened {}: the live file was {change} by someone else; lines written just \
                 before this went to the old file",
                path.display()
            ),
            Self::ArchivesDeleted { count } => write!(
                f,
                "deleted the {count} oldest archives to make room: the disk was full"
            ),
            Self::RotationFailed {
                dir,
                step,
                error,
                writing,
                past_limit,
            } => write!(
                f,
                concat!(
                    rotation_failed!(),
                    " in {}: cannot {step}: {error}; writing goes on in {writing}{} and the \
                     rotation is retried, so no line is lost"
                ),
                dir.display(),
                if past_limit { " past its limit" } else { "" },
                step = step,
                error = error,
                writing = writing,
            ),
            Self::SystemWentDown => f.write_str(
                "the system went down while this file was open (no clean close recorded): lines \
                 written after the last sync may be missing here",
            ),
            Self::RotationResumed { dir, attempts } => write!(
                f,
                concat!(
                    rotation_resumed!(),
                    " in {} after {attempts} failed attempts"
                ),
                dir.display(),
                attempts = attempts,
            ),
        }
    }
}

impl Marker<'_> {
    /// The line count of a [`Marker::Dropped`] line in any format, if `line` is one.
    pub fn dropped_lines(line: &[u8]) -> Option<u64> {
        count_before(marker_text(line)?, DROPPED)
    }

    /// The line count of a [`Marker::Lost`] line in any format, if `line` is one.
    pub fn lost_lines(line: &[u8]) -> Option<u64> {
        count_before(marker_text(line)?, LOST)
    }
}

fn count_before(text: &[u8], suffix: &str) -> Option<u64> {
    let digits = text.strip_suffix(suffix.as_bytes())?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Appends `marker` as one whole line in `format`, stamped `now` where the format has times.
/// A newline in a path or an error's text becomes a space, so the marker stays one line.
pub fn write_marker(format: LineFormat, marker: &Marker<'_>, now: SystemTime, out: &mut Vec<u8>) {
    let mut text = MARKER_PREFIX.to_vec();
    text.extend(
        marker
            .to_string()
            .bytes()
            .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
    );
    let mut cache = TimeCache::default();
    match format {
        LineFormat::Raw => {}
        LineFormat::Timestamped => {
            cache.write(now, out);
            out.push(b' ');
        }
        LineFormat::Json => return json_line(&text, true, MARKER_STREAM, now, &mut cache, out),
    }
    out.extend_from_slice(&text);
    out.push(b'\n');
}

/// [`write_marker`] into a new buffer.
pub fn marker_line(format: LineFormat, marker: &Marker<'_>, now: SystemTime) -> Vec<u8> {
    let mut out = Vec::new();
    write_marker(format, marker, now, &mut out);
    out
}

/// The bytes that complete `torn`, the start of a [`Marker::CutShort`] line in `format` that a
/// crash cut before its end (the last bytes of a file, after its last `\n`), if it is one.
///
/// A power cut can tear the marker a writer's recovery had just written after a cut line:
/// ending it with its own rest, rather than with a second marker after it, leaves one whole
/// marker. `torn` counts as a marker only past the [`MARKER_PREFIX`] (a line of the app's
/// that starts like one and was cut before that is cut short like any line). Its time is
/// its own; if the cut fell inside the time, the rest of it is `now`'s.
pub fn cut_short_rest(format: LineFormat, torn: &[u8], now: SystemTime) -> Option<Vec<u8>> {
    let whole = marker_line(format, &Marker::CutShort, now);
    if torn.len() >= whole.len() {
        return None;
    }
    let mut stamp = Vec::with_capacity(TIME_LEN);
    TimeCache::default().write(now, &mut stamp);
    let time = match format {
        LineFormat::Raw => 0..0,
        _ => {
            let at = memchr::memmem::rfind(&whole, &stamp)?;
            at..at + TIME_LEN
        }
    };
    let prefix_at = memchr::memmem::find(&whole, MARKER_PREFIX)?;
    if torn.len() < prefix_at + MARKER_PREFIX.len() {
        return None;
    }
    let alike = torn.iter().zip(&whole).enumerate().all(|(i, (t, w))| {
        if time.contains(&i) {
            t.is_ascii_digit() == w.is_ascii_digit() && (w.is_ascii_digit() || t == w)
        } else {
            t == w
        }
    });
    alike.then(|| whole[torn.len()..].to_vec())
}

/// If `line` (with or without its `\n`) is a marker in any of the formats, its text after
/// [`MARKER_PREFIX`], as stored (in JSON, still escaped).
pub fn marker_text(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if let Some(text) = line.strip_prefix(MARKER_PREFIX) {
        return Some(text);
    }
    if let Some(rest) = line.strip_prefix(b"{\"log\":\"".as_slice()) {
        let text = rest.strip_prefix(MARKER_PREFIX)?;
        // `"` is escaped inside `log`, so this separator can only be the end of the field.
        let tail = b"\\n\",\"stream\":\"bunctl-log\",\"time\":\"";
        let end = memchr::memmem::find(text, tail)?;
        return Some(&text[..end]);
    }
    let time = leading_time(line)?;
    line.get(time.len() + 1..)?.strip_prefix(MARKER_PREFIX)
}

/// Whether `line` is a marker in any of the formats.
pub fn is_marker(line: &[u8]) -> bool {
    marker_text(line).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn all_markers() -> Vec<Marker<'static>> {
        vec![
            Marker::Dropped { lines: 7 },
            Marker::Lost { lines: 2 },
            Marker::CutShort,
            Marker::Reopened {
                path: Path::new("/var/log/a \"b\".log"),
                change: "removed or renamed",
            },
            Marker::ArchivesDeleted { count: 3 },
            Marker::RotationFailed {
                dir: Path::new("/logs"),
                step: "rename a.log to a.1.log",
                error: "Operation not permitted\n(os error 1)",
                writing: "a.log",
                past_limit: true,
            },
            Marker::RotationResumed {
                dir: Path::new("/logs"),
                attempts: 4,
            },
            Marker::SystemWentDown,
        ]
    }

    #[test]
    fn every_marker_is_one_line_in_every_format_and_is_found_again() {
        let now = UNIX_EPOCH + Duration::from_micros(1_795_742_625_123_456);
        for format in [LineFormat::Raw, LineFormat::Timestamped, LineFormat::Json] {
            for m in all_markers() {
                let line = marker_line(format, &m, now);
                assert_eq!(
                    memchr::memchr_iter(b'\n', &line).count(),
                    1,
                    "{format:?} {m:?}"
                );
                assert!(line.ends_with(b"\n"));
                assert!(is_marker(&line), "{format:?} {m:?}");
                if format == LineFormat::Json {
                    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    assert_eq!(v["stream"], MARKER_STREAM);
                    assert_eq!(v["time"], "2026-11-27T01:23:45.123456Z");
                    let log = v["log"].as_str().unwrap();
                    assert!(
                        log.starts_with("[bunctl-log] ") && log.ends_with('\n'),
                        "{log}"
                    );
                } else {
                    let text = String::from_utf8(marker_text(&line).unwrap().to_vec()).unwrap();
                    assert_eq!(text, m.to_string().replace('\n', " "));
                }
            }
        }
    }

    #[test]
    fn counts_are_read_back_from_every_format() {
        let now = SystemTime::now();
        for format in [LineFormat::Raw, LineFormat::Timestamped, LineFormat::Json] {
            let d = marker_line(format, &Marker::Dropped { lines: 12 }, now);
            let l = marker_line(format, &Marker::Lost { lines: 5 }, now);
            assert_eq!(Marker::dropped_lines(&d), Some(12));
            assert_eq!(Marker::lost_lines(&d), None);
            assert_eq!(Marker::lost_lines(&l), Some(5));
        }
    }

    #[test]
    fn the_raw_constants_are_the_markers_texts() {
        let now = SystemTime::now();
        assert_eq!(
            marker_line(LineFormat::Raw, &Marker::CutShort, now),
            CUT_LINE_MARKER
        );
        let failed = Marker::RotationFailed {
            dir: Path::new("d"),
            step: "s",
            error: "e",
            writing: "w",
            past_limit: false,
        };
        assert!(marker_line(LineFormat::Raw, &failed, now).starts_with(ROTATION_FAILED_MARKER));
        let resumed = Marker::RotationResumed {
            dir: Path::new("d"),
            attempts: 1,
        };
        assert!(marker_line(LineFormat::Raw, &resumed, now).starts_with(ROTATION_RESUMED_MARKER));
    }

    #[test]
    fn app_lines_are_not_markers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_742_625);
        let mut cache = TimeCache::default();
        let mut json = Vec::new();
        // An app writing marker-like text on stdout stays an app line in JSON.
        crate::format_message(
            LineFormat::Json,
            b"[bunctl-log] 3 lines dropped here: the writer was full",
            "stdout",
            now,
            1024,
            &mut cache,
            &mut json,
        );
        assert!(!is_marker(&json));
        assert!(!is_marker(b"hello\n"));
        assert!(!is_marker(b"2026-11-27T01:23:45.123456Z hello\n"));
        assert!(!is_marker(b""));
    }

    #[test]
    fn a_torn_cut_short_marker_is_completed_not_marked_again() {
        let then = UNIX_EPOCH + Duration::from_micros(1_764_000_000_123_456);
        let now = then + Duration::from_secs(3_600);
        for format in [LineFormat::Raw, LineFormat::Timestamped, LineFormat::Json] {
            let line = marker_line(format, &Marker::CutShort, then);
            let prefix_end =
                memchr::memmem::find(&line, MARKER_PREFIX).unwrap() + MARKER_PREFIX.len();
            for cut in 0..line.len() {
                let torn = &line[..cut];
                let rest = cut_short_rest(format, torn, now);
                if cut < prefix_end {
                    assert_eq!(rest, None, "{format:?} cut at {cut}");
                    continue;
                }
                let rest = rest.unwrap_or_else(|| panic!("{format:?} cut at {cut}"));
                let mended = [torn, &rest].concat();
                assert_eq!(mended.len(), line.len(), "{format:?} cut at {cut}");
                assert!(mended.ends_with(b"\n"));
                let text = marker_text(&mended).unwrap();
                assert!(
                    text.starts_with(b"the line above was cut short"),
                    "{format:?} {cut}"
                );
                // Cut past the time (always, but in JSON, whose time is last): the mended line
                // is the one that was being written.
                if format != LineFormat::Json || cut >= line.len() - 3 {
                    assert_eq!(mended, line, "{format:?} cut at {cut}");
                }
            }
        }
        // A line of the app's that is not a marker, cut anywhere, is not taken for one.
        assert_eq!(
            cut_short_rest(LineFormat::Raw, b"[bunctl-log] the lime", now),
            None
        );
        assert_eq!(cut_short_rest(LineFormat::Raw, b"hello", now), None);
        let whole = marker_line(LineFormat::Raw, &Marker::CutShort, now);
        assert_eq!(cut_short_rest(LineFormat::Raw, &whole, now), None);
    }
}
