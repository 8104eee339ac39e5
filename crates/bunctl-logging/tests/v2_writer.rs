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
