//! Out of descriptors when a quiet writer opens its live file again: the other quiet writers
//! of the process close their files at once, and the write's retry finds a descriptor; no
//! line is lost. A binary of its own, since it exhausts the whole process's descriptors.
#![cfg(target_os = "linux")]

mod common;

use std::fs::File;
use std::time::{Duration, Instant};

use bunctl_logging::{
    AppId, AsyncLogWriter, LogConfig, LogManager, LogWriterConfig, WriterOptions,
};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_writer_reopening_its_file_out_of_descriptors_gets_a_quiet_writers_descriptor() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("a").join("b");
    // Quiet writers that keep their files open: only running out of descriptors closes them.
    let mut keep_open = WriterOptions::default();
    keep_open.close_idle_after = Some(Duration::from_secs(600));
    let manager = LogManager::with_options(
        LogConfig {
            base_dir: base.join("others"),
            ..LogConfig::default()
        },
        keep_open,
    );
    for i in 0..5 {
        let w = manager
            .get_writer(&AppId::new(format!("q{i}")).unwrap())
            .await
            .unwrap();
        w.write_line(format!("line of q{i}")).unwrap();
        w.flush().await.unwrap();
    }
    // The writer under test closes its file after 100 ms of quiet.
    let dir = base.join("logs");
    let mut quick = WriterOptions::default();
    quick.close_idle_after = Some(Duration::from_millis(100));
    let w = AsyncLogWriter::with_options(
        LogWriterConfig {
            path: dir.join("app.log"),
            ..LogWriterConfig::default()
        },
        quick,
    )
    .await
    .unwrap();
    w.write_line("before").unwrap();
    w.flush().await.unwrap();
    let only_lock = vec![dir.join(".app.log.lock")];
    let start = Instant::now();
    while common::open_under(&dir) != only_lock {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            common::open_under(&dir)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every descriptor the process may have is taken (under a limit made low, so that a
    // machine with a huge one is not made to open millions of files).
    let before = getrlimit(Resource::Nofile);
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(fds + 64),
            maximum: before.maximum,
        },
    )
    .unwrap();
    let mut hog = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) => {
                assert!(bunctl_log_fs::is_out_of_descriptors(&e), "{e}");
                break;
            }
        }
    }
    w.write_line("after").unwrap();
    let flushed = w.flush().await;
    drop(hog);
    setrlimit(Resource::Nofile, before).unwrap();
    flushed.unwrap();
    let metrics = w.get_metrics().await;
    w.shutdown().await.unwrap();
    manager.close_all().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("app.log")).unwrap(),
        "before\nafter\n"
    );
    assert_eq!(metrics.lines_lost, 0, "{metrics:?}");
    for i in 0..5 {
        assert_eq!(
            std::fs::read_to_string(base.join("others").join(format!("q{i}.log"))).unwrap(),
            format!("line of q{i}\n")
        );
    }
}
