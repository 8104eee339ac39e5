//! The manager's side of the facade, through the public API only: app ids, the base
//! directory, one writer per app. The product README's test categories (buffer_tests,
//! rotation_tests, stress_tests, edge_cases) are in `tests/product/`.

mod common;

use std::sync::Arc;

use bunctl_logging::{AppId, Error, LogConfig, LogManager};

#[test]
fn every_invalid_app_id_is_rejected() {
    for bad in [
        "", ".", "..", "../x", "a/b", "a\\b", "/abs", "a\0b", "a\nb", "a\tb", "-x", ".x", "con",
        "NUL", "com1", "lpt1.txt", "a b", "ä",
    ] {
        let e = AppId::new(bad).unwrap_err();
        let as_error: Error = e.into();
        assert!(matches!(as_error, Error::InvalidAppId(_)));
        assert!(
            as_error.to_string().contains("invalid app id"),
            "{as_error}"
        );
    }
    assert!(AppId::new("x".repeat(65)).is_err());
    assert!(AppId::new("x".repeat(64)).is_ok());
}

#[tokio::test]
async fn a_base_dir_that_cannot_be_created_is_named_in_the_error() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let base = blocker.join("logs");
    let manager = LogManager::new(LogConfig {
        base_dir: base.clone(),
        ..LogConfig::default()
    });
    let err = manager
        .get_writer(&AppId::new("web").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&*base.to_string_lossy()), "{msg}");
    assert!(msg.contains("create log directory"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_writer_gives_one_writer_per_app_even_when_asked_at_once() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let manager = Arc::new(LogManager::new(LogConfig {
        base_dir: dir.path().join("logs"),
        ..LogConfig::default()
    }));
    let app = AppId::new("web").unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (m, a) = (manager.clone(), app.clone());
            tokio::spawn(async move { m.get_writer(&a).await.unwrap() })
        })
        .collect();
    let mut writers = Vec::new();
    for t in tasks {
        writers.push(t.await.unwrap());
    }
    assert!(writers.iter().all(|w| Arc::ptr_eq(w, &writers[0])));
    assert_eq!(writers[0].path(), dir.path().join("logs").join("web.log"));
    let other = manager
        .get_writer(&AppId::new("db").unwrap())
        .await
        .unwrap();
    assert!(!Arc::ptr_eq(&other, &writers[0]));
    writers[0].write_line("from web").unwrap();
    other.write_line("from db").unwrap();
    manager.close_all().await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("logs/web.log")).unwrap(),
        b"from web\n"
    );
    assert_eq!(
        std::fs::read(dir.path().join("logs/db.log")).unwrap(),
        b"from db\n"
    );
    assert!(writers[0].write_line("late").is_err());
}
