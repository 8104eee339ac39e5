//! `tail --since TIME [--until TIME]`: the lines of timestamped and JSON logs written in a
//! time range, oldest first, across rotated files, opening only the files that can hold them.
//!
//! Each line's time is read from the line: the 27-byte UTC time in front of a timestamped line
//! (`2026-11-27T01:23:45.123456Z hello`), the `time` field of a JSON line. Times in that shape
//! sort as text, so lines are compared as bytes, without parsing dates. A line without a time
//! (a `[bunctl-log] ...` marker) goes with the line before it in its file.
//!
//! **Which files are opened.** An archive is named after the time its content started
//! (`NAME.<YYYYMMDDTHHMMSSZ>-<seq>.log[.gz]`, to the second) and holds lines up to the time the
//! next file started, so an archive whose successor started before `--since` is not opened.
//! The other end needs care, because a name's time is not always the time of the archive's
//! first line: the time of a line is when it was *accepted*, and it is written a moment later,
//! possibly after a rotation, into a file named after that rotation; and a live file that a
//! restarted writer found and appended to is named after its modification time at the
//! restart, later than its first lines. What does hold is that every line of archive `k` was
//! accepted after archive `k-1` started, less the time the line waited in the writer's buffer.
//! So an archive is skipped when the archive *before* it started more than [`BUFFERED_LAG`]
//! after `--until`: at most one archive more than the names alone would say is opened at that
//! end, and no line is missed for it. The live file holds lines from its creation on (its birth
//! time where the filesystem records one, else the newest archive's name) to now.

use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use bunctl_log_rotation::ArchiveNaming;
use bunctl_logging::StdFs;
use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};

/// Longest a line is assumed to wait between being accepted (its time) and being written: the
/// margin by which a file may hold lines older than the file before it says. A writer writes
/// within its flush interval (100 ms) unless its disk stalls; a line that waited longer (a
/// disk hung for minutes) in an archive just past `--until` could be missed.
pub const BUFFERED_LAG: Duration = Duration::seconds(60);

/// A time as lines have it: `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`, which sorts as text.
type Stamp = [u8; 27];

/// The stamp of `t`, to the microsecond below, within the years 0001-9999.
fn stamp(t: DateTime<Utc>) -> Stamp {
    let t = t.clamp(first_time(), last_time());
    let text = t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut s = [b'0'; 27];
    if text.len() == s.len() {
        s.copy_from_slice(text.as_bytes());
    }
    s
}

fn first_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn last_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first stamp at or after `t` (a `t` with nanoseconds rounds up).
fn stamp_at_or_after(t: DateTime<Utc>) -> Stamp {
    let sub_micro = i64::from(t.timestamp_subsec_nanos() % 1000);
    let up = if sub_micro == 0 {
        t
    } else {
        t + Duration::nanoseconds(1000 - sub_micro)
    };
    stamp(up)
}

/// `--since` and `--until`: RFC 3339 (`2026-11-27T01:23:45Z`, `2026-11-27T02:23:45+01:00`,
/// fractions of a second allowed), or a time that long before now: a whole number and `s`,
/// `m`, `h`, `d` or `w` (`30s`, `10m`, `2h`, `3d`, `1w`).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time_at(s, Utc::now())
}

fn parse_time_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Some((digits, unit)) = t
        .char_indices()
        .last()
        .map(|(i, unit)| (&t[..i], unit))
        .filter(|(digits, _)| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
    {
        let seconds_per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad_time()),
        };
        let ago = digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(seconds_per))
            .and_then(Duration::try_seconds)
            .and_then(|d| now.checked_sub_signed(d))
            .ok_or("that is too long ago")?;
        return Ok(ago.max(first_time()));
    }
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad_time())
}

fn bad_time() -> String {
    "use an RFC 3339 time (2026-11-27T01:23:45Z) or how long before now (30s, 10m, 2h, 3d, 1w)"
        .into()
}

/// The time of a timestamped or JSON line, if it has one.
fn line_time(line: &[u8]) -> Option<Stamp> {
    if line.first() == Some(&b'{') {
        return json_time(line);
    }
    let stamp: Stamp = line.get(..27)?.try_into().ok()?;
    let ends = line.get(27).is_none_or(|&b| b == b' ' || b == b'\n');
    (ends && is_stamp(&stamp)).then_some(stamp)
}

/// Whether `s` has the shape `DDDD-DD-DDTDD:DD:DD.DDDDDDZ`.
fn is_stamp(s: &Stamp) -> bool {
    s.iter().enumerate().all(|(i, &b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        19 => b == b'.',
        26 => b == b'Z',
        _ => b.is_ascii_digit(),
    })
}

/// The `time` field of a JSON line. Inside a JSON string every `"` is escaped, so the text
/// `,"time":"` occurs only where a `time` field starts. Times in another shape (Docker's own
/// files have nanoseconds) are parsed as RFC 3339.
fn json_time(line: &[u8]) -> Option<Stamp> {
    const FIELD: &[u8] = b",\"time\":\"";
    let start = line.windows(FIELD.len()).rposition(|w| w == FIELD)? + FIELD.len();
    let rest = &line[start..];
    let value = &rest[..rest.iter().position(|&b| b == b'"')?];
    if let Ok(s) = Stamp::try_from(value) {
        if is_stamp(&s) {
            return Some(s);
        }
    }
    let text = std::str::from_utf8(value).ok()?;
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    Some(stamp(t.with_timezone(&Utc)))
}

/// One file of the logs and the times it can hold lines of.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    path: PathBuf,
    /// Its lines were accepted at or after this (`None`: unknown).
    from: Option<DateTime<Utc>>,
    /// Its lines were accepted before this (`None`: up to now).
    before: Option<DateTime<Utc>>,
}

impl Span {
    /// Whether the file can hold a line in `since..=until`.
    fn may_hold(&self, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
        let ends_before = matches!((self.before, since), (Some(b), Some(s)) if b <= s);
        let starts_after = matches!((self.from, until), (Some(f), Some(u)) if f > u);
        !(ends_before || starts_after)
    }
}

/// The spans of the archives (name times `starts`, oldest first) and of the live file
/// (`live`: its path and birth time, if it exists and the time is known).
fn spans(
    archives: &[(PathBuf, DateTime<Utc>)],
    live: Option<(PathBuf, Option<DateTime<Utc>>)>,
) -> Vec<Span> {
    // Names are to the second, rounded down.
    let second = Duration::seconds(1);
    let live_born = live.as_ref().and_then(|(_, born)| *born);
    let mut spans: Vec<Span> = archives
        .iter()
        .enumerate()
        .map(|(i, (path, _))| Span {
            path: path.clone(),
            from: i.checked_sub(1).map(|prev| archives[prev].1 - BUFFERED_LAG),
            before: match archives.get(i + 1) {
                Some((_, next)) => Some(*next + second),
                None => live_born.map(|b| b + second),
            },
        })
        .collect();
    if let Some((path, born)) = live {
        let from = born.or(archives.last().map(|(_, t)| *t));
        spans.push(Span {
            path,
            from: from.map(|t| t - BUFFERED_LAG),
            before: None,
        });
    }
    spans
}

/// Prints the lines of `live`'s logs whose time is in `since..=until`, oldest first; returns
/// how many. Files that cannot hold such lines are not opened.
///
/// # Errors
/// If a file cannot be read, or if the logs have lines but none with a time (raw format).
pub fn print(
    live: &Path,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    out: &mut impl Write,
) -> Result<u64, Box<dyn std::error::Error>> {
    let naming = ArchiveNaming::new(live)?;
    let archives: Vec<(PathBuf, DateTime<Utc>)> = naming
        .scan(&StdFs)?
        .archives
        .into_iter()
        .filter_map(|a| {
            let name = a.path.file_name()?.to_str()?;
            let started = naming.parse(name)?.started_at()?;
            Some((a.path, started))
        })
        .collect();
    let live_file = match std::fs::metadata(live) {
        Ok(m) => Some((
            live.to_path_buf(),
            m.created().ok().map(DateTime::<Utc>::from),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{}: {e}", live.display()).into()),
    };
    let (from, to) = (since.map(stamp_at_or_after), until.map(stamp));
    let mut totals = Counts::default();
    for span in spans(&archives, live_file) {
        if !span.may_hold(since, until) {
            continue;
        }
        let Some(read) = crate::read::open_existing(&span.path)? else {
            continue; // removed since the listing (retention, or the live file rotated)
        };
        let counts = filter(BufReader::new(read), from, to, out)?;
        if counts.lines > 0 && counts.timed == 0 {
            eprintln!(
                "bunctl-log: {}: no line has a time (raw format?): skipped",
                span.path.display()
            );
        }
        totals.add(counts);
    }
    out.flush()?;
    if totals.lines > 0 && totals.timed == 0 {
        return Err(format!(
            "the lines of {} have no times: they were written with --format raw; --since and \
             --until read logs written with --format timestamped or json",
            live.display()
        )
        .into());
    }
    Ok(totals.printed)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    lines: u64,
    timed: u64,
    printed: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.lines += o.lines;
        self.timed += o.timed;
        self.printed += o.printed;
    }
}

/// Copies the lines of `read` whose time is in `from..=to` to `out`; a line without a time
/// goes with the line before it (lines before the first time are left out).
fn filter(
    mut read: impl BufRead,
    from: Option<Stamp>,
    to: Option<Stamp>,
    out: &mut impl Write,
) -> io::Result<Counts> {
    let mut counts = Counts::default();
    let mut line = Vec::new();
    let mut current: Option<Stamp> = None;
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line)? == 0 {
            return Ok(counts);
        }
        counts.lines += 1;
        if let Some(t) = line_time(&line) {
            counts.timed += 1;
            current = Some(t);
        }
        let Some(t) = current else { continue };
        if from.is_none_or(|f| t >= f) && to.is_none_or(|u| t <= u) {
            out.write_all(&line)?;
            if line.last() != Some(&b'\n') {
                out.write_all(b"\n")?;
            }
            counts.printed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn times_on_the_command_line() {
        let now = at("2026-11-27T12:00:00Z");
        for (text, want) in [
            ("30s", "2026-11-27T11:59:30Z"),
            ("10m", "2026-11-27T11:50:00Z"),
            ("2h", "2026-11-27T10:00:00Z"),
            ("3d", "2026-11-24T12:00:00Z"),
            ("1w", "2026-11-20T12:00:00Z"),
            ("0s", "2026-11-27T12:00:00Z"),
            ("2026-11-27T01:23:45Z", "2026-11-27T01:23:45Z"),
            ("2026-11-27T02:23:45.5+01:00", "2026-11-27T01:23:45.5Z"),
        ] {
            assert_eq!(parse_time_at(text, now), Ok(at(want)), "{text}");
        }
        for bad in [
            "",
            "m",
            "10",
            "10y",
            "-1h",
            "1.5h",
            "yesterday",
            "2026-11-27",
        ] {
            assert!(parse_time_at(bad, now).is_err(), "{bad}");
        }
        assert!(parse_time_at("99999999999999w", now).is_err());
        // Far back, but not before year 1.
        assert_eq!(parse_time_at("999999d", now), Ok(first_time()));
    }

    #[test]
    fn stamps_sort_as_text_and_round_as_asked() {
        let t = at("2026-11-27T01:23:45.1234567Z");
        assert_eq!(&stamp(t), b"2026-11-27T01:23:45.123456Z");
        assert_eq!(&stamp_at_or_after(t), b"2026-11-27T01:23:45.123457Z");
        let whole = at("2026-11-27T01:23:45Z");
        assert_eq!(&stamp_at_or_after(whole), b"2026-11-27T01:23:45.000000Z");
        assert!(stamp(at("2026-11-27T09:00:00Z")) < stamp(at("2026-11-27T10:00:00Z")));
    }

    #[test]
    fn times_in_lines() {
        let t = *b"2026-11-27T01:23:45.123456Z";
        assert_eq!(line_time(b"2026-11-27T01:23:45.123456Z hello\n"), Some(t));
        assert_eq!(line_time(b"2026-11-27T01:23:45.123456Z \n"), Some(t));
        assert_eq!(line_time(b"2026-11-27T01:23:45.123456Z"), Some(t));
        assert_eq!(line_time(b"2026-11-27T01:23:45.123456Zhello"), None);
        assert_eq!(line_time(b"[bunctl-log] 3 lines dropped here\n"), None);
        assert_eq!(line_time(b"hello\n"), None);
        assert_eq!(
            line_time(
                b"{\"log\":\"a \\\",\\\"time\\\":\\\"x\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-27T01:23:45.123456Z\"}\n"
            ),
            Some(t)
        );
        assert_eq!(
            line_time(
                b"{\"log\":\"\xef\xbf\xbd\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-27T01:23:45.123456Z\",\"log_base64\":\"/wo=\"}\n"
            ),
            Some(t)
        );
        // Docker's own: nanoseconds.
        assert_eq!(
            line_time(b"{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-27T01:23:45.123456789Z\"}"),
            Some(t)
        );
        assert_eq!(line_time(b"{\"log\":\"a\\n\"}"), None);
    }

    #[test]
    fn lines_in_range_and_markers_with_the_line_before() {
        let text = b"[bunctl-log] before any time\n\
            2026-11-27T01:00:00.000000Z a\n\
            2026-11-27T02:00:00.000000Z b\n\
            [bunctl-log] 2 lines dropped here\n\
            2026-11-27T03:00:00.000000Z c\n\
            2026-11-27T04:00:00.000000Z d";
        let run = |from: &str, to: &str| {
            let mut out = Vec::new();
            let counts = filter(
                &text[..],
                Some(stamp(at(from))),
                Some(stamp(at(to))),
                &mut out,
            )
            .unwrap();
            (String::from_utf8(out).unwrap(), counts)
        };
        let (got, counts) = run("2026-11-27T02:00:00Z", "2026-11-27T03:00:00Z");
        assert_eq!(
            got,
            "2026-11-27T02:00:00.000000Z b\n[bunctl-log] 2 lines dropped here\n\
             2026-11-27T03:00:00.000000Z c\n"
        );
        assert_eq!((counts.lines, counts.timed, counts.printed), (6, 4, 3));
        let (got, _) = run("2026-11-27T03:30:00Z", "2026-11-27T05:00:00Z");
        assert_eq!(got, "2026-11-27T04:00:00.000000Z d\n");
    }

    fn hour(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 1, 1, h, 0, 0).unwrap()
    }

    /// Which of five hourly archives (started at 00:00 ... 04:00) and the live file (born at
    /// 05:00) a range opens.
    fn opened(since: Option<&str>, until: Option<&str>) -> Vec<usize> {
        let archives: Vec<(PathBuf, DateTime<Utc>)> = (0..5)
            .map(|h| (PathBuf::from(format!("a{h}")), hour(h)))
            .collect();
        let spans = spans(&archives, Some((PathBuf::from("live"), Some(hour(5)))));
        assert_eq!(spans.len(), 6);
        let (since, until) = (since.map(at), until.map(at));
        (0..6)
            .filter(|&i| spans[i].may_hold(since, until))
            .collect()
    }

    #[test]
    fn files_are_opened_only_if_they_can_hold_lines_in_the_range() {
        assert_eq!(opened(None, None), [0, 1, 2, 3, 4, 5]);
        // Archive k holds lines before archive k+1 started (+1 s for names in whole seconds).
        assert_eq!(opened(Some("2020-01-01T01:30:00Z"), None), [1, 2, 3, 4, 5]);
        assert_eq!(opened(Some("2020-01-01T01:00:01Z"), None), [1, 2, 3, 4, 5]);
        assert_eq!(
            opened(Some("2020-01-01T01:00:00Z"), None),
            [0, 1, 2, 3, 4, 5]
        );
        assert_eq!(opened(Some("2020-01-01T05:00:02Z"), None), [5]);
        // Archive k's lines may be older than its name, but not older than archive k-1's
        // name less the lag: one archive more is opened at this end.
        assert_eq!(
            opened(Some("2020-01-01T01:30:00Z"), Some("2020-01-01T02:30:00Z")),
            [1, 2, 3]
        );
        assert_eq!(opened(None, Some("2020-01-01T00:30:00Z")), [0, 1]);
        assert_eq!(opened(None, Some("2020-01-01T02:59:00Z")), [0, 1, 2, 3, 4]);
        assert_eq!(opened(None, Some("2020-01-01T02:58:59Z")), [0, 1, 2, 3]);
        // The live file: from its birth (less the lag) to now.
        assert_eq!(opened(None, Some("2020-01-01T04:58:59Z")), [0, 1, 2, 3, 4]);
        assert_eq!(
            opened(None, Some("2020-01-01T04:59:00Z")),
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn without_a_live_file_or_its_birth_time_the_newest_archive_has_no_end() {
        let archives = vec![
            (PathBuf::from("a0"), hour(0)),
            (PathBuf::from("a1"), hour(1)),
        ];
        let late = Some(at("2020-01-01T09:00:00Z"));
        for live in [None, Some((PathBuf::from("live"), None))] {
            let spans = spans(&archives, live.clone());
            assert!(!spans[0].may_hold(late, None));
            assert!(spans[1].may_hold(late, None));
            if live.is_some() {
                // Born unknown: from the newest archive's name on.
                assert_eq!(spans[2].from, Some(hour(1) - BUFFERED_LAG));
            }
        }
    }
}
