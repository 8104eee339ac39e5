//! 100+ concurrent writers through the public API, each test with exact accounting: every line
//! offered is written or counted as dropped (`lines_written + dropped_messages = offered`, the
//! markers in the file adding up to the drops), and the lossless writes put every line in the
//! files exactly once, in each producer's order, across rotations and compression.
//!
//! `cargo test -p bunctl-logging stress --release` runs them larger (see [`SCALE`]); the
//! product README's own scenario keeps its size.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bunctl_logging::{
    AppId, AsyncLogWriter, Error, LogConfig, LogManager, LogWriterConfig, RotationConfig,
    RotationStrategy, WriterOptions,
};

use crate::common::{init_tracing, is_marker, lines, marker_count, read_files};
use crate::{writer_config, SCALE};

/// The product README's "High-Performance Configuration", in `dir`.
fn high_performance_config(dir: &std::path::Path) -> LogWriterConfig {
    init_tracing();
    LogWriterConfig {
        path: dir.join("high-perf.log"),
        rotation: RotationConfig {
            strategy: RotationStrategy::Size(100 * 1024 * 1024),
            max_files: 50,
            compression: true,
        },
        buffer_size: 128 * 1024,
        flush_interval: Duration::from_millis(200),
        max_concurrent_writes: 10000,
        enable_compression: true,
    }
}

/// What the files of a lossy run hold: for each producer, the numbers of its lines in file
/// order (checked increasing: nothing repeated or reordered), and the drops the markers count.
struct Lossy {
    seen: HashMap<usize, Vec<usize>>,
    marked: u64,
}

/// Reads `files`, whose lines are markers or `parse`-able as (producer, number).
fn read_lossy(files: &[PathBuf], parse: impl Fn(&str) -> (usize, usize)) -> Lossy {
    let all = read_files(files);
    let mut out = Lossy {
        seen: HashMap::new(),
        marked: 0,
    };
    for line in lines(&all) {
        if is_marker(line) {
            out.marked += marker_count(line);
            continue;
        }
        let text = std::str::from_utf8(line).unwrap();
        let (p, n) = parse(text);
        let seen = out.seen.entry(p).or_default();
        if let Some(&last) = seen.last() {
            assert!(n > last, "producer {p}: line {n} after {last}");
        }
        seen.push(n);
    }
    out
}

/// Checks that `files` hold every line `(producer, 0..lines)` of every producer exactly once,
/// in each producer's order, and nothing else.
fn assert_lossless(
    files: &[PathBuf],
    producers: usize,
    lines_each: usize,
    parse: impl Fn(&str) -> (usize, usize),
) {
    let got = read_lossy(files, parse);
    assert_eq!(got.marked, 0, "a lossless run has no drop marker");
    assert_eq!(got.seen.len(), producers);
    for (p, seen) in &got.seen {
        assert_eq!(seen.len(), lines_each, "producer {p} lost lines");
        assert!(
            seen.iter().enumerate().all(|(i, &n)| i == n),
            "producer {p}"
        );
    }
}

/// The product README's "Stress Testing Example": 100 tasks × 1000 lines with `write_line`,
/// which never blocks. Whatever the machine's speed, every line is either in the file or
/// counted and marked as dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_example_100_tasks_x_1000_write_line_account_for_every_line() {
    const TASKS: usize = 100;
    const LINES: usize = 1000;
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(
        AsyncLogWriter::new(high_performance_config(dir.path()))
            .await
            .unwrap(),
    );
    let mut handles = vec![];
    for i in 0..TASKS {
        let writer_clone = writer.clone();
        handles.push(tokio::task::spawn(async move {
            for j in 0..LINES {
                writer_clone.write_line(format!("Task {} - Line {}", i, j))?;
            }
            Ok::<(), Error>(())
        }));
    }
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    writer.shutdown().await.unwrap();

    let m = writer.get_metrics().await;
    assert_eq!(m.lines_written + m.dropped_messages, (TASKS * LINES) as u64);
    assert_eq!((m.write_errors, m.lines_lost), (0, 0));
    let got = read_lossy(&writer.log_files().unwrap(), |text| {
        let (task, line) = text
            .strip_prefix("Task ")
            .and_then(|r| r.split_once(" - Line "))
            .unwrap_or_else(|| panic!("torn line {text:?}"));
        (task.parse().unwrap(), line.parse().unwrap())
    });
    let written: usize = got.seen.values().map(Vec::len).sum();
    assert_eq!(written as u64, m.lines_written);
    assert_eq!(got.marked, m.dropped_messages);
    assert!(got.seen.keys().all(|&t| t < TASKS));
}

/// The same example made lossless with `write_line_async`, on a 64 KiB size limit: every line
/// exactly once, in each task's order, across rotations and compression.
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
    // Rotated files still plain at shutdown wait for the next start to be compressed: how many
    // depends on how fast gzip kept up.
    assert!(
        files.len() > 20 && gz >= 1,
        "expected many rotations, some compressed: {} files, {gz} compressed",
        files.len()
    );
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

/// A buffer of 16 KiB (lines up to 1 KiB): small enough for 4 threads to overload it.
fn small_buffer() -> WriterOptions {
    let mut options = WriterOptions::default();
    options.max_line_len = 1024;
    options.max_buffered_bytes = 16 << 10;
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_line_under_overload_accounts_for_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(
        AsyncLogWriter::with_options(
            writer_config(dir.path(), RotationStrategy::Size(256 << 10), 1000),
            small_buffer(),
        )
        .await
        .unwrap(),
    );
    const PRODUCERS: usize = 4;
    let lines_each = 50_000 * SCALE;
    let handles: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let w = writer.clone();
            std::thread::spawn(move || {
                for i in 0..lines_each {
                    w.write_line(format!("p{p} {i:07} some payload to make the line longer"))
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
    let offered = (PRODUCERS * lines_each) as u64;
    assert!(
        m.dropped_messages > 0,
        "the test should overload the writer"
    );
    assert_eq!(m.lines_written + m.dropped_messages, offered);
    assert!(m.buffer_overflows >= m.dropped_messages);

    let got = read_lossy(&writer.log_files().unwrap(), |text| {
        let (p, rest) = text[1..].split_once(' ').unwrap();
        (p.parse().unwrap(), rest[..7].parse().unwrap())
    });
    let written: usize = got.seen.values().map(Vec::len).sum();
    assert_eq!(
        written as u64, m.lines_written,
        "lines_written must equal the lines in the files"
    );
    assert_eq!(
        got.marked, m.dropped_messages,
        "the markers must account for every drop"
    );
}

/// 128 plain threads with the blocking lossless write, on a 16 KiB buffer and at most 64
/// callers waiting for room (the others wait for one of them to be done): every line arrives
/// once, in each thread's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_threads_with_write_line_blocking_lose_nothing() {
    const THREADS: usize = 128;
    let lines_each = 200 * SCALE;
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(
        AsyncLogWriter::with_options(
            LogWriterConfig {
                max_concurrent_writes: 64,
                buffer_size: 4096,
                ..writer_config(dir.path(), RotationStrategy::Size(128 << 10), 1000)
            },
            small_buffer(),
        )
        .await
        .unwrap(),
    );
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let w = writer.clone();
            std::thread::spawn(move || {
                for i in 0..lines_each {
                    w.write_line_blocking(format!("thread {t:03} line {i:06}"))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    writer.shutdown().await.unwrap();

    let m = writer.get_metrics().await;
    assert_eq!(m.lines_written, (THREADS * lines_each) as u64);
    assert_eq!((m.dropped_messages, m.lines_lost), (0, 0));
    assert_lossless(&writer.log_files().unwrap(), THREADS, lines_each, |text| {
        let rest = text.strip_prefix("thread ").unwrap();
        let (t, i) = rest.split_once(" line ").unwrap();
        (t.parse().unwrap(), i.parse().unwrap())
    });
}

/// 100 apps through one manager at once, two tasks each (one lossless, one that never
/// blocks), rotating and compressing: each app's files hold its own lines and no other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_apps_through_one_manager_at_once() {
    const APPS: usize = 100;
    let lines_each = 200 * SCALE;
    let dir = tempfile::tempdir().unwrap();
    init_tracing();
    let manager = Arc::new(LogManager::new(LogConfig {
        base_dir: dir.path().join("logs"),
        max_file_size: 4096,
        max_files: 1000,
        compression: true,
        buffer_size: 1024,
        flush_interval_ms: 10,
    }));
    let mut tasks = Vec::new();
    for a in 0..APPS {
        for lossless in [true, false] {
            let manager = manager.clone();
            tasks.push(tokio::spawn(async move {
                let app = AppId::new(format!("app-{a:03}")).unwrap();
                let writer = manager.get_writer(&app).await.unwrap();
                for i in 0..lines_each {
                    let line = format!("app-{a:03} {} {i:06}", u8::from(lossless));
                    if lossless {
                        writer.write_line_async(line).await.unwrap();
                    } else {
                        writer.write_line(line).unwrap();
                    }
                }
                writer
            }));
        }
    }
    let mut writers = Vec::new();
    for t in tasks {
        writers.push(t.await.unwrap());
    }
    manager.close_all().await.unwrap();

    writers.dedup_by(|a, b| Arc::ptr_eq(a, b));
    assert_eq!(writers.len(), APPS, "one writer per app");
    let mut rotations = 0;
    for (a, writer) in writers.iter().enumerate() {
        let m = writer.get_metrics().await;
        assert_eq!(
            m.lines_written + m.dropped_messages,
            2 * lines_each as u64,
            "app {a}"
        );
        rotations += m.rotation_count;
        let tag = format!("app-{a:03} ");
        let got = read_lossy(&writer.log_files().unwrap(), |text| {
            let rest = text
                .strip_prefix(&tag)
                .unwrap_or_else(|| panic!("app {a}'s file has {text:?}"));
            let (producer, i) = rest.split_once(' ').unwrap();
            (producer.parse().unwrap(), i.parse().unwrap())
        });
        assert_eq!(got.marked, m.dropped_messages, "app {a}");
        let lossless = &got.seen[&1];
        assert_eq!(lossless.len(), lines_each, "app {a} lost lossless lines");
        assert!(lossless.iter().enumerate().all(|(i, &n)| i == n));
        let lossy = got.seen.get(&0).map_or(0, Vec::len);
        assert_eq!((lossless.len() + lossy) as u64, m.lines_written, "app {a}");
    }
    assert!(rotations >= APPS as u64, "{rotations} rotations");
}
