//! A JSON log stays JSON: whatever faults the filesystem injects (failed and short writes, a
//! full disk, refused renames, the live file removed under the writer) and whatever the
//! writer drops, every line of every file (archives decompressed) is one JSON object in
//! Docker's json-file shape, the writer's own markers included (with their own `stream`).

mod common;

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use bunctl_logging::testing::{FaultFs, Faults, Op};
use bunctl_logging::{
    list_log_files, AsyncLogWriter, LineFormat, LogWriterConfig, RetryConfig, RotationConfig,
    RotationRule, RotationStrategy, SystemClock, WriterOptions, MARKER_STREAM,
};
use proptest::prelude::*;

/// One step of a run.
#[derive(Debug, Clone)]
enum Step {
    /// Lines written with `write_line_async` (waits for room).
    Write(u16),
    /// A burst with `write_line` (drops and marks what does not fit).
    Burst(u16),
    /// The next write stops after this many bytes, then fails with EIO.
    ShortWrite(u8),
    /// The next writes fail (EIO or ENOSPC).
    FailWrites(u8, bool),
    /// The next renames fail (rotations are refused).
    FailRenames(u8),
    /// The live file is removed under the writer (it reopens and says so).
    RemoveLive,
    /// Waits for what was written so far to be in the file.
    Flush,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u16..200).prop_map(Step::Write),
        2 => (1u16..2000).prop_map(Step::Burst),
        1 => (0u8..200).prop_map(Step::ShortWrite),
        1 => ((1u8..6), any::<bool>()).prop_map(|(n, full)| Step::FailWrites(n, full)),
        1 => (1u8..4).prop_map(Step::FailRenames),
        1 => Just(Step::RemoveLive),
        2 => Just(Step::Flush),
    ]
}

fn options() -> WriterOptions {
    let mut o = WriterOptions::default();
    o.format = LineFormat::Json;
    o.rotation = Some(RotationRule::size(4 << 10));
    o.max_buffered_bytes = 16 << 10;
    o.reopen_check_interval = Duration::ZERO;
    o.retry = RetryConfig {
        initial_delay: Duration::from_millis(1),
        max_attempts: 2,
        breaker_threshold: 4,
        probe_interval: Duration::from_millis(5),
        max_probe_interval: Duration::from_millis(5),
    };
    o
}

async fn run(dir: &std::path::Path, steps: &[Step]) -> Vec<u8> {
    let config = LogWriterConfig {
        path: dir.join("app.log"),
        rotation: RotationConfig {
            strategy: RotationStrategy::Never,
            max_files: 1000,
            compression: true,
        },
        ..LogWriterConfig::default()
    };
    let (fs, faults): (_, Faults) = FaultFs::shared();
    let w = AsyncLogWriter::open_with_io(config, options(), fs, Arc::new(SystemClock))
        .await
        .unwrap();
    let mut n = 0u64;
    for s in steps {
        match *s {
            Step::Write(k) => {
                for _ in 0..k {
                    // A line may be lost to a fault: the test is about the file's shape.
                    let _ = w
                        .write_line_async(format!("line {n} \"quoted\" \\ tab\t"))
                        .await;
                    n += 1;
                }
            }
            Step::Burst(k) => {
                for _ in 0..k {
                    let _ = w.write_line(format!("burst {n}"));
                    n += 1;
                }
            }
            Step::ShortWrite(prefix) => faults.short_write(usize::from(prefix), ErrorKind::Other),
            Step::FailWrites(k, full) => {
                let kind = if full {
                    ErrorKind::StorageFull
                } else {
                    ErrorKind::Other
                };
                faults.fail(Op::Write, kind, u64::from(k));
            }
            Step::FailRenames(k) => {
                faults.fail(Op::Rename, ErrorKind::PermissionDenied, u64::from(k))
            }
            Step::RemoveLive => {
                let _ = std::fs::remove_file(w.path());
            }
            Step::Flush => {
                let _ = w.flush().await;
            }
        }
    }
    // Faults still armed end here: the last lines and markers get their chance.
    faults.clear_all();
    let _ = w.write_line_async("last").await;
    let _ = w.shutdown().await;
    common::read_files(&list_log_files(w.path()).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn every_line_of_a_json_log_is_a_json_object_whatever_happened(
        steps in proptest::collection::vec(step(), 1..20)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("a/b/c");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let all = rt.block_on(run(&dir, &steps));
        prop_assert!(all.ends_with(b"\n"), "the files do not end with a whole line");
        for line in all[..all.len() - 1].split(|&b| b == b'\n') {
            let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| {
                TestCaseError::fail(format!("not JSON ({e}): {}", String::from_utf8_lossy(line)))
            })?;
            let log = v["log"].as_str().unwrap_or_default();
            let stream = v["stream"].as_str().unwrap_or_default();
            prop_assert!(v["time"].is_string(), "no time: {v}");
            prop_assert!(
                stream == "stdout" || stream == MARKER_STREAM,
                "stream {stream:?}: {v}"
            );
            // A marker's text is in `log`, and only markers have the marker stream.
            prop_assert_eq!(stream == MARKER_STREAM, log.starts_with("[bunctl-log] "), "{}", v);
        }
    }
}
