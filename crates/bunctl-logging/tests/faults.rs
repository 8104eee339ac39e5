//! I/O errors injected through the filesystem seam, end to end through the facade.

mod common;

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_logging::testing::{FaultFs, Faults, Op};
use bunctl_logging::SystemClock;
use bunctl_logging::{
    AsyncLogWriter, Error, LogWriterConfig, RetryConfig, RotationConfig, RotationStrategy,
    WriterOptions,
};
use common::{is_marker, lines, marker_count};

fn config(dir: &std::path::Path) -> LogWriterConfig {
    common::init_tracing();
    LogWriterConfig {
        path: dir.join("app.log"),
        rotation: RotationConfig {
            strategy: RotationStrategy::Never,
            max_files: 10,
            compression: false,
        },
        ..LogWriterConfig::default()
    }
}

/// Fast retries, so the tests need not wait.
fn options() -> WriterOptions {
    let mut o = WriterOptions::default();
    o.retry = RetryConfig {
        initial_delay: Duration::from_millis(1),
        max_attempts: 3,
        breaker_threshold: 6,
        probe_interval: Duration::from_millis(50),
        max_probe_interval: Duration::from_millis(50),
    };
    o
}

async fn open(config: LogWriterConfig) -> (AsyncLogWriter, Faults) {
    open_with_options(config, options()).await
}

async fn open_with_options(
    config: LogWriterConfig,
    options: WriterOptions,
) -> (AsyncLogWriter, Faults) {
    let (fs, faults) = FaultFs::shared();
    let w = AsyncLogWriter::open_with_io(config, options, fs, Arc::new(SystemClock))
        .await
        .unwrap();
    (w, faults)
}

#[tokio::test]
async fn a_passing_full_disk_is_retried_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (w, faults) = open(config(dir.path())).await;
    faults.fail(Op::Write, ErrorKind::StorageFull, 2);
    for i in 0..100 {
        w.write_line_async(format!("line {i}")).await.unwrap();
    }
    w.shutdown().await.unwrap();
    let data = std::fs::read(w.path()).unwrap();
    let got = lines(&data);
    assert_eq!(got.len(), 100);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, l)| *l == format!("line {i}").as_bytes()));
    let m = w.get_metrics().await;
    assert_eq!(faults.failures(Op::Write), 2);
    assert_eq!(m.write_errors, 2);
    assert_eq!((m.lines_written, m.lines_lost), (100, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_disk_opens_the_breaker_counts_losses_and_marks_them_after_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let (w, faults) = open(config(dir.path())).await;
    w.write_line("before").unwrap();
    w.flush().await.unwrap();
    faults.fail_always(Op::Write, ErrorKind::Other);
    // write_line never blocks, whatever the disk does.
    let start = Instant::now();
    for i in 0..20_000 {
        w.write_line(format!("during {i}")).unwrap();
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    let err = w.flush().await.unwrap_err();
    assert!(
        matches!(err, Error::WriteFailed { lines_lost, .. } if lines_lost > 0),
        "{err:?}"
    );
    assert!(err.to_string().contains("app.log"), "{err}");
    // Once the breaker is open, batches fail at once without touching the file.
    let tries = faults.calls(Op::Write);
    for i in 0..100 {
        w.write_line(format!("while open {i}")).unwrap();
    }
    let _ = w.flush().await;
    assert!(
        faults.calls(Op::Write) <= tries + 1,
        "the breaker did not open"
    );

    faults.clear_all();
    tokio::time::sleep(Duration::from_millis(80)).await; // past the probe interval
    w.write_line("after").unwrap();
    // Losses are reported once: the flush above reported them, so these succeed.
    let _ = w.flush().await;
    w.flush().await.unwrap();
    w.shutdown().await.unwrap();

    let m = w.get_metrics().await;
    let offered = 1 + 20_000 + 100 + 1;
    assert_eq!(m.lines_written + m.lines_lost + m.dropped_messages, offered);
    assert_eq!(m.lines_written, 2, "{m:?}");
    let data = std::fs::read(w.path()).unwrap();
    let got = lines(&data);
    assert_eq!(got.first(), Some(&&b"before"[..]));
    assert_eq!(got.last(), Some(&&b"after"[..]));
    let lost_marked: u64 = got
        .iter()
        .filter(|l| is_marker(l) && l.ends_with(b"the log file was not writable"))
        .map(|l| marker_count(l))
        .sum();
    let dropped_marked: u64 = got
        .iter()
        .filter(|l| is_marker(l) && l.ends_with(b"the writer was full"))
        .map(|l| marker_count(l))
        .sum();
    assert_eq!(
        lost_marked,
        m.lines_lost,
        "{}",
        String::from_utf8_lossy(&data)
    );
    // Drop markers inside lost batches are lost with them; those that reached the file are
    // never more than what was dropped.
    assert!(dropped_marked <= m.dropped_messages);
}

#[tokio::test]
async fn shutdown_of_a_stuck_writer_is_bounded_and_says_what_was_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options();
    o.shutdown_timeout = Duration::from_millis(300);
    let (w, faults) = open_with_options(config(dir.path()), o).await;
    faults.stall_writes(Some(Duration::from_secs(3)));
    for i in 0..50 {
        w.write_line(format!("line {i}")).unwrap();
    }
    let start = Instant::now();
    let err = w.shutdown().await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    match &err {
        Error::ShutdownTimeout {
            unwritten_lines, ..
        } => assert_eq!(*unwritten_lines, 50),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("app.log"), "{err}");
    assert!(matches!(w.write_line("late"), Err(Error::Closed)));
    faults.stall_writes(None);
}

#[tokio::test]
async fn a_permission_error_is_reported_at_creation_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    faults.fail(Op::OpenAppend, ErrorKind::PermissionDenied, 1);
    let err =
        AsyncLogWriter::open_with_io(config(dir.path()), options(), fs, Arc::new(SystemClock))
            .await
            .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Io { ref source, .. } if source.kind() == ErrorKind::PermissionDenied)
    );
    assert!(
        msg.contains(&*dir.path().join("app.log").to_string_lossy()),
        "{msg}"
    );
}

#[tokio::test]
async fn a_failed_rotation_is_retried_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (w, faults) = open(LogWriterConfig {
        rotation: RotationConfig {
            strategy: RotationStrategy::Size(200),
            max_files: 100,
            compression: true,
        },
        buffer_size: 64,
        ..config(dir.path())
    })
    .await;
    faults.fail(Op::Rename, ErrorKind::StorageFull, 2);
    for i in 0..100 {
        w.write_line_async(format!("line {i:03} ............."))
            .await
            .unwrap();
    }
    w.shutdown().await.unwrap();
    let all = common::read_files(&w.log_files().unwrap());
    let (markers, got): (Vec<&[u8]>, Vec<&[u8]>) =
        lines(&all).into_iter().partition(|l| common::is_marker(l));
    assert_eq!(got.len(), 100);
    for (i, l) in got.iter().enumerate() {
        assert_eq!(*l, format!("line {i:03} .............").as_bytes());
    }
    // The refused rename is said once in the file and counted; the writer went on in the
    // live file (the retry waits its backoff, so fewer rotations happen in the run).
    let failure_markers = markers
        .iter()
        .filter(|m| m.starts_with(bunctl_logging::ROTATION_FAILED_MARKER))
        .count();
    assert_eq!(failure_markers, 1, "{markers:?}");
    assert!(w.get_metrics().await.rotation_failures >= 1);
}

#[tokio::test]
async fn a_line_a_failed_write_cut_is_reported_by_flush_then_finished_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (w, faults) = open(config(&dir.path().join("a/b"))).await;
    w.write_line_async("first line").await.unwrap();
    w.flush().await.unwrap();
    // The next write stops 4 bytes into the line and the write of its rest fails (not a
    // transient error: not retried).
    faults.short_write(4, ErrorKind::InvalidData);
    w.write_line_async("second line").await.unwrap();
    let err = w.flush().await.unwrap_err();
    assert!(
        matches!(err, Error::WriteFailed { lines_lost: 1, .. }),
        "a cut line is not in the file: {err}"
    );
    // The file takes writes again: the cut line is finished, whole, before the next one.
    w.write_line_async("third line").await.unwrap();
    w.shutdown().await.unwrap();
    let data = std::fs::read(w.path()).unwrap();
    assert_eq!(
        lines(&data),
        [&b"first line"[..], b"second line", b"third line"],
        "{}",
        String::from_utf8_lossy(&data)
    );
    let m = w.get_metrics().await;
    assert_eq!((m.lines_written, m.lines_lost), (3, 0));
}
