//! Two `bunctl-log pipe` processes on one app: the second is refused while the first runs,
//! with the file and the first one's pid, and gets the file once the first is killed -9.
//! Before the lock, both ran, archive names collided, and 1,920 of one's and 80 of the
//! other's 2,000 lines survived while both reported 2,000 written.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn pipe(dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bunctl-log"))
        .args(["pipe", "--app", "shared", "--dir"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_second_pipe_on_the_same_app_is_refused_and_a_killed_holder_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("shared.log");
    let mut first = pipe(dir.path());
    let mut first_in = first.stdin.take().unwrap();
    first_in.write_all(b"first 1\n").unwrap();
    wait_for("the first writer's line", || {
        std::fs::read(&live).is_ok_and(|d| d == b"first 1\n")
    });

    let second = pipe(dir.path());
    let out = second.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("already being written by another writer"),
        "{said}"
    );
    assert!(said.contains(&format!("pid {}", first.id())), "{said}");
    assert!(said.contains("shared.log"), "{said}");

    // The holder dies without a chance to clean up: its lock goes with it.
    first.kill().unwrap();
    first.wait().unwrap();
    let mut third = pipe(dir.path());
    let mut third_in = third.stdin.take().unwrap();
    third_in.write_all(b"third 1\n").unwrap();
    drop(third_in);
    let out = third.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&live).unwrap(), b"first 1\nthird 1\n");
}
