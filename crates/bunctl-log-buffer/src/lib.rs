//! Byte chunks in, whole lines out.
//!
//! A child's stdout arrives in chunks cut wherever the pipe happened to be: half a line, ten
//! lines and a half, one 100 MB line in a thousand pieces. [`LineSplitter`] turns that stream into
//! whole `\n`-terminated lines, the only unit the rest of the log subsystem deals in, so no line
//! is ever torn or interleaved with another further down.
//!
//! Rules (the same for every chunking of the same bytes, which a property test checks):
//! * Bytes are bytes: invalid UTF-8, NUL, `\r` and control characters pass through untouched.
//!   `\r\n` ends a line at the `\n` and keeps the `\r`, so the file holds exactly what came.
//! * A line longer than `max_line_len` bytes is split into pieces of at most `max_line_len`
//!   bytes; every piece but the last ends with [`CONTINUATION_MARKER`], so a reader sees the
//!   split and can join the pieces. Memory stays bounded by `max_line_len` whatever the input.
//! * [`LineSplitter::finish`] writes a partial last line (no newline before EOF) with a newline
//!   added: nothing is lost.
//!
//! Output comes as [`Lines`]: a slice of one or more whole lines and their count. Lines that
//! arrived whole inside a chunk are handed on as one slice of that chunk, without copying.
//!
//! ```
//! use bunctl_log_buffer::LineSplitter;
//!
//! let mut buf = LineSplitter::new(1024);
//! let mut out = Vec::new();
//! for chunk in [&b"hel"[..], b"lo\nwor", b"ld\npartial"] {
//!     buf.push(chunk, |lines| out.extend_from_slice(lines.bytes));
//! }
//! buf.finish(|lines| out.extend_from_slice(lines.bytes));
//! assert_eq!(out, b"hello\nworld\npartial\n");
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use memchr::{memchr, memchr_iter};
mod format;
#[cfg(feature = "testing")]
pub mod fuzzing;
mod marker;
mod parse;

pub use format::{
    format_lines, format_message, formatted_max_len, LineFormat, TimeCache, TIME_LEN,
};
pub use marker::{
    cut_short_rest, is_marker, marker_line, marker_text, write_marker, Marker, CONTINUATION_MARKER,
    CUT_LINE_MARKER, MARKER_PREFIX, MARKER_STREAM, ROTATION_FAILED_MARKER, ROTATION_RESUMED_MARKER,
};
pub use parse::{ends_in_piece, is_time, json_field, leading_time, JsonLine};

/// The default longest line, in bytes, before it is split: 1 MiB.
pub const DEFAULT_MAX_LINE_LEN: usize = 1 << 20;

/// One or more whole lines, each ending in `\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lines<'a> {
    /// The lines, back to back, each terminated by `\n`.
    pub bytes: &'a [u8],
    /// How many lines `bytes` holds.
    pub count: usize,
}

/// Splits a stream of byte chunks into whole, bounded lines. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct LineSplitter {
    max_line_len: usize,
    /// The start of a line whose newline has not arrived yet; never longer than `max_line_len`.
    pending: Vec<u8>,
    /// Where split pieces are assembled before they are handed on.
    scratch: Vec<u8>,
}

impl LineSplitter {
    /// A splitter that splits lines longer than `max_line_len` bytes (at least 1).
    pub fn new(max_line_len: usize) -> Self {
        Self {
            max_line_len: max_line_len.max(1),
            pending: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The longest line before it is split.
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// Bytes held back as the start of an unfinished line.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Feeds one chunk; `emit` is called with every line it completes, in order.
    pub fn push(&mut self, chunk: &[u8], mut emit: impl FnMut(Lines<'_>)) {
        let mut rest = chunk;
        // 1. Finish the line a previous chunk started.
        if !self.pending.is_empty() {
            match memchr(b'\n', rest) {
                Some(i) => {
                    self.append_partial(&rest[..i], &mut emit);
                    self.pending.push(b'\n');
                    emit(Lines {
                        bytes: &self.pending,
                        count: 1,
                    });
                    self.pending.clear();
                    rest = &rest[i + 1..];
                }
                None => {
                    self.append_partial(rest, &mut emit);
                    return;
                }
            }
        }
        // 2. Whole lines inside the chunk go on as slices of it.
        let mut block_start = 0;
        let mut line_start = 0;
        let mut count = 0;
        for nl in memchr_iter(b'\n', rest) {
            if nl - line_start > self.max_line_len {
                if count > 0 {
                    emit(Lines {
                        bytes: &rest[block_start..line_start],
                        count,
                    });
                }
                self.emit_split(&rest[line_start..nl], &mut emit);
                block_start = nl + 1;
                count = 0;
            } else {
                count += 1;
            }
            line_start = nl + 1;
        }
        if count > 0 {
            emit(Lines {
                bytes: &rest[block_start..line_start],
                count,
            });
        }
        // 3. Keep the unfinished tail.
        self.append_partial(&rest[line_start..], &mut emit);
    }

    /// [`push`](Self::push) that appends the completed lines to `out`; returns how many.
    /// Handy where lines are handed on asynchronously, after the call.
    pub fn push_into(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> usize {
        let mut count = 0;
        self.push(chunk, |l| {
            out.extend_from_slice(l.bytes);
            count += l.count;
        });
        count
    }

    /// [`finish`](Self::finish) that appends the last line, if any, to `out`; returns 0 or 1.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) -> usize {
        let mut count = 0;
        self.finish(|l| {
            out.extend_from_slice(l.bytes);
            count += l.count;
        });
        count
    }

    /// Ends the stream: a partial last line is emitted with a newline added.
    pub fn finish(&mut self, mut emit: impl FnMut(Lines<'_>)) {
        if !self.pending.is_empty() {
            self.pending.push(b'\n');
            emit(Lines {
                bytes: &self.pending,
                count: 1,
            });
            self.pending.clear();
        }
    }

    /// Adds bytes of an unfinished line to `pending`, emitting a marked piece each time it
    /// would grow past the limit.
    fn append_partial(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(Lines<'_>)) {
        while self.pending.len() + bytes.len() > self.max_line_len {
            let take = self.max_line_len - self.pending.len();
            self.pending.extend_from_slice(&bytes[..take]);
            self.pending.extend_from_slice(CONTINUATION_MARKER);
            self.pending.push(b'\n');
            emit(Lines {
                bytes: &self.pending,
                count: 1,
            });
            self.pending.clear();
            bytes = &bytes[take..];
        }
        self.pending.extend_from_slice(bytes);
    }

    /// Emits a complete over-long line (without its newline) as marked pieces.
    fn emit_split(&mut self, line: &[u8], emit: &mut impl FnMut(Lines<'_>)) {
        self.scratch.clear();
        let count = encode_split(line, self.max_line_len, &mut self.scratch);
        emit(Lines {
            bytes: &self.scratch,
            count,
        });
    }
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE_LEN)
    }
}

/// Appends one line (given without its newline) to `out` as pieces of at most `max` bytes,
/// all but the last ending in [`CONTINUATION_MARKER`]; returns the number of pieces.
fn encode_split(line: &[u8], max: usize, out: &mut Vec<u8>) -> usize {
    let max = max.max(1);
    let mut pieces = 0;
    let mut rest = line;
    while rest.len() > max {
        out.extend_from_slice(&rest[..max]);
        out.extend_from_slice(CONTINUATION_MARKER);
        out.push(b'\n');
        rest = &rest[max..];
        pieces += 1;
    }
    out.extend_from_slice(rest);
    out.push(b'\n');
    pieces + 1
}

/// Whether `message` can be written as exactly `message` plus `\n`: it holds no newline and
/// is no longer than `max_line_len`. This is the common case, checked on every write.
#[inline]
pub fn is_single_line(message: &[u8], max_line_len: usize) -> bool {
    message.len() <= max_line_len && memchr(b'\n', message).is_none()
}

/// Appends `message`, one logical write, to `out` as whole lines and returns how many.
///
/// One trailing `\n` is the message's own terminator and is not doubled; any other `\n` splits
/// the message into several lines; lines longer than `max_line_len` are split as by
/// [`LineSplitter`]. The result is what `LineSplitter` yields for `message` + `\n`.
pub fn encode_message(message: &[u8], max_line_len: usize, out: &mut Vec<u8>) -> usize {
    let body = message.strip_suffix(b"\n").unwrap_or(message);
    let mut count = 0;
    for record in body.split(|&b| b == b'\n') {
        count += encode_split(record, max_line_len, out);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(max: usize, chunks: &[&[u8]]) -> (Vec<u8>, usize) {
        let mut b = LineSplitter::new(max);
        let mut out = Vec::new();
        let mut n = 0;
        for c in chunks {
            b.push(c, |l| {
                assert_eq!(l.bytes.last(), Some(&b'\n'));
                assert_eq!(memchr_iter(b'\n', l.bytes).count(), l.count);
                out.extend_from_slice(l.bytes);
                n += l.count;
            });
            assert!(b.pending_len() <= max);
        }
        b.finish(|l| {
            out.extend_from_slice(l.bytes);
            n += l.count;
        });
        (out, n)
    }

    #[test]
    fn joins_partial_lines() {
        let (out, n) = run(100, &[b"ab", b"c\nde", b"", b"f\n", b"g"]);
        assert_eq!(out, b"abc\ndef\ng\n");
        assert_eq!(n, 3);
    }

    #[test]
    fn keeps_cr_nul_and_invalid_utf8() {
        let input: &[u8] = b"a\r\n\0\xff\xfe\r\n\x1b[31mred\n";
        let (out, n) = run(100, &[input]);
        assert_eq!(out, input);
        assert_eq!(n, 3);
    }

    #[test]
    fn empty_lines_are_lines() {
        let (out, n) = run(10, &[b"\n\n", b"\n"]);
        assert_eq!(out, b"\n\n\n");
        assert_eq!(n, 3);
    }

    #[test]
    fn splits_long_lines_with_markers() {
        let m = CONTINUATION_MARKER;
        let (out, n) = run(4, &[b"abcdefghij\nxy\n"]);
        let expected = [&b"abcd"[..], m, b"\nefgh", m, b"\nij\nxy\n"].concat();
        assert_eq!(out, expected);
        assert_eq!(n, 4);
    }

    #[test]
    fn line_of_exactly_max_is_not_split() {
        let (out, n) = run(4, &[b"ab", b"cd", b"\n"]);
        assert_eq!(out, b"abcd\n");
        assert_eq!(n, 1);
    }

    #[test]
    fn huge_line_in_many_chunks_stays_bounded() {
        let mut b = LineSplitter::new(1000);
        let chunk = vec![b'x'; 4096];
        let mut pieces = 0;
        for _ in 0..256 {
            b.push(&chunk, |l| {
                assert!(l.bytes.len() <= 1000 + CONTINUATION_MARKER.len() + 1);
                pieces += l.count;
            });
            assert!(b.pending_len() <= 1000);
        }
        b.push(b"\n", |l| pieces += l.count);
        assert_eq!(pieces, (4096 * 256usize).div_ceil(1000));
    }

    #[test]
    fn encode_message_matches_line_buffer() {
        for msg in [
            &b""[..],
            b"a",
            b"a\n",
            b"a\nb",
            b"a\r\nb\n",
            b"\n\n",
            b"0123456789abc",
        ] {
            let mut out = Vec::new();
            let n = encode_message(msg, 5, &mut out);
            let body = msg.strip_suffix(b"\n").unwrap_or(msg);
            let (want, wn) = run(5, &[body, b"\n"]);
            assert_eq!(out, want, "{msg:?}");
            assert_eq!(n, wn);
        }
    }

    #[test]
    fn single_line_check() {
        assert!(is_single_line(b"abc", 3));
        assert!(!is_single_line(b"abcd", 3));
        assert!(!is_single_line(b"a\nb", 3));
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_lines(
            data in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(0u8), any::<u8>()], 0..600),
            cuts in proptest::collection::vec(0usize..600, 0..20),
            max in 1usize..40,
        ) {
            let whole = run(max, &[&data]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts {
                chunks.push(&data[prev..c]);
                prev = c;
            }
            chunks.push(&data[prev..]);
            prop_assert_eq!(&run(max, &chunks), &whole);
            // Removing markers and joining pieces gives the input back (plus a final newline).
            let mut sep = CONTINUATION_MARKER.to_vec();
            sep.push(b'\n');
            let mut joined = Vec::new();
            let mut rest = &whole.0[..];
            while let Some(i) = memchr::memmem::find(rest, &sep) {
                joined.extend_from_slice(&rest[..i]);
                rest = &rest[i + sep.len()..];
            }
            joined.extend_from_slice(rest);
            let mut expect = data.clone();
            if expect.last().is_some_and(|&b| b != b'\n') {
                expect.push(b'\n');
            }
            prop_assert_eq!(joined, expect);
        }
    }
}
