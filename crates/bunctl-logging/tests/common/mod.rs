//! Helpers shared by the facade's integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

/// Shows the library's own `tracing` events (rotations, reopens, retries, the breaker, batch
/// sizes at `trace`) as `RUST_LOG` selects them: `RUST_LOG=debug cargo test -p bunctl-logging
/// -- --nocapture`. Installs one subscriber per test binary, the first time any test calls
/// it; later calls do nothing. Events go through the test harness's capture, so without
/// `--nocapture` only a failing test's events are printed. Without `RUST_LOG`, errors only.
pub fn init_tracing() {
    // Err only if a subscriber is already installed: by an earlier call, which is the point.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The contents of `files` in order, gzip ones decompressed (checking they are valid gzip).
pub fn read_files(files: &[PathBuf]) -> Vec<u8> {
    let mut all = Vec::new();
    for f in files {
        let raw = std::fs::read(f).unwrap();
        if f.extension().is_some_and(|e| e == "gz") {
            let mut d = flate2::read::GzDecoder::new(&raw[..]);
            d.read_to_end(&mut all)
                .unwrap_or_else(|e| panic!("{} is not valid gzip: {e}", f.display()));
        } else {
            all.extend_from_slice(&raw);
        }
    }
    all
}

/// Lines of `bytes` (without their `\n`), which must end with `\n` if not empty.
pub fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return Vec::new();
    }
    assert_eq!(
        bytes.last(),
        Some(&b'\n'),
        "file content does not end with a newline"
    );
    bytes[..bytes.len() - 1].split(|&b| b == b'\n').collect()
}

/// Whether `line` is a marker the writer put into the file (drops or losses).
pub fn is_marker(line: &[u8]) -> bool {
    bunctl_logging::is_marker(line)
}

/// The number of lines a drop or loss marker says are missing.
pub fn marker_count(line: &[u8]) -> u64 {
    bunctl_logging::Marker::dropped_lines(line)
        .or_else(|| bunctl_logging::Marker::lost_lines(line))
        .unwrap_or_else(|| {
            panic!(
                "not a drop or loss marker: {}",
                String::from_utf8_lossy(line)
            )
        })
}

/// Names of the entries of `dir`, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The paths this process has open (its `/proc/self/fd` links) under `dir`.
#[cfg(target_os = "linux")]
pub fn open_under(dir: &Path) -> Vec<PathBuf> {
    let mut open: Vec<PathBuf> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.starts_with(dir))
        .collect();
    open.sort();
    open
}
