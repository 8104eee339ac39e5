//! App ids with dots, end to end through the binary: `pipe --app web.v2` writes `web.v2.log`
//! and its archives, `tail`/`cat --app web.v2` read them back whole and in order, and nothing of
//! the neighbour apps `web` and `web.v2.api` in the same directory is taken for `web.v2`'s.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bunctl_log(args: &[&str], dir: &Path, input: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start bunctl-log: {e}"));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A refused id exits before reading stdin: its closed pipe is no failure of the test.
        if let Err(e) = stdin.write_all(input) {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe,
                "write to stdin: {e}"
            );
        }
    }
    child.wait_with_output().expect("wait for bunctl-log")
}

fn lines(app: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{app} line {i:06}")).collect()
}

fn pipe(dir: &Path, app: &str, n: usize) {
    let input = lines(app, n).join("\n") + "\n";
    let out = bunctl_log(
        &["pipe", "--app", app, "--max-size", "8K", "--keep", "1000"],
        dir,
        Some(input.as_bytes()),
    );
    assert!(
        out.status.success(),
        "pipe --app {app} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dotted_app_ids_write_and_read_back_their_own_files_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("a/b/c/logs");
    // Neighbours whose names share `web.v2`'s prefix or extend it.
    pipe(&dir, "web", 500);
    pipe(&dir, "web.v2", 2_000);
    pipe(&dir, "web.v2.api", 700);

    assert!(dir.join("web.v2.log").is_file(), "web.v2's live file");
    let archives = std::fs::read_dir(&dir)
        .expect("list the log dir")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("web.v2.2") && !name.starts_with("web.v2.api")
        })
        .count();
    assert!(archives > 0, "web.v2 rotated at 8K into archives");

    for (app, n) in [("web", 500), ("web.v2", 2_000), ("web.v2.api", 700)] {
        let out = bunctl_log(&["cat", "--app", app], &dir, None);
        assert!(out.status.success(), "cat --app {app}");
        let got: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            got,
            lines(app, n),
            "cat --app {app}: its lines, once, in order"
        );
    }

    let out = bunctl_log(&["tail", "-n", "3", "--app", "web.v2"], &dir, None);
    assert!(out.status.success(), "tail --app web.v2");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "web.v2 line 001998\nweb.v2 line 001999\nweb.v2 line 002000\n"
    );
}

#[test]
fn a_dotted_id_the_layout_cannot_tell_apart_is_refused_with_its_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("a/b/c/logs");
    let out = bunctl_log(&["pipe", "--app", "web.err"], &dir, Some(b"x\n"));
    assert!(!out.status.success(), "web.err would read as web's stderr");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("web.err"), "the error names the id: {err}");
    assert!(
        !dir.join("web.err.log").exists(),
        "nothing written for a refused id"
    );
}
