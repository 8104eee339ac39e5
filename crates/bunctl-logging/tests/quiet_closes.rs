//! Quiet writers' closes (an `fdatasync` each) wait in a queue of their own: a writer with a
//! line to write is not held up behind them. A binary of its own: it fills the process's
//! writer pool with threads stuck in held syncs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_logging::testing::{FaultFs, Op};
use bunctl_logging::{AppId, LogConfig, LogManager, SystemClock, WriterOptions};

/// More quiet writers than the pool may ever have threads (64): were their closes in the same
/// queue as lines, every thread would end up in a held sync before the busy writer's turn.
const QUIET: usize = 70;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_is_written_while_a_burst_of_quiet_closes_is_stuck_in_fsync() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("a").join("b");
    let (fs, faults) = FaultFs::shared();
    let mut quiet_options = WriterOptions::default();
    quiet_options.close_idle_after = Some(Duration::from_millis(200));
    quiet_options.shutdown_timeout = Duration::from_secs(30);
    let quiet_manager = LogManager::with_io(
        LogConfig {
            base_dir: base.join("quiet"),
            ..LogConfig::default()
        },
        quiet_options,
        fs.clone(),
        Arc::new(SystemClock),
    );
    let busy_manager = LogManager::with_io(
        LogConfig {
            base_dir: base.join("busy"),
            ..LogConfig::default()
        },
        WriterOptions::default(),
        fs.clone(),
        Arc::new(SystemClock),
    );
    let busy = busy_manager
        .get_writer(&AppId::new("busy").unwrap())
        .await
        .unwrap();
    // Every writer is opened before any line, so that the quiet writers' closes all come due
    // within a few milliseconds of each other, however slow the opens are.
    let mut quiet = Vec::new();
    for i in 0..QUIET {
        let w = quiet_manager
            .get_writer(&AppId::new(format!("quiet{i}")).unwrap())
            .await
            .unwrap();
        // Held before the line, so no idle close after it can slip through.
        faults.hold_path(Op::SyncData, w.path());
        quiet.push(w);
    }
    for (i, w) in quiet.iter().enumerate() {
        w.write_line(format!("quiet {i}")).unwrap();
    }
    for w in &quiet {
        w.flush().await.unwrap();
    }
    // Every quiet writer's idle close comes due (200 ms after its line) and is queued; the
    // pool's first threads get stuck in them, and it grows by one thread per 20 ms stuck, far
    // from its 64 in this time.
    let syncs_before = faults.calls(Op::SyncData);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while faults.calls(Op::SyncData) < syncs_before + 2 {
        assert!(Instant::now() < deadline, "no idle close began");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    busy.write_line("busy").unwrap();
    tokio::time::timeout(Duration::from_secs(10), busy.flush())
        .await
        .expect("the busy writer's line waited behind the quiet writers' closes")
        .unwrap();
    assert_eq!(std::fs::read_to_string(busy.path()).unwrap(), "busy\n");
    assert!(
        faults.calls(Op::SyncData) < syncs_before + QUIET as u64,
        "every quiet close had begun: the test proves nothing"
    );
    faults.clear(Op::SyncData);
    busy_manager.close_all().await.unwrap();
    quiet_manager.close_all().await.unwrap();
    for (i, w) in quiet.iter().enumerate() {
        assert_eq!(
            std::fs::read_to_string(w.path()).unwrap(),
            format!("quiet {i}\n")
        );
    }
}
