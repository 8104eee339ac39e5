//! Line formats: raw bytes, a timestamp in front, or one JSON object per line in the shape of
//! Docker's json-file driver.
//!
//! | format | a line `hello` becomes |
//! |---|---|
//! | [`LineFormat::Raw`] | `hello` |
//! | [`LineFormat::Timestamped`] | `2026-11-27T01:23:45.123456Z hello` |
//! | [`LineFormat::Json`] | `{"log":"hello\n","stream":"stdout","time":"2026-11-27T01:23:45.123456Z"}` |
//!
//! Times are UTC, RFC 3339 with microseconds, always 27 bytes, so they sort as text and a
//! reader finds the end of the timestamp without parsing. The JSON lines are what Docker writes,
//! so Vector, Fluent Bit, Promtail and `jq` read them with their stock Docker parsers:
//!
//! * `log` is the line with its `\n`; a piece of a line longer than the limit has no `\n`, as
//!   Docker writes the pieces of a long line (join pieces until one ends in `\n`).
//! * Bytes are escaped as JSON requires (`"`, `\`, control characters as `\n`, `\u0000`, ...);
//!   other UTF-8 is written as it is.
//! * **Bytes that are not UTF-8** cannot be in a JSON string. Such a line's `log` has U+FFFD
//!   for each invalid sequence (what Docker writes), and an extra field `log_base64` holds the
//!   line's exact bytes (standard base64, with the `\n` if `log` has it): nothing is lost, and
//!   parsers that do not know the field ignore it.
//!
//! Formatting writes into a caller's buffer and allocates nothing; the date part of the
//! timestamp is cached per second in a [`TimeCache`].
//!
//! ```
//! use bunctl_log_buffer::{format_message, LineFormat, TimeCache};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let mut cache = TimeCache::default();
//! let now = UNIX_EPOCH + Duration::from_micros(1_795_742_625_123_456);
//! let mut out = Vec::new();
//! let n = format_message(LineFormat::Json, b"say \"hi\"", "stdout", now, 1024, &mut cache, &mut out);
//! assert_eq!(n, 1);
//! assert_eq!(
//!     out,
//!     b"{\"log\":\"say \\\"hi\\\"\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-27T01:23:45.123456Z\"}\n"
//! );
//! ```
//!
//! Over 500 lines with its tests; the code (the formats, the cached timestamp, JSON escaping; the
//! parsers are in `parse.rs`) is about 360.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{encode_message, encode_split, CONTINUATION_MARKER};

/// How each line is written to the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LineFormat {
    /// The bytes as they came. The default.
    #[default]
    Raw,
    /// An RFC 3339 UTC time with microseconds and a space in front of each line.
    Timestamped,
    /// One JSON object per line, as Docker's json-file driver writes them.
    Json,
}

/// Length of a formatted time: `2026-11-27T01:23:45.123456Z`.
pub const TIME_LEN: usize = 27;

/// The date and time to the second of the last time formatted, so formatting a time in the
/// same second only writes the microseconds.
#[derive(Debug, Clone, Copy)]
pub struct TimeCache {
    second: i64,
    text: [u8; 19],
}

impl Default for TimeCache {
    fn default() -> Self {
        Self {
            second: i64::MIN,
            text: [b'0'; 19],
        }
    }
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn put_digits(out: &mut [u8], mut value: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl TimeCache {
    /// Appends `t` as `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` ([`TIME_LEN`] bytes). Times before 1970
    /// or after 9999 are clamped into that range, so the length never changes.
    pub fn write(&mut self, t: SystemTime, out: &mut Vec<u8>) {
        let (secs, micros) = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_micros(),
            ),
            Err(_) => (0, 0),
        };
        // 9999-12-31T23:59:59Z
        let secs = secs.min(253_402_300_799);
        if secs != self.second {
            let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (year, month, day) = civil_from_days(days);
            let t = &mut self.text;
            put_digits(&mut t[0..4], year as u64);
            t[4] = b'-';
            put_digits(&mut t[5..7], u64::from(month));
            t[7] = b'-';
            put_digits(&mut t[8..10], u64::from(day));
            t[10] = b'T';
            put_digits(&mut t[11..13], (rem / 3600) as u64);
            t[13] = b':';
            put_digits(&mut t[14..16], (rem / 60 % 60) as u64);
            t[16] = b':';
            put_digits(&mut t[17..19], (rem % 60) as u64);
            self.second = secs;
        }
        out.extend_from_slice(&self.text);
        let mut frac = *b".000000Z";
        put_digits(&mut frac[1..7], u64::from(micros));
        out.extend_from_slice(&frac);
    }
}

/// Appends `message`, one logical write, to `out` in `format`, as whole lines, and returns
/// how many. Lines are cut as [`encode_message`] cuts them (a trailing `\n` is not doubled,
/// an inner `\n` starts a new line, a line over `max_line_len` bytes is split into pieces);
/// each line or piece then gets `now` and, in JSON, `stream` ("stdout", "stderr").
#[allow(clippy::too_many_arguments)]
pub fn format_message(
    format: LineFormat,
    message: &[u8],
    stream: &str,
    now: SystemTime,
    max_line_len: usize,
    cache: &mut TimeCache,
    out: &mut Vec<u8>,
) -> usize {
    if format == LineFormat::Raw {
        return encode_message(message, max_line_len, out);
    }
    let max = max_line_len.max(1);
    let body = message.strip_suffix(b"\n").unwrap_or(message);
    let mut count = 0;
    for record in split_lines(body) {
        let mut rest = record;
        loop {
            let last = rest.len() <= max;
            let piece = if last { rest } else { &rest[..max] };
            match format {
                LineFormat::Timestamped => {
                    cache.write(now, out);
                    out.push(b' ');
                    if last {
                        encode_split(piece, usize::MAX, out);
                    } else {
                        out.extend_from_slice(piece);
                        out.extend_from_slice(CONTINUATION_MARKER);
                        out.push(b'\n');
                    }
                }
                LineFormat::Json => json_line(piece, last, stream, now, cache, out),
                LineFormat::Raw => {}
            }
            count += 1;
            if last {
                break;
            }
            rest = &rest[max..];
        }
    }
    count
}

/// Appends whole lines that a [`LineSplitter`](crate::LineSplitter) cut (each ending in `\n`, the
/// pieces of a split line ending in [`CONTINUATION_MARKER`] and `\n`) to `out` in `format`,
/// one formatted line per line or piece, and returns how many. In JSON a piece's `log` has no
/// marker and no `\n`, as Docker writes the pieces of a long line.
pub fn format_lines(
    format: LineFormat,
    lines: &[u8],
    stream: &str,
    now: SystemTime,
    cache: &mut TimeCache,
    out: &mut Vec<u8>,
) -> usize {
    let body = lines.strip_suffix(b"\n").unwrap_or(lines);
    let mut count = 0;
    for line in split_lines(body) {
        count += 1;
        match format {
            LineFormat::Raw => {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            LineFormat::Timestamped => {
                cache.write(now, out);
                out.push(b' ');
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            LineFormat::Json => match line.strip_suffix(CONTINUATION_MARKER) {
                Some(piece) => json_line(piece, false, stream, now, cache, out),
                None => json_line(line, true, stream, now, cache, out),
            },
        }
    }
    count
}

/// The lines of `body` (split at each `\n`, SIMD-searched; an empty body is one empty line).
fn split_lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'\n', r) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// The longest a line of `max_line_len` bytes can get once formatted: the limit the channel
/// must allow so that it never cuts a formatted line again.
pub fn formatted_max_len(format: LineFormat, max_line_len: usize, stream: &str) -> usize {
    match format {
        LineFormat::Raw => max_line_len,
        LineFormat::Timestamped => max_line_len
            .saturating_add(TIME_LEN + 1)
            .saturating_add(CONTINUATION_MARKER.len()),
        // Every byte escaped as \u00XX (6), plus the base64 copy (4/3), plus the fields.
        LineFormat::Json => max_line_len
            .saturating_mul(8)
            .saturating_add(TIME_LEN + stream.len() + 96),
    }
}

/// One Docker json-file line for `piece` (without its newline; `whole`: the line ends here).
pub(crate) fn json_line(
    piece: &[u8],
    whole: bool,
    stream: &str,
    now: SystemTime,
    cache: &mut TimeCache,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"{\"log\":\"");
    let valid = escape_json(piece, out);
    if whole {
        out.extend_from_slice(b"\\n");
    }
    out.extend_from_slice(b"\",\"stream\":\"");
    escape_json(stream.as_bytes(), out);
    out.extend_from_slice(b"\",\"time\":\"");
    cache.write(now, out);
    out.push(b'"');
    if !valid {
        out.extend_from_slice(b",\"log_base64\":\"");
        base64(piece, whole, out);
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as the inside of a JSON string; invalid UTF-8 becomes U+FFFD. Returns
/// whether `bytes` was valid UTF-8.
fn escape_json(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    let mut valid = true;
    let mut rest = bytes;
    while !rest.is_empty() {
        let (good, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s.as_bytes(), 0),
            Err(e) => (
                &rest[..e.valid_up_to()],
                e.error_len().unwrap_or(rest.len() - e.valid_up_to()),
            ),
        };
        let mut start = 0;
        for (i, &b) in good.iter().enumerate() {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f | 0x7f => b"",
                _ => continue,
            };
            out.extend_from_slice(&good[start..i]);
            if escape.is_empty() {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            } else {
                out.extend_from_slice(escape);
            }
            start = i + 1;
        }
        out.extend_from_slice(&good[start..]);
        if bad > 0 {
            valid = false;
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
        rest = &rest[good.len() + bad..];
    }
    valid
}

/// Appends standard base64 (with padding) of `bytes`, and of a `\n` after them if `newline`.
fn base64(bytes: &[u8], newline: bool, out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut input = bytes.iter().copied().chain(newline.then_some(b'\n'));
    loop {
        let mut chunk = [0u8; 3];
        let mut n = 0;
        for slot in chunk.iter_mut() {
            match input.next() {
                Some(b) => {
                    *slot = b;
                    n += 1;
                }
                None => break,
            }
        }
        if n == 0 {
            break;
        }
        let v = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        for i in 0..4 {
            if i <= n {
                out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
        if n < 3 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(micros)
    }

    fn time_text(t: SystemTime) -> String {
        let mut out = Vec::new();
        TimeCache::default().write(t, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn times_are_rfc3339_utc_with_microseconds() {
        assert_eq!(time_text(at(0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            time_text(at(1_795_742_625_123_456)),
            "2026-11-27T01:23:45.123456Z"
        );
        // Leap day, end of a year.
        assert_eq!(
            time_text(at(951_782_400_000_001)),
            "2000-02-29T00:00:00.000001Z"
        );
        assert_eq!(
            time_text(at(1_798_761_599_999_999)),
            "2026-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            time_text(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            time_text(UNIX_EPOCH + Duration::from_secs(u64::MAX / 2)),
            "9999-12-31T23:59:59.000000Z"
        );
        // The cache is refreshed when the second changes.
        let mut cache = TimeCache::default();
        let mut out = Vec::new();
        cache.write(at(1_000_000), &mut out);
        cache.write(at(2_500_000), &mut out);
        assert_eq!(
            out,
            b"1970-01-01T00:00:01.000000Z1970-01-01T00:00:02.500000Z"
        );
    }

    #[test]
    fn every_date_matches_chrono_free_reference() {
        // Days from civil and back, over 1970..=2100, against a day-by-day count.
        let mut days = 0i64;
        for year in 1970..=2100i64 {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let lens = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            for (m, len) in lens.iter().enumerate() {
                for d in 1..=*len {
                    assert_eq!(civil_from_days(days), (year, m as u32 + 1, d));
                    days += 1;
                }
            }
        }
    }

    fn fmt(format: LineFormat, msg: &[u8], max: usize) -> (String, usize) {
        let mut out = Vec::new();
        let n = format_message(
            format,
            msg,
            "stderr",
            at(1_795_742_625_000_042),
            max,
            &mut TimeCache::default(),
            &mut out,
        );
        (String::from_utf8(out).unwrap(), n)
    }

    #[test]
    fn timestamped_lines_and_pieces() {
        let t = "2026-11-27T01:23:45.000042Z";
        assert_eq!(
            fmt(LineFormat::Timestamped, b"a\nb\n", 100),
            (format!("{t} a\n{t} b\n"), 2)
        );
        assert_eq!(
            fmt(LineFormat::Timestamped, b"", 100),
            (format!("{t} \n"), 1)
        );
        let (text, n) = fmt(LineFormat::Timestamped, b"abcdefg", 3);
        assert_eq!(n, 3);
        assert_eq!(
            text,
            format!(
                "{t} abc [bunctl-log: line continues]\n{t} def [bunctl-log: line continues]\n{t} g\n"
            )
        );
    }

    #[test]
    fn json_lines_escape_and_split_like_docker() {
        let t = "2026-11-27T01:23:45.000042Z";
        let (text, n) = fmt(
            LineFormat::Json,
            b"tab\there \"q\" \\ \x00\x1b\x7f \xc3\xa9",
            100,
        );
        assert_eq!(n, 1);
        assert_eq!(
            text,
            format!(
                "{{\"log\":\"tab\\there \\\"q\\\" \\\\ \\u0000\\u001b\\u007f \u{e9}\\n\",\"stream\":\"stderr\",\"time\":\"{t}\"}}\n"
            )
        );
        let (text, n) = fmt(LineFormat::Json, b"abcde\n", 2);
        assert_eq!(n, 3);
        let logs: Vec<&str> = text
            .lines()
            .map(|l| &l[8..l.find("\",\"stream").unwrap()])
            .collect();
        assert_eq!(logs, ["ab", "cd", "e\\n"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_kept_in_base64() {
        let (text, _) = fmt(LineFormat::Json, b"ok \xff\xfe end", 100);
        assert!(
            text.contains("\"log\":\"ok \u{fffd}\u{fffd} end\\n\""),
            "{text}"
        );
        // base64 of "ok \xff\xfe end\n"
        assert!(
            text.contains(",\"log_base64\":\"b2sg//4gZW5kCg==\"}"),
            "{text}"
        );
        // Cut in the middle of a multi-byte sequence at the end.
        let (text, _) = fmt(LineFormat::Json, b"\xc3", 100);
        assert!(text.contains("\"log\":\"\u{fffd}\\n\""), "{text}");
        assert!(text.contains("\"log_base64\":\"wwo=\""), "{text}");
    }

    #[test]
    fn base64_matches_the_standard_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            base64(input.as_bytes(), false, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn lines_cut_by_a_line_buffer_keep_their_pieces() {
        let mut buf = crate::LineSplitter::new(3);
        let mut cut = Vec::new();
        let n = buf.push_into(b"abcdefg\nhi\n", &mut cut);
        assert_eq!(n, 4);
        let mut out = Vec::new();
        let m = format_lines(
            LineFormat::Json,
            &cut,
            "stdout",
            at(0),
            &mut TimeCache::default(),
            &mut out,
        );
        assert_eq!(m, 4);
        let text = String::from_utf8(out).unwrap();
        let logs: Vec<&str> = text
            .lines()
            .map(|l| &l[8..l.find("\",\"stream").unwrap()])
            .collect();
        assert_eq!(logs, ["abc", "def", "g\\n", "hi\\n"]);
    }

    #[test]
    fn raw_is_encode_message() {
        assert_eq!(fmt(LineFormat::Raw, b"a\nb", 100), ("a\nb\n".to_owned(), 2));
    }

    #[test]
    fn formatted_lines_fit_the_announced_maximum() {
        // (Raw lines are cut by the channel itself, at max_line_len.)
        for format in [LineFormat::Timestamped, LineFormat::Json] {
            let max = 16;
            let worst = [0x01u8; 16];
            let (text, _) = fmt(format, &worst, max);
            for line in text.lines() {
                assert!(
                    line.len() <= formatted_max_len(format, max, "stderr"),
                    "{format:?}"
                );
            }
            let invalid = [0xffu8; 16];
            let mut out = Vec::new();
            format_message(
                format,
                &invalid,
                "stderr",
                at(0),
                max,
                &mut TimeCache::default(),
                &mut out,
            );
            for line in out.split(|&b| b == b'\n') {
                assert!(
                    line.len() <= formatted_max_len(format, max, "stderr"),
                    "{format:?}"
                );
            }
        }
    }
}
