//! Replays the fuzz corpus of `LineSplitter` through the fuzz body, without libFuzzer.
//!
//! `fuzz/corpus/line_buffer/` holds hand-made seeds; `fuzz/artifacts/line_buffer/` (not in
//! git) holds inputs `cargo fuzz` found crashing, so a crash found locally fails this test
//! until it is fixed.

use std::fs;
use std::path::{Path, PathBuf};

use bunctl_log_buffer::fuzzing::check_line_splitter;

/// The seeds kept in git; the corpus holds at least these.
const SEEDS: &[&str] = &[
    "empty",
    "only_newlines",
    "crlf",
    "nul",
    "invalid_utf8",
    "long_line",
    "long_no_newline",
    "exact_max",
    "ansi_partial",
    "contains_marker",
    "max_one",
];

fn fuzz_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join("line_buffer")
}

/// Runs every file of `dir` (if it exists) and returns their names.
fn replay(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if !path.is_file() {
            continue;
        }
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let result = std::panic::catch_unwind(|| check_line_splitter(&data));
        assert!(result.is_ok(), "{} fails (input {data:?})", path.display());
        names.push(
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        );
    }
    names
}

#[test]
fn corpus_passes() {
    let names = replay(&fuzz_dir("corpus"));
    for seed in SEEDS {
        assert!(
            names.iter().any(|n| n == seed),
            "seed {seed} missing from the corpus (found {names:?})"
        );
    }
}

#[test]
fn saved_crashes_pass() {
    // Absent unless `cargo fuzz` found something; every file there must now pass.
    let names = replay(&fuzz_dir("artifacts"));
    println!("replayed {} saved fuzz artifacts", names.len());
}
