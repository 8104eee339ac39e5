//! The fuzz body for [`LineSplitter`](crate::LineSplitter), as an ordinary library function.
//!
//! It lives here rather than in `fuzz/` so that the same code runs in two places: under
//! libFuzzer (`fuzz/fuzz_targets/line_buffer.rs`, built only by `cargo fuzz`), and from a plain
//! `cargo test` that replays the seed corpus and every saved crash input
//! (`tests/fuzz_corpus.rs`), so CI checks the corpus without building libFuzzer and a crash
//! found once stays a regression test. It is not part of the supported API.
//!
//! [`check_line_splitter`] panics (that is how a fuzzer sees a failure) when an invariant of the
//! buffer does not hold for the given input.

use memchr::memmem;

use crate::{encode_message, is_single_line, LineSplitter, Lines, CONTINUATION_MARKER};

/// How many header bytes at most give chunk lengths.
const MAX_CHUNK_LENS: usize = 15;

/// Checks every invariant of [`LineSplitter`] and [`encode_message`] on one fuzz input.
///
/// Layout of `data`: byte 0 gives the longest line, `1 + b % 64`; the low 4 bits of byte 1
/// give `k`, the number of chunk-length bytes that follow; the rest is the payload. The
/// payload is fed whole, then cut into chunks whose lengths cycle through the `k` lengths
/// (a zero length pushes an empty chunk). Missing header bytes count as zero.
///
/// Asserted:
/// * both chunkings give the same bytes and the same line count;
/// * every [`Lines`] ends with `\n` and its `count` is its number of `\n`;
/// * every line is at most `max` bytes, or is a split piece: exactly `max` bytes followed by
///   [`CONTINUATION_MARKER`] (so no line exceeds `max + CONTINUATION_MARKER.len()`);
/// * [`LineSplitter::pending_len`] is at most `max` after every push;
/// * joining the split pieces (dropping the marker and newline of each) gives the payload back,
///   plus a `\n` if it did not end with one; when the payload does not itself contain
///   `CONTINUATION_MARKER` + `\n`, simply deleting every marker + `\n` does the same;
/// * [`encode_message`] of the payload equals the buffer's output for the payload with one
///   trailing `\n` stripped, plus `\n`, with the same count; and [`is_single_line`] means the
///   encoding is the payload plus `\n`.
///
/// # Panics
/// When any of these does not hold.
pub fn check_line_splitter(data: &[u8]) {
    let (header, payload) = split_input(data);
    let max = header.max;

    // Whole, then chunked.
    let whole = run(max, &[payload]);
    let chunks = chunk(payload, &header.chunk_lens);
    let chunked = run(max, &chunks);
    assert_eq!(
        whole, chunked,
        "chunking changed the output (max {max}, chunks {chunks:?})"
    );
    let (out, count) = whole;
    assert_eq!(count, memchr::memchr_iter(b'\n', &out).count());

    // Every line is short or a marked piece of exactly `max` bytes.
    for line in out.split_inclusive(|&b| b == b'\n') {
        let body = &line[..line.len() - 1];
        assert_eq!(
            line.last(),
            Some(&b'\n'),
            "output does not end with a newline"
        );
        assert!(
            body.len() <= max
                || (body.len() == max + CONTINUATION_MARKER.len()
                    && body.ends_with(CONTINUATION_MARKER)),
            "line of {} bytes with max {max}: {line:?}",
            body.len()
        );
    }

    // Joining pieces gives the input back.
    let mut expect = payload.to_vec();
    if expect.last().is_some_and(|&b| b != b'\n') {
        expect.push(b'\n');
    }
    assert_eq!(join_pieces(&out, max), expect, "joined pieces differ");
    let mut sep = CONTINUATION_MARKER.to_vec();
    sep.push(b'\n');
    if memmem::find(&expect, &sep).is_none() {
        assert_eq!(
            delete_all(&out, &sep),
            expect,
            "deleting markers does not give the input"
        );
    }

    // encode_message agrees with the buffer.
    let mut encoded = Vec::new();
    let n = encode_message(payload, max, &mut encoded);
    let body = payload.strip_suffix(b"\n").unwrap_or(payload);
    let want = run(max, &[body, b"\n"]);
    assert_eq!((encoded.as_slice(), n), (want.0.as_slice(), want.1));
    if is_single_line(payload, max) {
        assert_eq!(&encoded[..encoded.len() - 1], payload);
        assert_eq!(n, 1);
    }
}

/// What the first bytes of a fuzz input say.
struct Header {
    max: usize,
    chunk_lens: Vec<usize>,
}

fn split_input(data: &[u8]) -> (Header, &[u8]) {
    let (&max_byte, rest) = data.split_first().unwrap_or((&0, &[]));
    let (&k_byte, rest) = rest.split_first().unwrap_or((&0, &[]));
    let k = usize::from(k_byte & 0x0f)
        .min(MAX_CHUNK_LENS)
        .min(rest.len());
    let (lens, payload) = rest.split_at(k);
    let header = Header {
        max: 1 + usize::from(max_byte % 64),
        chunk_lens: lens.iter().map(|&b| usize::from(b)).collect(),
    };
    (header, payload)
}

/// Cuts `payload` into chunks whose lengths cycle through `lens`; the last chunk takes what is
/// left. Zero lengths give empty chunks.
fn chunk<'a>(payload: &'a [u8], lens: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = payload;
    if lens.iter().any(|&l| l > 0) {
        for &len in lens.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (c, r) = rest.split_at(len.min(rest.len()));
            chunks.push(c);
            rest = r;
        }
    } else {
        chunks.extend(lens.iter().map(|_| &rest[..0]));
    }
    chunks.push(rest);
    chunks
}

/// Feeds `chunks` then finishes, checking each [`Lines`] and the pending length as it goes.
/// Returns everything emitted and the total line count.
fn run(max: usize, chunks: &[&[u8]]) -> (Vec<u8>, usize) {
    let mut buf = LineSplitter::new(max);
    assert_eq!(buf.max_line_len(), max);
    let mut out = Vec::new();
    let mut count = 0;
    let mut take = |lines: Lines<'_>| {
        assert_eq!(
            lines.bytes.last(),
            Some(&b'\n'),
            "Lines without final newline"
        );
        assert_eq!(
            memchr::memchr_iter(b'\n', lines.bytes).count(),
            lines.count,
            "Lines.count is wrong: {lines:?}"
        );
        assert!(lines.count > 0, "empty Lines emitted");
        out.extend_from_slice(lines.bytes);
        count += lines.count;
    };
    for c in chunks {
        buf.push(c, &mut take);
        assert!(
            buf.pending_len() <= max,
            "pending {} > max {max}",
            buf.pending_len()
        );
    }
    buf.finish(&mut take);
    assert_eq!(buf.pending_len(), 0);
    (out, count)
}

/// Joins split pieces the unambiguous way: a line is a piece of a longer one exactly when it
/// is `max` bytes plus the marker (a line that was not split is at most `max` bytes).
fn join_pieces(out: &[u8], max: usize) -> Vec<u8> {
    let mut joined = Vec::with_capacity(out.len());
    for line in out.split_inclusive(|&b| b == b'\n') {
        let body = &line[..line.len() - 1];
        match body.strip_suffix(CONTINUATION_MARKER) {
            Some(piece) if piece.len() == max => joined.extend_from_slice(piece),
            _ => joined.extend_from_slice(line),
        }
    }
    joined
}

/// `haystack` with every occurrence of `needle` (left to right, non-overlapping) removed.
fn delete_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = memmem::find(rest, needle) {
        kept.extend_from_slice(&rest[..i]);
        rest = &rest[i + needle.len()..];
    }
    kept.extend_from_slice(rest);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_empty_inputs_are_fine() {
        check_line_splitter(b"");
        check_line_splitter(b"\x00");
        check_line_splitter(b"\x00\x00");
        check_line_splitter(b"\x03\x0f");
        check_line_splitter(b"\x03\x0f\x00\x00abc\ndef");
    }

    #[test]
    fn header_is_decoded() {
        let (h, p) = split_input(b"\x43\x02\x01\x05hello\nworld");
        assert_eq!(h.max, 4);
        assert_eq!(h.chunk_lens, [1, 5]);
        assert_eq!(p, b"hello\nworld");
        assert_eq!(
            chunk(p, &h.chunk_lens),
            [&b"h"[..], b"ello\n", b"w", b"orld", b""]
        );
        assert_eq!(chunk(b"ab", &[0, 0]), [&b""[..], b"", b"ab"]);
    }

    #[test]
    fn join_pieces_is_unambiguous() {
        // A payload that contains the marker itself, split and not split.
        let mut data = vec![63, 1, 7];
        data.extend_from_slice(b"x");
        data.extend_from_slice(CONTINUATION_MARKER);
        data.extend_from_slice(
            b"\nand a line longer than sixty-four bytes, which is split in two\n",
        );
        check_line_splitter(&data);
    }
}
