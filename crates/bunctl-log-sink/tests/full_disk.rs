//! A really full disk: the test re-runs itself in a private mount namespace on a 64 KiB tmpfs
//! (needs root and `unshare`; prints that it was skipped otherwise).

use std::io::{self, Write};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use bunctl_log_fs::StdFs;
use bunctl_log_rotation::{SizePolicy, SystemClock};
use bunctl_log_sink::{
    is_transient, FullDiskPolicy, RetryConfig, RetryingSink, RotatingSink, RotatingSinkConfig, Sink,
};

/// Set (to the tmpfs mount point) in the child process.
const CHILD_ENV: &str = "BUNCTL_SINK_FULL_DISK_DIR";

#[test]
fn real_full_disk() {
    on_small_tmpfs("real_full_disk", child);
}

#[test]
fn real_full_disk_deletes_old_archives_when_told_to() {
    on_small_tmpfs(
        "real_full_disk_deletes_old_archives_when_told_to",
        child_deleting_archives,
    );
}

/// Runs `child` in a private mount namespace on a fresh 64 KiB tmpfs: this test binary runs
/// itself again, exactly the test `name`, inside `unshare -m`.
fn on_small_tmpfs(name: &str, child: fn(&Path)) {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let uid = Command::new("id").arg("-u").output();
    if !uid.is_ok_and(|o| o.stdout.trim_ascii() == b"0") {
        println!("{name} skipped: not running as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mount = "mount -t tmpfs -o size=64k tmpfs \"$1\"";
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", mount, "sh"])
        .arg(dir.path())
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            println!(
                "{name} skipped: cannot mount a tmpfs in a new mount namespace: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("{name} skipped: cannot run unshare: {e}");
            return;
        }
    }
    let script = format!("{mount} && exec \"$2\" --exact {name} --nocapture --test-threads=1");
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script, "sh"])
        .arg(dir.path())
        .arg(std::env::current_exe().unwrap())
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "the child did not run the test:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("child: done"), "{stdout}");
    for l in stdout.lines().filter(|l| l.contains("child:")) {
        println!("{l}");
    }
}

/// In the namespace, `dir` is a fresh 64 KiB tmpfs. Four times the disk goes through a
/// writer that may delete its oldest archives (keeping at least one): every write succeeds,
/// the newest lines are all there, in order, and a marker says archives were deleted.
fn child_deleting_archives(dir: &Path) {
    let live = dir.join("app.log");
    let metrics = Arc::new(bunctl_log_metrics::LogMetrics::new());
    let mut sink = RotatingSink::open(
        RotatingSinkConfig {
            policy: Box::new(SizePolicy(8 << 10)),
            compression: false,
            max_files: 1000,
            full_disk: FullDiskPolicy::DeleteOldestArchives { min_archives: 1 },
            ..RotatingSinkConfig::new(&live)
        },
        StdFs::shared(),
        Arc::new(SystemClock),
    )
    .unwrap()
    .with_metrics(metrics.clone());
    let lines = 2_600u32; // 100 bytes each: 260 KB through a 64 KiB disk
    for i in 0..lines {
        let mut l = format!("{i:08} ").into_bytes();
        l.resize(99, b'.');
        l.push(b'\n');
        sink.write_all(&l).unwrap();
    }
    sink.close().unwrap();
    let deleted = metrics.snapshot().archives_deleted_for_space;
    println!("child: {deleted} archives deleted to make room");
    assert!(deleted > 10, "{deleted}");
    let files = sink.log_files().unwrap();
    assert!(files.len() >= 2, "the floor keeps one archive: {files:?}");
    let all: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    let text = String::from_utf8(all).unwrap();
    assert!(text.contains("[bunctl-log] deleted the "), "no marker");
    let numbers: Vec<u32> = text
        .lines()
        .filter(|l| !l.starts_with("[bunctl-log]"))
        .map(|l| l[..8].parse().unwrap())
        .collect();
    let first = numbers[0];
    assert_eq!(
        numbers,
        (first..lines).collect::<Vec<_>>(),
        "the newest lines, whole, in order"
    );
    println!("child: kept lines {first}..{lines}");
    println!("child: done");
}

/// In the namespace, `dir` is a fresh 64 KiB tmpfs.
fn child(dir: &Path) {
    let live = dir.join("app.log");
    let mut sink = RotatingSink::open(
        RotatingSinkConfig {
            policy: Box::new(SizePolicy(1 << 20)),
            compression: false,
            ..RotatingSinkConfig::new(&live)
        },
        StdFs::shared(),
        Arc::new(SystemClock),
    )
    .unwrap();
    sink.write_all(b"hello\n").unwrap();

    // Fill the disk: the live file keeps the rest of its first page, nothing else is free.
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let mut filled = 0usize;
    let full = loop {
        match f.write(&[b'f'; 1024]) {
            Ok(n) => filled += n,
            Err(e) => break e,
        }
        assert!(
            filled < 1 << 20,
            "not on a small tmpfs: wrote {filled} bytes"
        );
    };
    drop(f);
    assert_eq!(full.kind(), io::ErrorKind::StorageFull, "{full}");
    println!("child: disk full after {filled} filler bytes");

    let batch: Vec<u8> = (0..100u8)
        .flat_map(|i| {
            let mut l = vec![b'a' + i % 26; 99];
            l.push(b'\n');
            l
        })
        .collect();

    // A real short write: the kernel fills the page it has and says how much.
    let n = sink.write(&batch).unwrap();
    assert!(n > 0 && n < batch.len(), "short write expected, got {n}");
    println!("child: short write of {n} of {} bytes", batch.len());
    // Then ENOSPC, reported as a transient StorageFull with nothing written.
    let e = sink.write(&batch[n..]).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
    assert!(is_transient(&e));
    assert_eq!(sink.live_size(), 6 + n as u64);

    // The retrying layer sleeps, space is freed meanwhile, the retry finishes the batch.
    let slept = Arc::new(Mutex::new(0u32));
    let counter = slept.clone();
    let mut retrying = RetryingSink::new(sink, RetryConfig::default()).with_sleeper(move |_| {
        let mut c = counter.lock().unwrap();
        if *c == 0 {
            std::fs::remove_file(&filler).unwrap();
        }
        *c += 1;
    });
    retrying.write_all(&batch[n..]).unwrap();
    retrying.close().unwrap();
    assert_eq!(*slept.lock().unwrap(), 1, "one retry");

    let mut expected = b"hello\n".to_vec();
    expected.extend_from_slice(&batch);
    assert_eq!(
        std::fs::read(&live).unwrap(),
        expected,
        "every byte exactly once"
    );
    println!("child: done");
}
