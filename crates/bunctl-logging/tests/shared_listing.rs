//! A `LogManager` opening thousands of writers in one directory reads it a few times, not
//! once per writer (each read costing the whole directory: quadratic in the apps), and each
//! writer still finds exactly its own archives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bunctl_logging::testing::{FaultFs, Op};
use bunctl_logging::{AppId, LogConfig, LogManager, SystemClock, WriterOptions};

/// Three compressed archives (seqs 1-3) of `app` in `dir`, as a run before a restart left them.
fn three_archives(dir: &Path, app: &str) -> Vec<PathBuf> {
    (1..=3)
        .map(|seq| {
            let gz = dir.join(format!("{app}.20261125T000000Z-{seq:06}.log.gz"));
            std::fs::write(&gz, b"gz").unwrap();
            gz
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_writers_read_their_directory_far_fewer_than_two_thousand_times() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("srv/bunctl/logs");
    std::fs::create_dir_all(&base).unwrap();
    let apps: Vec<String> = (0..2000).map(|i| format!("app-{i:04}")).collect();
    let archives: Vec<Vec<PathBuf>> = apps.iter().map(|a| three_archives(&base, a)).collect();
    let (fs, faults) = FaultFs::shared();
    let manager = LogManager::with_io(
        LogConfig {
            base_dir: base.clone(),
            max_files: 2,
            ..LogConfig::default()
        },
        WriterOptions::default(),
        fs,
        Arc::new(SystemClock),
    );
    for app in &apps {
        let writer = manager.get_writer(&AppId::new(app).unwrap()).await.unwrap();
        writer.write_line("started").unwrap();
    }
    let reads = faults.calls(Op::ReadDir);
    // One listing serves the opens of a second; even a slow debug build opens far more
    // than ten writers a second.
    assert!(reads < 200, "{reads} directory reads for 2,000 opens");
    manager.close_all().await.unwrap();
    // Each writer's retention (keep 2) found its own archives in the shared listing: the
    // oldest went, the two newest stayed.
    for (app, archives) in apps.iter().zip(&archives) {
        assert!(!archives[0].exists(), "{} kept", archives[0].display());
        assert!(archives[1].exists() && archives[2].exists(), "{app}");
        let live = std::fs::read_to_string(base.join(format!("{app}.log"))).unwrap();
        assert_eq!(live, "started\n", "{app}");
    }
}
