//! The product's (v2) writing API at the facade's root, through the public API only:
//! `LineBuffer`, `LogRotation`, `AsyncLogWriter::{write, rotate, close}`, `LogWriter`, and the
//! manager's `remove_writer`, `flush_all`, `rotate_all`. (`tests/v2_api.rs` has the metrics,
//! the configuration checks and the reads.)

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bunctl_logging::{BufferStats, LineBuffer, LineBufferConfig, CONTINUATION_MARKER};

/// A deep directory inside a fresh tempdir: whatever a test does stays inside it.
fn deep_dir(root: &tempfile::TempDir) -> PathBuf {
    let dir = root.path().join("x").join("y").join("z");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// LineBuffer

fn buffer(max_size: usize, max_lines: usize) -> LineBuffer {
    LineBuffer::new(LineBufferConfig {
        max_size,
        max_lines,
    })
}

#[test]
fn line_buffer_defaults_are_the_products() {
    let c = LineBufferConfig::default();
    assert_eq!((c.max_size, c.max_lines), (64 << 10, 1000));
    let b = LineBuffer::default();
    assert_eq!(b.config(), &c);
    assert!(b.is_empty());
    assert_eq!(b.stats(), BufferStats::default());
}

#[test]
fn line_buffer_joins_chunks_into_lines_each_with_its_newline() {
    let b = buffer(1024, 100);
    b.write(b"ab");
    assert!(b.get_lines().is_empty());
    assert!(!b.is_empty(), "an unfinished line is held");
    b.write(b"c\nde\n\nf\r\ng");
    let lines = b.get_lines();
    assert_eq!(lines, [&b"abc\n"[..], b"de\n", b"\n", b"f\r\n"]);
    assert!(b.get_lines().is_empty(), "get_lines takes them");
    let s = b.stats();
    assert_eq!(s.pending_lines, 0);
    assert_eq!(s.incomplete_bytes, 1);
    assert_eq!(s.total_bytes_written, 12);
    assert_eq!(s.total_lines_written, 4);
    assert_eq!(b.flush_incomplete().as_deref(), Some(&b"g"[..]));
    assert_eq!(b.flush_incomplete(), None);
    assert!(b.is_empty());
}

#[test]
fn line_buffer_keeps_bytes_as_they_came() {
    let b = buffer(1024, 100);
    let input: &[u8] = b"\0\xff\xfe\x1b[31mred\n";
    b.write(input);
    assert_eq!(b.get_lines(), [input]);
}

#[test]
fn line_buffer_holds_at_most_max_lines_dropping_the_oldest() {
    let b = buffer(1024, 3);
    for i in 0..5 {
        b.write(format!("line {i}\n").as_bytes());
    }
    let s = b.stats();
    assert_eq!(
        (s.pending_lines, s.dropped_lines, s.total_lines_written),
        (3, 2, 5)
    );
    assert_eq!(b.get_lines(), [&b"line 2\n"[..], b"line 3\n", b"line 4\n"]);
    // Many lines in one write too.
    b.write(b"a\nb\nc\nd\n");
    assert_eq!(b.get_lines(), [&b"b\n"[..], b"c\n", b"d\n"]);
    assert_eq!(b.stats().dropped_lines, 3);
}

#[test]
fn an_unfinished_line_that_outgrows_max_size_comes_out_as_lines() {
    let b = buffer(4, 100);
    b.write(b"abcdefghij");
    let piece = |text: &[u8]| [text, CONTINUATION_MARKER, b"\n"].concat();
    assert_eq!(b.get_lines(), [piece(b"abcd"), piece(b"efgh")]);
    assert_eq!(b.stats().incomplete_bytes, 2);
    assert!(b.stats().incomplete_bytes <= 4);
    b.write(b"\n");
    assert_eq!(b.get_lines(), [&b"ij\n"[..]]);
    // A whole line longer than max_size is split the same way.
    b.write(b"0123456\n");
    assert_eq!(b.get_lines(), [piece(b"0123"), b"456\n".to_vec()]);
}

#[test]
fn line_buffer_memory_stays_bounded_on_a_line_without_end() {
    let b = buffer(100, 10);
    let chunk = vec![b'x'; 4096];
    for _ in 0..100 {
        b.write(&chunk);
        let s = b.stats();
        assert!(s.incomplete_bytes <= 100);
        assert!(s.pending_lines <= 10);
    }
    assert_eq!(b.stats().total_bytes_written, 409_600);
}

#[test]
fn line_buffer_clear_discards_held_lines_and_keeps_the_totals() {
    let b = buffer(1024, 100);
    b.write(b"a\nb\npartial");
    b.clear();
    assert!(b.is_empty());
    assert!(b.get_lines().is_empty());
    assert_eq!(b.flush_incomplete(), None);
    let s = b.stats();
    assert_eq!((s.total_bytes_written, s.total_lines_written), (11, 2));
    b.write(b"c\n");
    assert_eq!(b.get_lines(), [&b"c\n"[..]]);
}

#[test]
fn line_buffer_is_shared_by_threads_and_no_line_is_torn() {
    const THREADS: usize = 4;
    const LINES: usize = 2000;
    let b = Arc::new(buffer(1 << 10, THREADS * LINES));
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let b = &b;
            scope.spawn(move || {
                for i in 0..LINES {
                    b.write(format!("thread {t} line {i}\n").as_bytes());
                }
            });
        }
    });
    let lines = b.get_lines();
    assert_eq!(lines.len(), THREADS * LINES);
    let mut next = [0usize; THREADS];
    for line in &lines {
        let text = std::str::from_utf8(line).unwrap();
        let words: Vec<&str> = text.trim_end().split(' ').collect();
        let (t, i): (usize, usize) = (words[1].parse().unwrap(), words[3].parse().unwrap());
        assert_eq!(i, next[t], "thread {t} out of order");
        next[t] += 1;
    }
    assert_eq!(b.stats().dropped_lines, 0);
}

// ---------------------------------------------------------------------------------------------
// LogRotation

use bunctl_log_rotation::{ArchiveForm, ArchiveNaming};
use bunctl_logging::testing::ManualClock;
use bunctl_logging::{
    AsyncLogWriter, Error, LogRotation, LogWriterConfig, RotationConfig, RotationStrategy, StdFs,
};
use chrono::TimeZone;

fn rotation_config(
    strategy: RotationStrategy,
    max_files: u32,
    compression: bool,
) -> RotationConfig {
    RotationConfig {
        strategy,
        max_files,
        compression,
    }
}

/// The archives of `live`, oldest first, with their form.
fn archives(live: &Path) -> Vec<(PathBuf, ArchiveForm)> {
    let naming = ArchiveNaming::new(live).unwrap();
    let mut found: Vec<(u64, PathBuf, ArchiveForm)> = common::dir_names(naming.dir())
        .into_iter()
        .filter_map(|n| {
            naming
                .parse(&n)
                .map(|f| (f.seq, naming.dir().join(&n), f.form))
        })
        .collect();
    found.sort_by_key(|(seq, ..)| *seq);
    found.into_iter().map(|(_, p, f)| (p, f)).collect()
}

#[test]
fn should_rotate_by_size_from_the_limit_on_and_never_for_never() {
    let r = LogRotation::new(rotation_config(RotationStrategy::Size(100), 10, true));
    assert!(!r.should_rotate(0));
    assert!(!r.should_rotate(99));
    assert!(r.should_rotate(100));
    assert!(r.should_rotate(u64::MAX));
    let never = LogRotation::new(rotation_config(RotationStrategy::Never, 10, true));
    for size in [0, 1, 10 << 30, u64::MAX] {
        assert!(!never.should_rotate(size));
    }
}

#[test]
fn update_size_counts_and_reset_starts_afresh() {
    let mut r = LogRotation::new(rotation_config(RotationStrategy::Size(100), 10, true));
    r.update_size(60);
    assert!(!r.should_rotate(r.current_size()));
    r.update_size(40);
    assert_eq!(r.current_size(), 100);
    assert!(r.should_rotate(r.current_size()));
    r.update_size(u64::MAX);
    assert_eq!(r.current_size(), u64::MAX, "saturates");
    r.reset();
    assert_eq!(r.current_size(), 0);
    assert!(!r.should_rotate(r.current_size()));
}

#[test]
fn should_rotate_daily_and_hourly_at_a_new_utc_period() {
    let start = chrono::Utc
        .with_ymd_and_hms(2026, 12, 3, 22, 30, 0)
        .unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let daily = LogRotation::with_io(
        rotation_config(RotationStrategy::Daily, 10, true),
        StdFs::shared(),
        clock.clone(),
    );
    let mut hourly = LogRotation::with_io(
        rotation_config(RotationStrategy::Hourly, 10, true),
        StdFs::shared(),
        clock.clone(),
    );
    assert!(!daily.should_rotate(0) && !hourly.should_rotate(0));
    clock.advance(std::time::Duration::from_secs(29 * 60)); // 22:59
    assert!(!daily.should_rotate(0) && !hourly.should_rotate(0));
    clock.advance(std::time::Duration::from_secs(60)); // 23:00
    assert!(!daily.should_rotate(0));
    assert!(hourly.should_rotate(0));
    hourly.reset();
    assert!(!hourly.should_rotate(0), "the period starts again at reset");
    clock.advance(std::time::Duration::from_secs(3600)); // 00:00 the next day
    assert!(daily.should_rotate(0));
    assert!(hourly.should_rotate(0));
    // The size plays no part in a time strategy.
    assert!(
        !LogRotation::new(rotation_config(RotationStrategy::Daily, 1, true))
            .should_rotate(u64::MAX)
    );
}

#[tokio::test]
async fn rotate_renames_to_a_timestamped_archive_and_leaves_nothing_else() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let live = dir.join("app.log");
    std::fs::write(&live, "one\ntwo\n").unwrap();
    let mut r = LogRotation::new(rotation_config(RotationStrategy::Size(1 << 20), 10, false));
    r.update_size(8);
    r.rotate(&live).await.unwrap();
    assert_eq!(r.current_size(), 0);
    let names = common::dir_names(&dir);
    assert_eq!(names.len(), 1, "no new live file, no lock: {names:?}");
    let name = &names[0];
    assert!(
        name.starts_with("app.") && name.ends_with("-000001.log"),
        "{name}"
    );
    let stamp = &name["app.".len()..name.len() - "-000001.log".len()];
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").is_ok(),
        "{stamp}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(name)).unwrap(),
        "one\ntwo\n"
    );
    // The next rotation takes the next sequence number.
    std::fs::write(&live, "three\n").unwrap();
    r.rotate(&live).await.unwrap();
    let found = archives(&live);
    assert_eq!(found.len(), 2);
    assert!(found[1].0.to_str().unwrap().ends_with("-000002.log"));
    assert_eq!(common::read_files(&[found[1].0.clone()]), b"three\n");
}

#[tokio::test]
async fn rotate_compresses_when_asked() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let live = dir.join("app.log");
    let content: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&live, &content).unwrap();
    let mut r = LogRotation::new(rotation_config(RotationStrategy::Size(1 << 20), 10, true));
    r.rotate(&live).await.unwrap();
    let found = archives(&live);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, ArchiveForm::Gzip);
    assert!(found[0].0.to_str().unwrap().ends_with("-000001.log.gz"));
    assert_eq!(
        common::dir_names(&dir).len(),
        1,
        "the plain archive is gone"
    );
    assert_eq!(
        common::read_files(&[found[0].0.clone()]),
        content.as_bytes()
    );
}

#[tokio::test]
async fn rotate_keeps_at_most_max_files_the_newest() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let live = dir.join("app.log");
    // Another app's files in the same directory are not this file's archives.
    std::fs::write(dir.join("other.log"), "x\n").unwrap();
    std::fs::write(dir.join("other.20200101T000000Z-000001.log"), "x\n").unwrap();
    let mut r = LogRotation::new(rotation_config(RotationStrategy::Size(10), 2, true));
    for i in 0..5 {
        std::fs::write(&live, format!("file {i}\n")).unwrap();
        r.rotate_blocking(&live).unwrap();
    }
    let found = archives(&live);
    let paths: Vec<PathBuf> = found.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert_eq!(common::read_files(&paths), b"file 3\nfile 4\n");
    assert!(dir.join("other.log").exists());
    assert!(dir.join("other.20200101T000000Z-000001.log").exists());
}

#[tokio::test]
async fn rotating_a_missing_or_empty_file_does_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let mut r = LogRotation::new(rotation_config(RotationStrategy::Size(10), 2, true));
    r.update_size(50);
    r.rotate(&dir.join("missing.log")).await.unwrap();
    assert_eq!(r.current_size(), 0);
    std::fs::write(dir.join("empty.log"), "").unwrap();
    r.rotate(&dir.join("empty.log")).await.unwrap();
    assert_eq!(common::dir_names(&dir), ["empty.log"]);
}

#[tokio::test]
async fn rotate_refuses_a_file_a_writer_holds() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let live = dir.join("app.log");
    let writer = AsyncLogWriter::new(LogWriterConfig {
        path: live.clone(),
        ..LogWriterConfig::default()
    })
    .await
    .unwrap();
    writer.write_line_async("held").await.unwrap();
    writer.flush().await.unwrap();
    let mut r = LogRotation::new(rotation_config(RotationStrategy::Size(10), 2, false));
    let e = r.rotate(&live).await.unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e:?}");
    assert!(archives(&live).is_empty());
    writer.shutdown().await.unwrap();
    // Once the writer is gone the file rotates; the writer's lock file stays as it was.
    r.rotate(&live).await.unwrap();
    let found = archives(&live);
    assert_eq!(found.len(), 1);
    assert_eq!(common::read_files(&[found[0].0.clone()]), b"held\n");
    assert!(!live.exists());
}

#[cfg(unix)]
#[tokio::test]
async fn rotate_never_renames_a_symlink() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let target = dir.join("target.log");
    std::fs::write(&target, "not mine\n").unwrap();
    let live = dir.join("app.log");
    std::os::unix::fs::symlink(&target, &live).unwrap();
    let mut r = LogRotation::new(rotation_config(RotationStrategy::Size(10), 2, false));
    let e = r.rotate(&live).await.unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(common::dir_names(&dir), ["app.log", "target.log"]);
}

// ---------------------------------------------------------------------------------------------
// AsyncLogWriter::{write, write_line, rotate, close} and LogWriter

use bunctl_logging::{LineFormat, LogWriter, WriterOptions};

fn writer_config(path: &Path, strategy: RotationStrategy, compression: bool) -> LogWriterConfig {
    LogWriterConfig {
        path: path.to_path_buf(),
        rotation: rotation_config(strategy, 100, compression),
        enable_compression: compression,
        ..LogWriterConfig::default()
    }
}

async fn plain_writer(path: &Path) -> AsyncLogWriter {
    AsyncLogWriter::new(writer_config(path, RotationStrategy::Never, false))
        .await
        .unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn write_line_takes_str_string_and_a_reference_to_a_string() {
    let root = tempfile::tempdir().unwrap();
    let path = deep_dir(&root).join("app.log");
    let w = plain_writer(&path).await;
    let owned = String::from("from a String");
    let borrowed = String::from("from a &String");
    w.write_line("from a &str").unwrap();
    w.write_line(owned).unwrap();
    w.write_line(&borrowed).unwrap();
    w.write_line(format!("from format! {}", 1)).unwrap();
    w.shutdown().await.unwrap();
    assert_eq!(
        read(&path),
        "from a &str\nfrom a String\nfrom a &String\nfrom format! 1\n"
    );
}

#[tokio::test]
async fn write_splits_raw_bytes_and_holds_a_partial_line_until_the_rest_comes() {
    let root = tempfile::tempdir().unwrap();
    let path = deep_dir(&root).join("app.log");
    let w = plain_writer(&path).await;
    w.write(&b"first\nsec"[..]).unwrap();
    w.flush().await.unwrap();
    assert_eq!(
        read(&path),
        "first\n",
        "the partial line waits, no newline added"
    );
    w.write(String::from("ond\n\nthird\r\nfou")).unwrap();
    w.write(Vec::from(&b"r"[..])).unwrap();
    w.write(bytes::Bytes::from_static(b"th")).unwrap();
    w.flush().await.unwrap();
    assert_eq!(read(&path), "first\nsecond\n\nthird\r\n");
    // Other writes do not wait for the partial line.
    w.write_line("a whole line").unwrap();
    w.write("\n").unwrap();
    w.flush().await.unwrap();
    assert_eq!(
        read(&path),
        "first\nsecond\n\nthird\r\na whole line\nfourth\n"
    );
    assert_eq!(w.get_metrics().await.lines_written, 6);
    w.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_partial_line_is_written_with_a_newline_when_the_writer_closes() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    // close(self)
    let w = plain_writer(&dir.join("close.log")).await;
    w.write("line\npartial").unwrap();
    w.close().await.unwrap();
    assert_eq!(read(&dir.join("close.log")), "line\npartial\n");
    // shutdown(&self), twice
    let w = plain_writer(&dir.join("shutdown.log")).await;
    w.write("tail without newline").unwrap();
    w.shutdown().await.unwrap();
    w.shutdown().await.unwrap();
    assert_eq!(read(&dir.join("shutdown.log")), "tail without newline\n");
    assert!(matches!(w.write("more"), Err(Error::Closed)));
    // shutdown_blocking, for a writer opened without a runtime
    let path = dir.join("blocking.log");
    std::thread::spawn(move || {
        let w = AsyncLogWriter::open_blocking(
            writer_config(&path, RotationStrategy::Never, false),
            WriterOptions::default(),
        )
        .unwrap();
        w.write("a\nb").unwrap();
        w.shutdown_blocking().unwrap();
        assert_eq!(read(&path), "a\nb\n");
    })
    .join()
    .unwrap();
}

#[tokio::test]
async fn a_partial_line_is_handed_over_when_the_writer_is_dropped() {
    let root = tempfile::tempdir().unwrap();
    let path = deep_dir(&root).join("app.log");
    let w = plain_writer(&path).await;
    w.write("whole\ndropped with the writer").unwrap();
    drop(w);
    // The writer thread finishes on its own; its lock goes with it.
    let again = loop {
        match AsyncLogWriter::new(writer_config(&path, RotationStrategy::Never, false)).await {
            Ok(w) => break w,
            Err(Error::Locked { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    again.shutdown().await.unwrap();
    assert_eq!(read(&path), "whole\ndropped with the writer\n");
}

#[tokio::test]
async fn write_splits_an_endless_line_into_marked_pieces() {
    let root = tempfile::tempdir().unwrap();
    let path = deep_dir(&root).join("app.log");
    let mut options = WriterOptions::default();
    options.max_line_len = 8;
    let w = AsyncLogWriter::with_options(
        writer_config(&path, RotationStrategy::Never, false),
        options,
    )
    .await
    .unwrap();
    w.write("0123456789").unwrap();
    w.write("abcdefghij").unwrap();
    w.flush().await.unwrap();
    let marker = std::str::from_utf8(CONTINUATION_MARKER).unwrap();
    assert_eq!(read(&path), format!("01234567{marker}\n89abcdef{marker}\n"));
    w.shutdown().await.unwrap();
    assert_eq!(
        read(&path),
        format!("01234567{marker}\n89abcdef{marker}\nghij\n")
    );
}

#[tokio::test]
async fn write_formats_its_lines_like_every_other_write() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    for format in [LineFormat::Timestamped, LineFormat::Json] {
        let path = dir.join(format!("{format:?}.log"));
        let mut options = WriterOptions::default();
        options.format = format;
        let w = AsyncLogWriter::with_options(
            writer_config(&path, RotationStrategy::Never, false),
            options,
        )
        .await
        .unwrap();
        w.write("one\ntw").unwrap();
        w.write("o").unwrap();
        w.write_line("three").unwrap();
        w.close().await.unwrap();
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for (line, want) in lines.iter().zip(["one", "three", "two"]) {
            match format {
                LineFormat::Json => {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    assert_eq!(v["log"], format!("{want}\n"), "{line}");
                    assert_eq!(v["stream"], "stdout");
                }
                _ => assert!(line.ends_with(&format!(" {want}")), "{line}"),
            }
        }
    }
}

#[tokio::test]
async fn write_never_blocks_and_counts_and_marks_what_did_not_fit() {
    let root = tempfile::tempdir().unwrap();
    let path = deep_dir(&root).join("app.log");
    let w = AsyncLogWriter::new(LogWriterConfig {
        max_concurrent_writes: 3,
        ..writer_config(&path, RotationStrategy::Never, false)
    })
    .await
    .unwrap();
    let mut sent = 0u64;
    for round in 0..200 {
        let chunk: String = (0..10).map(|i| format!("r{round} l{i}\n")).collect();
        w.write(chunk).unwrap();
        sent += 10;
    }
    w.shutdown().await.unwrap();
    let m = w.get_metrics().await;
    assert_eq!(m.lines_written + m.dropped_messages, sent);
    let text = read(&path);
    let bytes = text.as_bytes();
    let mut marked = 0;
    let mut last: Option<(u64, u64)> = None;
    for line in common::lines(bytes) {
        if common::is_marker(line) {
            marked += common::marker_count(line);
            continue;
        }
        let s = std::str::from_utf8(line).unwrap();
        let (r, l) = s.split_once(' ').unwrap();
        let key: (u64, u64) = (r[1..].parse().unwrap(), l[1..].parse().unwrap());
        assert!(
            last.is_none_or(|p| p < key),
            "{s} after {last:?}: out of order"
        );
        last = Some(key);
    }
    assert_eq!(marked, m.dropped_messages, "every drop is marked");
}

#[tokio::test]
async fn rotate_moves_what_was_accepted_before_into_an_archive() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let live = dir.join("app.log");
    let w = AsyncLogWriter::new(writer_config(&live, RotationStrategy::Never, true))
        .await
        .unwrap();
    for i in 0..100 {
        w.write_line_async(format!("before {i}")).await.unwrap();
    }
    w.rotate().await.unwrap();
    w.write_line_async("after").await.unwrap();
    w.shutdown().await.unwrap();
    let files = w.log_files().unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].to_str().unwrap().ends_with("-000001.log.gz"),
        "{files:?}"
    );
    let before: String = (0..100).map(|i| format!("before {i}\n")).collect();
    assert_eq!(common::read_files(&files[..1]), before.as_bytes());
    assert_eq!(read(&live), "after\n");
    assert_eq!(w.get_metrics().await.rotation_count, 1);
    // Nothing else is left in the directory: no .next, no .gz.tmp (the lock file is hidden).
    let names = common::dir_names(&dir);
    let visible: Vec<&String> = names.iter().filter(|n| !n.starts_with('.')).collect();
    assert_eq!(visible.len(), 2, "{names:?}");
}

#[tokio::test]
async fn rotate_of_an_empty_file_does_nothing_and_of_a_closed_writer_fails() {
    let root = tempfile::tempdir().unwrap();
    let live = deep_dir(&root).join("app.log");
    let w = plain_writer(&live).await;
    w.rotate().await.unwrap();
    assert_eq!(w.log_files().unwrap(), std::slice::from_ref(&live));
    w.shutdown().await.unwrap();
    assert!(matches!(w.rotate().await, Err(Error::Closed)));
    assert!(matches!(w.rotate_blocking(), Err(Error::Closed)));
}

#[test]
fn rotate_blocking_works_without_a_runtime() {
    let root = tempfile::tempdir().unwrap();
    let live = deep_dir(&root).join("app.log");
    let w = AsyncLogWriter::open_blocking(
        writer_config(&live, RotationStrategy::Never, false),
        WriterOptions::default(),
    )
    .unwrap();
    w.write_line_blocking("one").unwrap();
    w.rotate_blocking().unwrap();
    w.write_line_blocking("two").unwrap();
    w.rotate_blocking().unwrap();
    w.shutdown_blocking().unwrap();
    // Two archives, then the live file the writer opened again (empty).
    let files = w.log_files().unwrap();
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(common::read_files(&files), b"one\ntwo\n");
    assert_eq!(read(&live), "");
}

#[tokio::test]
async fn log_writer_is_the_v2_background_writer() {
    let root = tempfile::tempdir().unwrap();
    let live = deep_dir(&root).join("app.log");
    let writer: LogWriter = LogWriter::new(writer_config(&live, RotationStrategy::Never, false))
        .await
        .unwrap();
    writer.write(&b"bytes\n"[..]).unwrap();
    writer.write_line("line").unwrap();
    writer.flush().await.unwrap();
    assert_eq!(read(&live), "bytes\nline\n");
    writer.rotate().await.unwrap();
    writer.write_line("after rotate").unwrap();
    let m = writer.get_metrics().await;
    assert_eq!(m.rotation_count, 1);
    // v2's `shutdown(self)`: called on an owned writer, as v2 code does.
    writer.shutdown().await.unwrap();
    assert_eq!(read(&live), "after rotate\n");
}

#[tokio::test]
async fn lines_accepted_losslessly_survive_rotations_whole_in_order_exactly_once() {
    let root = tempfile::tempdir().unwrap();
    let live = deep_dir(&root).join("app.log");
    let w = Arc::new(
        AsyncLogWriter::new(writer_config(&live, RotationStrategy::Size(16 << 10), true))
            .await
            .unwrap(),
    );
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let w = w.clone();
            tokio::spawn(async move {
                for i in 0..3000 {
                    w.write_line_async(format!("p{p} {i:05}")).await.unwrap();
                }
            })
        })
        .collect();
    for _ in 0..5 {
        w.rotate().await.unwrap();
        tokio::task::yield_now().await;
    }
    for p in producers {
        p.await.unwrap();
    }
    w.shutdown().await.unwrap();
    let all = common::read_files(&w.log_files().unwrap());
    let mut next = [0u32; 3];
    for line in common::lines(&all) {
        let s = std::str::from_utf8(line).unwrap();
        let (p, i) = s.split_once(' ').unwrap();
        let p: usize = p[1..].parse().unwrap();
        assert_eq!(i.parse::<u32>().unwrap(), next[p], "{s}");
        next[p] += 1;
    }
    assert_eq!(next, [3000; 3]);
}

// ---------------------------------------------------------------------------------------------
// LogManager: remove_writer, flush_all, rotate_all

use bunctl_logging::{AppId, CaptureMode, LogConfig, LogManager, Stream};

/// A manager whose writers hold lines until asked (an hour's interval, a batch threshold no
/// test reaches) and never rotate by themselves.
fn holding_manager(dir: &Path) -> LogManager {
    LogManager::new(LogConfig {
        base_dir: dir.to_path_buf(),
        max_file_size: u64::MAX,
        compression: false,
        buffer_size: 1 << 20,
        flush_interval_ms: 3_600_000,
        ..LogConfig::default()
    })
}

#[tokio::test]
async fn remove_writer_flushes_closes_and_forgets_both_streams() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let manager = holding_manager(&dir);
    let app = AppId::new("web.v2").unwrap();
    let out = manager.get_writer(&app).await.unwrap();
    let err = manager
        .get_stream_writer(&app, Stream::Stderr, CaptureMode::Separate)
        .await
        .unwrap();
    out.write_line("out").unwrap();
    err.write_line("err").unwrap();
    out.write("partial").unwrap();
    manager.remove_writer(&app).await.unwrap();
    assert_eq!(read(&manager.log_path(&app)), "out\npartial\n");
    assert_eq!(read(&manager.err_log_path(&app)), "err\n");
    assert!(out.is_closed() && err.is_closed());
    assert!(matches!(out.write_line("late"), Err(Error::Closed)));
    assert!(manager.log_paths().await.is_empty());
    // A later get_writer opens a new one, appending.
    let again = manager.get_writer(&app).await.unwrap();
    assert!(!Arc::ptr_eq(&out, &again));
    again.write_line("again").unwrap();
    manager.remove_writer(&app).await.unwrap();
    assert_eq!(read(&manager.log_path(&app)), "out\npartial\nagain\n");
    // An app without a writer, twice.
    manager.remove_writer(&app).await.unwrap();
    manager
        .remove_writer(&AppId::new("never-seen").unwrap())
        .await
        .unwrap();
    assert!(!dir.join("never-seen.log").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_writer_racing_get_writer_leaves_no_writer_behind() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let manager = Arc::new(holding_manager(&dir));
    let app = AppId::new("racy").unwrap();
    for round in 0..20 {
        let opener = {
            let (manager, app) = (manager.clone(), app.clone());
            tokio::spawn(async move { manager.get_writer(&app).await })
        };
        manager.remove_writer(&app).await.unwrap();
        let opened = opener.await.unwrap().unwrap();
        // Either the removal came first and this writer is the manager's, or it was removed
        // with the others: never a writer open that the manager does not know about.
        let current = manager.get_writer(&app).await.unwrap();
        if !Arc::ptr_eq(&opened, &current) {
            assert!(opened.is_closed(), "round {round}: a writer left open");
        }
        current.write_line(format!("round {round}")).unwrap();
        manager.remove_writer(&app).await.unwrap();
    }
    let text = read(&manager.log_path(&app));
    let want: String = (0..20).map(|r| format!("round {r}\n")).collect();
    assert_eq!(text, want);
}

#[tokio::test]
async fn flush_all_writes_every_writers_held_lines() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let manager = holding_manager(&dir);
    let apps: Vec<AppId> = ["a", "b", "c"]
        .iter()
        .map(|n| AppId::new(*n).unwrap())
        .collect();
    for app in &apps {
        let w = manager.get_writer(app).await.unwrap();
        w.write_line(format!("{app} 1")).unwrap();
        w.write_line(format!("{app} 2")).unwrap();
    }
    for app in &apps {
        assert_eq!(read(&manager.log_path(app)), "", "held until the flush");
    }
    manager.flush_all().await.unwrap();
    for app in &apps {
        assert_eq!(read(&manager.log_path(app)), format!("{app} 1\n{app} 2\n"));
    }
    manager.close_all().await.unwrap();
    // No writer: nothing to do.
    manager.flush_all().await.unwrap();
}

#[tokio::test]
async fn rotate_all_rotates_every_open_writer_and_gathers_errors() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let manager = holding_manager(&dir);
    let (a, b, c) = (
        AppId::new("a").unwrap(),
        AppId::new("b").unwrap(),
        AppId::new("c").unwrap(),
    );
    let wa = manager.get_writer(&a).await.unwrap();
    let wb = manager.get_writer(&b).await.unwrap();
    let wc = manager.get_writer(&c).await.unwrap();
    wa.write_line("a before").unwrap();
    wb.write_line("b before").unwrap();
    manager.rotate_all().await.unwrap();
    wa.write_line("a after").unwrap();
    let files = wa.log_files().unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(common::read_files(&files[..1]), b"a before\n");
    assert_eq!(wb.log_files().unwrap().len(), 2);
    assert_eq!(
        wc.log_files().unwrap().len(),
        1,
        "an empty file is not rotated"
    );
    assert_eq!(manager.total_metrics().await.rotation_count, 2);
    // Two writers closed behind the manager's back: both errors, and `a` still rotates.
    wb.shutdown().await.unwrap();
    wc.shutdown().await.unwrap();
    let e = manager.rotate_all().await.unwrap_err();
    match e {
        Error::Multiple(errors) => {
            assert_eq!(errors.len(), 2);
            assert!(
                errors.iter().all(|e| matches!(e, Error::Closed)),
                "{errors:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(wa.log_files().unwrap().len(), 3);
    manager.close_all().await.unwrap();
    let all = common::read_files(&wa.log_files().unwrap());
    assert_eq!(all, b"a before\na after\n");
}
