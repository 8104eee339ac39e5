//! Runs `examples/supervisor.rs` (what bunctl's daemon does) and checks its files and its
//! answers line by line.

#[path = "../examples/supervisor.rs"]
#[allow(dead_code)] // its `main` is the example's, not the test's
mod supervisor;

/// The text after `[app] [time] [stream] `, checking the app and the stream tag.
fn text<'a>(line: &'a str, app: &str, stream: &str) -> &'a str {
    let rest = line
        .strip_prefix(&format!("[{app}] ["))
        .unwrap_or_else(|| panic!("{line:?} is not a line of {app}"));
    let (_time, rest) = rest.split_once("] ").unwrap();
    rest.strip_prefix(&format!("[{stream}] "))
        .unwrap_or_else(|| panic!("{line:?} is not {stream}"))
}

fn texts(lines: &[String], app: &str, stream: &str) -> Vec<String> {
    lines
        .iter()
        .map(|l| text(l, app, stream).to_string())
        .collect()
}

#[tokio::test]
async fn the_supervisor_example_does_what_bunctls_daemon_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/logs");
    let answers = supervisor::run(&dir).await.unwrap();

    let out = |app: &str, run: u32| -> Vec<String> {
        (1..=3)
            .map(|i| format!("{app} run {run} out {i}"))
            .collect()
    };
    let err = |app: &str, run: u32| -> Vec<String> {
        (1..=2)
            .map(|i| format!("{app} run {run} err {i}"))
            .collect()
    };

    // The answers: stdout lines in `output`, stderr lines in `errors`, in order.
    let web = &answers.web_last_50;
    assert_eq!(texts(&web.output, "web.v2", "stdout"), out("web.v2", 1));
    assert_eq!(texts(&web.errors, "web.v2", "stderr"), err("web.v2", 1));

    let all: Vec<(String, bunctl_logging::StructuredLogs)> =
        serde_json::from_str(&answers.all_apps_json).unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["web.v2", "worker"]);
    assert_eq!(&all[0].1, web);
    assert_eq!(
        texts(&all[1].1.output, "worker", "stdout"),
        out("worker", 1)
    );
    let json: serde_json::Value = serde_json::from_str(&answers.all_apps_json).unwrap();
    assert!(json[0][1]["errors"].is_array() && json[0][1]["output"].is_array());

    // After delete and restart: the new run only.
    let worker = &answers.worker_after_restart;
    assert_eq!(texts(&worker.output, "worker", "stdout"), out("worker", 2));
    assert_eq!(texts(&worker.errors, "worker", "stderr"), err("worker", 2));

    // The files: one per app, every line whole, each stream's lines in order.
    let web_file = std::fs::read_to_string(dir.join("web.v2.log")).unwrap();
    let lines: Vec<&str> = web_file.lines().collect();
    assert_eq!(lines.len(), 5);
    let outs: Vec<String> = lines
        .iter()
        .filter(|l| l.contains("[stdout]"))
        .map(|l| text(l, "web.v2", "stdout").to_string())
        .collect();
    assert_eq!(outs, out("web.v2", 1));
    let worker_file = std::fs::read_to_string(dir.join("worker.log")).unwrap();
    assert!(!worker_file.contains("run 1"), "{worker_file}");
    assert_eq!(worker_file.lines().count(), 5);
}
