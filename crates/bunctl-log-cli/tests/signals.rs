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

/// Whether `sig` is ignored in this process (`nohup cargo test`, a non-interactive shell's
/// background job). A child inherits that, and bunctl-log keeps a signal its caller ignored
/// ignored; the tests then check that instead.
fn ignored_here(sig: Signal) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    mask & (1 << (sig.as_raw() - 1)) != 0
}

/// For a signal ignored here: bunctl-log keeps running when it gets it, and a SIGTERM still
/// ends it.
fn check_stays_ignored(mut child: Child, sig: Signal) {
    signal(&child, sig);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "a signal ignored by bunctl-log's caller must stay ignored"
    );
    signal(&child, Signal::TERM);
    finish(child);
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

/// Kills a process the test started indirectly (a command under `run`) if the test fails, so
/// that a failing test leaves no orphan behind.
struct KillIfFailing(Option<i32>);

impl Drop for KillIfFailing {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(Pid::from_raw) {
            if std::thread::panicking() {
                let _ = kill_process(pid, Signal::KILL);
            }
        }
    }
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

    if ignored_here(sig) {
        check_stays_ignored(child, sig);
        return;
    }
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

/// `run` with a shell that prints `ready <pid>` and then loops; returns bunctl-log, the shell's
/// pid (killed if the test fails) and the log file.
fn run_shell(dir: &Path, script: &str) -> (Child, KillIfFailing, std::path::PathBuf) {
    let child = Command::new(BIN)
        .args(["run", "--app", "r", "--dir", dir.to_str().unwrap()])
        .args(["--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = dir.join("r.log");
    let mut pid = None;
    wait_for("`ready <pid>` in the log", || {
        pid = read_lossy(&log)
            .lines()
            .find_map(|l| l.strip_prefix("ready ")?.trim().parse::<i32>().ok());
        pid.is_some()
    });
    (child, KillIfFailing(pid), log)
}

/// `run` forwards `sig` to a command that traps it and exits with `code`.
fn run_forwards(sig: Signal, name: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "trap 'echo got-{name}; exit {code}' {name}; echo ready $$; \
         while :; do sleep 0.05; done"
    );
    let (child, _guard, log) = run_shell(dir.path(), &script);
    if ignored_here(sig) {
        check_stays_ignored(child, sig);
        return;
    }
    signal(&child, sig);
    let out = finish(child);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The command's last output is in the file when bunctl-log exits.
    assert!(read_lossy(&log).ends_with(&format!("got-{name}\n")));
}

#[test]
fn run_forwards_sigterm_and_exits_with_the_commands_status() {
    run_forwards(Signal::TERM, "TERM", 7);
}

#[test]
fn run_forwards_sighup() {
    run_forwards(Signal::HUP, "HUP", 9);
}

#[test]
fn run_forwards_sigint() {
    run_forwards(Signal::INT, "INT", 8);
}

#[test]
fn run_exits_128_plus_the_signal_that_killed_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let (child, _guard, _) = run_shell(dir.path(), "echo ready $$; while :; do sleep 0.05; done");
    signal(&child, Signal::TERM);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(128 + 15));
}

/// Whether `pid` is gone or a zombie (killed, not yet reaped by its new parent).
#[cfg(target_os = "linux")]
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn run_leaves_no_orphan_when_it_is_killed_with_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, guard, _) = run_shell(dir.path(), "echo ready $$; exec sleep 1000");
    let pid = guard.0.unwrap();
    assert!(!dead(pid));
    signal(&child, Signal::KILL);
    child.wait().unwrap();
    wait_for("the command to die with bunctl-log", || dead(pid));
}

/// The children of process `pid` (from every thread's list: the child is forked from one).
fn children(pid: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
    {
        let list =
            std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
        found.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    found
}

/// `run`'s command exits but leaves a process holding its output: a signal ends the capture
/// promptly (what was read is in the file), the summary says so, and `run` exits with the
/// command's status. Before, `run` waited for the `sleep` to end (20 s) whatever it was sent.
#[cfg(target_os = "linux")]
#[test]
fn a_signal_ends_the_capture_of_a_command_that_left_a_process_holding_its_output() {
    for sig in [Signal::TERM, Signal::INT, Signal::HUP] {
        if ignored_here(sig) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("a").join("b");
        let child = Command::new(BIN)
            .args(["run", "--app", "g", "--dir", logs.to_str().unwrap(), "--"])
            .args(["sh", "-c", "sleep 20 & echo child-exit; exit 5"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = logs.join("g.log");
        wait_for("the command's line", || {
            std::fs::read_to_string(&log).is_ok_and(|t| t == "child-exit\n")
        });
        // Its process group: the command leads it (the sleep stays in it).
        let mut group = None;
        wait_for("the command to exit", || {
            let now = children(child.id());
            group = group.or(now.first().copied());
            now.is_empty()
        });
        std::thread::sleep(Duration::from_millis(200));
        let sent = Instant::now();
        signal(&child, sig);
        let out = finish(child);
        let took = sent.elapsed();
        if let Some(group) = group.and_then(Pid::from_raw) {
            // A SIGINT leaves the background sleep alive (sh ignores SIGINT in it).
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(took < Duration::from_secs(10), "{sig:?}: {took:?}: {err}");
        assert_eq!(out.status.code(), Some(5), "{sig:?}: {err}");
        assert!(err.contains("ended the capture"), "{sig:?}: {err}");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "child-exit\n");
    }
}
