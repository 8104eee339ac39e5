//! Any rotation rule for a manager's apps: a default for all, an override per app, local time
//! across a daylight-saving change, and retention by age. (Its own test binary: one test sets
//! `TZ` for the process.)

mod common;

use std::sync::Arc;
use std::time::Duration;

use bunctl_logging::testing::ManualClock;
use bunctl_logging::Clock;
use bunctl_logging::StdFs;
use bunctl_logging::{AppId, LogConfig, LogManager, Period, RotationRule, WriterOptions};
use chrono::TimeZone;
use common::{lines, read_files};

#[tokio::test]
async fn a_manager_default_and_an_app_override_in_local_time_across_dst() {
    // New York: 2026-03-08 has 23 hours. chrono's Local follows TZ.
    std::env::set_var("TZ", "America/New_York");
    let start = chrono::Utc.with_ymd_and_hms(2026, 3, 7, 17, 0, 0).unwrap(); // 12:00 EST
    let clock = ManualClock::new(start);
    let dir = tempfile::tempdir().unwrap();
    let mut all = WriterOptions::default();
    all.rotation = Some(RotationRule::size(1 << 20)); // every app: by size (never reached here)
    let manager = LogManager::with_io(
        LogConfig {
            base_dir: dir.path().to_path_buf(),
            max_files: 100,
            ..LogConfig::default()
        },
        all,
        StdFs::shared(),
        Arc::new(clock.clone()),
    );
    let nightly = AppId::new("nightly").unwrap();
    let mut own = WriterOptions::default();
    own.rotation = Some(RotationRule::every(Period::Daily).in_local_time());
    manager.set_app_options(&nightly, own);
    let sized = AppId::new("sized").unwrap();
    let (n, s) = (
        manager.get_writer(&nightly).await.unwrap(),
        manager.get_writer(&sized).await.unwrap(),
    );
    // Three days in half-hour steps, one line per app per step.
    for _ in 0..144 {
        let line = format!(
            "{}",
            clock.now().with_timezone(&chrono::Local).format("%F %R %Z")
        );
        n.write_line_async(&line).await.unwrap();
        s.write_line_async(&line).await.unwrap();
        n.flush().await.unwrap();
        s.flush().await.unwrap();
        clock.advance(Duration::from_secs(1800));
    }
    manager.close_all().await.unwrap();
    assert_eq!(
        s.log_files().unwrap().len(),
        1,
        "by size only: never rotated"
    );
    let files = n.log_files().unwrap();
    assert_eq!(files.len(), 4, "three local midnights: {files:?}");
    // Each file holds exactly one local calendar day; the 8th (23 hours) has 46 half hours.
    let per_file: Vec<(String, usize)> = files
        .iter()
        .map(|f| {
            let data = read_files(std::slice::from_ref(f));
            let got = lines(&data);
            let day = String::from_utf8(got[0][..10].to_vec()).unwrap();
            assert!(
                got.iter().all(|l| l.starts_with(day.as_bytes())),
                "{f:?} spans two days"
            );
            (day, got.len())
        })
        .collect();
    assert_eq!(
        per_file,
        [
            ("2026-03-07".to_owned(), 24),
            ("2026-03-08".to_owned(), 46),
            ("2026-03-09".to_owned(), 48),
            ("2026-03-10".to_owned(), 26),
        ]
    );
}

#[tokio::test]
async fn retention_by_age_deletes_archives_older_than_max_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = WriterOptions::default();
    options.rotation = Some(RotationRule::size(64));
    options.max_age = Some(Duration::from_secs(3600));
    let manager = LogManager::with_options(
        LogConfig {
            base_dir: dir.path().to_path_buf(),
            max_files: 100,
            compression: false,
            ..LogConfig::default()
        },
        options,
    );
    let app = AppId::new("aged").unwrap();
    let w = manager.get_writer(&app).await.unwrap();
    for i in 0..10 {
        w.write_line_async(format!("old line {i:02} ......................"))
            .await
            .unwrap();
    }
    w.flush().await.unwrap();
    let archives = w.log_files().unwrap();
    assert!(archives.len() > 3, "{archives:?}");
    // Two hours pass for the archives made so far.
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    for a in &archives[..archives.len() - 1] {
        let f = std::fs::File::options().write(true).open(a).unwrap();
        f.set_modified(two_hours_ago).unwrap();
    }
    // The next rotation applies retention: only the new archive is young enough.
    for i in 0..3 {
        w.write_line_async(format!("new line {i:02} ......................"))
            .await
            .unwrap();
    }
    manager.close_all().await.unwrap();
    let left = w.log_files().unwrap();
    let text = String::from_utf8(read_files(&left)).unwrap();
    assert!(!text.contains("old line 00"), "{text}");
    assert!(text.contains("new line 02"), "{text}");
}
