//! The three limits of a writer's buffer, through the public API: a batch takes everything
//! buffered (no limit in lines), `max_buffered_bytes` bounds memory (lossless writers wait,
//! nothing is lost), and `max_concurrent_writes` bounds the calls in progress at once.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bunctl_logging::testing::{FaultFs, Faults, Op};
use bunctl_logging::SystemClock;
use bunctl_logging::{
    AsyncLogWriter, Error, LogWriterConfig, RotationConfig, RotationStrategy, WriterOptions,
};
use common::{is_marker, lines, marker_count};

fn config(dir: &std::path::Path) -> LogWriterConfig {
    common::init_tracing();
    LogWriterConfig {
        path: dir.join("logs/app/app.log"),
        rotation: RotationConfig {
            strategy: RotationStrategy::Never,
            max_files: 1,
            compression: false,
        },
        // Every byte is due at once, and nothing but the hold keeps lines buffered.
        buffer_size: 1,
        flush_interval: Duration::from_secs(3600),
        ..LogWriterConfig::default()
    }
}

/// A writer on a filesystem whose writes the test holds, with its first line ("first") stuck
/// in `write(2)`: nothing drains until the test clears the hold.
async fn held_writer(
    dir: &std::path::Path,
    config: LogWriterConfig,
    options: WriterOptions,
) -> (AsyncLogWriter, Faults) {
    let (fs, faults) = FaultFs::shared();
    let writer = AsyncLogWriter::open_with_io(config, options, fs, Arc::new(SystemClock))
        .await
        .unwrap();
    faults.hold(Op::Write);
    writer.write_line("first").unwrap();
    for _ in 0..2000 {
        if faults.calls(Op::Write) == 1 {
            return (writer, faults);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the writer never took the first line ({})", dir.display());
}

/// Waits up to 10 s for `done` to hold.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..2000 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// Polls `fut` once: whether it is done without waiting.
fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// 5,000 lines queued while the disk hangs go to the file in one write: a batch is bounded in
/// bytes, not by `max_concurrent_writes` (1,000) lines.
#[tokio::test]
async fn a_batch_takes_everything_queued_beyond_a_thousand_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, faults) =
        held_writer(dir.path(), config(dir.path()), WriterOptions::default()).await;
    for i in 0..5000 {
        writer.write_line(format!("line {i:05}")).unwrap();
    }
    let m = writer.metrics_snapshot();
    assert_eq!((m.buffered_lines, m.dropped_messages), (5000, 0));
    faults.clear(Op::Write);
    writer.flush().await.unwrap();
    // "first", then the 5,000 lines in one batch.
    assert_eq!(faults.calls(Op::Write), 2);
    writer.shutdown().await.unwrap();
    let data = std::fs::read(writer.path()).unwrap();
    assert_eq!(lines(&data).len(), 5001);
    assert_eq!(writer.metrics_snapshot().lines_written, 5001);
}

/// With 4 KiB of buffer and the disk hung, 8 lossless producers wait: the buffer never holds
/// more than 4 KiB, and once the disk is back every line arrives once, whole, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossless_writers_wait_within_max_buffered_bytes_and_lose_nothing() {
    const TASKS: usize = 8;
    const LINES: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let mut options = WriterOptions::default();
    options.max_line_len = 100;
    options.max_buffered_bytes = 4096;
    let (writer, faults) = held_writer(dir.path(), config(dir.path()), options).await;
    let writer = Arc::new(writer);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let w = writer.clone();
            tokio::spawn(async move {
                for i in 0..LINES {
                    w.write_line_async(format!("t{t} {i:04} {}", "p".repeat(40)))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    assert!(
        eventually(|| writer.metrics_snapshot().buffer_overflows >= TASKS as u64).await,
        "the producers never filled the buffer"
    );
    for _ in 0..20 {
        let buffered = writer.metrics_snapshot().buffered_bytes;
        assert!(buffered <= 4096, "{buffered} bytes buffered");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    faults.clear(Op::Write);
    for t in tasks {
        t.await.unwrap();
    }
    writer.shutdown().await.unwrap();
    let m = writer.metrics_snapshot();
    assert_eq!(m.dropped_messages, 0);
    assert_eq!(m.lines_written, (TASKS * LINES + 1) as u64);
    let data = std::fs::read(writer.path()).unwrap();
    let mut next = [0usize; TASKS];
    for &line in lines(&data).iter().skip(1) {
        let text = std::str::from_utf8(line).unwrap();
        let mut words = text.split(' ');
        let t: usize = words.next().unwrap()[1..].parse().unwrap();
        let i: usize = words.next().unwrap().parse().unwrap();
        assert_eq!(i, next[t], "task {t}: out of order, lost or repeated");
        assert_eq!(words.next().map(str::len), Some(40), "torn: {text}");
        next[t] += 1;
    }
    assert!(next.iter().all(|&n| n == LINES));
}

/// `max_concurrent_writes` 2 and 10 threads blocked in `write_line_blocking` (the disk hangs):
/// 2 wait for room, 8 for one of them to be done. A third caller is past the limit even with a
/// line that would fit: `write_line` drops it (marked), `try_write_line` says `Full`,
/// `write_line_async` waits and then succeeds. No line is lost or torn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_past_max_concurrent_writes_drop_say_full_or_wait() {
    const BLOCKED: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let mut options = WriterOptions::default();
    options.max_line_len = 100;
    options.max_buffered_bytes = 1; // raised to 131: one piece of a split line must fit
    let (writer, faults) = held_writer(
        dir.path(),
        LogWriterConfig {
            max_concurrent_writes: 2,
            ..config(dir.path())
        },
        options,
    )
    .await;
    let writer = Arc::new(writer);
    let filler = "f".repeat(60);
    writer.write_line(&filler).unwrap(); // 61 of 131 bytes
    let blocked: Vec<_> = (0..BLOCKED)
        .map(|b| {
            let w = writer.clone();
            // 101 bytes: does not fit until the disk is back.
            std::thread::spawn(move || w.write_line_blocking(format!("b{b:02} {}", "x".repeat(96))))
        })
        .collect();
    // Each blocked caller counts one overflow: waiting for room or for a place.
    assert!(
        eventually(|| writer.metrics_snapshot().buffer_overflows == BLOCKED as u64).await,
        "{:?}",
        writer.metrics_snapshot()
    );

    // "tiny" would fit in bytes (66 of 131), but 2 callers already wait.
    writer.write_line("tiny").unwrap();
    let m = writer.metrics_snapshot();
    assert_eq!((m.dropped_messages, m.buffered_bytes), (1, 61));
    assert!(matches!(writer.try_write_line("tiny"), Err(Error::Full)));
    let late = writer.write_line_async("late");
    tokio::pin!(late);
    assert!(
        poll_once(late.as_mut()).is_pending(),
        "write_line_async past the limit did not wait"
    );
    assert_eq!(writer.metrics_snapshot().buffered_bytes, 61);

    faults.clear(Op::Write);
    late.await.unwrap();
    for b in blocked {
        b.join().unwrap().unwrap();
    }
    writer.shutdown().await.unwrap();
    let m = writer.metrics_snapshot();
    assert_eq!(
        (m.lines_written, m.dropped_messages),
        (2 + BLOCKED as u64 + 1, 1)
    );
    let data = std::fs::read(writer.path()).unwrap();
    let mut seen = Vec::new();
    let mut marked = 0;
    for line in lines(&data) {
        if is_marker(line) {
            marked += marker_count(line);
            continue;
        }
        let text = std::str::from_utf8(line).unwrap();
        if let Some(rest) = text.strip_prefix('b') {
            assert_eq!(text.len(), 100, "torn: {text}");
            seen.push(rest[..2].parse::<usize>().unwrap());
        } else {
            assert!(["first", filler.as_str(), "late"].contains(&text), "{text}");
        }
    }
    assert_eq!(marked, 1);
    seen.sort_unstable();
    assert_eq!(seen, (0..BLOCKED).collect::<Vec<_>>());
}
