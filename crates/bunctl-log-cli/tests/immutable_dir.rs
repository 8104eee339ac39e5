//! `bunctl-log pipe` into a log directory that refuses new names (`chattr +i`) while the live
//! file itself stays writable. Every rotation's rename is refused, so the writer must go on
//! appending to the live file past its size limit, with one marker saying why, and lose
//! nothing. Before that, 20,000 lines at `--max-size 4K` wrote 1,036 and lost 18,964 ("the log
//! file is still not writable").
//!
//! Needs root (the tests run as root here) and a filesystem with the immutable attribute
//! (ext4, xfs, btrfs, ...): on one without it (tmpfs before Linux 6.0, overlayfs, NFS) the test
//! prints a note and passes. The same behaviour is covered through `FaultFs` in
//! `crates/bunctl-log-sink/tests/failed_rotation.rs`.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn chattr(flag: &str, dir: &Path) -> Output {
    Command::new("chattr")
        .arg(flag)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run chattr: {e}"))
}

/// Makes the directory mutable again when dropped, panics included, so the temporary directory
/// can be removed.
struct Immutable(PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        let out = chattr("-i", &self.0);
        if !out.status.success() {
            eprintln!(
                "chattr -i {} failed: {}",
                self.0.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The filesystem type of `dir`, for the note when it has no immutable attribute.
fn filesystem_of(dir: &Path) -> String {
    Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// Runs `bunctl-log pipe --app a --dir DIR --max-size 4K` on `input`.
fn pipe(dir: &Path, input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
        .args(["pipe", "--app", "a", "--max-size", "4K", "--dir"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn twenty_thousand_lines_into_an_immutable_directory_lose_none() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("scratch").join("immutable").join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    // The live file and its lock first: an immutable directory takes no new name.
    let out = pipe(&dir, b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = dir.join("a.log");
    assert!(live.exists());

    let out = chattr("+i", &dir);
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let fs = filesystem_of(&dir);
        let unsupported = ["Operation not supported", "Inappropriate ioctl"]
            .iter()
            .any(|s| said.contains(s));
        assert!(
            unsupported,
            "chattr +i {} failed on {fs}: {said}",
            dir.display()
        );
        eprintln!(
            "note: skipped: {} is on {fs}, which has no immutable attribute ({})",
            dir.display(),
            said.trim()
        );
        return;
    }
    let _mutable_again = Immutable(dir.clone());
    // The directory refuses new names, even to root; the live file still takes bytes.
    let refused = std::fs::write(dir.join("probe"), b"").unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);

    let input: String = (1..=20_000).map(|i| format!("{i}\n")).collect();
    let out = pipe(&dir, input.as_bytes());
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{said}");

    let text = String::from_utf8(std::fs::read(&live).unwrap()).unwrap();
    let (numbers, others): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
    let numbers: Vec<u32> = numbers.iter().map(|l| l.parse().unwrap()).collect();
    let want: Vec<u32> = (1..=20_000).collect();
    assert!(
        numbers == want,
        "{} numbered lines, not 1..=20000 once each in order; stderr: {said}",
        numbers.len()
    );
    // One marker line: the library's (they all start like the cut-line marker), naming the
    // directory and the error the rename got.
    let prefix = String::from_utf8_lossy(bunctl_logging::CUT_LINE_MARKER);
    let prefix = &prefix[..=prefix.find(' ').unwrap()];
    assert_eq!(others.len(), 1, "{others:#?}");
    let marker = others[0];
    assert!(marker.starts_with(prefix), "{marker}");
    assert!(marker.contains(&dir.display().to_string()), "{marker}");
    let eperm = std::io::Error::from(rustix::io::Errno::PERM).to_string();
    assert!(marker.contains(&eperm), "{marker}");
    // Nothing else in the directory: no archive, no `.next`.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [".a.log.lock", "a.log"]);
}
