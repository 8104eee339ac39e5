//! Integration tests of the layers around `RotatingSink`: `RetryingSink` (backoff, circuit
//! breaker, partial writes never repeated) and `MeteredSink` (what it counts).

mod common;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bunctl_log_fs::Filesystem;
use bunctl_log_metrics::LogMetrics;
use bunctl_log_rotation::{SizePolicy, SystemClock};
use bunctl_log_sink::{
    is_transient, CircuitOpen, MeteredSink, RetryConfig, RetryingSink, RotatingSink,
    RotatingSinkConfig, Sink,
};

use common::{read_all, FaultFs, Faults, Op, ScriptedSink};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The recorded delays are `expected_ms`, each to within a microsecond: backon scales delays
/// with an `f32` factor, so 200 ms comes out as 200.000003 ms.
fn assert_delays(recorded: &[Duration], expected_ms: &[u64]) {
    assert_eq!(recorded.len(), expected_ms.len(), "{recorded:?}");
    for (got, want) in recorded.iter().zip(expected_ms) {
        let want = Duration::from_millis(*want);
        let diff = got.abs_diff(want);
        assert!(diff < Duration::from_micros(1), "{got:?} is not {want:?}");
    }
}

/// `sink` with a sleeper that records the delays instead of sleeping.
fn recorded<S: Sink>(sink: S, config: RetryConfig) -> (RetryingSink<S>, Arc<Mutex<Vec<Duration>>>) {
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let rec = sleeps.clone();
    let sink = RetryingSink::new(sink, config).with_sleeper(move |d| rec.lock().unwrap().push(d));
    (sink, sleeps)
}

fn is_circuit_open(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<CircuitOpen>())
}

#[test]
fn transient_errors_are_retried_after_100_200_400_ms() {
    let inner = ScriptedSink::default();
    inner.push_failures(io::ErrorKind::StorageFull, 3);
    let calls = inner.calls.clone();
    let (mut sink, sleeps) = recorded(inner, RetryConfig::default());
    assert_eq!(sink.write(b"line\n").unwrap(), 5);
    assert_eq!(*calls.lock().unwrap(), 4);
    assert_delays(&sleeps.lock().unwrap(), &[100, 200, 400]);
    assert_eq!(sink.inner().data, b"line\n");
    assert!(!sink.is_open());
}

#[test]
fn retries_stop_after_max_attempts_with_the_last_error() {
    let inner = ScriptedSink::default();
    inner.push_failures(io::ErrorKind::Other, 5);
    let calls = inner.calls.clone();
    let (mut sink, sleeps) = recorded(inner, RetryConfig::default());
    let e = sink.write(b"line\n").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Other);
    assert_eq!(*calls.lock().unwrap(), 5, "5 tries in all");
    assert_delays(&sleeps.lock().unwrap(), &[100, 200, 400, 800]);
    assert!(!sink.is_open(), "5 failures < threshold 10");
    // the disk recovered: the next write succeeds at once
    assert_eq!(sink.write(b"line\n").unwrap(), 5);
    assert_eq!(sink.inner().data, b"line\n");
}

#[test]
fn a_non_transient_error_is_not_retried() {
    let inner = ScriptedSink::default();
    inner.push_failures(io::ErrorKind::InvalidInput, 1);
    let calls = inner.calls.clone();
    let (mut sink, sleeps) = recorded(inner, RetryConfig::default());
    let e = sink.write(b"line\n").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(!is_transient(&e));
    assert_eq!(*calls.lock().unwrap(), 1);
    assert!(sleeps.lock().unwrap().is_empty());
    assert!(sink.inner().data.is_empty());
}

#[test]
fn before_close_lets_the_last_write_through_an_open_breaker() {
    let config = RetryConfig {
        probe_interval: Duration::from_secs(3600),
        max_probe_interval: Duration::from_secs(3600),
        ..RetryConfig::default()
    };
    let inner = ScriptedSink::default();
    inner.push_failures(io::ErrorKind::StorageFull, 10);
    let (mut sink, _sleeps) = recorded(inner, config);
    assert!(sink.write(b"a\n").is_err());
    assert!(sink.write(b"a\n").is_err());
    assert!(sink.is_open());
    assert!(is_circuit_open(&sink.write(b"held\n").unwrap_err()));
    // The disk took writes again long before the hour-long probe: shutdown's marker gets in.
    sink.before_close();
    assert_eq!(sink.write(b"last\n").unwrap(), 5);
    assert!(!sink.is_open());
    assert_eq!(sink.inner().data, b"last\n");
}

#[test]
fn the_breaker_opens_fails_fast_and_a_successful_probe_closes_it() {
    let probe = ms(100);
    let config = RetryConfig {
        probe_interval: probe,
        max_probe_interval: ms(1000),
        ..RetryConfig::default()
    };
    assert_eq!(config.breaker_threshold, 10);
    let inner = ScriptedSink::default();
    inner.push_failures(io::ErrorKind::StorageFull, 10);
    let calls = inner.calls.clone();
    let calls_now = || *calls.lock().unwrap();
    let (mut sink, _sleeps) = recorded(inner, config);

    assert!(sink.write(b"a\n").is_err());
    assert_eq!(calls_now(), 5);
    assert!(!sink.is_open());
    let e = sink.write(b"a\n").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull, "the last real error");
    assert_eq!(calls_now(), 10);
    assert!(sink.is_open(), "open after 10 consecutive failures");

    // open: fails at once, without calling the inner sink
    let e = sink.write(b"a\n").unwrap_err();
    assert!(is_circuit_open(&e), "{e}");
    assert!(
        !is_transient(&e),
        "CircuitOpen is not retried by a layer above"
    );
    assert_eq!(calls_now(), 10);

    // a failing probe: one call, open again, for twice as long
    std::thread::sleep(probe + ms(10));
    sink.inner().push_failures(io::ErrorKind::StorageFull, 1);
    let e = sink.write(b"a\n").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    assert_eq!(calls_now(), 11, "a probe is one try, not a retry loop");
    assert!(sink.is_open());
    assert!(is_circuit_open(&sink.write(b"a\n").unwrap_err()));
    std::thread::sleep(probe + ms(20));
    let e = sink.write(b"a\n").unwrap_err();
    assert!(
        is_circuit_open(&e),
        "probe interval doubled after a failed probe"
    );
    assert_eq!(calls_now(), 11);

    // the disk recovered: the probe succeeds and closes the breaker
    std::thread::sleep(probe);
    assert_eq!(sink.write(b"probe\n").unwrap(), 6);
    assert!(!sink.is_open());
    assert_eq!(calls_now(), 12);
    sink.write(b"next\n").unwrap();
    assert_eq!(sink.inner().data, b"probe\nnext\n");

    // and the failure count restarted: 5 failures do not reopen it
    sink.inner().push_failures(io::ErrorKind::StorageFull, 5);
    assert!(sink.write(b"x\n").is_err());
    assert!(!sink.is_open());
}

fn rotating_on(fs: Arc<dyn Filesystem>, live: &Path, limit: u64) -> RotatingSink {
    RotatingSink::open(
        RotatingSinkConfig {
            policy: Box::new(SizePolicy(limit)),
            max_files: usize::MAX,
            compression: false,
            ..RotatingSinkConfig::new(live)
        },
        fs,
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn batch_of_lines(n: u8, len: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for i in 0..n {
        b.extend(std::iter::repeat_n(b'a' + i % 26, len));
        b.push(b'\n');
    }
    b
}

fn retrying_rotating(
    dir: &Path,
    limit: u64,
) -> (
    RetryingSink<RotatingSink>,
    Faults,
    Arc<Mutex<Vec<Duration>>>,
) {
    let (fs, faults) = FaultFs::shared();
    let sink = rotating_on(fs, &dir.join("app.log"), limit);
    let (sink, sleeps) = recorded(sink, RetryConfig::default());
    (sink, faults, sleeps)
}

#[test]
fn a_short_write_then_a_failure_is_never_repeated() {
    let batch = batch_of_lines(10, 9);
    for prefix in 1..batch.len() {
        let dir = tempfile::tempdir().unwrap();
        let (mut sink, faults, sleeps) = retrying_rotating(dir.path(), 1 << 20);
        faults.short_write(prefix, io::ErrorKind::StorageFull);
        sink.write_all(&batch).unwrap();
        sink.close().unwrap();
        assert_eq!(faults.failures(Op::Write), 1, "prefix {prefix}");
        assert_eq!(*sleeps.lock().unwrap(), vec![ms(100)]);
        let files = sink.inner().log_files().unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(read_all(&files), vec![batch.clone()], "prefix {prefix}");
    }
}

#[test]
fn a_short_write_across_rotations_is_never_repeated_nor_torn() {
    let batch = batch_of_lines(12, 9); // 120 bytes, limit 35: 3 lines a file
    for prefix in 1..batch.len() {
        let dir = tempfile::tempdir().unwrap();
        let (mut sink, faults, _sleeps) = retrying_rotating(dir.path(), 35);
        sink.write_all(b"x\n").unwrap(); // the files do not start aligned with the batch
        faults.short_write(prefix, io::ErrorKind::Other);
        sink.write_all(&batch).unwrap();
        sink.close().unwrap();
        let files = sink.inner().log_files().unwrap();
        let contents = read_all(&files);
        let mut expected = b"x\n".to_vec();
        expected.extend_from_slice(&batch);
        assert_eq!(contents.concat(), expected, "prefix {prefix}");
        for c in &contents {
            assert!(c.len() <= 35, "prefix {prefix}: {} bytes", c.len());
            assert_eq!(c.last(), Some(&b'\n'), "prefix {prefix}: torn line");
        }
    }
}

#[test]
fn metered_counts_bytes_errors_flushes_and_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Arc::new(LogMetrics::new());
    let (fs, faults) = FaultFs::shared();
    let rotating = rotating_on(fs, &dir.path().join("app.log"), 40).with_metrics(metrics.clone());
    let mut sink = MeteredSink::new(rotating, metrics.clone());

    let mut passed = 0u64;
    for i in 0..10u8 {
        let b = batch_of_lines(i % 3 + 1, 9);
        sink.write_all(&b).unwrap();
        passed += b.len() as u64;
    }
    let s = metrics.snapshot();
    assert_eq!(s.bytes_written, passed);
    assert_eq!(s.write_errors, 0);
    assert_eq!(s.flush_count, 0);
    assert_eq!(s.lines_written, 0, "lines are the writer's to count");

    faults.fail(Op::Write, io::ErrorKind::StorageFull, 2);
    assert!(sink.write(b"zz\n").is_err());
    assert!(sink.write(b"zz\n").is_err());
    sink.write_all(b"zz\n").unwrap();
    passed += 3;
    let s = metrics.snapshot();
    assert_eq!(s.write_errors, 2);
    assert_eq!(s.bytes_written, passed, "failed writes add no bytes");

    sink.flush().unwrap();
    assert_eq!(metrics.snapshot().flush_count, 1);
    sink.sync().unwrap();
    assert_eq!(metrics.snapshot().flush_count, 2);
    faults.fail(Op::SyncData, io::ErrorKind::Other, 1);
    assert!(sink.sync().is_err());
    let s = metrics.snapshot();
    assert_eq!(s.flush_count, 2, "a failed sync is not a flush");
    assert_eq!(s.write_errors, 3);
    sink.close().unwrap();
    assert_eq!(metrics.snapshot().flush_count, 3);

    let files = sink.inner().log_files().unwrap();
    let s = metrics.snapshot();
    assert!(s.rotation_count > 0);
    assert_eq!(s.rotation_count, files.len() as u64 - 1);
    let total: u64 = read_all(&files).iter().map(|c| c.len() as u64).sum();
    assert_eq!(total, passed);
}

#[test]
fn metered_counts_partial_writes_by_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Arc::new(LogMetrics::new());
    let (fs, faults) = FaultFs::shared();
    let rotating = rotating_on(fs, &dir.path().join("app.log"), 1 << 20);
    let (retrying, _sleeps) = recorded(rotating, RetryConfig::default());
    let mut sink = MeteredSink::new(retrying, metrics.clone());
    let batch = batch_of_lines(5, 9);
    faults.short_write(13, io::ErrorKind::StorageFull);
    sink.write_all(&batch).unwrap();
    let s = metrics.snapshot();
    assert_eq!(s.bytes_written, batch.len() as u64);
    assert_eq!(s.write_errors, 0, "the retry below hid the failure");
}
