//! When the world intervenes, through the public API, with real files: the live file removed
//! or moved by someone else, a second writer, symlinks, file modes, absurd configurations,
//! a hung disk, one slow app among many. Each test failed before the hardening it names.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_logging::testing::{FaultFs, Op};
use bunctl_logging::StdFs;
use bunctl_logging::SystemClock;
use bunctl_logging::{
    AppId, AsyncLogWriter, Error, LogConfig, LogManager, LogWriterConfig, RotationConfig,
    RotationStrategy, WriterOptions,
};
use common::{is_marker, lines, read_files};

fn config(dir: &Path, strategy: RotationStrategy) -> LogWriterConfig {
    common::init_tracing();
    LogWriterConfig {
        path: dir.join("app.log"),
        rotation: RotationConfig {
            strategy,
            max_files: 1000,
            compression: true,
        },
        buffer_size: 1024,
        ..LogWriterConfig::default()
    }
}

fn text(p: &Path) -> String {
    String::from_utf8(std::fs::read(p).unwrap()).unwrap()
}

/// Writes `lines` lines `{tag} {i}` and flushes.
async fn write_some(w: &AsyncLogWriter, tag: &str, n: usize) {
    for i in 0..n {
        w.write_line_async(format!("{tag} {i:04}")).await.unwrap();
    }
    w.flush().await.unwrap();
}

/// Defect 1: `rm app.log` under a running writer. Before: flush said Ok for lines that went
/// into the deleted inode, and the next size rotation failed with NotFound and opened the
/// circuit breaker for good.
#[tokio::test]
async fn a_removed_live_file_is_recreated_marked_counted_and_rotation_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let w = AsyncLogWriter::new(config(dir.path(), RotationStrategy::Size(4096)))
        .await
        .unwrap();
    write_some(&w, "before", 10).await;
    std::fs::remove_file(w.path()).unwrap();
    // The check runs at most every 10 ms: the next batch comes later than that.
    tokio::time::sleep(Duration::from_millis(30)).await;
    write_some(&w, "after", 1000).await; // ~11 KiB: several rotations
    w.shutdown().await.unwrap();
    let m = w.get_metrics().await;
    assert_eq!(m.reopens, 1);
    assert_eq!((m.lines_lost, m.lines_written), (0, 1010));
    assert!(m.rotation_count >= 2, "{m:?}");
    let all = read_files(&w.log_files().unwrap());
    let got = lines(&all);
    assert!(
        got[0].starts_with(b"[bunctl-log] reopened ") && is_marker(got[0]),
        "{}",
        String::from_utf8_lossy(got[0])
    );
    let want: Vec<String> = (0..1000).map(|i| format!("after {i:04}")).collect();
    let got: Vec<String> = got[1..]
        .iter()
        .map(|l| String::from_utf8(l.to_vec()).unwrap())
        .collect();
    assert_eq!(got, want);
}

/// Defect 1, logrotate's way: `mv app.log app.log.1` without copytruncate. The lines before
/// the move stay in the moved file; the writer starts a new `app.log` with a marker.
#[tokio::test]
async fn a_live_file_moved_away_keeps_its_lines_and_the_writer_starts_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let w = AsyncLogWriter::new(config(dir.path(), RotationStrategy::Size(1 << 20)))
        .await
        .unwrap();
    write_some(&w, "old", 5).await;
    let moved = dir.path().join("app.log.1");
    std::fs::rename(w.path(), &moved).unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    write_some(&w, "new", 5).await;
    let live = text(w.path());
    assert!(live.starts_with("[bunctl-log] reopened "), "{live}");
    assert!(live.contains("removed or renamed"), "{live}");
    assert!(live.ends_with("new 0000\nnew 0001\nnew 0002\nnew 0003\nnew 0004\n"));
    assert_eq!(
        text(&moved),
        "old 0000\nold 0001\nold 0002\nold 0003\nold 0004\n"
    );
    w.shutdown().await.unwrap();
    assert_eq!(w.get_metrics().await.reopens, 1);
}

/// Defect 2: two writers on one file. Before: both opened, archive names collided and each
/// believed it wrote everything. Now the second is refused, naming the file and the pid, in
/// this process as in another one, and the file is free again once the first is shut down.
#[tokio::test]
async fn a_second_writer_on_the_same_file_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), RotationStrategy::Size(1 << 20));
    let first = AsyncLogWriter::new(cfg.clone()).await.unwrap();
    let err = AsyncLogWriter::new(cfg.clone()).await.unwrap_err();
    match &err {
        Error::Locked {
            path,
            lock_file,
            pid,
        } => {
            assert_eq!(path, first.path());
            assert_eq!(lock_file, &dir.path().join(".app.log.lock"));
            assert_eq!(*pid, Some(std::process::id()));
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("app.log") && msg.contains("another writer"),
        "{msg}"
    );

    // Two managers on one directory: the second one's app is refused the same way.
    let m1 = LogManager::new(LogConfig {
        base_dir: dir.path().join("m"),
        ..LogConfig::default()
    });
    let m2 = LogManager::new(m1.config().clone());
    let app = AppId::new("web").unwrap();
    m1.get_writer(&app).await.unwrap();
    assert!(matches!(
        m2.get_writer(&app).await,
        Err(Error::Locked { .. })
    ));
    m1.close_all().await.unwrap();
    m2.get_writer(&app).await.unwrap();
    m2.close_all().await.unwrap();

    first.shutdown().await.unwrap();
    let again = AsyncLogWriter::new(cfg).await.unwrap();
    again.shutdown().await.unwrap();
}

/// Defect 4: a symlink at the live path. Before: the writer appended to its target, outside
/// the log directory. Now: a clear error naming it, and the target is untouched.
#[cfg(unix)]
#[tokio::test]
async fn a_symlink_at_the_live_path_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("authorized_keys");
    std::fs::write(&target, b"ssh-ed25519 AAAA\n").unwrap();
    let cfg = config(dir.path(), RotationStrategy::Size(1 << 20));
    std::os::unix::fs::symlink(&target, &cfg.path).unwrap();
    let err = AsyncLogWriter::new(cfg.clone()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&*cfg.path.to_string_lossy()) && msg.contains("symbolic link"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"ssh-ed25519 AAAA\n");
}

/// Defect 5: files were world-readable (0644 and 0755 under umask 022). Now 0640 and 0750 by
/// default, configurable, and archives keep the live file's mode.
#[cfg(unix)]
#[tokio::test]
async fn files_are_private_by_default_configurable_and_archives_keep_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for (file_mode, dir_mode) in [(None, None), (Some(0o600), Some(0o700))] {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("logs");
        let mut options = WriterOptions::default();
        if let (Some(f), Some(d)) = (file_mode, dir_mode) {
            options.file_mode = f;
            options.dir_mode = d;
        }
        let want_file = file_mode.unwrap_or(0o640);
        let want_dir = dir_mode.unwrap_or(0o750);
        let w = AsyncLogWriter::with_options(config(&dir, RotationStrategy::Size(1000)), options)
            .await
            .unwrap();
        write_some(&w, "line", 400).await;
        w.shutdown().await.unwrap();
        let files = w.log_files().unwrap();
        assert!(files.len() > 2, "{files:?}");
        // The umask can only take bits away, and nothing here is world-readable.
        for f in &files {
            assert_eq!(mode(f) & !want_file, 0, "{f:?}: {:o}", mode(f));
            assert_eq!(mode(f) & 0o600, 0o600, "{f:?}");
            assert_eq!(
                mode(f),
                mode(w.path()),
                "an archive keeps the live file's mode"
            );
        }
        assert_eq!(mode(&dir) & !want_dir, 0, "{:o}", mode(&dir));
        assert_eq!(mode(&dir) & 0o007, 0);
    }
}

/// Defect 7: `flush` had no bound on a hung disk. Now it gives up after `flush_timeout` and
/// says how many lines are still waiting; once the disk answers they are all written.
#[tokio::test]
async fn flush_on_a_hung_disk_is_bounded_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    let mut options = WriterOptions::default();
    options.flush_timeout = Duration::from_millis(200);
    let w = AsyncLogWriter::open_with_io(
        config(dir.path(), RotationStrategy::Never),
        options,
        fs,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    faults.hold(Op::Write);
    for i in 0..20 {
        w.write_line(format!("line {i}")).unwrap();
    }
    let start = Instant::now();
    let err = w.flush().await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(
            err,
            Error::FlushTimeout {
                unwritten_lines: 20,
                ..
            }
        ),
        "{err:?}"
    );
    faults.clear(Op::Write);
    w.flush().await.unwrap();
    w.shutdown().await.unwrap();
    assert_eq!(lines(&std::fs::read(w.path()).unwrap()).len(), 20);
}

/// Defect 7: after a shutdown timeout the lines in flight were counted as lost while the
/// thread could still write them (counted twice), and a second shutdown said Ok. Now each
/// line is counted once, written or lost, and shutdown says the same thing every time.
#[tokio::test]
async fn a_timed_out_shutdown_counts_each_line_once_and_repeats_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    let mut options = WriterOptions::default();
    options.shutdown_timeout = Duration::from_millis(200);
    let w = AsyncLogWriter::open_with_io(
        config(dir.path(), RotationStrategy::Never),
        options,
        fs,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    faults.hold(Op::Write);
    for i in 0..30 {
        w.write_line(format!("line {i}")).unwrap();
    }
    let first = w.shutdown().await.unwrap_err();
    assert!(
        matches!(
            first,
            Error::ShutdownTimeout {
                unwritten_lines: 30,
                ..
            }
        ),
        "{first:?}"
    );
    let second = w.shutdown().await.unwrap_err();
    assert_eq!(second.to_string(), first.to_string());
    // The disk answers: the thread left behind writes the lines, and counts them once.
    faults.clear(Op::Write);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = w.metrics_snapshot();
        assert!(m.lines_written + m.lines_lost <= 30, "{m:?}");
        if m.lines_written + m.lines_lost == 30 {
            assert_eq!(m.lines_lost, 0);
            break;
        }
        assert!(Instant::now() < deadline, "{m:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lines(&std::fs::read(w.path()).unwrap()).len(), 30);
    assert_eq!(
        w.shutdown().await.unwrap_err().to_string(),
        first.to_string()
    );
}

/// Defect 7: the manager held its lock while opening a writer, so one app on a stuck disk
/// stalled every other app's `get_writer`. Now another app opens at once, and many tasks
/// asking for the stuck app still get one writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_app_does_not_hold_up_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    let manager = Arc::new(LogManager::with_io(
        LogConfig {
            base_dir: dir.path().to_path_buf(),
            ..LogConfig::default()
        },
        WriterOptions::default(),
        fs,
        Arc::new(SystemClock),
    ));
    let slow = AppId::new("slow").unwrap();
    faults.hold_path(Op::Lock, dir.path().join(".slow.log.lock"));
    let waiting: Vec<_> = (0..4)
        .map(|_| {
            let (m, app) = (manager.clone(), slow.clone());
            tokio::spawn(async move { m.get_writer(&app).await.map(|w| Arc::as_ptr(&w) as usize) })
        })
        .collect();
    while faults.calls(Op::Lock) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let fast = tokio::time::timeout(
        Duration::from_secs(5),
        manager.get_writer(&AppId::new("fast").unwrap()),
    )
    .await
    .expect("another app's get_writer waited for the slow one")
    .unwrap();
    fast.write_line("fast is fine").unwrap();
    faults.clear(Op::Lock);
    let mut ptrs = Vec::new();
    for t in waiting {
        ptrs.push(t.await.unwrap().unwrap());
    }
    ptrs.dedup();
    assert_eq!(ptrs.len(), 1, "one writer for the slow app");
    manager.close_all().await.unwrap();
    assert_eq!(text(&dir.path().join("fast.log")), "fast is fine\n");
}

/// Defect 3 through real writers: an app's writer in a directory full of another app's files
/// (live, stderr, archives in every form, lock) never lists, compresses, rotates or deletes
/// them, even with retention at 0.
#[tokio::test]
async fn a_writer_leaves_another_apps_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::new(LogConfig {
        base_dir: dir.path().to_path_buf(),
        max_file_size: 64,
        max_files: 0,
        ..LogConfig::default()
    });
    let other = [
        "a-b.log",
        "a-b.err.log",
        "a_.20200101T000000Z-000001.log",
        "a-.20200101T000000Z-000002.log.gz",
        "ab.20200101T000000Z-000003.log.gz.tmp",
        "A.20200101T000000Z-000004.log",
        ".a-b.log.lock",
    ];
    for name in other {
        std::fs::write(dir.path().join(name), name).unwrap();
    }
    let a = AppId::new("a").unwrap();
    let w = manager.get_writer(&a).await.unwrap();
    for i in 0..100 {
        w.write_line_async(format!("a line {i:03}")).await.unwrap();
    }
    assert_eq!(w.log_files().unwrap(), vec![dir.path().join("a.log")]);
    manager.close_all().await.unwrap();
    for name in other {
        assert_eq!(text(&dir.path().join(name)), name, "{name} was touched");
    }
}

#[test]
fn config_values_that_overflowed_are_refused_by_name() {
    let cases: Vec<(LogWriterConfig, WriterOptions, &str)> = vec![
        (
            LogWriterConfig {
                flush_interval: Duration::MAX,
                ..LogWriterConfig::default()
            },
            WriterOptions::default(),
            "flush_interval",
        ),
        (
            LogWriterConfig::default(),
            {
                let mut o = WriterOptions::default();
                o.retry.initial_delay = Duration::MAX;
                o
            },
            "retry.initial_delay",
        ),
        (
            LogWriterConfig::default(),
            {
                let mut o = WriterOptions::default();
                o.retry.probe_interval = Duration::MAX;
                o
            },
            "retry.probe_interval",
        ),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (config, options, field) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = LogWriterConfig {
            path: dir.path().join("app.log"),
            ..config
        };
        let err = rt
            .block_on(AsyncLogWriter::with_options(config, options))
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { field: f, .. } if *f == field),
            "{err:?}"
        );
        assert!(err.to_string().contains(field), "{err}");
    }
    // The manager's own field names.
    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::new(LogConfig {
        base_dir: dir.path().to_path_buf(),
        flush_interval_ms: u64::MAX,
        ..LogConfig::default()
    });
    let err = rt
        .block_on(manager.get_writer(&AppId::new("x").unwrap()))
        .unwrap_err();
    assert!(err.to_string().contains("flush_interval_ms"), "{err}");
}

mod arbitrary_configs {
    //! Defect 6: `flush_interval: Duration::MAX` panicked the writer thread on the first
    //! line. Any configuration now either is refused with `InvalidConfig` or works: no panic
    //! (in the caller or the writer thread) and no hang.
    use super::*;
    use bunctl_logging::CONTINUATION_MARKER;
    use proptest::prelude::*;

    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            3 => Just(Duration::ZERO),
            3 => Just(Duration::from_millis(1)),
            3 => Just(Duration::from_millis(100)),
            3 => Just(Duration::from_secs(3600)),
            1 => Just(Duration::from_secs(3601)),
            1 => Just(Duration::MAX),
            3 => (0u64..10_000).prop_map(Duration::from_micros),
        ]
    }

    fn size() -> impl Strategy<Value = usize> {
        prop_oneof![
            1 => Just(0usize),
            2 => Just(1),
            2 => Just(64 << 10),
            3 => Just(usize::MAX),
            4 => 1usize..100_000
        ]
    }

    fn strategy() -> impl Strategy<Value = RotationStrategy> {
        prop_oneof![
            Just(RotationStrategy::Daily),
            Just(RotationStrategy::Hourly),
            Just(RotationStrategy::Never),
            prop_oneof![Just(0u64), Just(1), Just(u64::MAX), 1u64..10_000]
                .prop_map(RotationStrategy::Size),
        ]
    }

    prop_compose! {
        fn configs()(
            strategy in strategy(),
            max_files in prop_oneof![Just(0u32), Just(u32::MAX), 0u32..5],
            compression in any::<bool>(),
            buffer_size in size(),
            flush_interval in duration(),
            max_concurrent_writes in size(),
            enable_compression in any::<bool>(),
        ) -> (RotationStrategy, u32, bool, usize, Duration, usize, bool) {
            (strategy, max_files, compression, buffer_size, flush_interval,
             max_concurrent_writes, enable_compression)
        }
    }

    prop_compose! {
        fn options()(
            (max_buffered_bytes, max_line_len) in (size(), size()),
            (shutdown_timeout, flush_timeout) in (duration(), duration()),
            (initial_delay, probe_interval, max_probe_interval) in (duration(), duration(), duration()),
            // Values that validation refuses are rare, so most cases get as far as writing.
            max_attempts in prop_oneof![
                1 => Just(0usize), 1 => Just(101), 1 => Just(usize::MAX), 12 => 1usize..6
            ],
            breaker_threshold in prop_oneof![1 => Just(0u32), 6 => Just(1), 6 => Just(u32::MAX)],
            compression_level in prop_oneof![12 => 0u32..=9, 1 => Just(10), 1 => Just(u32::MAX)],
            max_total_bytes in prop_oneof![Just(None), Just(Some(0u64)), Just(Some(u64::MAX))],
            file_mode in prop_oneof![
                12 => Just(0o640u32), 4 => Just(0o777), 1 => Just(0), 1 => Just(u32::MAX)
            ],
            dir_mode in prop_oneof![
                12 => Just(0o750u32), 4 => Just(0o777), 1 => Just(0), 1 => Just(u32::MAX)
            ],
            reopen_check_interval in duration(),
        ) -> WriterOptions {
            let mut o = WriterOptions::default();
            o.max_buffered_bytes = max_buffered_bytes;
            o.max_line_len = max_line_len;
            o.shutdown_timeout = shutdown_timeout;
            o.flush_timeout = flush_timeout;
            o.retry.initial_delay = initial_delay;
            o.retry.probe_interval = probe_interval;
            o.retry.max_probe_interval = max_probe_interval;
            o.retry.max_attempts = max_attempts;
            o.retry.breaker_threshold = breaker_threshold;
            o.compression_level = compression_level;
            o.max_total_bytes = max_total_bytes;
            o.file_mode = file_mode;
            o.dir_mode = dir_mode;
            o.reopen_check_interval = reopen_check_interval;
            o
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn any_config_is_refused_or_works_without_panic_or_hang(
            c in configs(),
            options in options(),
        ) {
            let (strategy, max_files, compression, buffer_size, flush_interval,
                 max_concurrent_writes, enable_compression) = c;
            let dir = tempfile::tempdir().unwrap();
            // Retention may delete rotated lines, oldest first, unless it keeps everything.
            // Every line in the files may be an archive of its own (a size limit of one
            // byte), and a tiny max_line_len splits each of the 3 lines into many.
            let lines_in_files = 3 * "line 0".len().div_ceil(options.max_line_len.max(1));
            let keeps_all = usize::try_from(max_files).is_ok_and(|m| m >= lines_in_files)
                && options.max_total_bytes.is_none();
            let config = LogWriterConfig {
                path: dir.path().join("sub").join("app.log"),
                rotation: RotationConfig { strategy, max_files, compression },
                buffer_size,
                flush_interval,
                max_concurrent_writes,
                enable_compression,
            };
            let rt = tokio::runtime::Runtime::new().unwrap();
            let outcome = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(20), async {
                    let w = match AsyncLogWriter::with_options(config, options).await {
                        Ok(w) => w,
                        Err(Error::InvalidConfig { .. }) => return Ok(None),
                        Err(e) => return Err(format!("not InvalidConfig: {e:?}")),
                    };
                    for i in 0..3 {
                        w.write_line_async(format!("line {i}")).await
                            .map_err(|e| format!("write: {e:?}"))?;
                    }
                    // A zero flush or shutdown timeout may expire: an answer, not a hang.
                    let _ = w.flush().await;
                    let shut = w.shutdown().await;
                    Ok(Some((shut.is_ok(), w.path().to_path_buf())))
                })
                .await
            });
            let outcome = match outcome {
                Ok(o) => o,
                Err(_) => return Err(TestCaseError::fail("hung for 20 s")),
            };
            match outcome.map_err(TestCaseError::fail)? {
                None => {}
                Some((true, path)) => {
                    // Everything accepted is in the files (a size limit may have rotated).
                    let files = bunctl_logging::list_log_files(&path)
                        .unwrap();
                    let data = read_files(&files);
                    // Join the pieces of split lines (a tiny max_line_len splits everything).
                    let mut got = Vec::new();
                    let mut pending: Vec<u8> = Vec::new();
                    for l in lines(&data).into_iter().filter(|l| !is_marker(l)) {
                        match l.strip_suffix(CONTINUATION_MARKER) {
                            Some(piece) => pending.extend_from_slice(piece),
                            None => {
                                pending.extend_from_slice(l);
                                got.push(String::from_utf8(std::mem::take(&mut pending)).unwrap());
                            }
                        }
                    }
                    let want = ["line 0", "line 1", "line 2"];
                    if keeps_all {
                        prop_assert_eq!(got, want);
                    } else {
                        // Even pieces of a split line may have gone with their archive.
                        let (got, want) = (got.join("\n"), want.join("\n"));
                        prop_assert!(want.ends_with(&got), "{:?}", got);
                    }
                }
                Some((false, _)) => {}
            }
        }
    }

    #[test]
    fn a_bad_directory_mode_is_refused_not_left_unwritable() {
        let mut o = WriterOptions::default();
        o.dir_mode = 0o500;
        let err = o.validate().unwrap_err();
        assert!(err.to_string().contains("dir_mode"), "{err}");
    }
}

mod names_never_collide {
    //! Defect 3: the live file of an app `a.20200101T000000Z-000001` parsed as an archive of
    //! `a`, so starting `a` gzipped it and its retention deleted it. App ids have no `.` now,
    //! so the text before a file name's first `.` is its app. Proved over random pairs of app
    //! ids, many of them prefixes of each other, with every kind of file of one app in the
    //! directory: the other app's listing, recovery and most aggressive retention never
    //! touch them.
    use super::*;
    use bunctl_log_rotation::{ArchiveNaming, Retention};
    use bunctl_logging::list_log_files;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// Candidate ids, dots included: whatever `AppId::new` accepts is tried (the grammar that
    /// let `a.err` and `a.20200101T000000Z-000001` in made this test fail).
    fn app_id() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}"
    }

    fn suffix() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9_.-]{1,6}",
            Just(".err".to_owned()),
            Just(".20200101T000000Z-000001".to_owned()),
            Just(".err.20200101T000000Z-000002".to_owned()),
        ]
    }

    /// Two different app ids; often one is a prefix of the other.
    fn pair() -> impl Strategy<Value = (AppId, AppId)> {
        (app_id(), app_id(), suffix(), any::<bool>())
            .prop_map(|(a, b, suffix, extend)| {
                let b = if extend { format!("{a}{suffix}") } else { b };
                (a, b)
            })
            .prop_filter("different", |(a, b)| a != b)
            // Ids bunctl accepts and the file layout can hold apart (`check_app_name`):
            // dotted ones included, `a.err` and `a.<stamp>` refused by `get_writer`.
            .prop_filter_map("valid", |(a, b)| {
                bunctl_logging::check_app_name(&a).ok()?;
                bunctl_logging::check_app_name(&b).ok()?;
                Some((AppId::new(a).ok()?, AppId::new(b).ok()?))
            })
    }

    /// Every file the log subsystem can keep for `app` in `manager`'s directory.
    fn files_of(manager: &LogManager, app: &AppId) -> Vec<std::path::PathBuf> {
        let t = chrono::Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        let mut files = Vec::new();
        for live in [manager.log_path(app), manager.err_log_path(app)] {
            let naming = ArchiveNaming::new(&live).unwrap();
            files.push(live.clone());
            files.push(naming.lock_path());
            for seq in [1, 2, 1_000_000] {
                let plain = naming.archive_path(t, seq);
                files.push(std::path::PathBuf::from(format!("{}.gz", plain.display())));
                files.push(std::path::PathBuf::from(format!(
                    "{}.gz.tmp",
                    plain.display()
                )));
                files.push(plain);
            }
        }
        files
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn no_file_of_one_app_is_taken_for_a_file_of_another((a, b) in pair()) {
            let dir = tempfile::tempdir().unwrap();
            let manager = LogManager::new(LogConfig {
                base_dir: dir.path().to_path_buf(),
                ..LogConfig::default()
            });
            let theirs = files_of(&manager, &b);
            for f in &theirs {
                std::fs::write(f, b"b's\n").unwrap();
            }
            let mine = files_of(&manager, &a);
            for f in &mine {
                prop_assert!(!theirs.contains(f), "{} is a file of both {a} and {b}", f.display());
            }
            for live in [manager.log_path(&a), manager.err_log_path(&a)] {
                let naming = ArchiveNaming::new(&live).unwrap();
                for f in &theirs {
                    let name = f.file_name().unwrap().to_str().unwrap();
                    prop_assert!(naming.parse(name).is_none(), "{name} parses as {a}'s");
                }
                prop_assert!(list_log_files(&live).unwrap().is_empty());
                // Recovery acts on this listing only (its archives and temporary files).
                let scan = naming.scan(&StdFs).unwrap();
                prop_assert!(scan.archives.is_empty() && scan.temp_files.is_empty());
                let retention = Retention {
                    max_files: 0,
                    max_total_bytes: Some(0),
                    max_age: Some(Duration::ZERO),
                };
                prop_assert!(retention.apply(&naming, &StdFs).unwrap().is_empty());
            }
            for f in &theirs {
                prop_assert_eq!(std::fs::read(f).unwrap(), b"b's\n");
            }
        }
    }
}
