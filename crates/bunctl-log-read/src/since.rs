//! A time window: the lines of timestamped and JSON logs written from `since` to `until`,
//! oldest first, across rotated files, opening only the files that can hold them.
//!
//! Each line's time is read from the line ([`line_time`]). A line without a time (a
//! `[bunctl-log] ...` marker) goes with the line before it in its file.
//!
//! **Which files are opened.** An archive is named after the time its content started
//! (`NAME.<YYYYMMDDTHHMMSSZ>-<seq>.log[.gz]`, to the second), by the writer's clock, the
//! clock that also times its lines. With a clock that only moves forward:
//!
//! * archive `k` holds lines accepted before archive `k+1` started: it is not opened if
//!   `k+1`'s name is before `since` (its name is rounded down to the second: one second more);
//! * its lines were accepted after archive `k-1` started, less the time a line waits in the
//!   writer's buffer ([`BUFFERED_LAG`]). (Not after `k`'s own name: a live file that a
//!   restarted writer appended to is named after its modification time at the restart, later
//!   than its first lines.) It is not opened if that is after `until`: one archive more than
//!   the names alone would say is opened at that end;
//! * the live file holds lines from the newest archive's name (less the lag) to now.
//!
//! **A clock that stepped back** (NTP, a VM restored, a hand-set clock) breaks both bounds:
//! a file that was live when the clock went back an hour holds lines an hour older than its
//! name says, and the next archive's name is older than the one before it, so names do not
//! grow with the sequence number. So a bound is used only where the names around the file are
//! in order: archive `k`'s upper bound needs `name(k) <= name(k+1)`, its lower bound
//! `name(k-1) <= name(k) <= name(k+1)`. Every file next to a step back that the names show is
//! read. What names cannot show is not guarded against: a step back smaller than the age of
//! the newest file, whose next name would show it only once it is rotated.

use std::io::{self, BufRead, BufReader, Read, SeekFrom};
use std::path::{Path, PathBuf};

use bunctl_log_fs::Filesystem;
use bunctl_log_rotation::ArchiveNaming;
use chrono::{DateTime, Duration, Utc};

use crate::error::{Context, Error, Result};
use crate::files::{open_archive, snapshot, Snapshot};
use crate::line::{first_time, line_time, stamp, stamp_at_or_after, Stamp};

/// Longest a line is assumed to wait between being accepted (its time) and being written: the
/// margin by which a file may hold lines older than the file before it says. A writer writes
/// within its flush interval (100 ms) unless its disk stalls; a line that waited longer (a
/// disk hung for minutes) in an archive just past `until` could be missed.
pub const BUFFERED_LAG: Duration = Duration::seconds(60);

/// A range of times, both ends included; `None` is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// From this time on.
    pub since: Option<DateTime<Utc>>,
    /// Up to this time, included.
    pub until: Option<DateTime<Utc>>,
}

/// Parses `--since` and `--until`: RFC 3339 (`2026-11-27T01:23:45Z`,
/// `2026-11-27T02:23:45+01:00`, fractions of a second allowed), or a time that long before now:
/// a whole number and `s`, `m`, `h`, `d` or `w` (`30s`, `10m`, `2h`, `3d`, `1w`).
///
/// # Errors
/// A message saying what is accepted.
pub fn parse_time(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    parse_time_at(s, Utc::now())
}

/// [`parse_time`] with "now" given.
///
/// # Errors
/// As [`parse_time`].
pub fn parse_time_at(s: &str, now: DateTime<Utc>) -> std::result::Result<DateTime<Utc>, String> {
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

/// What a window read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowCounts {
    /// Lines read (in the files opened).
    pub lines: u64,
    /// Of those, lines with a time.
    pub timed: u64,
    /// Lines in the window.
    pub matched: u64,
    /// Files opened that had lines but none with a time (written in the raw format).
    pub untimed_files: Vec<PathBuf>,
}

impl WindowCounts {
    /// Whether the files read had lines but none had a time: the logs are in the raw format,
    /// which a window cannot select from.
    pub fn no_times(&self) -> bool {
        self.lines > 0 && self.timed == 0
    }
}

/// The times a file can hold lines of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    /// Its lines were accepted at or after this (`None`: unknown).
    from: Option<DateTime<Utc>>,
    /// Its lines were accepted before this (`None`: unknown, or up to now).
    before: Option<DateTime<Utc>>,
}

impl Bounds {
    /// Whether the file can hold a line in the window.
    fn may_hold(&self, w: &Window) -> bool {
        let ends_before = matches!((self.before, w.since), (Some(b), Some(s)) if b <= s);
        let starts_after = matches!((self.from, w.until), (Some(f), Some(u)) if f > u);
        !(ends_before || starts_after)
    }
}

/// The bounds of the archives whose names say they started at `names` (oldest first; `None`
/// for a name without a time), then of the live file (see the [module docs](self)).
fn bounds(names: &[Option<DateTime<Utc>>]) -> Vec<Bounds> {
    // Names are to the second, rounded down.
    let second = Duration::seconds(1);
    let name = |i: Option<usize>| i.and_then(|i| names.get(i).copied().flatten());
    let ordered =
        |a: usize, b: usize| matches!((name(Some(a)), name(Some(b))), (Some(x), Some(y)) if x <= y);
    let m = names.len();
    let mut out: Vec<Bounds> = (0..m)
        .map(|k| {
            let before = (k + 1 < m && ordered(k, k + 1))
                .then(|| name(Some(k + 1)).map(|t| t + second))
                .flatten();
            let in_order = k >= 1 && ordered(k - 1, k) && (k + 1 == m || ordered(k, k + 1));
            let from = in_order
                .then(|| name(k.checked_sub(1)).map(|t| t - BUFFERED_LAG))
                .flatten();
            Bounds { from, before }
        })
        .collect();
    out.push(Bounds {
        from: name(m.checked_sub(1)).map(|t| t - BUFFERED_LAG),
        before: None,
    });
    out
}

/// Calls `visit` with each line (without its `\n`) of the logs whose live file is `live` whose
/// time is in `window`, oldest first, from one [`snapshot`] of the files. Files that cannot
/// hold such lines are not opened.
///
/// # Errors
/// If a file cannot be listed or read, or `visit` fails (an [`Error::output`]).
pub fn lines_in_window(
    fs: &dyn Filesystem,
    live: &Path,
    window: &Window,
    visit: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<WindowCounts> {
    let naming = ArchiveNaming::new(live).context("read the logs of", live)?;
    let mut snap = snapshot(fs, live)?;
    lines_in_window_of(fs, &naming, &mut snap, window, false, visit)
}

/// [`lines_in_window`] on a snapshot already taken (the live file's lines up to its length
/// then): what a follower started at a time hands out first, with `whole_only` (a last line
/// still being written is handed out by the follower when it ends).
pub(crate) fn lines_in_window_of(
    fs: &dyn Filesystem,
    naming: &ArchiveNaming,
    snap: &mut Snapshot,
    window: &Window,
    whole_only: bool,
    visit: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<WindowCounts> {
    let names: Vec<Option<DateTime<Utc>>> = snap
        .archives
        .iter()
        .map(|a| {
            let name = a.path.file_name()?.to_str()?;
            naming.parse(name)?.started_at()
        })
        .collect();
    let bounds = bounds(&names);
    let (from, to) = (window.since.map(stamp_at_or_after), window.until.map(stamp));
    let mut totals = WindowCounts::default();
    for (archive, b) in snap.archives.iter().zip(&bounds) {
        if !b.may_hold(window) {
            continue;
        }
        let Some(file) = open_archive(fs, archive)? else {
            continue; // removed by retention since the listing
        };
        let counts = filter(
            BufReader::new(file.into_reader()),
            from,
            to,
            &archive.path,
            false,
            visit,
        )?;
        totals.add(counts, &archive.path);
    }
    if let (Some(live), Some(b)) = (snap.live.as_mut(), bounds.last()) {
        if b.may_hold(window) {
            let (path, len) = (live.path().to_path_buf(), live.len());
            let file = live.file_mut();
            file.seek(SeekFrom::Start(0))
                .context("read log file", &path)?;
            let counts = filter(
                BufReader::new(file.take(len)),
                from,
                to,
                &path,
                whole_only,
                visit,
            )?;
            totals.add(counts, &path);
        }
    }
    Ok(totals)
}

/// The last `n` lines of [`lines_in_window`] (as `docker logs --since T --tail N` and
/// `journalctl --since T -n N`), oldest first: the window is read through, keeping only a
/// ring of `n` lines.
///
/// # Errors
/// As [`lines_in_window`].
pub fn last_in_window(
    fs: &dyn Filesystem,
    live: &Path,
    window: &Window,
    n: usize,
) -> Result<(Vec<Vec<u8>>, WindowCounts)> {
    let naming = ArchiveNaming::new(live).context("read the logs of", live)?;
    let mut snap = snapshot(fs, live)?;
    last_in_window_of(fs, &naming, &mut snap, window, false, n)
}

/// The last `n` lines of [`lines_in_window_of`].
pub(crate) fn last_in_window_of(
    fs: &dyn Filesystem,
    naming: &ArchiveNaming,
    snap: &mut Snapshot,
    window: &Window,
    whole_only: bool,
    n: usize,
) -> Result<(Vec<Vec<u8>>, WindowCounts)> {
    let mut ring: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
    let counts = lines_in_window_of(fs, naming, snap, window, whole_only, &mut |line| {
        if n > 0 {
            if ring.len() == n {
                if let Some(mut reused) = ring.pop_front() {
                    reused.clear();
                    reused.extend_from_slice(line);
                    ring.push_back(reused);
                    return Ok(());
                }
            }
            ring.push_back(line.to_vec());
        }
        Ok(())
    })?;
    Ok((ring.into(), counts))
}

impl WindowCounts {
    fn add(&mut self, o: FileCounts, path: &Path) {
        if o.lines > 0 && o.timed == 0 {
            self.untimed_files.push(path.to_path_buf());
        }
        self.lines += o.lines;
        self.timed += o.timed;
        self.matched += o.matched;
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct FileCounts {
    lines: u64,
    timed: u64,
    matched: u64,
}

/// Passes the lines of `read` (the file `path`) whose time is in `from..=to` to `visit`; a line
/// without a time goes with the line before it (lines before the first time are left out).
/// With `whole_only`, a last line without its `\n` (still being written) is left out.
fn filter(
    mut read: impl BufRead,
    from: Option<Stamp>,
    to: Option<Stamp>,
    path: &Path,
    whole_only: bool,
    visit: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<FileCounts> {
    let mut counts = FileCounts::default();
    let mut line = Vec::new();
    let mut current: Option<Stamp> = None;
    loop {
        line.clear();
        if read
            .read_until(b'\n', &mut line)
            .context("read log file", path)?
            == 0
            || (whole_only && !line.ends_with(b"\n"))
        {
            return Ok(counts);
        }
        counts.lines += 1;
        if let Some(t) = line_time(&line) {
            counts.timed += 1;
            current = Some(t);
        }
        let Some(t) = current else { continue };
        if from.is_none_or(|f| t >= f) && to.is_none_or(|u| t <= u) {
            visit(line.strip_suffix(b"\n").unwrap_or(&line)).map_err(Error::output)?;
            counts.matched += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
                Path::new("x"),
                false,
                &mut |l| {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                    Ok(())
                },
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
        assert_eq!((counts.lines, counts.timed, counts.matched), (6, 4, 3));
        let (got, _) = run("2026-11-27T03:30:00Z", "2026-11-27T05:00:00Z");
        assert_eq!(got, "2026-11-27T04:00:00.000000Z d\n");
    }

    fn hour(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 1, 1, h, 0, 0).unwrap()
    }

    /// Which of the archives named `hours` and the live file after them a range opens.
    fn opened(hours: &[u32], since: Option<&str>, until: Option<&str>) -> Vec<usize> {
        let names: Vec<Option<DateTime<Utc>>> = hours.iter().map(|&h| Some(hour(h))).collect();
        let b = bounds(&names);
        assert_eq!(b.len(), hours.len() + 1);
        let w = Window {
            since: since.map(at),
            until: until.map(at),
        };
        (0..b.len()).filter(|&i| b[i].may_hold(&w)).collect()
    }

    #[test]
    fn files_are_opened_only_if_they_can_hold_lines_in_the_range() {
        let hours = [0, 1, 2, 3, 4];
        let o = |s, u| opened(&hours, s, u);
        assert_eq!(o(None, None), [0, 1, 2, 3, 4, 5]);
        // Archive k holds lines before archive k+1 started (+1 s for names in whole seconds).
        assert_eq!(o(Some("2020-01-01T01:30:00Z"), None), [1, 2, 3, 4, 5]);
        assert_eq!(o(Some("2020-01-01T01:00:01Z"), None), [1, 2, 3, 4, 5]);
        assert_eq!(o(Some("2020-01-01T01:00:00Z"), None), [0, 1, 2, 3, 4, 5]);
        // The newest archive ends when the live file started, which no name says.
        assert_eq!(o(Some("2020-01-01T05:00:02Z"), None), [4, 5]);
        // Archive k's lines may be older than its name, but not older than archive k-1's
        // name less the lag: one archive more is opened at this end.
        assert_eq!(
            o(Some("2020-01-01T01:30:00Z"), Some("2020-01-01T02:30:00Z")),
            [1, 2, 3]
        );
        assert_eq!(o(None, Some("2020-01-01T00:30:00Z")), [0, 1]);
        assert_eq!(o(None, Some("2020-01-01T02:59:00Z")), [0, 1, 2, 3, 4]);
        assert_eq!(o(None, Some("2020-01-01T02:58:59Z")), [0, 1, 2, 3]);
        // The live file: from the newest archive's name (less the lag) to now.
        assert_eq!(o(None, Some("2020-01-01T03:58:59Z")), [0, 1, 2, 3, 4]);
        assert_eq!(o(None, Some("2020-01-01T03:59:00Z")), [0, 1, 2, 3, 4, 5]);
    }

    /// The clock went back from 03:xx to 01:00 while archive 2 (named 03:00) was live: archive
    /// 3 is named 01:00. Archive 2 holds lines from 03:00 to the step and then from 01:00 on:
    /// it is read for any range. Archive 3 has no lower bound (archive 2's name, less the
    /// lag, would be one); its upper bound, archive 4's name, holds (the clock moved forward
    /// from 01:00 to 02:00).
    #[test]
    fn files_next_to_a_step_back_are_always_read() {
        let hours = [1, 2, 3, 1, 2];
        let late = Some("2020-01-01T03:30:00Z");
        assert_eq!(opened(&hours, late, None), [2, 4, 5]);
        let early = Some("2020-01-01T00:30:00Z");
        assert_eq!(opened(&hours, None, early), [0, 2, 3]);
        // Without the step, the same names in order would skip 2 and 3 for `late`'s range.
        assert_eq!(opened(&[1, 2, 3, 4, 5], late, None), [2, 3, 4, 5]);
        assert_eq!(opened(&[0, 1, 2, 3, 4], None, early), [0, 1]);
    }
}
