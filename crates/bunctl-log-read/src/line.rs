//! What a reader finds in a line: its time, and which stream it came from.
//!
//! The writer's line formats (`bunctl_log_buffer::format`) put a time in front of a
//! timestamped line (`2026-11-27T01:23:45.123456Z hello`, always
//! [`TIME_LEN`] bytes) and write a JSON line as Docker's json-file driver does
//! (`{"log":"hello\n","stream":"stdout","time":"2026-11-27T01:23:45.123456Z"}`). This is the one
//! place that reads them back. Times in that shape sort as text, so they are compared as
//! bytes, without parsing dates.

use bunctl_log_buffer::{is_time, json_field, TIME_LEN};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// A time as lines have it: `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`, which sorts as text.
pub type Stamp = [u8; TIME_LEN];

/// The stamp of `t`, to the microsecond below, within the years 0001-9999.
pub fn stamp(t: DateTime<Utc>) -> Stamp {
    let t = t.clamp(first_time(), last_time());
    let text = t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut s = [b'0'; TIME_LEN];
    if text.len() == s.len() {
        s.copy_from_slice(text.as_bytes());
    }
    s
}

/// The first stamp at or after `t` (a `t` with nanoseconds rounds up).
pub fn stamp_at_or_after(t: DateTime<Utc>) -> Stamp {
    let sub_micro = i64::from(t.timestamp_subsec_nanos() % 1000);
    let up = if sub_micro == 0 {
        t
    } else {
        t + chrono::Duration::nanoseconds(1000 - sub_micro)
    };
    stamp(up)
}

/// The earliest time a stamp holds.
pub(crate) fn first_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn last_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The time of a timestamped or JSON line, if it has one.
pub fn line_time(line: &[u8]) -> Option<Stamp> {
    if line.first() == Some(&b'{') {
        return json_time(line);
    }
    leading_time(line)
}

/// The time in front of a timestamped line, if it has one (followed by a space or the end).
fn leading_time(line: &[u8]) -> Option<Stamp> {
    bunctl_log_buffer::leading_time(line)?.try_into().ok()
}

/// The `time` field of a JSON line. Times in another shape (Docker's own files have
/// nanoseconds) are parsed as RFC 3339.
fn json_time(line: &[u8]) -> Option<Stamp> {
    let value = json_field(line, "time")?;
    if is_time(value) {
        return value.try_into().ok();
    }
    let text = std::str::from_utf8(value).ok()?;
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    Some(stamp(t.with_timezone(&Utc)))
}

/// Which stream a line came from, as far as the line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Standard output (or nothing says otherwise).
    Stdout,
    /// Standard error.
    Stderr,
}

/// The tags that mark a line's stream in a file both streams share, as the capture writes
/// them (the facade's `Stream::tag`: `[stdout] ` and `[stderr] `, each with its space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamTags<'a> {
    /// The tag of standard output.
    pub stdout: &'a [u8],
    /// The tag of standard error.
    pub stderr: &'a [u8],
}

/// How many bracketed fields in front of a line may come before its stream tag: bunctl's
/// daemon writes `[app] [time] [stderr] text`.
const FIELDS_BEFORE_TAG: usize = 2;

impl StreamTags<'_> {
    /// The stream `line` says it came from, `None` if it says nothing:
    ///
    /// * a JSON line: its `stream` field (`"stderr"` or anything else, which is stdout);
    /// * a line tagged as the capture tags merged streams, after its time in the timestamped
    ///   format (`[stderr] text`, `2026-11-27T01:23:45.123456Z [stderr] text`);
    /// * a line whose tag comes after up to two bracketed fields, as bunctl's daemon writes
    ///   its lines (`[app] [time] [stderr] text`).
    ///
    /// The first tag found counts: `[stdout] [stderr] x` (a program that printed `[stderr] x`
    /// on its stdout) is stdout.
    pub fn origin(&self, line: &[u8]) -> Option<Origin> {
        if line.first() == Some(&b'{') {
            if let Some(stream) = json_field(line, "stream") {
                return Some(if stream == b"stderr" {
                    Origin::Stderr
                } else {
                    Origin::Stdout
                });
            }
        }
        let mut rest = match leading_time(line) {
            Some(_) => line.get(TIME_LEN + 1..).unwrap_or_default(),
            None => line,
        };
        for _ in 0..=FIELDS_BEFORE_TAG {
            if is_tag(rest, self.stderr) {
                return Some(Origin::Stderr);
            }
            if is_tag(rest, self.stdout) {
                return Some(Origin::Stdout);
            }
            // Skip one `[field] `.
            if rest.first() != Some(&b'[') {
                return None;
            }
            let close = memchr::memchr(b']', rest)?;
            rest = rest.get(close + 1..)?.strip_prefix(b" ")?;
        }
        None
    }
}

/// Whether `text` starts with `tag` (or is `tag` without its trailing space: a tagged empty
/// line).
fn is_tag(text: &[u8], tag: &[u8]) -> bool {
    text.starts_with(tag) || tag.strip_suffix(b" ").is_some_and(|t| text == t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
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

    /// The writer's own formatting, read back.
    #[test]
    fn times_of_the_writers_lines() {
        use bunctl_log_buffer::{format_message, LineFormat, TimeCache};
        use std::time::{Duration, UNIX_EPOCH};
        let now = UNIX_EPOCH + Duration::from_micros(1_795_742_625_123_456);
        for format in [LineFormat::Timestamped, LineFormat::Json] {
            let mut out = Vec::new();
            let message = b"a \",\"time\":\"x \xff";
            format_message(
                format,
                message,
                "stderr",
                now,
                1 << 20,
                &mut TimeCache::default(),
                &mut out,
            );
            assert_eq!(
                line_time(&out),
                Some(*b"2026-11-27T01:23:45.123456Z"),
                "{format:?}"
            );
        }
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
        // Docker's own: nanoseconds.
        assert_eq!(
            line_time(b"{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-27T01:23:45.123456789Z\"}"),
            Some(t)
        );
        assert_eq!(line_time(b"{\"log\":\"a\\n\"}"), None);
    }

    const TAGS: StreamTags<'static> = StreamTags {
        stdout: b"[stdout] ",
        stderr: b"[stderr] ",
    };

    #[test]
    fn streams_in_lines() {
        use Origin::{Stderr, Stdout};
        for (line, want) in [
            (&b"[stderr] boom"[..], Some(Stderr)),
            (b"[stdout] fine", Some(Stdout)),
            (b"[stderr]", Some(Stderr)),
            (b"2026-11-27T01:23:45.123456Z [stderr] boom", Some(Stderr)),
            (b"[web] [2026-01-01 10:00:00] [stderr] boom", Some(Stderr)),
            (b"[web] [2026-01-01 10:00:00] [stdout] fine", Some(Stdout)),
            (b"[web] [stderr] boom", Some(Stderr)),
            (b"[stdout] [stderr] printed on stdout", Some(Stdout)),
            (b"[a] [b] [c] [stderr] too far", None),
            (b"[INFO] started", None),
            (b"plain", None),
            (b"[bunctl-log] 3 lines dropped here", None),
            (b"x [stderr] not in front", None),
            (
                b"{\"log\":\"[stdout] boom\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-27T01:23:45.123456Z\"}",
                Some(Stderr),
            ),
            (
                b"{\"log\":\"\\\",\\\"stream\\\":\\\"stderr\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-27T01:23:45.123456Z\"}",
                Some(Stdout),
            ),
        ] {
            assert_eq!(TAGS.origin(line), want, "{}", String::from_utf8_lossy(line));
        }
    }
}
