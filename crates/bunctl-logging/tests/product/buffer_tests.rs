//! Line buffering through the public API: partial lines joined by a `LineSplitter` and handed
//! over with `write_lines`, CR/LF, batching and `flush`, what each write does when the buffer
//! is full, and the memory bound.

use std::sync::Arc;
use std::time::Duration;

use bunctl_logging::testing::{FaultFs, Op};
use bunctl_logging::SystemClock;
use bunctl_logging::{
    AsyncLogWriter, Error, LineSplitter, Lines, LogWriterConfig, RotationStrategy, WriterOptions,
};

use crate::common::{is_marker, lines, marker_count};
use crate::{eventually, never_rotating, writer_config};

/// Feeds `chunks` to `buf` and hands every completed line to `writer` with `write_lines`, then
/// the unterminated last line, if any; returns the number of lines handed over.
async fn pump<'a>(
    writer: &AsyncLogWriter,
    buf: &mut LineSplitter,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> usize {
    let mut out = Vec::new();
    let mut handed = 0;
    for chunk in chunks {
        out.clear();
        let count = buf.push_into(chunk, &mut out);
        if count > 0 {
            writer
                .write_lines(Lines { bytes: &out, count })
                .await
                .unwrap();
            handed += count;
        }
    }
    out.clear();
    let count = buf.finish_into(&mut out);
    if count > 0 {
        writer
            .write_lines(Lines { bytes: &out, count })
            .await
            .unwrap();
        handed += count;
    }
    handed
}

#[tokio::test]
async fn partial_lines_from_a_line_buffer_reach_the_file_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let writer = never_rotating(dir.path()).await;
    let mut stream = Vec::new();
    for i in 0..2000 {
        stream.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 97)).as_bytes());
    }
    stream.extend_from_slice(b"the last line has no newline");
    // Chunks of 1 to 300 bytes (xorshift, fixed seed), cut wherever they fall: inside lines,
    // right after a newline, several lines at once.
    let mut chunks = Vec::new();
    let (mut rest, mut seed) = (&stream[..], 0x2545_f491_u32);
    while !rest.is_empty() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let (chunk, tail) = rest.split_at((seed as usize % 300 + 1).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    assert!(chunks.len() > 500);
    let mut buf = LineSplitter::new(1 << 20);
    let handed = pump(&writer, &mut buf, chunks).await;
    writer.shutdown().await.unwrap();

    assert_eq!(handed, 2001);
    let mut expected = stream;
    expected.push(b'\n'); // the unterminated last line, ended
    assert_eq!(std::fs::read(writer.path()).unwrap(), expected);
    assert_eq!(writer.get_metrics().await.lines_written, 2001);
}

#[tokio::test]
async fn lf_ends_a_line_and_cr_is_kept_wherever_the_chunks_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let writer = never_rotating(dir.path()).await;
    // "\r\n" cut between its bytes, a lone "\r" inside a line, a line that is only "\r\n".
    let chunks: [&[u8]; 4] = [b"one\r", b"\ntwo\rthree", b"\r\n", b"\r\nfour\r"];
    let handed = pump(&writer, &mut LineSplitter::new(1024), chunks).await;
    // The same rules for single writes: a trailing "\n" is the line's end, "\r" stays.
    writer.write_line("five\r\n").unwrap();
    writer.write_line("six\r").unwrap();
    writer.shutdown().await.unwrap();

    assert_eq!(handed, 4);
    assert_eq!(
        std::fs::read(writer.path()).unwrap(),
        b"one\r\ntwo\rthree\r\n\r\nfour\r\nfive\r\nsix\r\n"
    );
    assert_eq!(writer.get_metrics().await.lines_written, 6);
}

#[tokio::test]
async fn lines_wait_until_a_batch_is_full_or_flushed_and_go_in_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AsyncLogWriter::new(LogWriterConfig {
        buffer_size: 4096,
        flush_interval: Duration::from_secs(3600),
        ..writer_config(dir.path(), RotationStrategy::Never, 10)
    })
    .await
    .unwrap();
    let mut expected = Vec::new();
    for i in 0..10 {
        let line = format!("short {i}");
        writer.write_line(&line).unwrap();
        expected.extend_from_slice(line.as_bytes());
        expected.push(b'\n');
    }
    // Fewer than buffer_size bytes and no flush: the writer waits for more.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(std::fs::read(writer.path()).unwrap(), b"");
    assert_eq!(writer.get_metrics().await.flush_count, 0);

    // 64 lines of 64 bytes take the buffer past 4096 bytes: the writer writes without a flush.
    for i in 0..64 {
        let line = format!("{i:063}");
        writer.write_line(&line).unwrap();
        expected.extend_from_slice(line.as_bytes());
        expected.push(b'\n');
    }
    let path = writer.path().to_path_buf();
    assert!(
        eventually(|| std::fs::metadata(&path).unwrap().len() >= 4096).await,
        "a full batch was not written"
    );

    writer.write_line("tail").unwrap();
    expected.extend_from_slice(b"tail\n");
    writer.flush().await.unwrap();
    assert_eq!(std::fs::read(writer.path()).unwrap(), expected);
    let m = writer.get_metrics().await;
    assert_eq!(m.lines_written, 75);
    assert_eq!(m.bytes_written, expected.len() as u64);
    // One write per batch: the one that filled up, and the one the flush asked for.
    assert_eq!(m.flush_count, 2, "{m:?}");
    writer.shutdown().await.unwrap();
}

#[tokio::test]
async fn flush_puts_accepted_lines_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AsyncLogWriter::new(LogWriterConfig {
        flush_interval: Duration::from_secs(3600),
        ..writer_config(dir.path(), RotationStrategy::Never, 10)
    })
    .await
    .unwrap();
    writer.write_line("one").unwrap();
    writer.write_line_async(b"two\n").await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(std::fs::read(writer.path()).unwrap(), b"one\ntwo\n");
    let m = writer.get_metrics().await;
    assert_eq!((m.lines_written, m.bytes_written), (2, 8));
    assert!(m.flush_count >= 1);
    writer.shutdown().await.unwrap();
}

/// One producer numbers its lines, so every gap in the file is visible: each must be preceded
/// by exactly one marker giving its size.
#[tokio::test]
async fn write_line_drops_when_full_and_marks_each_gap_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = WriterOptions::default();
    options.max_line_len = 16;
    options.max_buffered_bytes = 64; // 7 lines of 9 bytes
    let writer = AsyncLogWriter::with_options(
        writer_config(dir.path(), RotationStrategy::Never, 10),
        options,
    )
    .await
    .unwrap();
    // One thread outruns a writer that makes a system call per batch of at most 7 lines.
    let mut offered = 0u64;
    while writer.metrics_snapshot().dropped_messages < 100 && offered < 5_000_000 {
        writer.write_line(format!("{offered:08}")).unwrap();
        offered += 1;
    }
    // Waiting writes after the drops: the last gap is followed by a line too.
    for _ in 0..5 {
        writer
            .write_line_async(format!("{offered:08}"))
            .await
            .unwrap();
        offered += 1;
    }
    writer.shutdown().await.unwrap();
    let m = writer.get_metrics().await;
    assert!(m.dropped_messages >= 100, "never full: {m:?}");
    assert_eq!(m.lines_written + m.dropped_messages, offered);
    assert!(m.buffer_overflows >= m.dropped_messages);

    let data = std::fs::read(writer.path()).unwrap();
    let (mut next, mut marker, mut gaps, mut marked) = (0u64, None, 0u64, 0u64);
    for line in lines(&data) {
        if is_marker(line) {
            assert!(
                line.ends_with(b" lines dropped here: the writer was full"),
                "{}",
                String::from_utf8_lossy(line)
            );
            assert!(marker.is_none(), "two markers in a row");
            marker = Some(marker_count(line));
            marked += marker_count(line);
            continue;
        }
        let n: u64 = std::str::from_utf8(line).unwrap().parse().unwrap();
        assert!(n >= next, "line {n} out of order or repeated");
        let gap = n - next;
        assert_eq!(marker.take().unwrap_or(0), gap, "at line {n}");
        gaps += u64::from(gap > 0);
        next = n + 1;
    }
    assert_eq!(next, offered, "the last line is missing");
    assert_eq!(marker, None, "a marker with no line after it");
    assert_eq!(marked, m.dropped_messages);
    assert!(gaps >= 1);
}

#[tokio::test]
async fn try_write_line_says_full_and_takes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = WriterOptions::default();
    options.max_line_len = 16;
    options.max_buffered_bytes = 1; // raised to 47: one piece of a split line must fit
    let writer = AsyncLogWriter::with_options(
        LogWriterConfig {
            flush_interval: Duration::from_secs(3600),
            ..writer_config(dir.path(), RotationStrategy::Never, 10)
        },
        options,
    )
    .await
    .unwrap();
    // The writer task may take the first batch at once; fill until full.
    let mut accepted = 0;
    let full = loop {
        match writer.try_write_line(format!("line {accepted}")) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        // Generous: under load the writer may drain each pair as it comes for a while.
        assert!(accepted < 100_000, "never full");
    };
    assert!(matches!(full, Error::Full), "{full:?}");
    assert_eq!(writer.get_metrics().await.buffer_overflows, 1);
    assert_eq!(writer.get_metrics().await.dropped_messages, 0);
    writer.shutdown().await.unwrap();
    let text = std::fs::read_to_string(writer.path()).unwrap();
    assert_eq!(text.lines().count(), accepted);
    assert_eq!(writer.get_metrics().await.lines_written, accepted as u64);
}

/// With the disk hung, nothing drains: what the writer holds is the batch stuck in `write(2)`
/// plus at most `max_buffered_bytes`, whatever the producers do.
#[tokio::test]
async fn buffered_bytes_never_pass_max_buffered_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = WriterOptions::default();
    options.max_line_len = 100;
    options.max_buffered_bytes = 4096;
    let (fs, faults) = FaultFs::shared();
    let writer = AsyncLogWriter::open_with_io(
        LogWriterConfig {
            buffer_size: 1,
            flush_interval: Duration::from_secs(3600),
            ..writer_config(dir.path(), RotationStrategy::Never, 10)
        },
        options,
        fs,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    faults.hold(Op::Write);
    writer.write_line("first").unwrap();
    assert!(
        eventually(|| faults.calls(Op::Write) == 1).await,
        "the writer never took the first line"
    );

    let line = "y".repeat(99); // 100 bytes with its newline
    let mut accepted = 0u64;
    let full = loop {
        match writer.try_write_line(&line) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted <= 4096, "the buffer grows without bound");
    };
    assert!(matches!(full, Error::Full), "{full:?}");
    assert_eq!(accepted, 40, "4000 bytes fit in 4096, 4100 do not");
    // write_line does not grow the buffer either: it drops and counts.
    writer.write_line(&line).unwrap();
    assert_eq!(writer.metrics_snapshot().dropped_messages, 1);
    // A message larger than the whole buffer is never buffered whole.
    let big = "z".repeat(10_000); // 100 pieces of 100 bytes
    match writer.try_write_line(&big) {
        Err(Error::TooLarge { bytes, lines }) => {
            assert!(bytes > 4096, "{bytes}");
            assert_eq!(lines, 100);
        }
        other => panic!("{other:?}"),
    }

    // The disk answers again: the waiting write goes in piece by piece.
    faults.clear(Op::Write);
    writer.write_line_async(&big).await.unwrap();
    writer.shutdown().await.unwrap();
    let data = std::fs::read(writer.path()).unwrap();
    let got = lines(&data);
    assert_eq!(got.len(), 1 + 40 + 1 + 100);
    assert_eq!(got[0], b"first");
    assert!(got[1..41].iter().all(|l| *l == line.as_bytes()));
    assert_eq!(
        got[41],
        b"[bunctl-log] 1 lines dropped here: the writer was full"
    );
    let marker = b" [bunctl-log: line continues]";
    let mut joined = Vec::new();
    for piece in &got[42..141] {
        joined.extend_from_slice(piece.strip_suffix(&marker[..]).unwrap());
    }
    joined.extend_from_slice(got[141]);
    assert_eq!(joined, big.as_bytes());
    let m = writer.get_metrics().await;
    assert_eq!((m.lines_written, m.dropped_messages), (1 + 40 + 100, 1));
}
