//! Capturing a child process's output through the public API.

mod common;

use std::process::Stdio;

use bunctl_logging::{AppId, CaptureMode, LineFormat, LogConfig, LogManager, WriterOptions};
use common::{lines, read_files};

fn manager(dir: &std::path::Path) -> LogManager {
    common::init_tracing();
    LogManager::new(LogConfig {
        base_dir: dir.to_path_buf(),
        max_file_size: 64 << 10,
        max_files: 100,
        ..LogConfig::default()
    })
}

fn sh(script: &str) -> tokio::process::Child {
    tokio::process::Command::new("sh")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn separate_streams_go_to_their_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path());
    let app = AppId::new("svc").unwrap();
    let mut child = sh("echo out1; echo err1 >&2; echo out2; printf 'no newline'");
    let capture = m
        .capture_child(&app, &mut child, CaptureMode::Separate)
        .await
        .unwrap();
    assert!(child.wait().await.unwrap().success());
    let summary = capture.finish().await.unwrap();
    assert_eq!((summary.stdout.lines, summary.stderr.lines), (3, 1));
    m.close_all().await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("svc.log")).unwrap(),
        b"out1\nout2\nno newline\n"
    );
    assert_eq!(
        std::fs::read(dir.path().join("svc.err.log")).unwrap(),
        b"err1\n"
    );
}

#[tokio::test]
async fn merged_streams_are_tagged() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path());
    let app = AppId::new("svc").unwrap();
    let mut child = sh("echo out; sleep 0.1; echo err >&2");
    let capture = m
        .capture_child(&app, &mut child, CaptureMode::Merged)
        .await
        .unwrap();
    child.wait().await.unwrap();
    capture.finish().await.unwrap();
    m.close_all().await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("svc.log")).unwrap(),
        b"[stdout] out\n[stderr] err\n"
    );
    assert!(!dir.path().join("svc.err.log").exists());
}

fn manager_in(dir: &std::path::Path, format: LineFormat) -> LogManager {
    let mut options = WriterOptions::default();
    options.format = format;
    LogManager::with_options(
        LogConfig {
            base_dir: dir.to_path_buf(),
            ..LogConfig::default()
        },
        options,
    )
}

/// Runs `script` with both streams merged into `svc.log` in `format`; returns its lines.
async fn merged_lines(format: LineFormat, script: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let m = manager_in(dir.path(), format);
    let app = AppId::new("svc").unwrap();
    let mut child = sh(script);
    let capture = m
        .capture_child(&app, &mut child, CaptureMode::Merged)
        .await
        .unwrap();
    child.wait().await.unwrap();
    capture.finish().await.unwrap();
    m.close_all().await.unwrap();
    assert!(!dir.path().join("svc.err.log").exists());
    let text = std::fs::read_to_string(dir.path().join("svc.log")).unwrap();
    text.lines().map(String::from).collect()
}

// Two pumps write into one file: the order of lines from different streams depends on the
// scheduler, so each stream's lines are checked in their own order.
#[tokio::test]
async fn merged_json_lines_say_their_stream_in_the_stream_field_not_a_tag() {
    let lines = merged_lines(
        LineFormat::Json,
        "echo out; echo 'err \"q\"' >&2; echo out2",
    )
    .await;
    let mut by_stream: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{l}");
        by_stream
            .entry(v["stream"].as_str().unwrap().to_owned())
            .or_default()
            .push(v["log"].as_str().unwrap().to_owned());
    }
    assert_eq!(by_stream["stdout"], ["out\n", "out2\n"]);
    assert_eq!(by_stream["stderr"], ["err \"q\"\n"]);
    assert_eq!(by_stream.len(), 2);
}

#[tokio::test]
async fn merged_timestamped_lines_keep_the_tag_after_the_time() {
    let lines = merged_lines(LineFormat::Timestamped, "echo out; echo err >&2; echo out2").await;
    let mut bodies: Vec<&str> = lines
        .iter()
        .map(|l| {
            assert!(
                l.as_bytes()[..27].ends_with(b"Z") && l.as_bytes()[27] == b' ',
                "{l}"
            );
            &l[28..]
        })
        .collect();
    let stdout: Vec<&str> = bodies
        .iter()
        .copied()
        .filter(|b| b.starts_with("[stdout] "))
        .collect();
    assert_eq!(stdout, ["[stdout] out", "[stdout] out2"]);
    bodies.sort_unstable();
    assert_eq!(bodies, ["[stderr] err", "[stdout] out", "[stdout] out2"]);
}

#[tokio::test]
async fn separate_json_files_say_their_own_stream() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager_in(dir.path(), LineFormat::Json);
    let app = AppId::new("svc").unwrap();
    let mut child = sh("echo out; echo err >&2");
    let capture = m
        .capture_child(&app, &mut child, CaptureMode::Separate)
        .await
        .unwrap();
    child.wait().await.unwrap();
    capture.finish().await.unwrap();
    m.close_all().await.unwrap();
    for (file, log, stream) in [
        ("svc.log", "out\n", "stdout"),
        ("svc.err.log", "err\n", "stderr"),
    ] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(
            (v["log"].as_str(), v["stream"].as_str()),
            (Some(log), Some(stream))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_child_loses_nothing_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(dir.path());
    let app = AppId::new("chatty").unwrap();
    let mut child = sh("seq 1 200000");
    let capture = m
        .capture_child(&app, &mut child, CaptureMode::Separate)
        .await
        .unwrap();
    child.wait().await.unwrap();
    capture.finish().await.unwrap();
    let writer = m.get_writer(&app).await.unwrap();
    m.close_all().await.unwrap();
    let files = writer.log_files().unwrap();
    assert!(files.len() > 10, "expected rotations: {files:?}");
    let all = read_files(&files);
    let got: Vec<&[u8]> = lines(&all);
    assert_eq!(got.len(), 200_000);
    for (i, l) in got.iter().enumerate() {
        assert_eq!(*l, (i + 1).to_string().as_bytes());
    }
}

async fn writer(dir: &std::path::Path) -> std::sync::Arc<bunctl_logging::AsyncLogWriter> {
    std::sync::Arc::new(
        bunctl_logging::AsyncLogWriter::new(bunctl_logging::LogWriterConfig {
            path: dir.join("p.log"),
            ..bunctl_logging::LogWriterConfig::default()
        })
        .await
        .unwrap(),
    )
}

#[tokio::test]
async fn a_stopped_pump_hands_over_what_it_read_while_its_source_stays_open_and_silent() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path()).await;
    // `source` stays open: without the stop, the pump would wait on it forever.
    let (mut source, reader) = tokio::io::duplex(1 << 10);
    source
        .write_all(b"one\ntwo\nthree, no newline")
        .await
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pump = tokio::spawn(bunctl_logging::capture::pump_until(
        reader,
        w.clone(),
        None,
        1 << 20,
        async move {
            let _ = stop_rx.await;
        },
    ));
    stop_tx.send(()).unwrap();
    let summary = tokio::time::timeout(std::time::Duration::from_secs(10), pump)
        .await
        .expect("the stopped pump returns")
        .unwrap()
        .unwrap();
    assert_eq!((summary.lines, summary.bytes_read), (3, 25));
    w.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("p.log")).unwrap(),
        b"one\ntwo\nthree, no newline\n"
    );
    drop(source);
}

#[tokio::test]
async fn a_reader_that_is_always_ready_cannot_keep_a_stopped_pump_going() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path()).await;
    // An endless line, always ready: the pump reads at most 1 MiB once stopped.
    let summary = bunctl_logging::capture::pump_until(
        tokio::io::repeat(b'x'),
        w.clone(),
        Some(bunctl_logging::Stream::Stderr),
        1 << 20,
        std::future::ready(()),
    )
    .await
    .unwrap();
    assert_eq!(summary.bytes_read, 1 << 20);
    w.shutdown().await.unwrap();
    let text = std::fs::read(dir.path().join("p.log")).unwrap();
    assert!(text.starts_with(b"[stderr] xxx") && text.ends_with(b"x\n"));
    assert_eq!(text.len(), (1 << 20) + 9 + 1);
}

#[tokio::test]
async fn pump_without_a_stop_still_reads_to_eof() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path()).await;
    let summary = bunctl_logging::capture::pump(&b"a\nb"[..], w.clone(), None, 1 << 20)
        .await
        .unwrap();
    assert_eq!(summary.lines, 2);
    w.shutdown().await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("p.log")).unwrap(), b"a\nb\n");
}
