//! Rotations finished off the writer's thread: writing goes on in `.<live>.next` while the
//! rotated file is fsynced, then renamed (see `RotatingSinkConfig::background_finish_bytes`).
//! Real files, and `FaultFs` to hold or fail the fsync at the moment that matters.

mod common;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_log_fs::{Filesystem, StdFs};
use bunctl_log_rotation::{SizePolicy, SystemClock};
use bunctl_log_sink::{RotatingSink, RotatingSinkConfig, Sink};

use common::{read_all, FaultFs, Faults, Op};

/// Rotates at `limit` bytes, every rotation finished in the background.
fn config(live: &Path, limit: u64, compression: bool) -> RotatingSinkConfig {
    RotatingSinkConfig {
        policy: Box::new(SizePolicy(limit)),
        max_files: usize::MAX,
        compression,
        compression_level: 1,
        background_finish_bytes: 0,
        ..RotatingSinkConfig::new(live)
    }
}

fn open(live: &Path, limit: u64, compression: bool, fs: Arc<dyn Filesystem>) -> RotatingSink {
    RotatingSink::open(config(live, limit, compression), fs, Arc::new(SystemClock)).unwrap()
}

fn numbered(from: usize, to: usize) -> Vec<u8> {
    (from..to)
        .flat_map(|i| format!("line {i:06} of the background rotation test\n").into_bytes())
        .collect()
}

/// Everything in the sink's files, oldest first.
fn content(live: &Path) -> Vec<u8> {
    let files = bunctl_log_sink::list_log_files(StdFs::shared().as_ref(), live).unwrap();
    read_all(&files).concat()
}

fn next_path(live: &Path) -> std::path::PathBuf {
    live.with_file_name(".app.log.next")
}

/// A sink on a `FaultFs` that wrote lines 0..30 and has not rotated yet.
fn sink_with_faults() -> (tempfile::TempDir, PathBuf, RotatingSink, Faults) {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let (fs, faults) = FaultFs::shared();
    let mut sink = open(&live, 1 << 20, false, fs);
    sink.write_all(&numbered(0, 30)).unwrap();
    (dir, live, sink, faults)
}

/// Waits until the rotate thread called `sync_data` (and is held there).
fn wait_for_the_fsync(faults: &Faults) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while faults.calls(Op::SyncData) == 0 {
        assert!(Instant::now() < deadline, "the fsync never started");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn lines_cross_background_rotations_whole_in_order_and_once() {
    for compression in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        let mut sink = open(&live, 4096, compression, StdFs::shared());
        let all = numbered(0, 3000);
        // Batches of uneven sizes, so rotations fall in the middle of batches.
        for chunk in all.chunks(1777) {
            sink.write_all(chunk).unwrap();
        }
        sink.close().unwrap();
        assert_eq!(content(&live), all, "compression {compression}");
        let files = bunctl_log_sink::list_log_files(StdFs::shared().as_ref(), &live).unwrap();
        assert!(
            files.len() > 20,
            "{} files: the test must rotate",
            files.len()
        );
        assert!(
            !next_path(&live).exists(),
            "close finishes the last rotation"
        );
    }
}

#[test]
fn sync_puts_the_names_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let mut sink = open(&live, 1000, false, StdFs::shared());
    sink.write_all(&numbered(0, 30)).unwrap();
    sink.write_all(&numbered(30, 31)).unwrap(); // over the limit: rotates first
    sink.sync().unwrap();
    assert!(!next_path(&live).exists());
    let files = bunctl_log_sink::list_log_files(StdFs::shared().as_ref(), &live).unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(read_all(&files).concat(), numbered(0, 31));
    sink.close().unwrap();
}

#[test]
fn the_rotated_file_is_renamed_only_after_its_fsync() {
    let (_dir, live, mut sink, faults) = sink_with_faults();
    faults.hold_path(Op::SyncData, &live);
    sink.rotate().unwrap(); // the fsync is held
    sink.write_all(&numbered(30, 60)).unwrap();
    // Writing went on: the new lines are in `.next`, the live name is still the old file.
    sink.flush().unwrap();
    assert_eq!(std::fs::read(next_path(&live)).unwrap(), numbered(30, 60));
    assert_eq!(std::fs::read(&live).unwrap(), numbered(0, 30));
    wait_for_the_fsync(&faults);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        faults.calls(Op::Rename),
        0,
        "no rename before the fsync returned"
    );
    faults.clear(Op::SyncData);
    sink.close().unwrap();
    assert_eq!(content(&live), numbered(0, 60));
    assert!(!next_path(&live).exists());
}

/// The paths this process has open (its `/proc/self/fd` links) under `dir`.
#[cfg(target_os = "linux")]
fn open_under(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.starts_with(dir))
        .collect()
}

#[test]
#[cfg(target_os = "linux")]
fn a_quiet_sink_finishes_its_rotation_then_closes_its_file() {
    let (dir, live, mut sink, faults) = sink_with_faults();
    faults.hold_path(Op::SyncData, &live);
    sink.rotate().unwrap(); // the fsync is held: writing goes on in `.next`
    sink.write_all(&numbered(30, 60)).unwrap();
    wait_for_the_fsync(&faults);
    let release = {
        let faults = faults.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            faults.clear(Op::SyncData);
        })
    };
    sink.close_idle().unwrap();
    release.join().unwrap();
    assert!(!next_path(&live).exists(), "the rotation was finished");
    // Only the lock is held, neither `.next` nor the file it was renamed to.
    assert_eq!(open_under(dir.path()), [dir.path().join(".app.log.lock")]);
    sink.write_all(&numbered(60, 61)).unwrap(); // opens the live file again
    sink.close().unwrap();
    assert_eq!(content(&live), numbered(0, 61));
}

#[test]
fn a_failed_fsync_is_reported_and_the_renames_wait_for_one_that_works() {
    let (_dir, live, mut sink, faults) = sink_with_faults();
    faults.fail(Op::SyncData, io::ErrorKind::Other, 1);
    sink.rotate().unwrap(); // the fsync fails in the background
    let error = sink.sync().unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::Other);
    assert!(
        next_path(&live).exists(),
        "nothing renamed after a failed fsync"
    );
    assert_eq!(faults.calls(Op::Rename), 0);
    sink.write_all(&numbered(30, 60)).unwrap(); // syncs again, then renames
    assert!(!next_path(&live).exists());
    sink.close().unwrap();
    assert_eq!(content(&live), numbered(0, 60));
    assert!(!next_path(&live).exists());
}

/// The live file is the operator's, untouched, then the reopened marker, then line 60.
fn assert_operators_file_kept_then_ours(live: &Path) {
    let live_now = String::from_utf8(std::fs::read(live).unwrap()).unwrap();
    assert!(
        live_now.starts_with("the operator's own file\n"),
        "{live_now}"
    );
    assert!(live_now.contains("[bunctl-log] reopened"), "{live_now}");
    assert!(live_now.ends_with(&String::from_utf8(numbered(60, 61)).unwrap()));
}

#[test]
fn a_live_file_replaced_during_the_rotation_is_never_overwritten() {
    let (dir, live, mut sink, faults) = sink_with_faults();
    faults.hold_path(Op::SyncData, &live);
    sink.rotate().unwrap();
    sink.write_all(&numbered(30, 60)).unwrap();
    wait_for_the_fsync(&faults);
    // An operator moves the rotated file away and puts a file of their own at the name.
    let moved = dir.path().join("moved-away");
    std::fs::rename(&live, &moved).unwrap();
    std::fs::write(&live, b"the operator's own file\n").unwrap();
    faults.clear(Op::SyncData);
    sink.sync().unwrap(); // waits for the rotation's end
    sink.write_all(&numbered(60, 61)).unwrap();
    sink.close().unwrap();
    assert_eq!(std::fs::read(&moved).unwrap(), numbered(0, 30));
    assert_operators_file_kept_then_ours(&live);
    // The lines written meanwhile became the archive: nothing lost, nothing overwritten.
    let files = bunctl_log_sink::list_log_files(StdFs::shared().as_ref(), &live).unwrap();
    assert_eq!(read_all(&files[..1]).concat(), numbered(30, 60));
    assert!(!next_path(&live).exists());
}

#[test]
fn a_file_put_at_the_live_name_between_the_two_renames_is_never_replaced() {
    let (_dir, live, mut sink, faults) = sink_with_faults();
    // The rotated file gets its archive name; the rename of `.next` waits.
    faults.hold_path(Op::Rename, next_path(&live));
    sink.rotate().unwrap();
    sink.write_all(&numbered(30, 60)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while live.exists() {
        assert!(
            Instant::now() < deadline,
            "the rotated file was never renamed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Meanwhile someone (logrotate's `create`, an operator) makes a new live file.
    std::fs::write(&live, b"the operator's own file\n").unwrap();
    faults.clear(Op::Rename);
    sink.sync().unwrap();
    sink.write_all(&numbered(60, 61)).unwrap();
    sink.close().unwrap();
    assert_operators_file_kept_then_ours(&live);
    // Both rotated parts are archives, in order, under names of their own.
    let files = bunctl_log_sink::list_log_files(StdFs::shared().as_ref(), &live).unwrap();
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(read_all(&files[..2]).concat(), numbered(0, 60));
    assert!(!next_path(&live).exists());
}

#[test]
fn a_directory_removed_during_the_rotation_is_made_again_and_writing_goes_on() {
    let (dir, live, mut sink, faults) = sink_with_faults();
    faults.hold_path(Op::SyncData, &live);
    sink.rotate().unwrap();
    sink.write_all(&numbered(30, 60)).unwrap();
    wait_for_the_fsync(&faults);
    std::fs::remove_dir_all(dir.path()).unwrap(); // `rm -r` of the log directory
    faults.clear(Op::SyncData);
    sink.sync().unwrap(); // the rotation's end finds `.next` gone: reopens
    sink.write_all(&numbered(60, 70)).unwrap();
    sink.close().unwrap();
    let text = String::from_utf8(std::fs::read(&live).unwrap()).unwrap();
    assert!(text.starts_with("[bunctl-log] reopened"), "{text}");
    assert!(text.ends_with(&String::from_utf8(numbered(60, 70)).unwrap()));
    assert!(!next_path(&live).exists());
}

#[test]
fn open_finishes_a_rotation_a_crash_interrupted() {
    for compression in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        // The crash came after the switch to `.next`, before the renames.
        std::fs::write(&live, numbered(0, 10)).unwrap();
        std::fs::write(next_path(&live), numbered(10, 20)).unwrap();
        let mut sink = open(&live, 1 << 20, compression, StdFs::shared());
        sink.write_all(&numbered(20, 25)).unwrap();
        sink.close().unwrap();
        assert_eq!(content(&live), numbered(0, 25), "compression {compression}");
        assert!(!next_path(&live).exists());
        let files = bunctl_log_sink::list_log_files(StdFs::shared().as_ref(), &live).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(std::fs::read(&live).unwrap(), numbered(10, 25));
    }
}

#[test]
fn open_renames_a_next_file_left_alone_after_the_first_rename() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    // The crash came between the two renames: the archive is in place, the live name free.
    std::fs::write(
        dir.path().join("app.20260101T000000Z-000001.log"),
        numbered(0, 10),
    )
    .unwrap();
    std::fs::write(next_path(&live), numbered(10, 20)).unwrap();
    let mut sink = open(&live, 1 << 20, false, StdFs::shared());
    sink.write_all(&numbered(20, 25)).unwrap();
    sink.close().unwrap();
    assert_eq!(content(&live), numbered(0, 25));
    assert!(!next_path(&live).exists());
}

#[test]
fn a_symlink_at_the_next_name_is_removed_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let target = dir.path().join("precious");
    std::fs::write(&target, b"not a log\n").unwrap();
    std::os::unix::fs::symlink(&target, next_path(&live)).unwrap();
    let mut sink = open(&live, 1000, false, StdFs::shared());
    assert!(std::fs::symlink_metadata(next_path(&live)).is_err());
    sink.write_all(&numbered(0, 60)).unwrap(); // rotates through a fresh `.next`
    sink.close().unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"not a log\n");
    assert_eq!(content(&live), numbered(0, 60));
}
