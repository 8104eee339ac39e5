//! The writer's metrics reach an installed `metrics` recorder as things happen, labelled with
//! the app, without any call from the user; the snapshot has the queue depth and the breaker.
//! (Its own test binary: it installs a global recorder.)

use std::collections::HashMap;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use bunctl_logging::metric_names as names;
use bunctl_logging::testing::{FaultFs, Op};
use bunctl_logging::SystemClock;
use bunctl_logging::{AppId, LogConfig, LogManager, RetryConfig, WriterOptions};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// What the recorder saw, per `name` for app `web`. The debugging recorder resets its values at
/// each snapshot, so counters are summed here; a gauge is the last value set (the writer sets
/// every gauge after each batch, so after a flush it is fresh).
#[derive(Default)]
struct Seen(HashMap<String, f64>);

impl Seen {
    fn refresh(&mut self, snapshotter: &Snapshotter) {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key = key.key();
            if !key.labels().any(|l| l.key() == "app" && l.value() == "web") {
                continue;
            }
            let name = key.name().to_owned();
            match value {
                DebugValue::Counter(c) => *self.0.entry(name).or_default() += c as f64,
                DebugValue::Gauge(g) => {
                    self.0.insert(name, g.into_inner());
                }
                DebugValue::Histogram(_) => {}
            }
        }
    }

    fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_gauges_reach_the_recorder_as_lines_flow() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (fs, faults) = FaultFs::shared();
    let mut options = WriterOptions::default();
    options.retry = RetryConfig {
        initial_delay: Duration::from_millis(1),
        max_attempts: 2,
        breaker_threshold: 2,
        probe_interval: Duration::from_millis(20),
        max_probe_interval: Duration::from_millis(20),
    };
    let manager = LogManager::with_io(
        LogConfig {
            base_dir: dir.path().to_path_buf(),
            ..LogConfig::default()
        },
        options,
        fs,
        Arc::new(SystemClock),
    );
    let web = manager
        .get_writer(&AppId::new("web").unwrap())
        .await
        .unwrap();
    for i in 0..500 {
        web.write_line_async(format!("line {i}")).await.unwrap();
    }
    web.flush().await.unwrap();
    // Recorded by the writer thread after the batch: no export call by the user.
    let mut seen = Seen::default();
    seen.refresh(&snapshotter);
    assert_eq!(seen.get(names::LINES_WRITTEN), Some(500.0));
    assert_eq!(seen.get(names::BUFFERED_LINES), Some(0.0));
    assert_eq!(seen.get(names::BREAKER_OPEN), Some(0.0));

    // A stuck disk: the queue depth shows in the snapshot.
    faults.hold(Op::Write);
    let writes = faults.calls(Op::Write);
    web.write_line("in flight").unwrap();
    // A flush in the background makes the writer take the batch now.
    let flusher = {
        let web = web.clone();
        tokio::spawn(async move { web.flush().await })
    };
    while faults.calls(Op::Write) == writes {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The writer is stuck writing "in flight": these two wait in the buffer.
    web.write_line("waiting 1").unwrap();
    web.write_line("waiting 2").unwrap();
    let m = web.metrics_snapshot();
    assert_eq!((m.buffered_lines, m.buffered_bytes), (2, 20), "{m:?}");
    faults.clear(Op::Write);
    flusher.await.unwrap().unwrap();
    web.flush().await.unwrap();
    assert_eq!(web.metrics_snapshot().buffered_lines, 0);

    // A broken disk opens the breaker: the snapshot and the gauge say so, and lost lines count.
    faults.fail_always(Op::Write, ErrorKind::Other);
    web.write_line("lost").unwrap();
    let _ = web.flush().await;
    assert!(web.metrics_snapshot().breaker_open);
    seen.refresh(&snapshotter);
    assert_eq!(seen.get(names::BREAKER_OPEN), Some(1.0));
    assert_eq!(seen.get(names::LINES_LOST), Some(1.0));
    faults.clear_all();
    tokio::time::sleep(Duration::from_millis(50)).await;
    web.write_line("back").unwrap();
    let _ = web.flush().await;
    assert!(!web.metrics_snapshot().breaker_open);
    seen.refresh(&snapshotter);
    assert_eq!(seen.get(names::BREAKER_OPEN), Some(0.0));
    let _ = manager.close_all().await;
    seen.refresh(&snapshotter);
    let m = web.metrics_snapshot();
    assert_eq!(m.lines_written, 504);
    assert_eq!(seen.get(names::LINES_WRITTEN), Some(504.0));
    assert_eq!(seen.get(names::WRITE_ERRORS), Some(m.write_errors as f64));
}
