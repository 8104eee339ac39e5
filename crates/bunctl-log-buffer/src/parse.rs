//! Reading a formatted line back: the inverse of the [`format`](crate::format_message) side.
//!
//! Every reader of the files (the read library, the CLI, the benchmarks' read-back) finds a
//! line's time, its JSON fields and its text here, so the shapes are known in one place:
//!
//! * [`is_time`] and [`leading_time`]: the [`TIME_LEN`]-byte time in front of a timestamped
//!   line (`2026-11-27T01:23:45.123456Z hello`).
//! * [`json_field`]: a string field of a JSON line, found without decoding the line.
//! * [`JsonLine::parse`]: a JSON line decoded (its `log` text with the exact bytes when the
//!   writer had to add `log_base64`, its `stream` and `time`).
//!
//! ```
//! use bunctl_log_buffer::{format_message, leading_time, JsonLine, LineFormat, TimeCache};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let now = UNIX_EPOCH + Duration::from_micros(1_795_742_625_123_456);
//! let (mut cache, mut out) = (TimeCache::default(), Vec::new());
//! format_message(LineFormat::Json, b"hi \xff", "stderr", now, 1024, &mut cache, &mut out);
//! let line = JsonLine::parse(&out).unwrap();
//! assert_eq!(line.log, b"hi \xff\n"); // the exact bytes, not U+FFFD
//! assert_eq!(line.stream.as_deref(), Some("stderr"));
//! assert_eq!(line.time.as_deref(), Some("2026-11-27T01:23:45.123456Z"));
//!
//! out.clear();
//! format_message(LineFormat::Timestamped, b"hello", "stdout", now, 1024, &mut cache, &mut out);
//! assert_eq!(leading_time(&out), Some(&b"2026-11-27T01:23:45.123456Z"[..]));
//! ```

use serde::Deserialize;

use crate::format::{LineFormat, TIME_LEN};

/// Whether `t` is a time as the writer writes it: `DDDD-DD-DDTDD:DD:DD.DDDDDDZ`.
pub fn is_time(t: &[u8]) -> bool {
    t.len() == TIME_LEN
        && t.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'.',
            26 => b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// The time in front of a timestamped line, if it has one (followed by a space, a `\n` or the
/// end of the line).
pub fn leading_time(line: &[u8]) -> Option<&[u8]> {
    let time = line.get(..TIME_LEN)?;
    let ends = line.get(TIME_LEN).is_none_or(|&b| b == b' ' || b == b'\n');
    (ends && is_time(time)).then_some(time)
}

/// The stored (still escaped) value of the string field `name` of a JSON line, found without
/// decoding it. Inside a JSON string every `"` is escaped, so `"name":"` occurs only where
/// that field starts.
pub fn json_field<'a>(line: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut key = Vec::with_capacity(name.len() + 4);
    key.push(b'"');
    key.extend_from_slice(name.as_bytes());
    key.extend_from_slice(b"\":\"");
    let at = memchr::memmem::find(line, &key)?;
    let rest = &line[at + key.len()..];
    let mut escaped = false;
    let end = rest.iter().position(|&b| {
        let close = b == b'"' && !escaped;
        escaped = b == b'\\' && !escaped;
        close
    })?;
    Some(&rest[..end])
}

/// Whether the last line of `tail` (the end of a file in `format`, ending in `\n`) is a piece of
/// a split line: the line goes on in the next piece, so if the file ends there the writer
/// stopped in the middle of the line. In raw and timestamped files a piece ends with
/// [`CONTINUATION_MARKER`](crate::CONTINUATION_MARKER); in JSON its `log` has no `\n`. A tail
/// that does not reach back to the JSON fields (a huge `log_base64`) says no.
pub fn ends_in_piece(format: LineFormat, tail: &[u8]) -> bool {
    let Some(line) = tail.strip_suffix(b"\n") else {
        return false;
    };
    match format {
        LineFormat::Raw | LineFormat::Timestamped => line.ends_with(crate::CONTINUATION_MARKER),
        LineFormat::Json => {
            let start = memchr::memrchr(b'\n', line).map_or(0, |i| i + 1);
            let line = &line[start..];
            let Some(at) = memchr::memmem::rfind(line, b"\",\"stream\":\"") else {
                return false;
            };
            // `log` ends in an escaped newline: `\n` after an even run of other backslashes.
            let log = &line[..at];
            let Some(before_n) = log.strip_suffix(b"n") else {
                return true;
            };
            let slashes = before_n.iter().rev().take_while(|&&b| b == b'\\').count();
            slashes % 2 == 0
        }
    }
}

/// A JSON line decoded: Docker's json-file shape, as the writer writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonLine {
    /// The line's bytes, with its `\n` (a piece of a split line has none): from `log_base64`
    /// when the line was not UTF-8, so they are exactly what was written.
    pub log: Vec<u8>,
    /// The `stream` field: `stdout`, `stderr`, or [`MARKER_STREAM`](crate::MARKER_STREAM).
    pub stream: Option<String>,
    /// The `time` field.
    pub time: Option<String>,
}

#[derive(Deserialize)]
struct Fields {
    log: String,
    stream: Option<String>,
    time: Option<String>,
    log_base64: Option<String>,
}

impl JsonLine {
    /// `line` (with or without its `\n`) decoded, if it is a JSON object with a string `log`
    /// field; `None` for anything else (a raw or timestamped line, a torn object).
    pub fn parse(line: &[u8]) -> Option<Self> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.first() != Some(&b'{') {
            return None;
        }
        let f: Fields = serde_json::from_slice(line).ok()?;
        let log = f
            .log_base64
            .as_deref()
            .and_then(decode_base64)
            .unwrap_or_else(|| f.log.into_bytes());
        Some(Self {
            log,
            stream: f.stream,
            time: f.time,
        })
    }

    /// The text without its `\n`.
    pub fn text(&self) -> &[u8] {
        self.log.strip_suffix(b"\n").unwrap_or(&self.log)
    }
}

/// Standard base64 (with padding), as `log_base64` holds it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        let mut v = 0u32;
        for &c in &chunk[..4 - pad] {
            v = v << 6 | value(c)?;
        }
        v <<= 6 * pad as u32;
        let got = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(&got[..3 - pad.min(2)]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{format_message, marker_line, LineFormat, Marker, TimeCache};
    use proptest::prelude::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn json(bytes: &[u8], stream: &str) -> Vec<u8> {
        let now = UNIX_EPOCH + Duration::from_micros(1_795_742_625_123_456);
        let mut out = Vec::new();
        format_message(
            LineFormat::Json,
            bytes,
            stream,
            now,
            1 << 20,
            &mut TimeCache::default(),
            &mut out,
        );
        out
    }

    proptest! {
        #[test]
        fn every_json_line_written_is_read_back_exactly(bytes in proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..200)) {
            let line = json(&bytes, "stdout");
            let got = JsonLine::parse(&line).unwrap();
            prop_assert_eq!(got.text(), &bytes[..]);
            prop_assert_eq!(got.stream.as_deref(), Some("stdout"));
            prop_assert_eq!(json_field(&line, "time"), Some(&b"2026-11-27T01:23:45.123456Z"[..]));
            prop_assert_eq!(json_field(&line, "stream"), Some(&b"stdout"[..]));
        }
    }

    #[test]
    fn fields_inside_the_text_are_not_taken_for_the_lines_own() {
        let line = json(br#"{"stream":"stderr","time":"x"}"#, "stdout");
        assert_eq!(json_field(&line, "stream"), Some(&b"stdout"[..]));
        assert_eq!(
            json_field(&line, "time"),
            Some(&b"2026-11-27T01:23:45.123456Z"[..])
        );
        assert_eq!(
            json_field(&line, "log"),
            Some(&br#"{\"stream\":\"stderr\",\"time\":\"x\"}\n"#[..])
        );
    }

    #[test]
    fn a_split_lines_unfinished_piece_is_told_from_a_whole_line() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_742_625);
        for format in [LineFormat::Raw, LineFormat::Timestamped, LineFormat::Json] {
            let mut out = Vec::new();
            let mut cache = TimeCache::default();
            // Three pieces of 4 bytes; the file ends after each piece in turn.
            format_message(
                format,
                b"abcdefghij",
                "stdout",
                now,
                4,
                &mut cache,
                &mut out,
            );
            let ends: Vec<usize> = memchr::memchr_iter(b'\n', &out).map(|i| i + 1).collect();
            assert_eq!(ends.len(), 3, "{format:?}");
            assert!(ends_in_piece(format, &out[..ends[0]]), "{format:?}");
            assert!(ends_in_piece(format, &out[..ends[1]]), "{format:?}");
            assert!(!ends_in_piece(format, &out[..ends[2]]), "{format:?}");
        }
        // A JSON line whose text ends in a backslash and an `n` is whole.
        let whole = json(br"ends in \n", "stdout");
        assert!(!ends_in_piece(LineFormat::Json, &whole));
        assert!(!ends_in_piece(LineFormat::Raw, b"a line\n"));
        assert!(!ends_in_piece(LineFormat::Raw, b"no newline"));
    }

    #[test]
    fn markers_and_other_shapes() {
        let m = marker_line(
            LineFormat::Json,
            &Marker::Lost { lines: 2 },
            SystemTime::now(),
        );
        let got = JsonLine::parse(&m).unwrap();
        assert_eq!(got.stream.as_deref(), Some(crate::MARKER_STREAM));
        assert!(got.text().starts_with(b"[bunctl-log] 2 lines lost"));
        assert_eq!(JsonLine::parse(b"plain text"), None);
        assert_eq!(JsonLine::parse(b"{\"log\":\"torn"), None);
        assert_eq!(
            leading_time(b"2026-11-27T01:23:45.123456Z"),
            Some(&b"2026-11-27T01:23:45.123456Z"[..])
        );
        assert_eq!(leading_time(b"2026-11-27T01:23:45.123456Zx"), None);
        assert_eq!(leading_time(b"[bunctl-log] 3 lines dropped here"), None);
    }
}
