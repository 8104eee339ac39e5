//! The three line formats through the public API: every write method, split lines, a
//! manager's stderr file, and JSON that parses line by line.

mod common;

use std::time::SystemTime;

use bunctl_logging::{
    AppId, AsyncLogWriter, LineFormat, LineSplitter, LogConfig, LogManager, LogWriterConfig,
    WriterOptions,
};

fn options(format: LineFormat) -> WriterOptions {
    let mut o = WriterOptions::default();
    o.format = format;
    o.max_line_len = 8;
    o
}

async fn writer(dir: &std::path::Path, format: LineFormat) -> AsyncLogWriter {
    AsyncLogWriter::with_options(
        LogWriterConfig {
            path: dir.join("app.log"),
            ..LogWriterConfig::default()
        },
        options(format),
    )
    .await
    .unwrap()
}

/// Writes the same messages through every method.
async fn write_all_ways(w: &AsyncLogWriter) {
    w.write_line("one").unwrap();
    w.try_write_line("two\nthree").unwrap();
    w.write_line_async("a line longer than eight")
        .await
        .unwrap();
    let mut buf = LineSplitter::new(8);
    let mut block = Vec::new();
    let n = buf.push_into(b"four\nfive is long\n", &mut block);
    w.write_lines(bunctl_logging::Lines {
        bytes: &block,
        count: n,
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn timestamped_lines_carry_the_time_they_were_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let before = SystemTime::now();
    let w = writer(dir.path(), LineFormat::Timestamped).await;
    write_all_ways(&w).await;
    w.shutdown().await.unwrap();
    let text = std::fs::read_to_string(w.path()).unwrap();
    let bodies: Vec<&str> = text
        .lines()
        .map(|l| {
            let (time, body) = l.split_at(27);
            let t = chrono::DateTime::parse_from_rfc3339(time).unwrap();
            assert!(SystemTime::from(t) + std::time::Duration::from_millis(1) >= before);
            assert!(SystemTime::from(t) <= SystemTime::now());
            body.strip_prefix(' ').unwrap()
        })
        .collect();
    assert_eq!(
        bodies,
        [
            "one",
            "two",
            "three",
            "a line l [bunctl-log: line continues]",
            "onger th [bunctl-log: line continues]",
            "an eight",
            "four",
            "five is  [bunctl-log: line continues]",
            "long"
        ]
    );
    assert_eq!(w.get_metrics().await.lines_written, 9);
}

#[tokio::test]
async fn json_lines_are_docker_json_file_lines() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(dir.path(), LineFormat::Json).await;
    write_all_ways(&w).await;
    w.write_line(b"\xffok").unwrap();
    w.shutdown().await.unwrap();
    let text = std::fs::read_to_string(w.path()).unwrap();
    let mut logs = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["stream"], "stdout");
        chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap()).unwrap();
        logs.push(v["log"].as_str().unwrap().to_owned());
        if line.contains("log_base64") {
            assert_eq!(v["log_base64"], "/29rCg=="); // the exact bytes, "\xffok\n"
        }
    }
    assert_eq!(
        logs,
        [
            "one\n",
            "two\n",
            "three\n",
            "a line l",
            "onger th",
            "an eight\n",
            "four\n",
            "five is ",
            "long\n",
            "\u{fffd}ok\n"
        ]
    );
}

#[tokio::test]
async fn a_managers_stderr_file_says_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::with_options(
        LogConfig {
            base_dir: dir.path().to_path_buf(),
            ..LogConfig::default()
        },
        options(LineFormat::Json),
    );
    let app = AppId::new("web").unwrap();
    let (out, err) = (
        manager
            .get_stream_writer(
                &app,
                bunctl_logging::Stream::Stdout,
                bunctl_logging::CaptureMode::Separate,
            )
            .await
            .unwrap(),
        manager
            .get_stream_writer(
                &app,
                bunctl_logging::Stream::Stderr,
                bunctl_logging::CaptureMode::Separate,
            )
            .await
            .unwrap(),
    );
    out.write_line("o").unwrap();
    err.write_line("e").unwrap();
    manager.close_all().await.unwrap();
    let stream = |f: &str| {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        v["stream"].as_str().unwrap().to_owned()
    };
    assert_eq!(stream("web.log"), "stdout");
    assert_eq!(stream("web.err.log"), "stderr");
}
