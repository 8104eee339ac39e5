//! The product's (v2) API at the facade's root, through the public API only: the calls
//! bunctl's daemon and the v2 crate's users make, with the semantics the issue states.

mod common;

use std::path::{Path, PathBuf};

use bunctl_logging::{
    AppId, AsyncLogWriter, Error, LogConfig, LogManager, LogMetrics, LogWriterConfig,
    MetricsSnapshot, RotationConfig, RotationStrategy, MAX_INTERVAL,
};

/// A deep directory inside a fresh tempdir: whatever a test does stays inside it.
fn deep_dir(root: &tempfile::TempDir) -> PathBuf {
    let dir = root.path().join("a").join("b").join("c");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A writer of `path` that never rotates and holds lines until asked (no deadline in a test's
/// lifetime, a batch threshold no test reaches).
async fn holding_writer(path: &Path) -> AsyncLogWriter {
    AsyncLogWriter::new(LogWriterConfig {
        path: path.to_path_buf(),
        rotation: RotationConfig {
            strategy: RotationStrategy::Never,
            max_files: 10,
            compression: false,
        },
        buffer_size: 1 << 20,
        flush_interval: MAX_INTERVAL,
        ..LogWriterConfig::default()
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// LogMetrics and MetricsSnapshot

#[test]
fn log_metrics_counts_with_the_v2_methods() {
    let m = LogMetrics::new();
    m.record_write(100);
    m.record_write(50);
    m.record_write_duration(40);
    m.record_write_duration(20);
    m.record_write_error();
    m.record_flush(300);
    m.record_flush(100);
    m.record_rotation();
    m.record_buffer_overflow();
    m.record_buffer_overflow();
    m.record_dropped_message();
    m.update_buffer_size(10);
    m.update_buffer_size(3);
    let s = m.snapshot();
    assert_eq!(s.bytes_written, 150);
    assert_eq!(s.lines_written, 2);
    assert_eq!(s.write_errors, 1);
    assert_eq!(s.flush_count, 2);
    assert_eq!(s.rotation_count, 1);
    assert_eq!(s.buffer_overflows, 2);
    assert_eq!(s.dropped_messages, 1);
    assert_eq!(s.current_buffer_size, 3);
    assert_eq!(s.avg_write_latency_us, 30.0);
    assert_eq!(s.avg_flush_latency_us, 200.0);
}

#[test]
fn log_metrics_is_shared_across_threads() {
    let m = std::sync::Arc::new(LogMetrics::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1000 {
                    m.record_write(2);
                    m.record_dropped_message();
                }
            });
        }
    });
    let s = m.snapshot();
    assert_eq!((s.bytes_written, s.lines_written), (8000, 4000));
    assert_eq!(s.dropped_messages, 4000);
}

#[tokio::test]
async fn a_writer_reports_the_bytes_queued_now_as_current_buffer_size() {
    let root = tempfile::tempdir().unwrap();
    let path = deep_dir(&root).join("app.log");
    let w = holding_writer(&path).await;
    assert_eq!(w.get_metrics().await.current_buffer_size, 0);
    w.write_line("0123456789").unwrap();
    let held = w.get_metrics().await;
    assert_eq!(held.current_buffer_size, 11);
    assert_eq!(held.buffered_bytes, 11);
    w.flush().await.unwrap();
    assert_eq!(w.get_metrics().await.current_buffer_size, 0);
    w.shutdown().await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "0123456789\n");
}

#[tokio::test]
async fn metrics_snapshot_serializes_to_json_and_back() {
    let root = tempfile::tempdir().unwrap();
    let w = holding_writer(&deep_dir(&root).join("app.log")).await;
    w.write_line("x").unwrap();
    let snap = w.get_metrics().await;
    let json = serde_json::to_string(&snap).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["current_buffer_size"], 2);
    assert_eq!(value["dropped_messages"], 0);
    let back: MetricsSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
    w.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Configuration: `..` refused, max_files a u32

#[tokio::test]
async fn a_path_with_a_parent_component_is_refused_naming_the_path() {
    let root = tempfile::tempdir().unwrap();
    let deep = deep_dir(&root);
    // Would land in root/a/escape/app.log, outside root/a/b/c: nothing may be created.
    for path in [
        deep.join("../../escape/app.log"),
        deep.join("x/../app.log"),
        deep.join("..").join("c").join("app.log"),
    ] {
        let e = AsyncLogWriter::new(LogWriterConfig {
            path: path.clone(),
            ..LogWriterConfig::default()
        })
        .await
        .unwrap_err();
        assert!(
            matches!(e, Error::InvalidConfig { field: "path", .. }),
            "{path:?}: {e:?}"
        );
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert!(e.to_string().contains(".."), "{e}");
    }
    assert!(!root.path().join("a/escape").exists());
    assert!(common::dir_names(&deep).is_empty());
    // The same file named without `..` is fine.
    let w = AsyncLogWriter::new(LogWriterConfig {
        path: deep.join("app.log"),
        ..LogWriterConfig::default()
    })
    .await
    .unwrap();
    w.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_manager_base_dir_with_a_parent_component_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let deep = deep_dir(&root);
    let manager = LogManager::new(LogConfig {
        base_dir: deep.join("../escape"),
        ..LogConfig::default()
    });
    let e = manager
        .get_writer(&AppId::new("web").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidConfig {
                field: "base_dir",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("escape"), "{e}");
    assert!(!root.path().join("a/b/escape").exists());
}

#[test]
fn rotation_config_max_files_is_a_u32() {
    let c = RotationConfig {
        strategy: RotationStrategy::Daily,
        max_files: 30u32,
        compression: true,
    };
    let max: u32 = c.max_files;
    assert_eq!(max, 30);
    assert_eq!(RotationConfig::default().max_files, 10u32);
    // LogConfig's, as the product's config table says.
    let l = LogConfig {
        max_files: 30u32,
        ..LogConfig::default()
    };
    let max: u32 = l.max_files;
    assert_eq!(max, 30);
}

// ---------------------------------------------------------------------------------------------
// Error

#[test]
fn the_error_is_a_send_sync_static_std_error() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<Error>();
    fn via_anyhow() -> anyhow::Result<()> {
        Err(Error::Closed)?;
        Ok(())
    }
    let e = via_anyhow().unwrap_err();
    assert!(matches!(e.downcast_ref::<Error>(), Some(Error::Closed)));
    // Boxed, as `Box<dyn Error + Send + Sync>` callers hold it.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::Full);
    assert!(boxed.to_string().contains("full"));
}

// ---------------------------------------------------------------------------------------------
// LogManager: remove_writer, flush_all, read_logs, read_structured_logs, read_all_apps_logs

fn manager_in(dir: &Path, max_size: u64) -> LogManager {
    LogManager::new(LogConfig {
        base_dir: dir.to_path_buf(),
        max_file_size: max_size,
        ..LogConfig::default()
    })
}

#[tokio::test]
async fn an_app_without_files_reads_as_empty() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root).join("never-created");
    let manager = manager_in(&dir, 10 << 20);
    let app = AppId::new("ghost").unwrap();
    assert!(manager.read_logs(&app, 10).await.unwrap().is_empty());
    let s = manager.read_structured_logs(&app, 10).await.unwrap();
    assert!(s.errors.is_empty() && s.output.is_empty());
    assert!(manager.read_all_apps_logs(10).await.unwrap().is_empty());
    manager.remove_writer(&app).await.unwrap(); // unknown app: Ok
    assert!(!dir.exists());
}

#[tokio::test]
async fn read_logs_gives_the_last_lines_across_rotated_and_gzipped_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let manager = manager_in(&dir, 4 << 10);
    let app = AppId::new("web.v2").unwrap();
    let w = manager.get_writer(&app).await.unwrap();
    for i in 0..3_000 {
        w.write_line_async(format!("line {i:05}")).await.unwrap();
    }
    manager.flush_all().await.unwrap();
    manager.remove_writer(&app).await.unwrap();
    let names = common::dir_names(&dir);
    assert!(names.iter().any(|n| n.ends_with(".log.gz")), "{names:?}");
    for n in [0, 1, 100, 2_000] {
        let got = manager.read_logs(&app, n).await.unwrap();
        let want: Vec<String> = (3_000 - n..3_000).map(|i| format!("line {i:05}")).collect();
        assert_eq!(got, want, "last {n}");
    }
    // A new writer after remove_writer: a later get_writer opens one.
    let again = manager.get_writer(&app).await.unwrap();
    again.write_line_async("after").await.unwrap();
    manager.close_all().await.unwrap();
    assert_eq!(manager.read_logs(&app, 1).await.unwrap(), ["after"]);
}

#[tokio::test]
async fn structured_logs_split_tagged_lines_and_separate_stderr_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let manager = manager_in(&dir, 10 << 20);
    let daemon = AppId::new("api").unwrap();
    let w = manager.get_writer(&daemon).await.unwrap();
    w.write_line("[api] [2026-12-03T10:00:00Z] [stdout] up")
        .unwrap();
    w.write_line("[api] [2026-12-03T10:00:01Z] [stderr] oops")
        .unwrap();
    w.write_line("[api] [2026-12-03T10:00:02Z] [stdout] serving")
        .unwrap();
    let split = AppId::new("com.example.job").unwrap();
    let out = manager
        .get_stream_writer(
            &split,
            bunctl_logging::Stream::Stdout,
            bunctl_logging::CaptureMode::Separate,
        )
        .await
        .unwrap();
    let err = manager
        .get_stream_writer(
            &split,
            bunctl_logging::Stream::Stderr,
            bunctl_logging::CaptureMode::Separate,
        )
        .await
        .unwrap();
    out.write_line("out 1").unwrap();
    err.write_line("err 1").unwrap();
    manager.close_all().await.unwrap();

    let s = manager.read_structured_logs(&daemon, 50).await.unwrap();
    assert_eq!(s.output.len(), 2);
    assert_eq!(s.errors, ["[api] [2026-12-03T10:00:01Z] [stderr] oops"]);
    let all = manager.read_all_apps_logs(50).await.unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["api", "com.example.job"]);
    assert_eq!(all[1].1.output, ["out 1"]);
    assert_eq!(all[1].1.errors, ["err 1"]);
    let json = serde_json::to_string(&all[1].1).unwrap();
    assert_eq!(json, r#"{"errors":["err 1"],"output":["out 1"]}"#);
}
