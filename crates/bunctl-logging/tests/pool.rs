//! Writers share a pool of threads: a thousand apps do not cost a thousand threads, a writer
//! stuck on a hung disk does not hold up the others, and an idle writer costs no thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_logging::testing::{FaultFs, Op};
use bunctl_logging::{AppId, LogConfig, LogManager, SystemClock, WriterOptions};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_writers_share_a_few_threads_and_close_at_once() {
    if threads() == 0 {
        println!("skipped: no /proc/self/task");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::new(LogConfig {
        base_dir: dir.path().to_path_buf(),
        ..LogConfig::default()
    });
    let before = threads();
    let mut writers = Vec::new();
    for i in 0..1000 {
        let w = manager
            .get_writer(&AppId::new(format!("app{i}")).unwrap())
            .await
            .unwrap();
        w.write_line(format!("hello from {i}")).unwrap();
        writers.push(w);
    }
    for w in &writers {
        w.flush().await.unwrap();
    }
    let added = threads().saturating_sub(before);
    assert!(added < 64, "1000 writers added {added} threads");
    let start = Instant::now();
    manager.close_all().await.unwrap();
    let took = start.elapsed();
    for (i, w) in writers.iter().enumerate() {
        assert_eq!(
            std::fs::read_to_string(w.path()).unwrap(),
            format!("hello from {i}\n")
        );
    }
    println!("1000 writers: {added} threads added, close_all took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_stuck_on_a_hung_disk_does_not_hold_up_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    let mut options = WriterOptions::default();
    options.shutdown_timeout = Duration::from_millis(300);
    let manager = LogManager::with_io(
        LogConfig {
            base_dir: dir.path().to_path_buf(),
            ..LogConfig::default()
        },
        options,
        fs,
        Arc::new(SystemClock),
    );
    // More stuck writers than the pool has threads at first: it must grow.
    let stuck: Vec<_> = (0..8)
        .map(|i| AppId::new(format!("stuck{i}")).unwrap())
        .collect();
    let mut stuck_writers = Vec::new();
    for app in &stuck {
        stuck_writers.push(manager.get_writer(app).await.unwrap());
    }
    for w in &stuck_writers {
        faults.hold_path(Op::Write, w.path());
    }
    let writes_before = faults.calls(Op::Write);
    for w in &stuck_writers {
        w.write_line("stuck").unwrap();
        let flusher = w.clone();
        tokio::spawn(async move {
            let _ = flusher.flush().await;
        });
    }
    // Wait until every stuck writer is in its write(2), each holding a thread.
    let deadline = Instant::now() + Duration::from_secs(20);
    while faults.calls(Op::Write) < writes_before + 8 {
        assert!(
            Instant::now() < deadline,
            "the stuck writers never started writing: {} of 8",
            faults.calls(Op::Write) - writes_before
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Another app's writer gets a thread of its own and is written at once.
    let fine = manager
        .get_writer(&AppId::new("fine").unwrap())
        .await
        .unwrap();
    fine.write_line("fine").unwrap();
    tokio::time::timeout(Duration::from_secs(20), fine.flush())
        .await
        .expect("a healthy writer waited for the stuck ones")
        .unwrap();
    assert_eq!(std::fs::read_to_string(fine.path()).unwrap(), "fine\n");
    faults.clear(Op::Write);
    manager.close_all().await.unwrap();
    for w in &stuck_writers {
        assert_eq!(std::fs::read_to_string(w.path()).unwrap(), "stuck\n");
    }
}
