//! `RotatingSink`s opened in one directory with a `SharedListing`: the directory is read a
//! few times, not once per writer, and each writer still finds exactly its own archives.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bunctl_log_fs::{FaultFs, Filesystem, Op};
use bunctl_log_rotation::{ArchiveNaming, NeverPolicy, SharedListing, SizePolicy, SystemClock};
use bunctl_log_sink::{RotatingSink, RotatingSinkConfig, Sink};
use chrono::{TimeZone, Utc};

fn logs_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("srv/bunctl/logs");
    std::fs::create_dir_all(&dir).unwrap();
    (tmp, dir)
}

/// Three compressed archives (seqs 1-3) of `live`, as a writer before a restart left them.
fn three_archives(live: &Path) -> Vec<PathBuf> {
    let naming = ArchiveNaming::new(live).unwrap();
    let t = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
    (1..=3)
        .map(|seq| {
            let gz = PathBuf::from(format!("{}.gz", naming.archive_path(t, seq).display()));
            std::fs::write(&gz, b"gz").unwrap();
            gz
        })
        .collect()
}

fn config(live: &Path, listing: &Arc<SharedListing>) -> RotatingSinkConfig {
    RotatingSinkConfig {
        policy: Box::new(NeverPolicy),
        max_files: 2,
        compression: false,
        listing: Some(listing.clone()),
        ..RotatingSinkConfig::new(live)
    }
}

fn open(fs: &Arc<dyn Filesystem>, config: RotatingSinkConfig) -> RotatingSink {
    RotatingSink::open(config, fs.clone(), Arc::new(SystemClock)).unwrap()
}

#[test]
fn two_thousand_writers_read_their_directory_far_fewer_than_two_thousand_times() {
    let (_tmp, dir) = logs_dir();
    let apps: Vec<PathBuf> = (0..2000)
        .map(|i| dir.join(format!("app-{i:04}.log")))
        .collect();
    let archives: Vec<Vec<PathBuf>> = apps.iter().map(|live| three_archives(live)).collect();
    let (fs, faults) = FaultFs::shared();
    // Long-lived, so the count does not depend on how fast the machine opens them.
    let listing = Arc::new(SharedListing::new(
        fs.clone(),
        &dir,
        Duration::from_secs(3600),
    ));
    for live in &apps {
        let mut sink = open(&fs, config(live, &listing));
        sink.write_all(b"started\n").unwrap();
        sink.close().unwrap();
    }
    let reads = faults.calls(Op::ReadDir);
    assert!(reads <= 2, "{reads} directory reads for 2,000 opens");
    assert_eq!(listing.listings_taken(), 1);
    // Each writer's retention (keep 2) worked on its own archives, found in the shared
    // listing: the oldest went, the two newest stayed, nobody else's was touched.
    for (live, archives) in apps.iter().zip(&archives) {
        assert!(!archives[0].exists(), "{} kept", archives[0].display());
        assert!(
            archives[1].exists() && archives[2].exists(),
            "{}",
            live.display()
        );
        assert_eq!(std::fs::read(live).unwrap(), b"started\n");
    }
}

#[test]
fn a_reopen_after_the_apps_own_files_changed_lists_afresh() {
    let (_tmp, dir) = logs_dir();
    let live = dir.join("web.log");
    three_archives(&live);
    let (fs, _faults) = FaultFs::shared();
    let listing = Arc::new(SharedListing::new(
        fs.clone(),
        &dir,
        Duration::from_secs(3600),
    ));
    let rotating = |listing: &Arc<SharedListing>| RotatingSinkConfig {
        policy: Box::new(SizePolicy(8)),
        max_files: 100,
        ..config(&live, listing)
    };
    // Its own writer rotates twice (archives 4 and 5) and closes.
    let mut sink = open(&fs, rotating(&listing));
    sink.write_all(b"line 1\nline 2\nline 3\n").unwrap();
    sink.close().unwrap();
    drop(sink);
    // (Its rotations read the directory for retention, as without a shared listing.)
    assert_eq!(listing.listings_taken(), 1);
    // The next open of it, within the listing's life, must not take the old share (seqs
    // 1-3): its next rotation is 6, not a second 4.
    let mut sink = open(&fs, rotating(&listing));
    sink.write_all(b"line 4\n").unwrap();
    sink.close().unwrap();
    drop(sink);
    assert_eq!(listing.listings_taken(), 2);
    let naming = ArchiveNaming::new(&live).unwrap();
    let seqs: Vec<u64> = naming
        .scan(fs.as_ref())
        .unwrap()
        .archives
        .iter()
        .map(|a| a.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
}
