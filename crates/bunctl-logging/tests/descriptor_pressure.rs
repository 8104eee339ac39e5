//! Out of descriptors while opening writers: the quiet writers of the process close their
//! files at once (not after `close_idle_after`), and the open goes through. The only test of
//! its binary, since it lowers the whole process's descriptor limit.
#![cfg(target_os = "linux")]

use std::time::Duration;

use bunctl_logging::{AppId, LogConfig, LogManager, WriterOptions};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_opens_past_the_limit_gets_the_descriptors_of_quiet_writers() {
    const WRITERS: usize = 40;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b").join("logs");
    let mut options = WriterOptions::default();
    // Longer than the test: only running out of descriptors closes a file.
    options.close_idle_after = Some(Duration::from_secs(600));
    let manager = LogManager::with_options(
        LogConfig {
            base_dir: dir.clone(),
            ..LogConfig::default()
        },
        options,
    );
    // Warm up: the runtime, the pool and the first writer's threads have their descriptors.
    let first = manager
        .get_writer(&AppId::new("w0").unwrap())
        .await
        .unwrap();
    first.write_line("line of w0").unwrap();
    first.flush().await.unwrap();
    // Room for every writer's lock and a few more, not for two descriptors each.
    let limit = open_fds() + WRITERS as u64 + 8;
    let before = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: before.maximum,
        },
    )
    .unwrap();
    let mut opened = Ok(());
    for i in 1..WRITERS {
        let app = AppId::new(format!("w{i}")).unwrap();
        let w = match manager.get_writer(&app).await {
            Ok(w) => w,
            Err(e) => {
                setrlimit(Resource::Nofile, before).unwrap();
                let held: Vec<_> = std::fs::read_dir("/proc/self/fd")
                    .unwrap()
                    .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                    .map(|p| p.display().to_string())
                    .collect();
                opened = Err(format!(
                    "writer {i} of {WRITERS} under a limit of {limit}: {e}; open: {held:?}"
                ));
                break;
            }
        };
        w.write_line(format!("line of w{i}")).unwrap();
        w.flush().await.unwrap();
    }
    setrlimit(Resource::Nofile, before).unwrap();
    opened.unwrap();
    manager.close_all().await.unwrap();
    for i in 0..WRITERS {
        assert_eq!(
            std::fs::read_to_string(dir.join(format!("w{i}.log"))).unwrap(),
            format!("line of w{i}\n")
        );
    }
}
