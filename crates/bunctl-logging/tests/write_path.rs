//! The write path end to end, through the public API only.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bunctl_logging::{
    AppId, AsyncLogWriter, Error, LogConfig, LogManager, LogWriterConfig, RotationConfig,
    RotationStrategy, WriterOptions,
};
use common::{dir_names, is_marker, lines, marker_count, read_files};

fn writer_config(
    dir: &std::path::Path,
    strategy: RotationStrategy,
    max_files: usize,
) -> LogWriterConfig {
    common::init_tracing();
    LogWriterConfig {
        path: dir.join("app.log"),
        rotation: RotationConfig {
            strategy,
            max_files,
            compression: true,
        },
        ..LogWriterConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_tasks_lose_nothing_across_rotations_and_compression() {
    const TASKS: usize = 100;
    const LINES: usize = 1000;
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(
        AsyncLogWriter::new(writer_config(
            dir.path(),
            RotationStrategy::Size(64 << 10),
            1000,
        ))
        .await
        .unwrap(),
    );
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..LINES {
                w.write_line_async(format!("task={t:03} seq={i:05} payload=xxxxxxxxxx"))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    writer.shutdown().await.unwrap();

    let files = writer.log_files().unwrap();
    assert_eq!(files.last().unwrap(), writer.path());
    let gz = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "gz"))
        .count();
    assert!(gz >= 20, "expected many compressed rotations, got {gz}");
    let all = read_files(&files);
    let mut next = vec![0usize; TASKS];
    let mut count = 0;
    for line in lines(&all) {
        let text = std::str::from_utf8(line).unwrap();
        let rest = text
            .strip_prefix("task=")
            .unwrap_or_else(|| panic!("torn line {text:?}"));
        let (t, rest) = rest.split_once(" seq=").unwrap();
        let (i, payload) = rest.split_once(' ').unwrap();
        assert_eq!(payload, "payload=xxxxxxxxxx", "torn line {text:?}");
        let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(
            i, next[t],
            "task {t}: line out of order, duplicated or lost"
        );
        next[t] += 1;
        count += 1;
    }
    assert_eq!(count, TASKS * LINES);
    assert!(next.iter().all(|&n| n == LINES));

    let m = writer.get_metrics().await;
    assert_eq!(m.lines_written, (TASKS * LINES) as u64);
    assert_eq!(m.dropped_messages, 0);
    assert_eq!(m.lines_lost, 0);
    assert_eq!(m.rotation_count as usize, files.len() - 1);
    assert_eq!(m.bytes_written, all.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_line_under_overload_accounts_for_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(
        AsyncLogWriter::new(LogWriterConfig {
            max_concurrent_writes: 16,
            ..writer_config(dir.path(), RotationStrategy::Size(256 << 10), 1000)
        })
        .await
        .unwrap(),
    );
    const PRODUCERS: usize = 4;
    const LINES: usize = 50_000;
    let handles: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let w = writer.clone();
            std::thread::spawn(move || {
                for i in 0..LINES {
                    w.write_line(format!("p{p} {i:06} some payload to make the line longer"))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    writer.shutdown().await.unwrap();
    let m = writer.get_metrics().await;
    let offered = (PRODUCERS * LINES) as u64;
    assert!(
        m.dropped_messages > 0,
        "the test should overload the writer"
    );
    assert_eq!(m.lines_written + m.dropped_messages, offered);
    assert!(m.buffer_overflows >= m.dropped_messages);

    let all = read_files(&writer.log_files().unwrap());
    let (mut data, mut marked) = (0u64, 0u64);
    let mut seen = HashSet::new();
    for line in lines(&all) {
        if is_marker(line) {
            marked += marker_count(line);
        } else {
            assert!(seen.insert(line.to_vec()), "duplicated line");
            data += 1;
        }
    }
    assert_eq!(
        data, m.lines_written,
        "lines_written must equal the lines in the files"
    );
    assert_eq!(
        marked, m.dropped_messages,
        "the markers must account for every drop"
    );
}

#[tokio::test]
async fn retention_keeps_at_most_max_files_all_valid_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AsyncLogWriter::new(LogWriterConfig {
        buffer_size: 512,
        ..writer_config(dir.path(), RotationStrategy::Size(1024), 3)
    })
    .await
    .unwrap();
    for i in 0..2000 {
        writer
            .write_line_async(format!(
                "line {i:05} ........................................"
            ))
            .await
            .unwrap();
        if i % 100 == 0 {
            writer.flush().await.unwrap();
        }
    }
    writer.shutdown().await.unwrap();
    let files = writer.log_files().unwrap();
    assert_eq!(
        files.len(),
        4,
        "3 rotated files and the live file: {files:?}"
    );
    for f in &files[..3] {
        assert!(f.to_string_lossy().ends_with(".log.gz"), "{f:?}");
    }
    // Everything left on disk is one of the listed files or the writer's lock: no .tmp, no
    // stray plain archive.
    let names = dir_names(dir.path());
    assert_eq!(names.len(), files.len() + 1, "{names:?}");
    assert_eq!(names[0], ".app.log.lock");
    let all = read_files(&files);
    let text = String::from_utf8(all).unwrap();
    assert!(text.ends_with("line 01999 ........................................\n"));
    assert!(writer.get_metrics().await.rotation_count > 10);
}

#[test]
fn every_invalid_app_id_is_rejected() {
    for bad in [
        "", ".", "..", "../x", "a/b", "a\\b", "/abs", "a\0b", "a\nb", "a\tb", "-x", ".x", "con",
        "NUL", "com1", "lpt1.txt", "a b", "ä",
    ] {
        let e = AppId::new(bad).unwrap_err();
        let as_error: Error = e.into();
        assert!(matches!(as_error, Error::InvalidAppId(_)));
        assert!(
            as_error.to_string().contains("invalid app id"),
            "{as_error}"
        );
    }
    assert!(AppId::new("x".repeat(65)).is_err());
    assert!(AppId::new("x".repeat(64)).is_ok());
}

#[tokio::test]
async fn a_base_dir_that_cannot_be_created_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let base = blocker.join("logs");
    let manager = LogManager::new(LogConfig {
        base_dir: base.clone(),
        ..LogConfig::default()
    });
    let err = manager
        .get_writer(&AppId::new("web").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&*base.to_string_lossy()), "{msg}");
    assert!(msg.contains("create log directory"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_writer_gives_one_writer_per_app_even_when_asked_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let manager = Arc::new(LogManager::new(LogConfig {
        base_dir: dir.path().join("logs"),
        ..LogConfig::default()
    }));
    let app = AppId::new("web").unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (m, a) = (manager.clone(), app.clone());
            tokio::spawn(async move { m.get_writer(&a).await.unwrap() })
        })
        .collect();
    let mut writers = Vec::new();
    for t in tasks {
        writers.push(t.await.unwrap());
    }
    assert!(writers.iter().all(|w| Arc::ptr_eq(w, &writers[0])));
    assert_eq!(writers[0].path(), dir.path().join("logs").join("web.log"));
    let other = manager
        .get_writer(&AppId::new("db").unwrap())
        .await
        .unwrap();
    assert!(!Arc::ptr_eq(&other, &writers[0]));
    writers[0].write_line("from web").unwrap();
    other.write_line("from db").unwrap();
    manager.close_all().await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("logs/web.log")).unwrap(),
        b"from web\n"
    );
    assert_eq!(
        std::fs::read(dir.path().join("logs/db.log")).unwrap(),
        b"from db\n"
    );
    assert!(writers[0].write_line("late").is_err());
}

#[tokio::test]
async fn try_write_line_says_full_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AsyncLogWriter::new(LogWriterConfig {
        max_concurrent_writes: 2,
        flush_interval: Duration::from_secs(3600),
        ..writer_config(dir.path(), RotationStrategy::Never, 10)
    })
    .await
    .unwrap();
    // The writer task may take the first batch at once; fill until full.
    let mut accepted = 0;
    let full = loop {
        match writer.try_write_line(format!("line {accepted}")) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 100, "never full");
    };
    assert!(matches!(full, Error::Full), "{full:?}");
    assert_eq!(writer.get_metrics().await.buffer_overflows, 1);
    assert_eq!(writer.get_metrics().await.dropped_messages, 0);
    writer.shutdown().await.unwrap();
    assert!(matches!(writer.try_write_line("x"), Err(Error::Closed)));
    assert!(matches!(writer.write_line("x"), Err(Error::Closed)));
    assert!(matches!(
        writer.write_line_async("x").await,
        Err(Error::Closed)
    ));
    let text = std::fs::read_to_string(writer.path()).unwrap();
    assert_eq!(text.lines().count(), accepted);
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

#[tokio::test]
async fn bytes_are_kept_and_partial_lines_are_whole() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AsyncLogWriter::new(writer_config(dir.path(), RotationStrategy::Never, 10))
        .await
        .unwrap();
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
async fn a_100_mb_line_is_written_in_marked_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AsyncLogWriter::new(writer_config(dir.path(), RotationStrategy::Never, 10))
        .await
        .unwrap();
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
async fn restart_appends_and_counts_the_existing_size() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogWriterConfig {
        rotation: RotationConfig {
            strategy: RotationStrategy::Size(100),
            max_files: 10,
            compression: false,
        },
        ..writer_config(dir.path(), RotationStrategy::Never, 10)
    };
    let w = AsyncLogWriter::new(config.clone()).await.unwrap();
    w.write_line("x".repeat(59)).unwrap(); // 60 bytes
    w.shutdown().await.unwrap();
    let w = AsyncLogWriter::new(config).await.unwrap();
    w.write_line("y".repeat(29)).unwrap(); // 60 + 30 = 90: fits
    w.write_line("z".repeat(29)).unwrap(); // 120 > 100: rotates first
    w.shutdown().await.unwrap();
    let files = w.log_files().unwrap();
    assert_eq!(files.len(), 2);
    let archived = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(
        archived,
        format!("{}\n{}\n", "x".repeat(59), "y".repeat(29))
    );
    assert_eq!(
        std::fs::read_to_string(&files[1]).unwrap(),
        format!("{}\n", "z".repeat(29))
    );
}

#[tokio::test]
async fn daily_and_hourly_are_not_never() {
    use bunctl_logging::layers::fs::StdFs;
    use bunctl_logging::layers::rotation::ManualClock;
    use chrono::TimeZone;
    for (strategy, step) in [
        (RotationStrategy::Daily, Duration::from_secs(24 * 3600)),
        (RotationStrategy::Hourly, Duration::from_secs(3600)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 25, 10, 30, 0)
                .unwrap(),
        );
        let w = AsyncLogWriter::open_with(
            writer_config(dir.path(), strategy, 10),
            WriterOptions::default(),
            StdFs::shared(),
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        w.write_line("first period").unwrap();
        w.flush().await.unwrap();
        clock.advance(Duration::from_secs(60));
        w.write_line("same period").unwrap();
        w.flush().await.unwrap();
        assert_eq!(
            w.log_files().unwrap().len(),
            1,
            "{strategy:?} rotated too early"
        );
        clock.advance(step);
        w.write_line("next period").unwrap();
        w.shutdown().await.unwrap();
        let files = w.log_files().unwrap();
        assert_eq!(files.len(), 2, "{strategy:?} did not rotate: {files:?}");
        assert_eq!(read_files(&files[..1]), b"first period\nsame period\n");
        assert_eq!(std::fs::read(&files[1]).unwrap(), b"next period\n");
        assert_eq!(w.get_metrics().await.rotation_count, 1);
    }
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

#[tokio::test]
async fn max_total_bytes_bounds_the_rotated_files_and_level_0_stores() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = WriterOptions::default();
    options.compression_level = 0;
    options.max_total_bytes = Some(3500);
    let writer = AsyncLogWriter::with_options(
        LogWriterConfig {
            buffer_size: 256,
            rotation: RotationConfig {
                strategy: RotationStrategy::Size(1000),
                max_files: 1000,
                compression: true,
            },
            ..writer_config(dir.path(), RotationStrategy::Never, 10)
        },
        options,
    )
    .await
    .unwrap();
    for i in 0..500 {
        writer
            .write_line_async(format!(
                "line {i:04} .........................................."
            ))
            .await
            .unwrap();
        if i % 20 == 0 {
            writer.flush().await.unwrap();
        }
    }
    writer.shutdown().await.unwrap();
    let files = writer.log_files().unwrap();
    let archives = &files[..files.len() - 1];
    let total: u64 = archives
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(
        total <= 3500,
        "{total} bytes in {} archives",
        archives.len()
    );
    assert!(archives.len() >= 2, "{files:?}");
    // Level 0 stores: each archive is a little larger than the ~1000 bytes it holds.
    for a in archives {
        assert!(
            std::fs::metadata(a).unwrap().len() > 950,
            "{a:?} looks compressed"
        );
    }
    assert!(read_files(&files).ends_with(b"line 0499 ..........................................\n"));
}
