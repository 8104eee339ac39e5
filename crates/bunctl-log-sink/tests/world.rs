//! `RotatingSink` when the world intervenes: the live file removed, moved or replaced by someone
//! else, a second writer, a symlink, a removed directory, a full disk. Real files, and
//! `FaultFs` where a real fault cannot be made without root.

mod common;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bunctl_log_fs::{Filesystem, Locked, StdFs, SymlinkRefused};
use bunctl_log_metrics::LogMetrics;
use bunctl_log_rotation::{NeverPolicy, RotationPolicy, SizePolicy, SystemClock};
use bunctl_log_sink::{FullDiskPolicy, RotatingSink, RotatingSinkConfig, Sink};

use common::{dir_names, read_all, FaultFs, Op};

fn config(live: &Path, policy: impl RotationPolicy + 'static) -> RotatingSinkConfig {
    RotatingSinkConfig {
        policy: Box::new(policy),
        max_files: 100,
        compression: false,
        // Every batch checks the path: the tests need not wait.
        reopen_check_interval: Duration::ZERO,
        ..RotatingSinkConfig::new(live)
    }
}

fn open_on(fs: Arc<dyn Filesystem>, config: RotatingSinkConfig) -> (RotatingSink, Arc<LogMetrics>) {
    let metrics = Arc::new(LogMetrics::new());
    let sink = RotatingSink::open(config, fs, Arc::new(SystemClock))
        .unwrap()
        .with_metrics(metrics.clone());
    (sink, metrics)
}

fn text(p: &Path) -> String {
    String::from_utf8(std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn a_removed_live_file_is_recreated_with_a_marker_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let (mut sink, metrics) = open_on(StdFs::shared(), config(&live, SizePolicy(1 << 20)));
    sink.write_all(b"before\n").unwrap();
    std::fs::remove_file(&live).unwrap(); // the operator's `rm app.log`
    sink.write_all(b"after 1\nafter 2\n").unwrap();
    sink.close().unwrap();
    let got = text(&live);
    let mut lines = got.lines();
    let marker = lines.next().unwrap();
    assert!(marker.starts_with("[bunctl-log] reopened "), "{got}");
    assert!(marker.contains("removed"), "{marker}");
    assert_eq!(lines.collect::<Vec<_>>(), ["after 1", "after 2"]);
    assert_eq!(metrics.snapshot().reopens, 1);
}

#[test]
fn a_live_file_moved_away_keeps_its_lines_and_a_new_one_takes_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let old = dir.path().join("app.log.1");
    let (mut sink, metrics) = open_on(StdFs::shared(), config(&live, SizePolicy(100)));
    sink.write_all(b"one\ntwo\n").unwrap();
    std::fs::rename(&live, &old).unwrap(); // logrotate without copytruncate
    for i in 0..20 {
        // Enough to rotate several times: the rename at rotation must find the new file.
        sink.write_all(format!("line {i:02}\n").as_bytes()).unwrap();
    }
    sink.close().unwrap();
    assert_eq!(text(&old), "one\ntwo\n");
    let files = sink.log_files().unwrap();
    assert!(files.len() > 2, "{files:?}");
    let all: Vec<u8> = read_all(&files).concat();
    let all = String::from_utf8(all).unwrap();
    let mut lines = all.lines();
    assert!(lines.next().unwrap().starts_with("[bunctl-log] reopened "));
    let want: Vec<String> = (0..20).map(|i| format!("line {i:02}")).collect();
    assert_eq!(lines.collect::<Vec<_>>(), want);
    assert_eq!(metrics.snapshot().reopens, 1);
}

#[test]
fn a_rotation_never_renames_a_file_that_is_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let cfg = RotatingSinkConfig {
        // No periodic check: only the one before the rotation can notice.
        reopen_check_interval: Duration::from_secs(3600),
        ..config(&live, SizePolicy(1 << 20))
    };
    let (mut sink, metrics) = open_on(StdFs::shared(), cfg);
    sink.write_all(b"mine\n").unwrap();
    std::fs::remove_file(&live).unwrap();
    std::fs::write(&live, b"someone else's\n").unwrap();
    sink.rotate().unwrap();
    sink.write_all(b"next\n").unwrap();
    sink.close().unwrap();
    // Their file was not rotated into our archives; we write next to it.
    assert_eq!(metrics.snapshot().rotation_count, 0);
    assert_eq!(metrics.snapshot().reopens, 1);
    let got = text(&live);
    assert!(
        got.starts_with("someone else's\n[bunctl-log] reopened "),
        "{got}"
    );
    assert!(got.ends_with("\nnext\n"), "{got}");
}

#[test]
fn a_live_file_gone_at_the_rename_reopens_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let (fs, faults) = FaultFs::shared();
    let cfg = RotatingSinkConfig {
        reopen_check_interval: Duration::from_secs(3600),
        ..config(&live, NeverPolicy)
    };
    let (mut sink, metrics) = open_on(fs, cfg);
    sink.write_all(b"a\n").unwrap();
    // Deleted between the check and the rename.
    faults.vanish_before(Op::Rename, &live);
    sink.rotate().unwrap();
    sink.write_all(b"b\n").unwrap();
    sink.close().unwrap();
    assert_eq!(metrics.snapshot().reopens, 1);
    let got = text(&live);
    assert!(got.starts_with("[bunctl-log] reopened "), "{got}");
    assert!(got.ends_with("\nb\n"), "{got}");
}

#[test]
fn a_removed_directory_is_made_again() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let live = dir.join("app.log");
    let (mut sink, metrics) = open_on(StdFs::shared(), config(&live, SizePolicy(1 << 20)));
    sink.write_all(b"a\n").unwrap();
    std::fs::remove_dir_all(&dir).unwrap(); // `rm -r logs`, the lock file with it
    sink.write_all(b"b\n").unwrap();
    // The reopen took a new lock: a second writer is still kept out.
    let e = RotatingSink::open(
        config(&live, NeverPolicy),
        StdFs::shared(),
        Arc::new(SystemClock),
    )
    .unwrap_err();
    assert!(e.get_ref().is_some_and(|i| i.is::<Locked>()), "{e}");
    sink.close().unwrap();
    assert_eq!(metrics.snapshot().reopens, 1);
    assert!(text(&live).ends_with("\nb\n"));
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let (first, _) = open_on(StdFs::shared(), config(&live, SizePolicy(100)));
    let e = RotatingSink::open(
        config(&live, SizePolicy(100)),
        StdFs::shared(),
        Arc::new(SystemClock),
    )
    .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
    let locked = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<Locked>())
        .unwrap();
    assert_eq!(locked.path, dir.path().join(".app.log.lock"));
    assert_eq!(locked.pid, Some(std::process::id()));
    drop(first);
    let (mut second, _) = open_on(StdFs::shared(), config(&live, SizePolicy(100)));
    second.write_all(b"ok\n").unwrap();
    second.close().unwrap();
}

/// The lock is per live file: an app's stderr file and another app's file have their own.
#[test]
fn locks_are_per_live_file() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["a.log", "a.err.log", "ab.log"];
    let sinks: Vec<_> = names
        .iter()
        .map(|n| open_on(StdFs::shared(), config(&dir.path().join(n), NeverPolicy)))
        .collect();
    assert_eq!(sinks.len(), 3);
    let mut all = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(bunctl_log_rotation::OPEN_SUFFIX))
        .collect::<Vec<_>>();
    all.sort();
    assert_eq!(
        all,
        [
            ".a.err.log.lock",
            ".a.log.lock",
            ".ab.log.lock",
            "a.err.log",
            "a.log",
            "ab.log"
        ]
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_at_the_live_path_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("shadow");
    std::fs::write(&target, b"secret\n").unwrap();
    let live = dir.path().join("app.log");
    std::os::unix::fs::symlink(&target, &live).unwrap();
    let e = RotatingSink::open(
        config(&live, SizePolicy(100)),
        StdFs::shared(),
        Arc::new(SystemClock),
    )
    .unwrap_err();
    let refused = e.get_ref().and_then(|i| i.downcast_ref::<SymlinkRefused>());
    assert_eq!(refused.map(|r| r.path.as_path()), Some(live.as_path()));
    assert_eq!(std::fs::read(&target).unwrap(), b"secret\n");
}

#[cfg(unix)]
#[test]
fn a_symlink_put_at_the_live_path_later_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("shadow");
    std::fs::write(&target, b"secret\n").unwrap();
    let live = dir.path().join("app.log");
    let (mut sink, _) = open_on(StdFs::shared(), config(&live, SizePolicy(100)));
    sink.write_all(b"a\n").unwrap();
    std::fs::remove_file(&live).unwrap();
    std::os::unix::fs::symlink(&target, &live).unwrap();
    let e = sink.write_all(b"b\n").unwrap_err();
    assert!(e.error.to_string().contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read(&target).unwrap(), b"secret\n");
}

/// Three archives, the disk full for the next two writes: with the policy on, the two oldest
/// archives go, the write goes through, and a marker says what happened.
#[test]
fn a_full_disk_deletes_the_oldest_archives_down_to_the_floor() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let (fs, faults) = FaultFs::shared();
    let cfg = RotatingSinkConfig {
        full_disk: FullDiskPolicy::DeleteOldestArchives { min_archives: 1 },
        ..config(&live, SizePolicy(10))
    };
    let (mut sink, metrics) = open_on(fs, cfg);
    for l in ["00000001\n", "00000002\n", "00000003\n", "00000004\n"] {
        sink.write_all(l.as_bytes()).unwrap();
    }
    assert_eq!(sink.log_files().unwrap().len(), 4); // 3 archives and the live file
    sink.rotate().unwrap();
    faults.fail(Op::Write, io::ErrorKind::StorageFull, 2);
    sink.write_all(b"00000005\n").unwrap();
    sink.write_all(b"00000006\n").unwrap();
    sink.close().unwrap();
    assert_eq!(metrics.snapshot().archives_deleted_for_space, 2);
    let files = sink.log_files().unwrap();
    let contents: Vec<String> = read_all(&files)
        .into_iter()
        .map(|c| String::from_utf8(c).unwrap())
        .collect();
    assert_eq!(
        contents.concat(),
        "00000003\n00000004\n00000005\n[bunctl-log] deleted the 2 oldest archives to make \
         room: the disk was full\n00000006\n"
    );
}

#[test]
fn a_full_disk_never_deletes_below_the_floor_nor_by_default() {
    for (policy, deletable) in [
        (FullDiskPolicy::DeleteOldestArchives { min_archives: 2 }, 2),
        (FullDiskPolicy::KeepArchives, 0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        let (fs, faults) = FaultFs::shared();
        let cfg = RotatingSinkConfig {
            full_disk: policy,
            ..config(&live, SizePolicy(10))
        };
        let (mut sink, metrics) = open_on(fs, cfg);
        for l in ["00000001\n", "00000002\n", "00000003\n", "00000004\n"] {
            sink.write_all(l.as_bytes()).unwrap();
        }
        sink.rotate().unwrap(); // 4 archives, an empty live file
        faults.fail_always(Op::Write, io::ErrorKind::StorageFull);
        let e = sink.write_all(b"00000005\n").unwrap_err();
        assert_eq!(e.error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(metrics.snapshot().archives_deleted_for_space, deletable);
        assert_eq!(dir_names(dir.path()).len(), 5 - deletable as usize);
        faults.clear_all();
    }
}

/// With the live file closed by `close_idle`, a move (logrotate's `mv`) is seen when writing
/// resumes, however long the periodic check's interval: the moved file keeps its lines, the
/// new one starts with the marker, and the reopen is counted.
#[test]
fn a_live_file_moved_while_closed_idle_is_reopened_with_a_marker() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let moved = dir.path().join("app.log.1");
    let config = RotatingSinkConfig {
        reopen_check_interval: Duration::from_secs(3600),
        ..config(&live, SizePolicy(1 << 20))
    };
    let (mut sink, metrics) = open_on(StdFs::shared(), config);
    sink.write_all(b"before\n").unwrap();
    sink.close_idle().unwrap();
    std::fs::rename(&live, &moved).unwrap();
    sink.write_all(b"after\n").unwrap();
    sink.close().unwrap();
    assert_eq!(text(&moved), "before\n");
    let got = text(&live);
    let mut lines = got.lines();
    let marker = lines.next().unwrap();
    assert!(marker.starts_with("[bunctl-log] reopened "), "{got}");
    assert!(marker.contains("removed or renamed"), "{marker}");
    assert_eq!(lines.collect::<Vec<_>>(), ["after"]);
    assert_eq!(metrics.snapshot().reopens, 1);
}

/// Another file put at the live name while it was closed idle is appended to after a marker,
/// never truncated.
#[test]
fn a_live_file_replaced_while_closed_idle_is_kept_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let (mut sink, metrics) = open_on(StdFs::shared(), config(&live, SizePolicy(1 << 20)));
    sink.write_all(b"before\n").unwrap();
    sink.close_idle().unwrap();
    std::fs::rename(&live, dir.path().join("elsewhere")).unwrap();
    std::fs::write(&live, "someone else's\n").unwrap();
    sink.write_all(b"after\n").unwrap();
    sink.close().unwrap();
    let got = text(&live);
    assert!(
        got.starts_with("someone else's\n[bunctl-log] reopened "),
        "{got}"
    );
    assert!(got.contains("replaced by another file"), "{got}");
    assert!(got.ends_with("\nafter\n"), "{got}");
    assert_eq!(metrics.snapshot().reopens, 1);
}
