//! Capturing a child process's output through the public API.

mod common;

use std::process::Stdio;

use bunctl_logging::{AppId, CaptureMode, LogConfig, LogManager};
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
