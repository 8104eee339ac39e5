//! Edge cases through the public API: Unicode, NUL, invalid UTF-8, CR, empty lines, a line
//! exactly at the length limit, a 100 MB line, a closed writer, a full buffer.

use std::sync::Arc;
use std::time::Duration;

use bunctl_logging::testing::{FaultFs, Faults, Op};
use bunctl_logging::SystemClock;
use bunctl_logging::{
    AsyncLogWriter, Error, LineSplitter, Lines, LogWriterConfig, RotationStrategy, WriterOptions,
};

use crate::common::lines;
use crate::{eventually, never_rotating, writer_config};

#[tokio::test]
async fn unicode_is_kept_byte_for_byte_even_when_chunks_cut_a_character() {
    let dir = tempfile::tempdir().unwrap();
    let writer = never_rotating(dir.path()).await;
    let texts = [
        "grüße, ĉiuj, Ελληνικά, русский",
        "日本語のログ行、中文日志行、한국어 로그",
        "שלום עולם مرحبا بالعالم", // right to left
        "e\u{301} n\u{303} (combining marks)",
        "👩‍👩‍👧‍👦 🇫🇷 🏳️‍🌈 (joined emoji, flags)",
        "\u{feff}byte order mark, \u{200b}zero width space, \u{2028}line separator",
        "\u{10ffff} the last code point",
    ];
    let mut expected = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        if i % 2 == 0 {
            writer.write_line(text).unwrap();
        } else {
            writer.write_line_async(text).await.unwrap();
        }
        expected.extend_from_slice(text.as_bytes());
        expected.push(b'\n');
    }
    // The same text as a stream cut every 3 bytes: inside most multi-byte characters.
    let stream = expected.clone();
    let mut buf = LineSplitter::new(1 << 20);
    let mut out = Vec::new();
    for chunk in stream.chunks(3) {
        out.clear();
        let count = buf.push_into(chunk, &mut out);
        if count > 0 {
            writer
                .write_lines(Lines { bytes: &out, count })
                .await
                .unwrap();
        }
    }
    assert_eq!(buf.pending_len(), 0);
    expected.extend_from_slice(&stream);
    writer.shutdown().await.unwrap();

    let data = std::fs::read(writer.path()).unwrap();
    assert_eq!(data, expected);
    assert!(std::str::from_utf8(&data).is_ok());
    assert_eq!(
        writer.get_metrics().await.lines_written,
        2 * texts.len() as u64
    );
}

#[tokio::test]
async fn bytes_are_kept_and_partial_lines_are_whole() {
    let dir = tempfile::tempdir().unwrap();
    let writer = never_rotating(dir.path()).await;
    writer
        .write_line(b"nul\0 and \xff\xfe invalid utf-8")
        .unwrap();
    writer.write_line(b"crlf\r\ninside").unwrap();
    writer.write_line(b"\x1b[31mcolour\x1b[0m\r").unwrap();
    writer.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read(writer.path()).unwrap(),
        b"nul\0 and \xff\xfe invalid utf-8\ncrlf\r\ninside\n\x1b[31mcolour\x1b[0m\r\n"
    );
    assert_eq!(writer.get_metrics().await.lines_written, 4);
}

#[tokio::test]
async fn nul_and_invalid_utf8_pass_through_every_write_method() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(never_rotating(dir.path()).await);
    let all_bytes: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
    writer.write_line(&all_bytes).unwrap();
    writer.try_write_line(b"\0\0\0").unwrap();
    writer
        .write_line_async(b"\xc3\x28 \xe2\x82 \xf0\x28\x8c\x28")
        .await
        .unwrap();
    let w = writer.clone();
    std::thread::spawn(move || w.write_line_blocking(b"\xed\xa0\x80 surrogate\0").unwrap())
        .join()
        .unwrap();
    writer.shutdown().await.unwrap();
    let mut expected = all_bytes.clone();
    expected.extend_from_slice(b"\n\0\0\0\n\xc3\x28 \xe2\x82 \xf0\x28\x8c\x28\n");
    expected.extend_from_slice(b"\xed\xa0\x80 surrogate\0\n");
    assert_eq!(std::fs::read(writer.path()).unwrap(), expected);
    assert_eq!(writer.get_metrics().await.lines_written, 4);
}

#[tokio::test]
async fn empty_lines_are_lines() {
    let dir = tempfile::tempdir().unwrap();
    let writer = never_rotating(dir.path()).await;
    writer.write_line("").unwrap(); // one empty line
    writer.write_line("\n").unwrap(); // the same: a trailing newline is not doubled
    writer.write_line("a\n\nb").unwrap(); // three lines, the middle one empty
    writer.write_line_async("").await.unwrap();
    writer.try_write_line("\n\n").unwrap(); // two empty lines
    writer.shutdown().await.unwrap();
    assert_eq!(std::fs::read(writer.path()).unwrap(), b"\n\na\n\nb\n\n\n\n");
    assert_eq!(writer.get_metrics().await.lines_written, 8);
}

#[tokio::test]
async fn a_line_of_max_line_len_stays_whole_and_one_byte_more_is_split() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = WriterOptions::default();
    options.max_line_len = 64;
    let writer = AsyncLogWriter::with_options(
        writer_config(dir.path(), RotationStrategy::Never, 10),
        options,
    )
    .await
    .unwrap();
    writer.write_line("a".repeat(64)).unwrap();
    writer.write_line("b".repeat(65)).unwrap();
    writer.shutdown().await.unwrap();
    let expected = format!(
        "{}\n{} [bunctl-log: line continues]\nb\n",
        "a".repeat(64),
        "b".repeat(64)
    );
    assert_eq!(std::fs::read_to_string(writer.path()).unwrap(), expected);
    assert_eq!(writer.get_metrics().await.lines_written, 3);
}

#[tokio::test]
async fn a_100_mb_line_is_written_in_marked_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let writer = never_rotating(dir.path()).await;
    let huge = vec![b'x'; 100 << 20];
    // Too large for a non-blocking write at once ...
    assert!(matches!(
        writer.try_write_line(&huge),
        Err(Error::TooLarge { .. })
    ));
    // ... and written whole, in marked 1 MiB pieces, by the waiting write.
    writer.write_line_async(&huge).await.unwrap();
    writer.write_line_async("after").await.unwrap();
    writer.shutdown().await.unwrap();
    let data = std::fs::read(writer.path()).unwrap();
    let marker = b" [bunctl-log: line continues]\n";
    let pieces: Vec<&[u8]> = lines(&data);
    assert_eq!(pieces.len(), 100 + 1);
    for p in &pieces[..99] {
        assert_eq!(p.len(), (1 << 20) + marker.len() - 1);
        assert!(p.ends_with(&marker[..marker.len() - 1]));
    }
    assert_eq!(pieces[99].len(), 1 << 20);
    assert_eq!(pieces[100], b"after");
    assert_eq!(writer.get_metrics().await.lines_written, 101);
}

#[tokio::test]
async fn a_closed_writer_refuses_every_write_and_keeps_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(never_rotating(dir.path()).await);
    writer.write_line("before").unwrap();
    assert!(!writer.is_closed());
    writer.shutdown().await.unwrap();
    assert!(writer.is_closed());
    assert!(matches!(writer.write_line("x"), Err(Error::Closed)));
    assert!(matches!(writer.try_write_line("x"), Err(Error::Closed)));
    assert!(matches!(
        writer.write_line_async("x").await,
        Err(Error::Closed)
    ));
    let lines_in = Lines {
        bytes: b"x\n",
        count: 1,
    };
    assert!(matches!(
        writer.write_lines(lines_in).await,
        Err(Error::Closed)
    ));
    let w = writer.clone();
    let blocking = std::thread::spawn(move || w.write_line_blocking("x"))
        .join()
        .unwrap();
    assert!(matches!(blocking, Err(Error::Closed)), "{blocking:?}");
    // Shutting down again says the same, and nothing reached the file after the first.
    writer.shutdown().await.unwrap();
    assert_eq!(std::fs::read(writer.path()).unwrap(), b"before\n");
    let m = writer.get_metrics().await;
    assert_eq!((m.lines_written, m.dropped_messages), (1, 0));
}

#[tokio::test]
async fn shutdown_twice_and_dropping_without_shutdown_keep_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = writer_config(dir.path(), RotationStrategy::Never, 10);
    let w = AsyncLogWriter::new(config.clone()).await.unwrap();
    w.write_line("a").unwrap();
    w.shutdown().await.unwrap();
    w.shutdown().await.unwrap();
    let w = AsyncLogWriter::new(config).await.unwrap();
    w.write_line("b").unwrap();
    let path = w.path().to_path_buf();
    drop(w);
    // The task drains in the background after the handle is dropped.
    for _ in 0..200 {
        if std::fs::read(&path).unwrap() == b"a\nb\n" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("dropped writer did not write its last line");
}

/// What fills [`full_writer`]'s buffer: 37 bytes.
const FILLED: &str = "second\nfill1\nfill2\nfill3\nfill4\nfill5\n";

/// A writer that buffers 37 bytes at most (the least `max_line_len` 6 allows), whose first
/// batch is stuck in `write(2)` (the disk hangs until the test clears it): after "first" and
/// [`FILLED`], the buffer is full.
async fn full_writer(dir: &std::path::Path) -> (AsyncLogWriter, Faults) {
    let (fs, faults) = FaultFs::shared();
    let mut options = WriterOptions::default();
    options.max_line_len = 6;
    options.max_buffered_bytes = 37;
    let writer = AsyncLogWriter::open_with_io(
        LogWriterConfig {
            buffer_size: 1,
            ..writer_config(dir, RotationStrategy::Never, 10)
        },
        options,
        fs,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    faults.hold(Op::Write);
    writer.write_line("first").unwrap();
    assert!(eventually(|| faults.calls(Op::Write) == 1).await);
    writer.write_line(FILLED).unwrap();
    assert_eq!(writer.metrics_snapshot().buffered_bytes, 37);
    (writer, faults)
}

/// Drops after the last accepted line have no next line to put their marker before: the
/// marker goes at the end of the file when the writer closes.
#[tokio::test]
async fn drops_on_a_full_buffer_after_the_last_line_are_marked_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, faults) = full_writer(dir.path()).await;
    writer.write_line("third").unwrap();
    writer.write_line("fourth").unwrap();
    assert!(matches!(writer.try_write_line("fifth"), Err(Error::Full)));
    let m = writer.get_metrics().await;
    assert_eq!((m.dropped_messages, m.buffer_overflows), (2, 3));
    faults.clear(Op::Write);
    writer.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(writer.path()).unwrap(),
        format!("first\n{FILLED}[bunctl-log] 2 lines dropped here: the writer was full\n")
    );
    assert_eq!(writer.get_metrics().await.lines_written, 7);
}

/// On a full buffer the lossless write waits, without failing, until the writer makes room.
#[tokio::test]
async fn a_lossless_write_on_a_full_buffer_waits_for_room() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, faults) = full_writer(dir.path()).await;
    let writer = Arc::new(writer);
    let w = writer.clone();
    let waiting = tokio::spawn(async move { w.write_line_async("third").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "the write did not wait for room");
    faults.clear(Op::Write);
    waiting.await.unwrap().unwrap();
    writer.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(writer.path()).unwrap(),
        format!("first\n{FILLED}third\n")
    );
    let m = writer.get_metrics().await;
    assert_eq!((m.lines_written, m.dropped_messages), (8, 0));
    assert_eq!(m.buffer_overflows, 1, "the wait counts as one overflow");
}
