//! A failed rotation never costs a line: when the directory refuses a rename, the live file is
//! written on past its limit, one marker line says why, every failed attempt is counted, and
//! the rotation is tried again until it works. Through `FaultFs`, in the foreground and in the
//! background (`.next`); `crates/bunctl-log-cli/tests/immutable_dir.rs` does it with a real
//! immutable directory.

mod common;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_log_buffer::{ROTATION_FAILED_MARKER, ROTATION_RESUMED_MARKER};
use bunctl_log_fs::{Filesystem, StdFs};
use bunctl_log_metrics::LogMetrics;
use bunctl_log_rotation::{SizePolicy, SystemClock};
use bunctl_log_sink::{RotatingSink, RotatingSinkConfig, Sink};

use common::{read_all, FaultFs, Faults, Op};

/// The text of the errors `FaultFs` injects for a rename.
const INJECTED: &str = "injected Rename failure";

fn numbered(from: usize, to: usize) -> Vec<u8> {
    (from..to)
        .flat_map(|i| format!("line {i:06} of the failed rotation test\n").into_bytes())
        .collect()
}

/// A log directory a few levels inside a fresh temporary directory.
fn log_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp
        .path()
        .join("scratch")
        .join("failed-rotation")
        .join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    (tmp, dir)
}

/// Rotates at `limit` bytes, in the background (through `.next`) or always in the foreground;
/// a failed rotation is tried again after `retry`.
fn config(live: &Path, limit: u64, background: bool, retry: Duration) -> RotatingSinkConfig {
    RotatingSinkConfig {
        policy: Box::new(SizePolicy(limit)),
        max_files: usize::MAX,
        compression: false,
        background_finish_bytes: if background { 0 } else { u64::MAX },
        rotation_retry_delay: retry,
        ..RotatingSinkConfig::new(live)
    }
}

fn open(config: RotatingSinkConfig, fs: Arc<dyn Filesystem>) -> (RotatingSink, Arc<LogMetrics>) {
    let metrics = Arc::new(LogMetrics::new());
    let sink = RotatingSink::open(config, fs, Arc::new(SystemClock))
        .unwrap()
        .with_metrics(metrics.clone());
    (sink, metrics)
}

/// Every file of the sink's, oldest first, the live file last.
fn files(live: &Path) -> Vec<Vec<u8>> {
    read_all(&bunctl_log_sink::list_log_files(StdFs::shared().as_ref(), live).unwrap())
}

/// What the files hold: the numbered lines, in the order they are in, and the marker lines.
/// Any other line fails the test.
fn split(files: &[Vec<u8>]) -> (Vec<u8>, Vec<String>) {
    let mut data = Vec::new();
    let mut markers = Vec::new();
    for file in files {
        assert!(
            file.is_empty() || file.ends_with(b"\n"),
            "a file ends mid-line"
        );
        for line in file.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b"line ") {
                data.extend_from_slice(line);
            } else if line.starts_with(ROTATION_FAILED_MARKER)
                || line.starts_with(ROTATION_RESUMED_MARKER)
            {
                markers.push(String::from_utf8(line.to_vec()).unwrap());
            } else {
                panic!("unexpected line {:?}", String::from_utf8_lossy(line));
            }
        }
    }
    (data, markers)
}

/// Exactly one failure marker, naming the directory and the error, then one resumed marker.
fn assert_one_failure_then_resumed(markers: &[String], dir: &Path) {
    assert_eq!(markers.len(), 2, "{markers:#?}");
    let failed = &markers[0];
    assert!(
        failed.as_bytes().starts_with(ROTATION_FAILED_MARKER),
        "{markers:#?}"
    );
    assert!(failed.contains(&dir.display().to_string()), "{failed}");
    assert!(failed.contains(INJECTED), "{failed}");
    assert!(
        markers[1].as_bytes().starts_with(ROTATION_RESUMED_MARKER),
        "{markers:#?}"
    );
}

/// The `.next` file of `live`.
fn next_path(live: &Path) -> PathBuf {
    live.with_file_name(format!(
        ".{}.next",
        live.file_name().unwrap().to_str().unwrap()
    ))
}

/// Waits for `done`. The guard only stops a hung test; nothing is asserted about time.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let guard = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < guard, "hung waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn refused_renames_in_the_foreground_cost_no_line_and_rotation_resumes() {
    let (_tmp, dir) = log_dir();
    let live = dir.join("app.log");
    let (fs, faults) = FaultFs::shared();
    let (mut sink, metrics) = open(config(&live, 1000, false, Duration::ZERO), fs);
    let all = numbered(0, 400);
    let (before, after) = all.split_at(500);
    sink.write_all(before).unwrap();
    // The next three renames are refused (EPERM, as in an immutable directory), then work.
    faults.fail(Op::Rename, io::ErrorKind::PermissionDenied, 3);
    // Batches of uneven sizes, some ending mid-line.
    for chunk in after.chunks(313) {
        sink.write_all(chunk).unwrap();
    }
    sink.close().unwrap();

    assert_eq!(faults.failures(Op::Rename), 3);
    let files = files(&live);
    let (data, markers) = split(&files);
    assert_eq!(data, all, "every line once, in order");
    assert_one_failure_then_resumed(&markers, &dir);
    let m = metrics.snapshot();
    assert_eq!(m.rotation_failures, 3);
    // The file being written when the renames were refused went on past its limit and holds
    // the failure marker; rotations went on after the fault cleared.
    assert!(files[0].len() > 1000 + 313, "{}", files[0].len());
    assert_eq!(split(&files[..1]).1.len(), 1);
    assert!(files.len() > 10, "{} files", files.len());
    assert_eq!(m.rotation_count, files.len() as u64 - 1);
}

#[test]
fn a_failed_rotation_waits_for_its_backoff_and_the_live_file_takes_every_line() {
    let (_tmp, dir) = log_dir();
    let live = dir.join("app.log");
    let (fs, faults) = FaultFs::shared();
    let retry = Duration::from_secs(3600);
    let (mut sink, metrics) = open(config(&live, 1000, false, retry), fs);
    faults.fail(Op::Rename, io::ErrorKind::PermissionDenied, 1);
    let all = numbered(0, 300);
    for chunk in all.chunks(400) {
        sink.write_all(chunk).unwrap();
    }
    sink.close().unwrap();
    // One try, refused; the next is an hour away: no more renames, and no line lost.
    assert_eq!(faults.calls(Op::Rename), 1);
    let files = files(&live);
    assert_eq!(files.len(), 1, "still one file");
    let (data, markers) = split(&files);
    assert_eq!(data, all);
    assert_eq!(markers.len(), 1, "{markers:#?}");
    assert!(markers[0].contains(INJECTED), "{markers:#?}");
    let m = metrics.snapshot();
    assert_eq!((m.rotation_failures, m.rotation_count), (1, 0));
}

/// A sink on a `FaultFs` that rotates in the background, with lines 0..30 written.
fn background_sink() -> (
    tempfile::TempDir,
    PathBuf,
    RotatingSink,
    Arc<LogMetrics>,
    Faults,
) {
    let (tmp, dir) = log_dir();
    let live = dir.join("app.log");
    let (fs, faults) = FaultFs::shared();
    let (mut sink, metrics) = open(config(&live, 1 << 20, true, Duration::ZERO), fs);
    sink.write_all(&numbered(0, 30)).unwrap();
    (tmp, live, sink, metrics, faults)
}

#[test]
fn a_background_rotation_whose_rename_is_refused_moves_next_back_into_the_live_file() {
    let (_tmp, live, mut sink, metrics, faults) = background_sink();
    let dir = live.parent().unwrap().to_path_buf();
    // The rotated file's fsync is held, so lines 30..60 go to `.next` meanwhile.
    faults.hold_path(Op::SyncData, &live);
    sink.rotate().unwrap();
    sink.write_all(&numbered(30, 60)).unwrap();
    wait_until("the fsync started", || faults.calls(Op::SyncData) > 0);
    faults.fail(Op::Rename, io::ErrorKind::PermissionDenied, 1);
    faults.clear(Op::SyncData);
    sink.sync().unwrap(); // the rotation's end: its rename is refused
    assert_eq!(faults.failures(Op::Rename), 1);
    assert!(
        !next_path(&live).exists(),
        "`.next` was moved back and removed"
    );
    assert_eq!(files(&live).len(), 1, "nothing renamed");
    assert_eq!(std::fs::read(&live).unwrap(), numbered(0, 60));

    // The next write puts the marker after those lines, and the retry (in the foreground) works.
    sink.write_all(&numbered(60, 90)).unwrap();
    sink.close().unwrap();
    let files = files(&live);
    assert_eq!(files.len(), 2);
    let (data, markers) = split(&files);
    assert_eq!(data, numbered(0, 90));
    assert_one_failure_then_resumed(&markers, &dir);
    assert_eq!(
        files[0],
        [numbered(0, 60), markers[0].clone().into_bytes()].concat()
    );
    let m = metrics.snapshot();
    assert_eq!((m.rotation_failures, m.rotation_count), (1, 1));
}

#[test]
fn a_refused_rename_of_next_keeps_writing_next_until_it_takes_the_live_name() {
    let (_tmp, live, mut sink, metrics, faults) = background_sink();
    let dir = live.parent().unwrap().to_path_buf();
    // The rotated file gets its archive name; the rename of `.next` to the live name waits.
    faults.hold(Op::Rename);
    faults.release(Op::Rename, 1);
    sink.rotate().unwrap();
    sink.write_all(&numbered(30, 60)).unwrap();
    wait_until("the second rename is held", || {
        faults.calls(Op::Rename) == 2
    });
    // ... and is refused.
    faults.fail(Op::Rename, io::ErrorKind::PermissionDenied, 1);
    faults.release(Op::Rename, 1);
    wait_until("the rename was refused", || {
        faults.failures(Op::Rename) == 1
    });
    faults.clear(Op::Rename);
    sink.sync().unwrap(); // takes note of the failure: no error, the marker goes to `.next`
    assert!(next_path(&live).exists());
    assert!(!live.exists());
    sink.write_all(&numbered(60, 90)).unwrap(); // tried again: `.next` takes the live name
    sink.close().unwrap();
    assert!(!next_path(&live).exists());
    let files = files(&live);
    assert_eq!(files.len(), 2);
    assert_eq!(files[0], numbered(0, 30));
    let (data, markers) = split(&files);
    assert_eq!(data, numbered(0, 90));
    assert_one_failure_then_resumed(&markers, &dir);
    let m = metrics.snapshot();
    assert_eq!((m.rotation_failures, m.rotation_count), (1, 1));
}

#[test]
fn refused_renames_while_rotating_in_the_background_cost_no_line() {
    // Whenever the writer notices the rotate thread's failure, and whichever rename it was:
    // every line once, in order, one marker per run of failures, each failure counted.
    for failures in [1, 2, 5] {
        let (_tmp, dir) = log_dir();
        let live = dir.join("app.log");
        let (fs, faults) = FaultFs::shared();
        let (mut sink, metrics) = open(config(&live, 4096, true, Duration::ZERO), fs);
        let all = numbered(0, 3000);
        let (before, after) = all.split_at(20_000);
        for chunk in before.chunks(1777) {
            sink.write_all(chunk).unwrap();
        }
        faults.fail(Op::Rename, io::ErrorKind::PermissionDenied, failures);
        for chunk in after.chunks(1777) {
            sink.write_all(chunk).unwrap();
        }
        sink.close().unwrap();
        assert!(!next_path(&live).exists());
        assert_eq!(faults.failures(Op::Rename), failures);
        let (data, markers) = split(&files(&live));
        assert_eq!(data, all, "{failures} failures");
        assert_one_failure_then_resumed(&markers, &dir);
        assert_eq!(metrics.snapshot().rotation_failures, failures);
    }
}
