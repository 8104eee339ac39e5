//! A quiet writer closes its live file (`WriterOptions::close_idle_after`): it then holds one
//! descriptor, its lock; the next line opens the file again, and nothing is lost or doubled.
#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bunctl_logging::{AsyncLogWriter, LogWriterConfig, WriterOptions};

/// Waits (up to 10 s) until `common::open_under(dir)` is `want`; returns what it was last.
fn wait_for_open(dir: &Path, want: &[PathBuf]) -> Vec<PathBuf> {
    let start = Instant::now();
    loop {
        let open = common::open_under(dir);
        if open == want || start.elapsed() > Duration::from_secs(10) {
            return open;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn writer(dir: &Path, close_idle_after: Option<Duration>) -> AsyncLogWriter {
    AsyncLogWriter::with_options(
        LogWriterConfig {
            path: dir.join("app.log"),
            ..LogWriterConfig::default()
        },
        {
            let mut options = WriterOptions::default();
            options.close_idle_after = close_idle_after;
            options
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_writer_holds_only_its_lock_and_the_next_line_opens_the_file_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b").join("logs");
    let w = writer(&dir, Some(Duration::from_millis(100))).await;
    let (live, lock) = (dir.join("app.log"), dir.join(".app.log.lock"));
    let only_lock = vec![lock.clone()];
    // Opened and not written to: after the idle time only the lock is open.
    assert_eq!(wait_for_open(&dir, &only_lock), only_lock);

    for round in 0..3 {
        w.write_line(format!("line {round}")).unwrap();
        w.flush().await.unwrap();
        // Written: the file is open again, beside the lock.
        assert_eq!(
            common::open_under(&dir),
            [lock.clone(), live.clone()],
            "round {round}"
        );
        assert_eq!(wait_for_open(&dir, &only_lock), only_lock);
    }
    w.shutdown().await.unwrap();
    assert_eq!(common::open_under(&dir), Vec::<PathBuf>::new());
    assert_eq!(
        std::fs::read_to_string(&live).unwrap(),
        "line 0\nline 1\nline 2\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_writer_keeps_its_file_and_none_keeps_it_for_good() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b").join("logs");
    let w = writer(&dir, None).await;
    let (live, lock) = (dir.join("app.log"), dir.join(".app.log.lock"));
    w.write_line("one").unwrap();
    w.flush().await.unwrap();
    // Past the default `close_idle_after` (2 s): `None` is not the default in disguise.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(common::open_under(&dir), [lock.clone(), live.clone()]);
    w.shutdown().await.unwrap();

    // Writing more often than the idle time: the file never closes, checked in each gap
    // between lines (a write would open it again).
    let w = writer(&dir, Some(Duration::from_millis(400))).await;
    for i in 0..20 {
        w.write_line(format!("busy {i}")).unwrap();
        w.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(25)).await;
        assert_eq!(
            common::open_under(&dir),
            [lock.clone(), live.clone()],
            "after line {i}"
        );
    }
    w.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&live).unwrap();
    let want: String = std::iter::once("one\n".to_owned())
        .chain((0..20).map(|i| format!("busy {i}\n")))
        .collect();
    assert_eq!(text, want);
}

#[test]
fn a_zero_idle_time_is_refused_by_name() {
    let mut options = WriterOptions::default();
    options.close_idle_after = Some(Duration::ZERO);
    let e = options.validate().unwrap_err().to_string();
    assert!(e.contains("close_idle_after"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managers_quiet_apps_hold_one_descriptor_each() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b").join("logs");
    let mut options = WriterOptions::default();
    options.close_idle_after = Some(Duration::from_millis(200));
    let manager = bunctl_logging::LogManager::with_options(
        bunctl_logging::LogConfig {
            base_dir: dir.clone(),
            ..bunctl_logging::LogConfig::default()
        },
        options,
    );
    let mut locks = Vec::new();
    for i in 0..50 {
        let app = bunctl_logging::AppId::new(format!("app{i}")).unwrap();
        let w = manager.get_writer(&app).await.unwrap();
        w.write_line(format!("app {i}")).unwrap();
        w.flush().await.unwrap();
        locks.push(dir.join(format!(".app{i}.log.lock")));
    }
    locks.sort();
    assert_eq!(wait_for_open(&dir, &locks), locks);
    manager.close_all().await.unwrap();
    for i in 0..50 {
        assert_eq!(
            std::fs::read_to_string(dir.join(format!("app{i}.log"))).unwrap(),
            format!("app {i}\n")
        );
    }
}
