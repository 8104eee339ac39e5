//! A really full disk: the test re-runs itself in a private mount namespace on a 64 KiB tmpfs
//! (needs root and `unshare`; prints that it was skipped otherwise).

use std::io::{self, Write};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use bunctl_core::fs::StdFs;
use bunctl_log_rotation::{SizePolicy, SystemClock};
use bunctl_log_sink::{
    is_transient, RetryConfig, RetryingSink, RotatingSink, RotatingSinkConfig, Sink,
};

/// Set (to the tmpfs mount point) in the child process.
const CHILD_ENV: &str = "BUNCTL_SINK_FULL_DISK_DIR";

#[test]
fn real_full_disk() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let uid = Command::new("id").arg("-u").output();
    if !uid.is_ok_and(|o| o.stdout.trim_ascii() == b"0") {
        println!("real_full_disk skipped: not running as root");
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
                "real_full_disk skipped: cannot mount a tmpfs in a new mount namespace: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("real_full_disk skipped: cannot run unshare: {e}");
            return;
        }
    }
    let script =
        format!("{mount} && exec \"$2\" --exact real_full_disk --nocapture --test-threads=1");
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
