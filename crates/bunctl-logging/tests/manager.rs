//! The manager's side of the facade, through the public API only: app ids, the base
//! directory, one writer per app. The product README's test categories (buffer_tests,
//! rotation_tests, stress_tests, edge_cases) are in `tests/product/`.

mod common;

use std::sync::Arc;

use bunctl_logging::{AppId, Error, LogConfig, LogManager};

#[test]
fn app_ids_that_are_not_file_names_are_rejected() {
    for bad in [
        "", ".", "..", "../x", "a/b", "a\\b", "/abs", "a\0b", "a\nb", "a\tb", "-x", ".x", "a b",
        "ä",
    ] {
        let e = AppId::new(bad).unwrap_err();
        assert!(e.to_string().contains("invalid app id"), "{e}");
    }
}

#[tokio::test]
async fn ids_the_file_layout_cannot_keep_apart_are_refused_by_get_writer() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("a/b/logs");
    let manager = LogManager::new(LogConfig {
        base_dir: base.clone(),
        ..LogConfig::default()
    });
    for bad in [
        "a.err",
        "x.ERR",
        "a.20200101T000000Z-000001",
        "nul",
        "com1.x",
    ] {
        let app = AppId::new(bad).unwrap(); // bunctl's ids allow these
        let e = manager.get_writer(&app).await.unwrap_err();
        assert!(matches!(e, Error::InvalidAppId(_)), "{bad}: {e:?}");
        assert!(e.to_string().contains(bad), "{e}");
    }
    assert!(!base.exists() || std::fs::read_dir(&base).unwrap().next().is_none());
}

#[tokio::test]
async fn dotted_ids_get_files_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("a/b/logs");
    let manager = LogManager::new(LogConfig {
        base_dir: base.clone(),
        ..LogConfig::default()
    });
    let ids = [
        "web",
        "web.v2",
        "com.example.api",
        "a",
        "a.log",
        "a.b",
        "a.b.c",
    ];
    for id in ids {
        let w = manager.get_writer(&AppId::new(id).unwrap()).await.unwrap();
        w.write_line_async(format!("from {id}")).await.unwrap();
    }
    manager.close_all().await.unwrap();
    for id in ids {
        let text = std::fs::read_to_string(base.join(format!("{id}.log"))).unwrap();
        assert_eq!(text, format!("from {id}\n"), "{id}");
    }
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
