//! The writer without an async runtime: opened, written, flushed and shut down from plain
//! threads (what a `tracing` backend in a plain `main` needs).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_logging::testing::{FaultFs, Op};
use bunctl_logging::SystemClock;
use bunctl_logging::{AsyncLogWriter, Error, LogWriterConfig, WriterOptions};
use common::lines;

fn config(dir: &std::path::Path) -> LogWriterConfig {
    LogWriterConfig {
        path: dir.join("app.log"),
        ..LogWriterConfig::default()
    }
}

#[test]
fn open_write_flush_and_shut_down_without_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(
        AsyncLogWriter::open_blocking(config(dir.path()), WriterOptions::default()).unwrap(),
    );
    std::thread::scope(|s| {
        for t in 0..4 {
            let w = w.clone();
            s.spawn(move || {
                for i in 0..1000 {
                    w.write_line_blocking(format!("{t} {i}")).unwrap();
                }
            });
        }
    });
    w.flush_blocking().unwrap();
    assert_eq!(lines(&std::fs::read(w.path()).unwrap()).len(), 4000);
    w.write_line("last").unwrap();
    w.shutdown_blocking().unwrap();
    w.shutdown_blocking().unwrap();
    assert!(matches!(w.write_line("late"), Err(Error::Closed)));
    let data = std::fs::read(w.path()).unwrap();
    let got = lines(&data);
    assert_eq!(got.len(), 4001);
    for t in 0..4 {
        let mine: Vec<_> = got
            .iter()
            .filter(|l| l.starts_with(format!("{t} ").as_bytes()))
            .map(|l| String::from_utf8(l.to_vec()).unwrap())
            .collect();
        let want: Vec<_> = (0..1000).map(|i| format!("{t} {i}")).collect();
        assert_eq!(mine, want, "producer {t}: every line once, in order");
    }
    assert_eq!(w.metrics_snapshot().lines_written, 4001);
}

#[test]
fn blocking_flush_and_shutdown_are_bounded_on_a_hung_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    let mut options = WriterOptions::default();
    options.flush_timeout = Duration::from_millis(100);
    options.shutdown_timeout = Duration::from_millis(100);
    let w = AsyncLogWriter::open_blocking_with_io(
        config(dir.path()),
        options,
        fs,
        Arc::new(SystemClock),
    )
    .unwrap();
    faults.hold(Op::Write);
    w.write_line("stuck").unwrap();
    let start = Instant::now();
    assert!(matches!(
        w.flush_blocking(),
        Err(Error::FlushTimeout {
            unwritten_lines: 1,
            ..
        })
    ));
    let first = w.shutdown_blocking().unwrap_err();
    assert!(matches!(first, Error::ShutdownTimeout { .. }), "{first:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    faults.clear(Op::Write);
    // The same outcome again, at once.
    assert_eq!(
        w.shutdown_blocking().unwrap_err().to_string(),
        first.to_string()
    );
}
