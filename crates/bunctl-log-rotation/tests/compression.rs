//! compress_file and Compressor against real files, with injected errors.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_log_fs::{FaultFs, Faults, Filesystem, Op, StdFs};
use bunctl_log_rotation::{compress_file, ArchiveNaming, Compressor, Retention};
use chrono::{TimeZone, Utc};
use flate2::read::GzDecoder;
use flate2::Compression;

/// StdFs, except that `rename` fails with ENOSPC until `Op::Rename` is cleared.
fn failing_rename() -> (Arc<dyn Filesystem>, Faults) {
    let (fs, faults) = FaultFs::shared();
    faults.fail_always(Op::Rename, io::ErrorKind::StorageFull);
    (fs, faults)
}

fn gunzip(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Log-like content with some binary bytes, `lines` lines long.
fn content(lines: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..lines {
        v.extend_from_slice(format!("[INFO] line {i} \u{e9}").as_bytes());
        v.extend_from_slice(b"\r\x00\xff\n");
    }
    v
}

fn dir_names(d: &Path) -> Vec<String> {
    let mut v = StdFs.read_dir(d).unwrap();
    v.sort();
    v
}

fn archive(naming: &ArchiveNaming, seq: u64, body: &[u8]) -> PathBuf {
    let t = Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap();
    let p = naming.archive_path(t + chrono::TimeDelta::seconds(seq as i64), seq);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn compress_file_round_trips_and_removes_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    for (seq, body) in [(1, content(5000)), (2, Vec::new())] {
        let p = archive(&naming, seq, &body);
        let gz = compress_file(&StdFs, &p, Compression::default()).unwrap();
        assert_eq!(gz, PathBuf::from(format!("{}.gz", p.display())));
        assert!(!p.exists());
        assert_eq!(gunzip(&gz), body);
    }
    assert_eq!(dir_names(dir.path()).len(), 2);
    assert!(dir_names(dir.path()).iter().all(|n| n.ends_with(".log.gz")));
}

#[test]
fn compress_file_error_leaves_original_and_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let body = content(100);
    let p = archive(&naming, 1, &body);
    let before = dir_names(dir.path());
    let (fs, _faults) = failing_rename();
    let e = compress_file(&*fs, &p, Compression::fast()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    assert_eq!(std::fs::read(&p).unwrap(), body);
    assert_eq!(dir_names(dir.path()), before, "no .gz and no .gz.tmp left");

    // a missing source is an error too, and leaves nothing behind
    let missing = dir.path().join("app.20261125T160000Z-000009.log");
    let e = compress_file(&StdFs, &missing, Compression::fast()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert_eq!(dir_names(dir.path()), before);
}

#[test]
fn compressor_compresses_everything_and_applies_retention() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    std::fs::write(naming.live_path(), b"live\n").unwrap();
    let c = Compressor::new(
        StdFs::shared(),
        naming.clone(),
        Some(Retention::max_files(3)),
        Compression::fast(),
    );
    assert_eq!(c.pending(), 0);
    c.wait_idle().unwrap(); // idle before any job
    let mut bodies = Vec::new();
    for seq in 1..=6u64 {
        let body = content(200 * seq as usize);
        c.submit(archive(&naming, seq, &body));
        bodies.push(body);
    }
    c.wait_idle().unwrap();
    assert_eq!(c.pending(), 0);
    assert_eq!(c.failed(), 0);
    // retention may have deleted queued plain archives before their turn: those are skipped,
    // not failures
    assert!(
        c.completed() >= 3 && c.completed() <= 6,
        "{}",
        c.completed()
    );
    let scan = naming.scan(&StdFs).unwrap();
    assert_eq!(
        scan.archives.iter().map(|a| a.seq).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    for a in &scan.archives {
        assert!(a.compressed, "{a:?}");
        assert_eq!(a.plain_leftover, None);
        assert_eq!(gunzip(&a.path), bodies[a.seq as usize - 1]);
    }
    assert!(scan.temp_files.is_empty());
    assert_eq!(std::fs::read(naming.live_path()).unwrap(), b"live\n");
    assert!(format!("{c:?}").contains("Compressor"));

    // the worker exited when the queue emptied; a later submit starts a new one
    c.submit(archive(&naming, 7, b"seven\n"));
    c.wait_idle().unwrap();
    let seqs: Vec<u64> = naming
        .scan(&StdFs)
        .unwrap()
        .archives
        .iter()
        .map(|a| a.seq)
        .collect();
    assert_eq!(seqs, vec![5, 6, 7]);
}

#[test]
fn compressor_without_retention_keeps_all() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app")).unwrap();
    let c = Compressor::new(StdFs::shared(), naming.clone(), None, Compression::best());
    for seq in 1..=20u64 {
        c.submit(archive(&naming, seq, format!("{seq}\n").as_bytes()));
    }
    assert!(c.wait_idle_timeout(Duration::from_secs(30)).unwrap());
    assert_eq!(c.completed(), 20);
    let scan = naming.scan(&StdFs).unwrap();
    assert_eq!(scan.archives.len(), 20);
    assert!(scan.archives.iter().all(|a| a.compressed));
}

#[test]
fn compressor_errors_are_counted_reported_once_and_keep_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let (fs, faults) = failing_rename();
    let c = Compressor::new(
        fs.clone(),
        naming.clone(),
        Some(Retention::max_files(10)),
        Compression::fast(),
    );
    let p1 = archive(&naming, 1, b"one\n");
    let p2 = archive(&naming, 2, b"two\n");
    c.submit(p1.clone());
    c.submit(p2.clone());
    let e = c.wait_idle().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    assert_eq!(c.failed(), 2);
    assert_eq!(c.completed(), 0);
    assert_eq!(std::fs::read(&p1).unwrap(), b"one\n");
    assert_eq!(std::fs::read(&p2).unwrap(), b"two\n");
    let scan = naming.scan(&StdFs).unwrap();
    assert!(scan.temp_files.is_empty());
    assert!(scan.archives.iter().all(|a| !a.compressed));
    // reported once
    c.wait_idle().unwrap();

    // the disk recovers: the plain archives are still there to compress
    faults.clear(Op::Rename);
    let pending = uncompressed(&naming, &*fs);
    assert_eq!(pending, vec![p1, p2]);
    for p in pending {
        c.submit(p);
    }
    c.wait_idle().unwrap();
    assert_eq!(c.completed(), 2);
    assert!(naming
        .scan(&StdFs)
        .unwrap()
        .archives
        .iter()
        .all(|a| a.compressed));
}

#[test]
fn retention_error_is_reported() {
    // read_dir fails: compression works, retention cannot list the directory.
    let (fs, faults) = FaultFs::shared();
    faults.fail_always(Op::ReadDir, io::ErrorKind::PermissionDenied);
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let c = Compressor::new(
        fs,
        naming.clone(),
        Some(Retention::max_files(0)),
        Compression::fast(),
    );
    let p = archive(&naming, 1, b"x\n");
    c.submit(p.clone());
    let e = c.wait_idle().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    assert_eq!(c.completed(), 1);
    assert_eq!(c.failed(), 0);
    assert!(PathBuf::from(format!("{}.gz", p.display())).exists());
}

#[test]
fn many_threads_submit_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let c = Arc::new(Compressor::new(
        StdFs::shared(),
        naming.clone(),
        None,
        Compression::fast(),
    ));
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let c = Arc::clone(&c);
            let naming = naming.clone();
            std::thread::spawn(move || {
                for i in 0..10u64 {
                    let seq = t * 100 + i + 1;
                    c.submit(archive(&naming, seq, format!("{seq}\n").as_bytes()));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    c.wait_idle().unwrap();
    assert_eq!(c.completed(), 40);
    let scan = naming.scan(&StdFs).unwrap();
    assert_eq!(scan.archives.len(), 40);
    assert!(scan.archives.iter().all(|a| a.compressed));
}

#[test]
fn drop_does_not_block_and_the_worker_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let paths: Vec<PathBuf> = (1..=5)
        .map(|s| archive(&naming, s, &content(2000)))
        .collect();
    let c = Compressor::new(StdFs::shared(), naming.clone(), None, Compression::best());
    for p in &paths {
        c.submit(p.clone());
    }
    let t = Instant::now();
    drop(c);
    assert!(t.elapsed() < Duration::from_secs(5));
    // the detached worker completes the queue
    let deadline = Instant::now() + Duration::from_secs(30);
    while paths.iter().any(|p| p.exists()) {
        assert!(Instant::now() < deadline, "worker did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    let scan = naming.scan(&StdFs).unwrap();
    assert_eq!(scan.archives.len(), 5);
    assert!(scan.archives.iter().all(|a| a.compressed));
}

/// A symlink planted where the temp file goes (or a leftover file there) is replaced, never
/// written through: the file it points to keeps its bytes.
#[cfg(unix)]
#[test]
fn a_symlink_at_the_temp_name_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("passwd");
    std::fs::write(&victim, b"root:x:0:0\n").unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let p = archive(&naming, 1, &content(100));
    let tmp = PathBuf::from(format!("{}.gz.tmp", p.display()));
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    let gz = compress_file(&StdFs, &p, Compression::fast()).unwrap();
    assert_eq!(gunzip(&gz), content(100));
    assert_eq!(std::fs::read(&victim).unwrap(), b"root:x:0:0\n");
    assert!(!tmp.exists() && std::fs::symlink_metadata(&tmp).is_err());
}

/// A symlink posing as an archive is not read: its target's content never ends up in the logs.
#[cfg(unix)]
#[test]
fn a_symlink_posing_as_an_archive_is_not_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, b"token=hunter2\n").unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let t = Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap();
    let link = naming.archive_path(t, 1);
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let e = compress_file(&StdFs, &link, Compression::fast()).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(!PathBuf::from(format!("{}.gz", link.display())).exists());
    assert_eq!(std::fs::read(&secret).unwrap(), b"token=hunter2\n");
}

/// The archive keeps the live file's mode, compressed or not.
#[cfg(unix)]
#[test]
fn the_gz_keeps_the_archive_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let p = archive(&naming, 1, &content(10));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let gz = compress_file(&StdFs, &p, Compression::fast()).unwrap();
    let mode = std::fs::metadata(&gz).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// A shutdown with a backlog: `finish` waits its budget, drops the jobs not started, lets the
/// running one complete, and the archives left are plain and whole.
#[test]
fn finish_leaves_the_backlog_plain_and_never_a_half_compression() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let (fs, faults) = FaultFs::shared();
    faults.hold(Op::Create); // the first compression is stuck in I/O
    let c = Compressor::new(fs, naming.clone(), None, Compression::fast());
    let archives: Vec<PathBuf> = (1..=3).map(|s| archive(&naming, s, &content(50))).collect();
    for a in &archives {
        c.submit(a.clone());
    }
    while faults.calls(Op::Create) == 0 {
        std::thread::yield_now();
    }
    let release = {
        let faults = faults.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            faults.clear(Op::Create);
        })
    };
    let start = Instant::now();
    assert_eq!(c.finish(Duration::from_millis(50)).unwrap(), 2);
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "waited for the running job"
    );
    release.join().unwrap();
    let names = dir_names(dir.path());
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names[0].ends_with(".log.gz"), "{names:?}");
    assert!(names[1..].iter().all(|n| n.ends_with(".log")), "{names:?}");
    assert_eq!(uncompressed(&naming, &StdFs), archives[1..].to_vec());
}

/// The compressor runs at the lowest CPU priority (`SCHED_IDLE`, and nice 19 should that be
/// refused): gzip gets only the CPU time that producers and writers leave.
#[cfg(target_os = "linux")]
#[test]
fn the_compressor_thread_runs_at_idle_priority() {
    let dir = tempfile::tempdir().unwrap();
    let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
    let (fs, faults) = FaultFs::shared();
    faults.hold(Op::Create); // keeps the worker alive while we look at it
    let c = Compressor::new(fs, naming.clone(), None, Compression::fast());
    c.submit(archive(&naming, 1, &content(10)));
    while faults.calls(Op::Create) == 0 {
        std::thread::yield_now();
    }
    let (mut nice, mut policy) = (None, None);
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim() == "bunctl-log-gzip" {
            let stat = std::fs::read_to_string(task.join("stat")).unwrap();
            // Fields after the command name in parentheses: nice is field 19 of stat, the
            // scheduling policy field 41 (SCHED_IDLE is 5).
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            nice = fields.get(16).map(|n| n.parse::<i32>().unwrap());
            policy = fields.get(38).map(|n| n.parse::<u32>().unwrap());
        }
    }
    faults.clear(Op::Create);
    c.wait_idle().unwrap();
    assert_eq!(nice, Some(19));
    assert_eq!(policy, Some(5), "SCHED_IDLE");
}

/// The plain archives of `naming`, oldest first: what the sink's recovery hands the compressor.
fn uncompressed(
    naming: &ArchiveNaming,
    fs: &dyn bunctl_log_fs::Filesystem,
) -> Vec<std::path::PathBuf> {
    let scan = naming.scan(fs).unwrap();
    scan.archives
        .into_iter()
        .filter(|a| !a.compressed)
        .map(|a| a.path)
        .collect()
}
