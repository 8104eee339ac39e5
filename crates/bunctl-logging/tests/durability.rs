//! `sync`, `sync_blocking`, `LogManager::sync_all` and `WriterOptions::sync_interval`, judged
//! on a [`CrashFs`]: after each returns (or the interval passed), every state a power cut
//! could leave holds every line accepted before. The same check after a mere `flush` finds a
//! state that lost them, so the check can fail.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_logging::testing::{CrashFs, CrashLog, DirOrder};
use bunctl_logging::{
    AppId, AsyncLogWriter, Error, LogConfig, LogManager, LogWriterConfig, SystemClock,
    WriterOptions,
};

fn deep_root(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    let root = tmp.path().join("a/b/c/root");
    std::fs::create_dir_all(&root).unwrap();
    root
}

async fn writer_on(root: &Path, options: WriterOptions) -> (AsyncLogWriter, CrashLog) {
    let (fs, log) = CrashFs::shared(root).unwrap();
    let w = AsyncLogWriter::open_with_io(
        LogWriterConfig {
            path: root.join("logs/app.log"),
            ..LogWriterConfig::default()
        },
        options,
        fs,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    (w, log)
}

fn lines(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("line {i:05}")).collect()
}

/// How many of the crash states at `at` (either directory order) lack one of `want` in
/// `file` (relative to the root).
fn states_missing(log: &CrashLog, at: usize, file: &str, want: &[String]) -> usize {
    let mut missing = 0;
    for order in [DirOrder::InOrder, DirOrder::AnySubset] {
        for state in log.states_at(at, order) {
            let text = state
                .files()
                .get(Path::new(file))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let got: Vec<&str> = text.lines().collect();
            if got != want.iter().map(String::as_str).collect::<Vec<_>>() {
                missing += 1;
            }
        }
    }
    missing
}

#[tokio::test]
async fn after_sync_every_crash_state_holds_every_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = deep_root(&tmp);
    let (w, log) = writer_on(&root, WriterOptions::default()).await;
    let want = lines(200);
    for l in &want {
        w.write_line_async(l).await.unwrap();
    }
    w.flush().await.unwrap();
    let flushed = log.mark();
    assert!(
        states_missing(&log, flushed, "logs/app.log", &want) > 0,
        "after flush alone a power cut can lose lines (else this test proves nothing)"
    );
    w.sync().await.unwrap();
    let synced = log.mark();
    assert_eq!(
        states_missing(&log, synced, "logs/app.log", &want),
        0,
        "after sync no crash state loses a line, the new file's and directory's names included"
    );
    w.shutdown().await.unwrap();
}

#[test]
fn sync_blocking_makes_lines_durable_without_a_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let root = deep_root(&tmp);
    let (fs, log) = CrashFs::shared(&root).unwrap();
    let w = AsyncLogWriter::open_blocking_with_io(
        LogWriterConfig {
            path: root.join("logs/app.log"),
            ..LogWriterConfig::default()
        },
        WriterOptions::default(),
        fs,
        Arc::new(SystemClock),
    )
    .unwrap();
    let want = lines(50);
    for l in &want {
        w.write_line_blocking(l).unwrap();
    }
    w.sync_blocking().unwrap();
    assert_eq!(states_missing(&log, log.mark(), "logs/app.log", &want), 0);
    w.shutdown_blocking().unwrap();
    assert!(matches!(w.sync_blocking(), Err(Error::Closed)));
}

#[tokio::test]
async fn sync_interval_syncs_on_its_own_and_none_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let want = lines(100);

    let root = tmp.path().join("a/b/c/never");
    std::fs::create_dir_all(&root).unwrap();
    let (never, never_log) = writer_on(&root, WriterOptions::default()).await;
    let root = tmp.path().join("a/b/c/every");
    std::fs::create_dir_all(&root).unwrap();
    let (every, every_log) = writer_on(&root, {
        let mut o = WriterOptions::default();
        o.sync_interval = Some(Duration::from_millis(50));
        o
    })
    .await;
    for l in &want {
        never.write_line_async(l).await.unwrap();
        every.write_line_async(l).await.unwrap();
    }
    never.flush().await.unwrap();
    every.flush().await.unwrap();
    let start = Instant::now();
    while states_missing(&every_log, every_log.mark(), "logs/app.log", &want) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the periodic sync never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        states_missing(&never_log, never_log.mark(), "logs/app.log", &want) > 0,
        "without sync_interval nothing syncs before shutdown"
    );
    never.shutdown().await.unwrap();
    every.shutdown().await.unwrap();
}

#[tokio::test]
async fn sync_all_syncs_every_app_and_a_closed_writer_says_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = deep_root(&tmp);
    let (fs, log) = CrashFs::shared(&root).unwrap();
    let manager = LogManager::with_io(
        LogConfig {
            base_dir: root.join("logs"),
            ..LogConfig::default()
        },
        WriterOptions::default(),
        fs,
        Arc::new(SystemClock),
    );
    let want = lines(30);
    for app in ["one", "two.v2"] {
        let w = manager.get_writer(&AppId::new(app).unwrap()).await.unwrap();
        for l in &want {
            w.write_line_async(l).await.unwrap();
        }
    }
    manager.sync_all().await.unwrap();
    let at = log.mark();
    assert_eq!(states_missing(&log, at, "logs/one.log", &want), 0);
    assert_eq!(states_missing(&log, at, "logs/two.v2.log", &want), 0);
    let w = manager
        .get_writer(&AppId::new("one").unwrap())
        .await
        .unwrap();
    manager.close_all().await.unwrap();
    assert!(matches!(w.sync().await, Err(Error::Closed)));
}

#[test]
fn a_zero_sync_interval_is_refused_by_name() {
    let mut o = WriterOptions::default();
    o.sync_interval = Some(Duration::ZERO);
    let err = o.validate().unwrap_err().to_string();
    assert!(err.contains("sync_interval"), "{err}");
}

/// A rotation after `sync()`: in every state a power cut could leave afterwards, under either
/// directory order, the synced lines are in the files. With directory changes surviving in any
/// order, the new live file's entry could survive without the rename that archived the synced
/// file, which then had no name (found by `cargo xtask powerloss --any-order`); the rotation now
/// makes that rename durable first.
#[tokio::test]
async fn a_rotation_after_sync_keeps_the_synced_lines_in_every_crash_state() {
    let tmp = tempfile::tempdir().unwrap();
    let root = deep_root(&tmp);
    let (w, log) = writer_on(&root, WriterOptions::default()).await;
    let want = lines(50);
    for l in &want {
        w.write_line_async(l).await.unwrap();
    }
    w.sync().await.unwrap();
    let synced = log.mark();
    w.rotate().await.unwrap();
    w.write_line_async("after").await.unwrap();
    w.flush().await.unwrap();
    let end = log.mark();
    let mut checked = 0;
    for at in synced..=end {
        for order in [DirOrder::InOrder, DirOrder::AnySubset] {
            for state in log.states_at(at, order) {
                let all: String = state
                    .files()
                    .iter()
                    .filter(|(p, _)| p.starts_with("logs") && !p.to_string_lossy().contains("/."))
                    .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                    .collect();
                let got: std::collections::HashSet<&str> = all.lines().collect();
                let lost = want.iter().filter(|l| !got.contains(l.as_str())).count();
                assert_eq!(lost, 0, "{}: {lost} synced lines lost", state.description);
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
    w.shutdown().await.unwrap();
}
