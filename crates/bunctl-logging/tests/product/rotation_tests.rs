//! Rotation through the public API: by size, daily and hourly (with a `ManualClock`, no
//! waiting), retention by count and by bytes, archives that are valid gzip, and restarts that
//! append and continue the sequence numbers.

use std::sync::Arc;
use std::time::Duration;

use bunctl_logging::testing::ManualClock;
use bunctl_logging::StdFs;
use bunctl_logging::{
    AsyncLogWriter, LogWriterConfig, RotationConfig, RotationStrategy, WriterOptions,
};
use chrono::{DateTime, TimeZone, Utc};

use crate::common::{dir_names, lines, read_files};
use crate::writer_config;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

async fn open_with_clock(config: LogWriterConfig, clock: &ManualClock) -> AsyncLogWriter {
    AsyncLogWriter::open_with_io(
        config,
        WriterOptions::default(),
        StdFs::shared(),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap()
}

/// The file name of `path`.
fn name(path: &std::path::Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The sequence number in an archive's name, `app.<UTC start>-<seq>.log[.gz]`.
fn seq(path: &std::path::Path) -> u64 {
    let name = name(path);
    let (_, rest) = name.split_once('-').unwrap();
    rest[..rest.find('.').unwrap()].parse().unwrap()
}

#[tokio::test]
async fn size_rotation_cuts_between_lines_only_when_the_next_line_would_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AsyncLogWriter::new(LogWriterConfig {
        buffer_size: 300,
        rotation: RotationConfig {
            strategy: RotationStrategy::Size(1000),
            max_files: 1000,
            compression: false,
        },
        ..writer_config(dir.path(), RotationStrategy::Never, 10)
    })
    .await
    .unwrap();
    let mut expected = Vec::new();
    for i in 0..300 {
        // 10 to 89 bytes, and one line larger than the limit, which gets a file of its own.
        let line = if i == 150 {
            "L".repeat(1500)
        } else {
            format!("{i:03} {}", "x".repeat(i * 7 % 80 + 6))
        };
        writer.write_line_async(&line).await.unwrap();
        expected.extend_from_slice(line.as_bytes());
        expected.push(b'\n');
        if i % 25 == 0 {
            writer.flush().await.unwrap();
        }
    }
    writer.shutdown().await.unwrap();

    let files = writer.log_files().unwrap();
    assert!(files.len() > 10, "{files:?}");
    assert_eq!(read_files(&files), expected, "lost, repeated or reordered");
    let contents: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    for (i, c) in contents.iter().enumerate() {
        assert!(!c.is_empty() && c.ends_with(b"\n"), "{:?}", files[i]);
        assert!(
            c.len() <= 1000 || lines(c).len() == 1,
            "{:?} is past the limit with more than one line",
            files[i]
        );
        if i + 1 < contents.len() {
            assert!(name(&files[i]).ends_with(".log"), "compression is off");
            let next_line = lines(&contents[i + 1])[0].len() + 1;
            assert!(
                c.len() + next_line > 1000,
                "{:?} was rotated although the next line fitted",
                files[i]
            );
        }
    }
    let m = writer.get_metrics().await;
    assert_eq!(m.rotation_count as usize, files.len() - 1);
}

#[tokio::test]
async fn daily_and_hourly_are_not_never() {
    for (strategy, step) in [
        (RotationStrategy::Daily, Duration::from_secs(24 * 3600)),
        (RotationStrategy::Hourly, Duration::from_secs(3600)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(at(2026, 11, 25, 10, 30, 0));
        let w = open_with_clock(writer_config(dir.path(), strategy, 10), &clock).await;
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

/// Periods are UTC; an idle file rotates at its next write, and each archive is named after
/// the time its content started.
#[tokio::test]
async fn daily_rotates_at_the_first_write_of_a_new_utc_day_and_names_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(2026, 11, 25, 10, 30, 0));
    let w = open_with_clock(
        writer_config(dir.path(), RotationStrategy::Daily, 10),
        &clock,
    )
    .await;
    w.write_line("day 1").unwrap();
    w.flush().await.unwrap();
    clock.set(at(2026, 11, 25, 23, 59, 59));
    w.write_line("day 1, last second").unwrap();
    w.flush().await.unwrap();
    clock.set(at(2026, 11, 26, 0, 0, 5));
    w.write_line("day 2").unwrap();
    w.flush().await.unwrap();
    // Idle for three days: nothing happens until the next write.
    clock.set(at(2026, 11, 29, 8, 0, 0));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(w.log_files().unwrap().len(), 2);
    w.write_line("day 5").unwrap();
    w.shutdown().await.unwrap();

    let files = w.log_files().unwrap();
    let names: Vec<String> = files.iter().map(|f| name(f)).collect();
    assert_eq!(
        names,
        [
            "app.20261125T103000Z-000001.log.gz",
            "app.20261126T000005Z-000002.log.gz",
            "app.log"
        ]
    );
    assert_eq!(read_files(&files[..1]), b"day 1\nday 1, last second\n");
    assert_eq!(read_files(&files[1..2]), b"day 2\n");
    assert_eq!(std::fs::read(&files[2]).unwrap(), b"day 5\n");
}

#[tokio::test]
async fn never_keeps_one_file_whatever_the_time_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(2026, 11, 25, 10, 30, 0));
    let w = open_with_clock(
        writer_config(dir.path(), RotationStrategy::Never, 10),
        &clock,
    )
    .await;
    for day in 0..40 {
        w.write_line_async("x".repeat(10_000)).await.unwrap();
        w.flush().await.unwrap();
        clock.advance(Duration::from_secs(24 * 3600 + day));
    }
    w.shutdown().await.unwrap();
    assert_eq!(w.log_files().unwrap(), [w.path().to_path_buf()]);
    assert_eq!(std::fs::metadata(w.path()).unwrap().len(), 40 * 10_001);
    assert_eq!(w.get_metrics().await.rotation_count, 0);
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

/// Files of 512 KiB and more (1 MiB here) are rotated without the writer waiting for their fsync (it goes on
/// in a hidden `.app.log.next` meanwhile): four producers, every line once, in order per
/// producer, whole, across those rotations, and nothing hidden left after shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_files_rotate_in_the_background_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(
        AsyncLogWriter::new(writer_config(
            dir.path(),
            RotationStrategy::Size(1 << 20),
            u32::MAX,
        ))
        .await
        .unwrap(),
    );
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for i in 0..20_000 {
                    let line = format!("producer {p} line {i:06} {}", "x".repeat(40));
                    writer.write_line_async(line).await.unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    writer.shutdown().await.unwrap();
    let files = writer.log_files().unwrap();
    assert!(
        files.len() >= 5,
        "{} files: the test must rotate",
        files.len()
    );
    assert!(!dir.path().join(".app.log.next").exists());
    let all = read_files(&files);
    let mut next = [0usize; 4];
    for line in lines(&all) {
        let text = std::str::from_utf8(line).unwrap();
        let mut words = text.split(' ');
        assert_eq!(words.next(), Some("producer"), "{text}");
        let p: usize = words.next().unwrap().parse().unwrap();
        assert_eq!(words.next(), Some("line"));
        let i: usize = words.next().unwrap().parse().unwrap();
        assert_eq!(i, next[p], "producer {p}: out of order, lost or duplicated");
        assert_eq!(words.next().map(str::len), Some(40), "torn: {text}");
        next[p] += 1;
    }
    assert_eq!(next, [20_000; 4]);
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

/// A restart takes up the sequence where the last run left it, even when the wall clock went
/// back a day in between: no name is reused, and `log_files` lists oldest first (by sequence
/// number: the names themselves, timestamp first, do not sort that way once the clock went
/// back).
#[tokio::test]
async fn restart_continues_the_sequence_numbers_even_if_the_clock_went_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogWriterConfig {
        buffer_size: 1,
        ..writer_config(dir.path(), RotationStrategy::Size(200), 100)
    };
    let mut expected = Vec::new();
    let clock = ManualClock::new(at(2026, 11, 25, 12, 0, 0));
    for run in 0..3 {
        let w = open_with_clock(config.clone(), &clock).await;
        for i in 0..10 {
            // 50 bytes with the newline: four lines to a file.
            let text = format!("run {run} line {i:02} {}", ".".repeat(33));
            w.write_line_async(&text).await.unwrap();
            expected.extend_from_slice(text.as_bytes());
            expected.push(b'\n');
        }
        w.shutdown().await.unwrap();
        // The next run starts a day earlier by the wall clock.
        clock.set(clock_now(&clock) - chrono::TimeDelta::days(1));
    }
    let w = open_with_clock(config, &clock).await;
    let files = w.log_files().unwrap();
    w.shutdown().await.unwrap();

    let archives = &files[..files.len() - 1];
    let seqs: Vec<u64> = archives.iter().map(|f| seq(f)).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "{files:?}"
    );
    assert!(seqs.len() >= 7, "{files:?}");
    for a in archives {
        assert!(name(a).ends_with(".log.gz"), "{a:?}");
    }
    assert_eq!(read_files(&files), expected, "lost, repeated or reordered");
}

fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    use bunctl_logging::Clock;
    clock.now()
}
