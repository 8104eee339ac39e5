//! `bunctl-log` under real signals: real processes, real pipes, real files.
//!
//! Every wait polls with a generous deadline instead of sleeping a fixed time, so that a busy
//! machine makes the tests slower, not flaky.
#![cfg(unix)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

const BIN: &str = env!("CARGO_BIN_EXE_bunctl-log");
const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `done` every 20 ms until it holds; panics with `what` after [`DEADLINE`].
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    kill_process(pid, sig).unwrap();
}

/// Waits for `child` to exit and collects its output; kills it and panics after [`DEADLINE`].
fn finish(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = kill_process(
                Pid::from_raw(i32::try_from(pid).unwrap()).unwrap(),
                Signal::KILL,
            );
            panic!("bunctl-log did not exit within {DEADLINE:?} of the signal");
        }
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn cat(dir: &Path, app: &str) -> String {
    let out = Command::new(BIN)
        .args(["cat", "--app", app, "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `pipe` fed by the test, which keeps the pipe open and silent; `sig` stops it.
fn pipe_stops_on(sig: Signal, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut child = Command::new(BIN)
        .args(["pipe", "--app", "p", "--dir", d, "--max-size", "4K"])
        .args(["--keep", "1000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let live = dir.path().join("p.log");
    let mut expected = String::new();
    for batch in 0..5 {
        let text: String = (0..200)
            .map(|i| format!("batch {batch} line {i:03}\n"))
            .collect();
        stdin.write_all(text.as_bytes()).unwrap();
        expected.push_str(&text);
        // In the file, so read: the pipe is empty before the next write.
        let last = text.lines().last().unwrap().to_owned() + "\n";
        wait_for("a batch in the live file", || {
            read_lossy(&live).contains(&last)
        });
    }
    // One write under PIPE_BUF is atomic: the partial line is read with the whole one before it.
    stdin
        .write_all(b"last whole line\npartial, no newline")
        .unwrap();
    expected.push_str("last whole line\npartial, no newline\n");
    wait_for("the last whole line in the live file", || {
        read_lossy(&live).contains("last whole line\n")
    });

    signal(&child, sig);
    let out = finish(child);
    // The pipe stayed open all along: only the signal ended it.
    drop(stdin);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{summary}");
    assert!(
        summary.contains(&format!("stopped by {name}")) && summary.contains("1002 lines"),
        "{summary}"
    );
    assert!(summary.contains("0 dropped, 0 lost"), "{summary}");
    assert_eq!(cat(dir.path(), "p"), expected);
}

#[test]
fn pipe_on_sigterm_writes_everything_it_read_and_exits_0() {
    pipe_stops_on(Signal::TERM, "SIGTERM");
}

#[test]
fn pipe_on_sigint_writes_everything_it_read_and_exits_0() {
    pipe_stops_on(Signal::INT, "SIGINT");
}
