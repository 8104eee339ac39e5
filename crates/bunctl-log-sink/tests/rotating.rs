//! Integration tests of `RotatingSink`: size and time rotation, retention, restart, crash
//! recovery, and rotation steps that fail with real error kinds.

mod common;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bunctl_log_fs::{Filesystem, StdFs};
use bunctl_log_rotation::{
    ArchiveForm, ArchiveNaming, DailyPolicy, HourlyPolicy, ManualClock, NeverPolicy,
    RotationPolicy, SizePolicy, SystemClock,
};
use bunctl_log_sink::{RotatingSink, RotatingSinkConfig, Sink};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use common::{dir_names, read_all, read_log_file, FaultFs, Op};

fn config(
    live: &Path,
    policy: impl RotationPolicy + 'static,
    max_files: usize,
    compression: bool,
) -> RotatingSinkConfig {
    RotatingSinkConfig {
        policy: Box::new(policy),
        max_files,
        compression,
        compression_level: 1,
        ..RotatingSinkConfig::new(live)
    }
}

fn open(
    live: &Path,
    policy: impl RotationPolicy + 'static,
    max_files: usize,
    compression: bool,
) -> RotatingSink {
    RotatingSink::open(
        config(live, policy, max_files, compression),
        StdFs::shared(),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// The seq of an archive path of `live` (panics for the live file or a foreign name).
fn seq_of(live: &Path, archive: &Path) -> u64 {
    let naming = ArchiveNaming::new(live).unwrap();
    let name = archive.file_name().unwrap().to_str().unwrap();
    naming
        .parse(name)
        .unwrap_or_else(|| panic!("{name} is not an archive"))
        .seq
}

fn form_of(live: &Path, archive: &Path) -> ArchiveForm {
    let naming = ArchiveNaming::new(live).unwrap();
    naming
        .parse(archive.file_name().unwrap().to_str().unwrap())
        .unwrap()
        .form
}

/// A line of `len` bytes plus `\n`, filled with `c`.
fn line(c: u8, len: usize) -> Vec<u8> {
    let mut l = vec![c; len];
    l.push(b'\n');
    l
}

fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random lines in random whole-line batches, any limit, compression on or off: the files
    /// concatenated are exactly the bytes written, each ends with `\n`, none is over the limit
    /// unless it holds one over-long line, and a rotation happened only when the next line
    /// did not fit.
    #[test]
    fn size_rotation_is_lossless_and_only_between_lines(
        lines in prop::collection::vec(
            prop::collection::vec(
                any::<u8>().prop_map(|b| if b == b'\n' { b'N' } else { b }),
                0..200,
            ),
            0..80,
        ),
        groups in prop::collection::vec(1usize..8, 1..40),
        limit in 64u64..512,
        compression in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        let mut sink = open(&live, SizePolicy(limit), usize::MAX, compression);
        let mut expected = Vec::new();
        let mut rest: &[Vec<u8>] = &lines;
        let mut g = groups.iter().cycle();
        while !rest.is_empty() {
            let n = (*g.next().unwrap()).min(rest.len());
            let mut batch = Vec::new();
            for l in &rest[..n] {
                batch.extend_from_slice(l);
                batch.push(b'\n');
            }
            rest = &rest[n..];
            sink.write_all(&batch).unwrap();
            expected.extend_from_slice(&batch);
        }
        sink.close().unwrap();

        let files = sink.log_files().unwrap();
        prop_assert_eq!(files.last().unwrap(), &live, "live file is last");
        let contents = read_all(&files);
        prop_assert_eq!(concat(&contents), expected.clone());
        for (i, (path, c)) in files.iter().zip(&contents).enumerate() {
            let is_live = i + 1 == files.len();
            if is_live && expected.is_empty() {
                prop_assert!(c.is_empty());
                continue;
            }
            prop_assert!(!c.is_empty(), "{} is empty", path.display());
            prop_assert_eq!(c.last(), Some(&b'\n'), "{} ends mid-line", path.display());
            let newlines = c.iter().filter(|&&b| b == b'\n').count();
            prop_assert!(
                c.len() as u64 <= limit || newlines == 1,
                "{} has {} bytes in {} lines, limit {}", path.display(), c.len(), newlines, limit
            );
            if !is_live {
                prop_assert_eq!(path.extension().is_some_and(|e| e == "gz"), compression);
                prop_assert_eq!(seq_of(&live, path), i as u64 + 1, "seqs are 1, 2, 3, ...");
                // rotated only because the next line did not fit
                let next = &contents[i + 1];
                let first_line = next.iter().position(|&b| b == b'\n').unwrap() + 1;
                prop_assert!(
                    (c.len() + first_line) as u64 > limit,
                    "{} rotated early: {} + {} <= {}", path.display(), c.len(), first_line, limit
                );
            }
        }
    }
}

#[test]
fn an_over_long_line_gets_a_file_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let mut sink = open(&live, SizePolicy(32), usize::MAX, false);
    let batch = [line(b'a', 9), line(b'B', 100), line(b'c', 9)].concat();
    sink.write_all(&batch).unwrap();
    sink.close().unwrap();
    let contents = read_all(&sink.log_files().unwrap());
    assert_eq!(
        contents,
        vec![line(b'a', 9), line(b'B', 100), line(b'c', 9)]
    );
}

#[test]
fn retention_keeps_the_newest_compressed_archives() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let mut sink = open(&live, SizePolicy(32), 3, true);
    // 20 bytes a line: each file holds one line, so 20 lines make 19 archives and the live.
    let lines: Vec<Vec<u8>> = (0..20u8).map(|i| line(b'a' + i, 19)).collect();
    for l in &lines {
        sink.write_all(l).unwrap();
    }
    sink.close().unwrap();

    let files = sink.log_files().unwrap();
    assert_eq!(files.last().unwrap(), &live);
    let archives = &files[..files.len() - 1];
    assert!(archives.len() <= 3, "{archives:?}");
    assert_eq!(archives.len(), 3, "the newest 3 are kept: {archives:?}");
    let seqs: Vec<u64> = archives.iter().map(|a| seq_of(&live, a)).collect();
    assert_eq!(seqs, vec![17, 18, 19]);
    for a in archives {
        assert_eq!(form_of(&live, a), ArchiveForm::Gzip);
    }
    // valid gzip holding the newest lines, then the live file
    assert_eq!(read_all(&files), lines[16..].to_vec());
    // nothing else left behind: no plain archive, no .gz.tmp
    assert_eq!(
        dir_names(dir.path()).len(),
        4,
        "{:?}",
        dir_names(dir.path())
    );
}

#[test]
fn restart_appends_counts_existing_size_continues_seqs_and_repairs_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let l: Vec<Vec<u8>> = (0..8u8).map(|i| line(b'a' + i, 29)).collect(); // 30 bytes each

    // Session 1: 5 lines, limit 100: an archive of 3 lines, 2 lines live.
    let mut sink = open(&live, SizePolicy(100), 10, true);
    for x in &l[..5] {
        sink.write_all(x).unwrap();
    }
    sink.close().unwrap();
    drop(sink);
    assert_eq!(std::fs::read(&live).unwrap(), concat(&l[3..5]));

    // Session 2: appends; the 60 bytes already there count toward the limit.
    let mut sink = open(&live, SizePolicy(100), 10, true);
    assert_eq!(sink.live_size(), 60, "existing size counted");
    sink.write_all(&l[5]).unwrap(); // 90: fits
    assert_eq!(
        sink.log_files().unwrap().len(),
        2,
        "no rotation at 90 of 100"
    );
    sink.write_all(&l[6]).unwrap(); // 120: rotates first
    sink.close().unwrap();
    drop(sink);
    let files = sink_files(&live);
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(seq_of(&live, &files[0]), 1);
    assert_eq!(seq_of(&live, &files[1]), 2, "seq continues, not reused");
    assert_eq!(
        read_all(&files),
        vec![concat(&l[..3]), concat(&l[3..6]), l[6].clone()]
    );

    // A crash cut the last line: "torn" without its newline.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&live)
        .unwrap()
        .write_all(b"torn")
        .unwrap();

    // Session 3: the torn line is closed with `\n` and a marker before the next line.
    let mut sink = open(&live, SizePolicy(100), 10, true);
    let marker = bunctl_log_buffer::CUT_LINE_MARKER;
    assert_eq!(sink.live_size(), 35 + marker.len() as u64);
    sink.write_all(b"next\n").unwrap(); // over the limit already: rotates first
    for _ in 0..3 {
        sink.write_all(&l[7]).unwrap(); // 5 + 3 * 30 fits
    }
    sink.close().unwrap();
    let files = sink.log_files().unwrap();
    let seqs: Vec<u64> = files[..files.len() - 1]
        .iter()
        .map(|a| seq_of(&live, a))
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    let third = [&l[6][..], b"torn\n", marker].concat();
    let fourth = [&b"next\n"[..], &l[7], &l[7], &l[7]].concat();
    assert_eq!(
        read_all(&files),
        vec![concat(&l[..3]), concat(&l[3..6]), third, fourth]
    );
}

fn sink_files(live: &Path) -> Vec<PathBuf> {
    bunctl_log_sink::list_log_files(&StdFs, live).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

#[test]
fn open_recovers_from_a_crash_during_compression() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let naming = ArchiveNaming::new(&live).unwrap();
    let started = t(2026, 11, 24, 12, 0, 0);
    // seq 1: compressed, but the plain file was not yet removed
    let p1 = naming.archive_path(started, 1);
    std::fs::write(&p1, b"one\n").unwrap();
    std::fs::write(with_suffix(&p1, ".gz"), gzip(b"one\n")).unwrap();
    // seq 2: never compressed
    let p2 = naming.archive_path(started, 2);
    std::fs::write(&p2, b"two\n").unwrap();
    // seq 3: compression cut half-way
    let p3 = naming.archive_path(started, 3);
    std::fs::write(&p3, b"three\n").unwrap();
    let tmp3 = with_suffix(&p3, ".gz.tmp");
    std::fs::write(&tmp3, &gzip(b"three\n")[..10]).unwrap();
    std::fs::write(&live, b"live\n").unwrap();

    // Without compression the recovery is all synchronous, so it can be watched: the
    // `.gz.tmp` and the redundant plain file go, the plain archives stay.
    let sink = open(&live, SizePolicy(1 << 20), 10, false);
    assert!(!tmp3.exists(), ".gz.tmp removed at open");
    assert!(!p1.exists(), "plain archive with a .gz removed at open");
    assert!(with_suffix(&p1, ".gz").exists());
    assert!(p2.exists() && p3.exists());
    drop(sink);

    // The same crash again, opened with compression on: the plain archives are compressed
    // in the background (which itself writes `.gz.tmp` files, so only the end state is
    // checked).
    std::fs::write(&tmp3, &gzip(b"three\n")[..10]).unwrap();
    let mut sink = open(&live, SizePolicy(1 << 20), 10, true);
    sink.write_all(b"more\n").unwrap();
    sink.rotate().unwrap();
    sink.write_all(b"after\n").unwrap();
    sink.close().unwrap();

    let names = dir_names(dir.path());
    let files = sink.log_files().unwrap();
    assert_eq!(files.len(), 5, "{names:?}");
    for a in &files[..4] {
        assert_eq!(form_of(&live, a), ArchiveForm::Gzip, "{names:?}");
    }
    assert!(
        !p2.exists() && !p3.exists(),
        "plain leftovers compressed: {names:?}"
    );
    assert_eq!(names.len(), 5, "nothing else in the directory: {names:?}");
    assert_eq!(
        seq_of(&live, &files[3]),
        4,
        "new archive takes the next seq"
    );
    assert_eq!(
        read_all(&files),
        vec![
            b"one\n".to_vec(),
            b"two\n".to_vec(),
            b"three\n".to_vec(),
            b"live\nmore\n".to_vec(),
            b"after\n".to_vec()
        ]
    );
}

#[test]
fn archives_retention_deletes_at_open_are_never_compressed_back() {
    // Five plain archives left by a crash, one kept: retention runs before the compressor
    // gets them, so the four it deletes are not compressed (one .gz.tmp created, not five).
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("a/b/app.log");
    std::fs::create_dir_all(live.parent().unwrap()).unwrap();
    let naming = ArchiveNaming::new(&live).unwrap();
    for seq in 1..=5u8 {
        let p = naming.archive_path(t(2026, 11, 24, 12, 0, seq.into()), seq.into());
        std::fs::write(&p, vec![b'x'; 64 << 10]).unwrap();
    }
    let (fs, faults) = FaultFs::shared();
    let mut sink = RotatingSink::open(
        config(&live, SizePolicy(1 << 20), 1, true),
        fs,
        Arc::new(SystemClock),
    )
    .unwrap();
    sink.close().unwrap();
    // The other create: the open-file record, where the platform has boot ids.
    let record = u64::from(bunctl_log_fs::boot_id().is_some());
    assert_eq!(
        faults.calls(Op::Create),
        1 + record,
        "only the kept archive is compressed"
    );
    let files = sink.log_files().unwrap();
    let archives: Vec<_> = files.iter().filter(|f| *f != &live).collect();
    assert_eq!(archives.len(), 1, "{:?}", dir_names(live.parent().unwrap()));
    assert_eq!(seq_of(&live, archives[0]), 5);
    assert_eq!(form_of(&live, archives[0]), ArchiveForm::Gzip);
}

fn open_with_clock(
    live: &Path,
    policy: impl RotationPolicy + 'static,
    clock: &ManualClock,
) -> RotatingSink {
    RotatingSink::open(
        config(live, policy, usize::MAX, false),
        StdFs::shared(),
        Arc::new(clock.clone()),
    )
    .unwrap()
}

fn archive_started(live: &Path, archive: &Path) -> DateTime<Utc> {
    let naming = ArchiveNaming::new(live).unwrap();
    naming
        .parse(archive.file_name().unwrap().to_str().unwrap())
        .unwrap()
        .started_at()
        .unwrap()
}

/// Time rotation: `start` opens the file, `last_in` is the last moment of its period, `next`
/// the first of the next period.
fn check_time_rotation(
    policy: impl RotationPolicy + Copy + 'static,
    start: DateTime<Utc>,
    last_in: DateTime<Utc>,
    next: DateTime<Utc>,
    later: Duration,
) {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let clock = ManualClock::new(start);
    let mut sink = open_with_clock(&live, policy, &clock);
    sink.write_all(b"a\n").unwrap();
    clock.set(last_in);
    sink.write_all(b"b\n").unwrap();
    assert_eq!(
        sink.log_files().unwrap().len(),
        1,
        "no rotation within the period"
    );
    clock.set(next);
    sink.write_all(b"c\n").unwrap();
    let files = sink.log_files().unwrap();
    assert_eq!(files.len(), 2, "first write of the next period rotates");
    assert_eq!(archive_started(&live, &files[0]), start);
    assert_eq!(read_all(&files), vec![b"a\nb\n".to_vec(), b"c\n".to_vec()]);
    // The new file started at `next`: more writes in that period stay in it.
    clock.advance(later);
    sink.write_all(b"d\n").unwrap();
    assert_eq!(sink.log_files().unwrap().len(), 2);
    sink.close().unwrap();

    // An empty live file is never rotated into an empty archive, however much time passes.
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let clock = ManualClock::new(start);
    let mut sink = open_with_clock(&live, policy, &clock);
    clock.set(next + chrono::TimeDelta::days(3));
    sink.rotate().unwrap();
    sink.write_all(b"x\n").unwrap();
    assert_eq!(sink.log_files().unwrap(), vec![live.clone()]);
    // ... and the period restarted with that write, not at open
    clock.advance(later);
    sink.write_all(b"y\n").unwrap();
    sink.close().unwrap();
    assert_eq!(sink.log_files().unwrap(), vec![live.clone()]);
    assert_eq!(std::fs::read(&live).unwrap(), b"x\ny\n");
    assert_eq!(dir_names(dir.path()), vec!["app.log".to_string()]);
}

#[test]
fn daily_rotation_with_a_manual_clock() {
    check_time_rotation(
        DailyPolicy,
        t(2026, 11, 25, 10, 0, 0),
        t(2026, 11, 25, 23, 59, 59),
        t(2026, 11, 26, 0, 0, 0),
        Duration::from_secs(23 * 3600),
    );
}

#[test]
fn hourly_rotation_with_a_manual_clock() {
    check_time_rotation(
        HourlyPolicy,
        t(2026, 11, 25, 16, 10, 0),
        t(2026, 11, 25, 16, 59, 59),
        t(2026, 11, 25, 17, 0, 0),
        Duration::from_secs(59 * 60),
    );
}

#[test]
fn never_policy_never_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let clock = ManualClock::new(t(2026, 1, 1, 0, 0, 0));
    let mut sink = open_with_clock(&live, NeverPolicy, &clock);
    for i in 0..100u8 {
        sink.write_all(&line(b'a' + i % 26, 1000)).unwrap();
        clock.advance(Duration::from_secs(86_400));
    }
    sink.close().unwrap();
    assert_eq!(sink.log_files().unwrap(), vec![live.clone()]);
    assert_eq!(sink.live_size(), 100 * 1001);
}

/// A sink with limit 20, holding two 10-byte lines, on a fault-injecting filesystem.
fn full_sink(dir: &Path) -> (RotatingSink, common::Faults, Arc<dyn Filesystem>) {
    let (fs, faults) = FaultFs::shared();
    let live = dir.join("app.log");
    let mut sink = RotatingSink::open(
        RotatingSinkConfig {
            // A failed rotation is tried again at the next write.
            rotation_retry_delay: Duration::ZERO,
            ..config(&live, SizePolicy(20), usize::MAX, false)
        },
        fs.clone(),
        Arc::new(SystemClock),
    )
    .unwrap();
    sink.write_all(b"aaaaaaaaa\nbbbbbbbbb\n").unwrap();
    (sink, faults, fs)
}

/// The lines of `content` that start with `marker`.
fn markers<'a>(content: &'a [u8], marker: &[u8]) -> Vec<&'a [u8]> {
    content
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(marker))
        .collect()
}

#[test]
fn failed_rename_keeps_the_live_file_and_the_next_try_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sink, faults, _fs) = full_sink(dir.path());
    faults.fail(Op::Rename, io::ErrorKind::StorageFull, 1);
    // The rename is refused: the line goes on in the live file, past its limit, after a marker.
    sink.write_all(b"ccccccccc\n").unwrap();
    assert_eq!(faults.failures(Op::Rename), 1);
    let files = sink.log_files().unwrap();
    assert_eq!(files, vec![sink.live_path().to_path_buf()]);
    let live = read_log_file(&files[0]);
    let failed = markers(&live, bunctl_log_buffer::ROTATION_FAILED_MARKER);
    assert_eq!(failed.len(), 1, "{}", String::from_utf8_lossy(&live));
    let expected = [&b"aaaaaaaaa\nbbbbbbbbb\n"[..], failed[0], b"\nccccccccc\n"].concat();
    assert_eq!(live, expected);

    // The next write tries again (no delay in this sink), and the rotation works.
    sink.write_all(b"ddddddddd\n").unwrap();
    sink.close().unwrap();
    let files = read_all(&sink.log_files().unwrap());
    assert_eq!(files[0], expected);
    // The new file starts with the resumed marker (which fills this tiny limit on its own).
    let rest = files[1..].concat();
    let resumed = markers(&rest, bunctl_log_buffer::ROTATION_RESUMED_MARKER);
    assert_eq!(resumed.len(), 1);
    assert_eq!(rest, [resumed[0], b"\nddddddddd\n"].concat());
}

#[test]
fn failed_sync_before_rename_leaves_everything_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sink, faults, _fs) = full_sink(dir.path());
    faults.fail(Op::SyncData, io::ErrorKind::Other, 1); // EIO
    let e = sink.write_all(b"ccccccccc\n").unwrap_err();
    assert_eq!((e.written, e.error.kind()), (0, io::ErrorKind::Other));
    assert_eq!(faults.calls(Op::Rename), 0, "no rename of an unsynced file");
    assert_eq!(sink.log_files().unwrap().len(), 1);
    sink.write_all(b"ccccccccc\n").unwrap();
    sink.close().unwrap();
    assert_eq!(
        read_all(&sink.log_files().unwrap()),
        vec![b"aaaaaaaaa\nbbbbbbbbb\n".to_vec(), b"ccccccccc\n".to_vec()]
    );
}

#[test]
fn failed_open_of_the_new_live_file_is_retried_and_never_writes_into_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sink, faults, _fs) = full_sink(dir.path());
    faults.fail(Op::OpenAppend, io::ErrorKind::PermissionDenied, 1);
    let e = sink.write_all(b"ccccccccc\n").unwrap_err();
    assert_eq!(
        (e.written, e.error.kind()),
        (0, io::ErrorKind::PermissionDenied)
    );
    assert_eq!(faults.calls(Op::Rename), 1, "the rename happened");
    let files = sink.log_files().unwrap();
    assert_eq!(files.len(), 1, "archive only, no live file: {files:?}");
    assert_ne!(files[0], sink.live_path());
    // flush/sync with no live file open are harmless
    sink.flush().unwrap();
    sink.sync().unwrap();

    sink.write_all(b"ccccccccc\n").unwrap();
    sink.write_all(b"ddddddddd\n").unwrap();
    sink.close().unwrap();
    let files = sink.log_files().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(faults.calls(Op::Rename), 1, "no second rotation");
    assert_eq!(
        read_all(&files),
        vec![
            b"aaaaaaaaa\nbbbbbbbbb\n".to_vec(),
            b"ccccccccc\nddddddddd\n".to_vec()
        ]
    );
}

#[test]
fn failed_directory_sync_after_rotation_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sink, faults, _fs) = full_sink(dir.path());
    // The rotation does not wait for the directory's fsync: the next sync (or close) does it.
    let dir_syncs = faults.calls(Op::SyncDir);
    sink.write_all(b"ccccccccc\n").unwrap();
    assert_eq!(
        faults.calls(Op::SyncDir),
        dir_syncs,
        "no directory fsync at rotation"
    );
    faults.fail(Op::SyncDir, io::ErrorKind::Other, 1);
    assert_eq!(sink.sync().unwrap_err().kind(), io::ErrorKind::Other);
    // Still due: the next sync does it.
    sink.sync().unwrap();
    assert_eq!(faults.calls(Op::SyncDir), dir_syncs + 2);
    sink.sync().unwrap();
    assert_eq!(
        faults.calls(Op::SyncDir),
        dir_syncs + 2,
        "nothing changed since"
    );
    sink.write_all(b"ccccccccc\n").unwrap();
    sink.close().unwrap();
    assert_eq!(
        read_all(&sink.log_files().unwrap()),
        vec![
            b"aaaaaaaaa\nbbbbbbbbb\n".to_vec(),
            b"ccccccccc\nccccccccc\n".to_vec()
        ]
    );
}

#[test]
fn failed_write_writes_nothing_and_the_next_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sink, faults, _fs) = full_sink(dir.path());
    sink.rotate().unwrap();
    faults.fail(Op::Write, io::ErrorKind::StorageFull, 2);
    assert_eq!(
        sink.write(b"c\n").unwrap_err().kind(),
        io::ErrorKind::StorageFull
    );
    assert_eq!(
        sink.write(b"c\n").unwrap_err().kind(),
        io::ErrorKind::StorageFull
    );
    assert_eq!(sink.live_size(), 0);
    assert_eq!(sink.write(b"c\n").unwrap(), 2);
    sink.close().unwrap();
    assert_eq!(
        read_all(&sink.log_files().unwrap()),
        vec![b"aaaaaaaaa\nbbbbbbbbb\n".to_vec(), b"c\n".to_vec()]
    );
}

#[test]
fn compression_failure_keeps_the_plain_archive_and_close_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    let live = dir.path().join("app.log");
    let mut sink = RotatingSink::open(
        config(&live, SizePolicy(20), usize::MAX, true),
        fs,
        Arc::new(SystemClock),
    )
    .unwrap();
    faults.fail_always(Op::Create, io::ErrorKind::StorageFull);
    sink.write_all(b"aaaaaaaaa\nbbbbbbbbb\nccccccccc\n")
        .unwrap();
    let e = sink.close().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    let files = sink.log_files().unwrap();
    assert_eq!(form_of(&live, &files[0]), ArchiveForm::Plain);
    assert_eq!(
        read_all(&files),
        vec![b"aaaaaaaaa\nbbbbbbbbb\n".to_vec(), b"ccccccccc\n".to_vec()]
    );
    // no .gz.tmp left behind
    assert_eq!(dir_names(dir.path()).len(), 2);
    // next start compresses it
    faults.clear_all();
    drop(sink);
    let mut sink = open(&live, SizePolicy(20), usize::MAX, true);
    sink.close().unwrap();
    let files = sink.log_files().unwrap();
    assert_eq!(form_of(&live, &files[0]), ArchiveForm::Gzip);
    assert_eq!(read_log_file(&files[0]), b"aaaaaaaaa\nbbbbbbbbb\n");
}

#[test]
fn a_started_line_is_finished_in_the_same_file_whatever_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let mut sink = open(&live, SizePolicy(20), usize::MAX, false);
    sink.write_all(b"0123456789").unwrap(); // a partial line
    sink.write_all(b"0123456789abcdef\n").unwrap(); // ends it: 27 bytes, over the limit
    sink.write_all(b"next\n").unwrap();
    sink.close().unwrap();
    assert_eq!(
        read_all(&sink.log_files().unwrap()),
        vec![b"01234567890123456789abcdef\n".to_vec(), b"next\n".to_vec()]
    );
}

#[test]
fn an_explicit_rotate_in_the_middle_of_a_line_waits_for_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let mut sink = open(&live, SizePolicy(1 << 20), usize::MAX, false);
    sink.write_all(b"whole\nhalf a ").unwrap();
    sink.rotate().unwrap();
    sink.write_all(b"line\nnext\n").unwrap();
    sink.close().unwrap();
    let contents = read_all(&sink.log_files().unwrap());
    assert_eq!(
        contents,
        vec![b"whole\nhalf a line\n".to_vec(), b"next\n".to_vec()],
        "the line was torn across files"
    );
}

#[test]
fn restart_with_a_daily_policy_rotates_content_from_an_earlier_day() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let today = t(2026, 11, 25, 9, 0, 0);
    let yesterday = t(2026, 11, 24, 22, 0, 0);
    std::fs::write(&live, b"old\n").unwrap();
    std::fs::File::options()
        .append(true)
        .open(&live)
        .unwrap()
        .set_modified(yesterday.into())
        .unwrap();
    let clock = ManualClock::new(today);
    let mut sink = open_with_clock(&live, DailyPolicy, &clock);
    sink.write_all(b"new\n").unwrap();
    sink.close().unwrap();
    let files = sink.log_files().unwrap();
    assert_eq!(read_all(&files), vec![b"old\n".to_vec(), b"new\n".to_vec()]);
    assert_eq!(archive_started(&live, &files[0]), yesterday);

    // content from today: appended to, not rotated
    drop(sink);
    std::fs::File::options()
        .append(true)
        .open(&live)
        .unwrap()
        .set_modified(t(2026, 11, 25, 8, 0, 0).into())
        .unwrap();
    let mut sink = open_with_clock(&live, DailyPolicy, &clock);
    sink.write_all(b"more\n").unwrap();
    sink.close().unwrap();
    assert_eq!(
        read_all(&sink.log_files().unwrap()),
        vec![b"old\n".to_vec(), b"new\nmore\n".to_vec()]
    );
}

#[test]
fn a_deferred_rotate_survives_a_failed_rename() {
    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    let live = dir.path().join("app.log");
    let mut sink = RotatingSink::open(
        RotatingSinkConfig {
            rotation_retry_delay: Duration::ZERO,
            ..config(&live, SizePolicy(1 << 20), usize::MAX, false)
        },
        fs,
        Arc::new(SystemClock),
    )
    .unwrap();
    sink.write_all(b"one\nhalf").unwrap();
    sink.rotate().unwrap(); // deferred to the end of the line
    assert_eq!(sink.log_files().unwrap().len(), 1);
    sink.write_all(b" line\n").unwrap();
    faults.fail(Op::Rename, io::ErrorKind::StorageFull, 1);
    sink.write_all(b"x\n").unwrap(); // refused: x goes on in the same file
    assert_eq!(faults.failures(Op::Rename), 1);
    sink.write_all(b"y\n").unwrap(); // the rotation is still due, and happens now
    sink.write_all(b"z\n").unwrap(); // and only once
    sink.close().unwrap();
    let files = read_all(&sink.log_files().unwrap());
    assert_eq!(files.len(), 2);
    let failed = markers(&files[0], bunctl_log_buffer::ROTATION_FAILED_MARKER);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        files[0],
        [&b"one\nhalf line\n"[..], failed[0], b"\nx\n"].concat()
    );
    let resumed = markers(&files[1], bunctl_log_buffer::ROTATION_RESUMED_MARKER);
    assert_eq!(files[1], [resumed[0], b"\ny\nz\n"].concat());
}

/// A live file closed while idle (`Sink::close_idle`) keeps its size: the next write opens it
/// again and appends, and rotation still falls where the size limit says, as if it had stayed
/// open. Not closed in the middle of a line.
#[test]
fn a_file_closed_while_idle_is_appended_to_and_rotates_at_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let mut sink = open(&live, SizePolicy(33), usize::MAX, false);
    sink.write_all(&line(b'a', 10)).unwrap();
    sink.close_idle().unwrap();
    assert_eq!(sink.live_size(), 11);
    sink.write_all(&line(b'b', 10)).unwrap();
    sink.close_idle().unwrap();
    // 22 + 11 fits; 33 + 11 does not: the fourth line starts a new file.
    sink.write_all(&[line(b'c', 10), line(b'd', 10)].concat())
        .unwrap();
    // Half a line: close_idle leaves the file open and the line whole.
    sink.write_all(b"eeee").unwrap();
    sink.close_idle().unwrap();
    sink.write_all(b"eeeee\n").unwrap();
    sink.close().unwrap();
    let files = sink.log_files().unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(
        std::fs::read(&files[0]).unwrap(),
        [line(b'a', 10), line(b'b', 10), line(b'c', 10)].concat()
    );
    assert_eq!(
        std::fs::read(&files[1]).unwrap(),
        [line(b'd', 10), line(b'e', 9)].concat()
    );
}
