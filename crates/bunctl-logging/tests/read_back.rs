//! Reading logs back through the manager: which lines `read_structured_logs` and
//! `read_all_apps_logs` give for each way of writing them, and `follow_logs` across rotations.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bunctl_logging::{AppId, LogConfig, LogManager};

fn deep_dir(root: &tempfile::TempDir) -> PathBuf {
    let dir = root.path().join("a").join("b").join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn manager_in(dir: &Path, max_size: u64) -> LogManager {
    LogManager::new(LogConfig {
        base_dir: dir.to_path_buf(),
        max_file_size: max_size,
        ..LogConfig::default()
    })
}

fn t(s: u32) -> String {
    format!("2026-12-03T10:00:{s:02}.000000Z")
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

/// The last N of the app as a whole, then split: with separate timed files, the newest N
/// lines of both interleaved by time.
#[tokio::test]
async fn structured_logs_are_the_last_lines_of_the_app_as_a_whole() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let out: String = [1, 3, 5, 7]
        .iter()
        .map(|&s| format!("{} out {s}\n", t(s)))
        .collect();
    let err: String = [2, 4, 6]
        .iter()
        .map(|&s| format!("{} err {s}\n", t(s)))
        .collect();
    std::fs::write(dir.join("job.log"), out).unwrap();
    std::fs::write(dir.join("job.err.log"), err).unwrap();
    let manager = manager_in(&dir, 10 << 20);
    let s = manager
        .read_structured_logs(&AppId::new("job").unwrap(), 4)
        .await
        .unwrap();
    assert_eq!(
        s.output,
        [format!("{} out 5", t(5)), format!("{} out 7", t(7))]
    );
    assert_eq!(
        s.errors,
        [format!("{} err 4", t(4)), format!("{} err 6", t(6))]
    );
}

/// Merged lines in each form the capture and bunctl's daemon write, across a gzipped archive
/// and the live file.
#[tokio::test]
async fn merged_lines_are_split_by_what_they_say() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    let json = |text: &str, stream: &str, s: u32| {
        format!(
            "{{\"log\":\"{text}\\n\",\"stream\":\"{stream}\",\"time\":\"{}\"}}\n",
            t(s)
        )
    };
    let archive = format!(
        "{}{}",
        json("[stderr] not a tag here", "stdout", 1),
        json("boom", "stderr", 2)
    );
    std::fs::write(dir.join("m.20261203T100000Z-000001.log.gz"), gzip(&archive)).unwrap();
    let live = format!(
        "[stderr] tagged\n{} [stdout] timestamped\n[m] [10:00:03] [stderr] daemon\nuntagged\n",
        t(3)
    );
    std::fs::write(dir.join("m.log"), live).unwrap();
    let manager = manager_in(&dir, 10 << 20);
    let s = manager
        .read_structured_logs(&AppId::new("m").unwrap(), 100)
        .await
        .unwrap();
    assert_eq!(s.errors.len(), 3, "{s:?}");
    assert!(
        s.errors[0].contains("boom") && s.errors[2].contains("daemon"),
        "{s:?}"
    );
    assert_eq!(s.output.len(), 3, "{s:?}");
    assert!(s.output[0].contains("not a tag here"), "{s:?}");
    assert_eq!(s.output[2], "untagged");
    // Last 2 of the app: the daemon's stderr line and the untagged one.
    let s = manager
        .read_structured_logs(&AppId::new("m").unwrap(), 2)
        .await
        .unwrap();
    assert_eq!(s.errors, ["[m] [10:00:03] [stderr] daemon"]);
    assert_eq!(s.output, ["untagged"]);
}

/// One entry per app, whatever files it has: archives only, a stderr file only, dotted ids;
/// other files in the directory are nobody's.
#[tokio::test]
async fn every_app_with_a_file_has_one_entry() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    std::fs::write(
        dir.join("old.20261203T100000Z-000001.log.gz"),
        gzip("gone\n"),
    )
    .unwrap();
    std::fs::write(dir.join("web.v2.err.log"), "only errors\n").unwrap();
    std::fs::write(dir.join("web.log"), "web\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a log\n").unwrap();
    std::fs::write(dir.join(".web.log.lock"), "1\n").unwrap();
    let all = manager_in(&dir, 10 << 20)
        .read_all_apps_logs(10)
        .await
        .unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["old", "web", "web.v2"]);
    assert_eq!(all[0].1.output, ["gone"]);
    assert_eq!(all[1].1.output, ["web"]);
    assert_eq!(all[2].1.errors, ["only errors"]);
    assert!(all[2].1.output.is_empty());
}

async fn next(lines: &mut bunctl_logging::LogLines) -> String {
    tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("a line within a minute")
        .expect("the stream goes on")
        .unwrap()
}

/// `follow_logs` gives the last lines, then every line written after them, once, in order,
/// across rotations and compression.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_logs_sees_every_line_once_across_rotations() {
    let root = tempfile::tempdir().unwrap();
    let dir = deep_dir(&root);
    // Every archive is kept: the 5,000 lines are written before the follower reads them, so
    // with the default 10 archives retention would delete files it had not read yet (a gap,
    // which it reports, but not what this test is about).
    let manager = LogManager::new(LogConfig {
        base_dir: dir.clone(),
        max_file_size: 2 << 10,
        max_files: 1_000,
        ..LogConfig::default()
    });
    let app = AppId::new("f").unwrap();
    let w = manager.get_writer(&app).await.unwrap();
    for i in 0..10 {
        w.write_line_async(format!("before {i}")).await.unwrap();
    }
    w.flush().await.unwrap();
    let mut lines = manager.follow_logs(&app, 3).unwrap();
    for i in 7..10 {
        assert_eq!(next(&mut lines).await, format!("before {i}"));
    }
    const N: usize = 5_000;
    for i in 0..N {
        w.write_line_async(format!("line {i:05} .............................."))
            .await
            .unwrap();
    }
    w.flush().await.unwrap();
    for i in 0..N {
        assert_eq!(
            next(&mut lines).await,
            format!("line {i:05} .............................."),
            "line {i}"
        );
    }
    manager.close_all().await.unwrap();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // Many rotations happened while it followed.
    let top = names
        .iter()
        .filter_map(|n| n.split_once('-')?.1.get(..6)?.parse::<u32>().ok())
        .max();
    assert!(top.is_some_and(|seq| seq > 50), "{names:?}");
    // Nothing more, nothing twice.
    let more = tokio::time::timeout(Duration::from_millis(300), lines.next_line()).await;
    assert!(more.is_err(), "{more:?}");
}
