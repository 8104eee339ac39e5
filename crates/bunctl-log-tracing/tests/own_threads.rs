//! The writer's own thread logs through `tracing` too (it warns when the disk fails), and with
//! this backend as the global subscriber its events come back to the same writer. In lossless
//! mode it must not wait for room in its own buffer. Alone in this test binary, because only a
//! global subscriber reaches the writer's thread.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bunctl_log_tracing::{
    AsyncLogWriter, LogGuard, LogMakeWriter, LogWriterConfig, RotationConfig, RotationStrategy,
    WriterOptions,
};
use bunctl_logging::testing::{FaultFs, Op};
use bunctl_logging::RetryConfig;
use bunctl_logging::SystemClock;

const PRODUCERS: usize = 4;
const EVENTS: usize = 500;

#[test]
fn the_writers_own_warnings_never_wait_in_lossless_mode() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogWriterConfig {
        path: dir.path().join("app.log"),
        rotation: RotationConfig {
            strategy: RotationStrategy::Never,
            max_files: 1,
            compression: false,
        },
        buffer_size: 256,
        ..LogWriterConfig::default()
    };
    let mut options = WriterOptions::default();
    // A buffer of about 16 events: the producers fill it while the disk fails.
    options.max_line_len = 128;
    options.max_buffered_bytes = 1024;
    // Every write fails: after two tries 50 ms apart the circuit breaker opens, and the
    // writer thread says so with `tracing::warn!`. By then the producers, waiting for room,
    // have filled the buffer again.
    options.retry = RetryConfig {
        initial_delay: Duration::from_millis(50),
        max_attempts: 2,
        breaker_threshold: 2,
        probe_interval: Duration::from_millis(10),
        max_probe_interval: Duration::from_millis(10),
    };
    let (fs, faults) = FaultFs::shared();
    faults.fail_always(Op::Write, std::io::ErrorKind::Other);
    let writer = Arc::new(
        AsyncLogWriter::open_blocking_with_io(config, options, fs, Arc::new(SystemClock)).unwrap(),
    );
    let guard = LogGuard::new(writer.clone());
    tracing_subscriber::fmt()
        .with_writer(LogMakeWriter::lossless(writer.clone()))
        .with_ansi(false)
        .init();

    let (done_tx, done_rx) = mpsc::channel();
    for t in 0..PRODUCERS {
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            for i in 0..EVENTS {
                tracing::info!("ev t={t} i={i}");
            }
            let _ = done_tx.send(t);
        });
    }
    // Were the writer thread waiting for room in its own buffer, nobody would ever make any:
    // the producers would wait for ever. A generous bound turns that into a failure.
    for _ in 0..PRODUCERS {
        done_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("every producer finishes: the writer thread did not wait for itself");
    }

    faults.clear(Op::Write);
    // Lines were lost to the failing disk, so the shutdown reports them; it must end, though.
    let _ = guard.shutdown();
    let m = writer.metrics_snapshot();
    assert!(m.lines_lost > 0, "the disk did fail: {m:?}");
    eprintln!(
        "writer-thread events dropped because the buffer was full: {}",
        m.dropped_messages
    );
}
