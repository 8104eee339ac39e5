//! `tail -f` against a writer that rotates every few KiB as fast as it can: every line exactly
//! once, in order, with compressed and with plain archives.
//!
//! Every wait has a generous deadline: a busy machine makes the tests slower, not flaky.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bunctl-log");
const DEADLINE: Duration = Duration::from_secs(60);

/// Kills a child that runs until killed, even when the test fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `tail -f -n 1` on `app`, its lines sent to the returned channel as they come.
fn tail_follow(dir: &Path, app: &str) -> (KillOnDrop, mpsc::Receiver<String>) {
    tail_with(dir, app, &["-n", "1", "-f"])
}

/// `tail` of `app` with `args`, its stdout's lines sent as they come.
fn tail_with(dir: &Path, app: &str, args: &[&str]) -> (KillOnDrop, mpsc::Receiver<String>) {
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["tail", "--app", app, "--dir", dir.to_str().unwrap()])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn line(i: usize) -> String {
    format!("line {i:06} ........................................")
}

fn every_line_once_in_order(compress: bool) {
    const LINES: usize = 40_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut pipe = Command::new(BIN)
        .args(["pipe", "--app", "f", "--dir", d, "--max-size", "4K"])
        .args(["--keep", "100000"])
        .args(if compress {
            &[][..]
        } else {
            &["--no-compress"][..]
        })
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = pipe.stdin.take().unwrap();
    stdin.write_all(b"start\n").unwrap();
    let live = dir.path().join("f.log");
    wait_for("the first line in the live file", || {
        std::fs::read(&live).is_ok_and(|d| d == b"start\n")
    });
    let (tail, lines) = tail_follow(dir.path(), "f");
    assert_eq!(lines.recv_timeout(DEADLINE).unwrap(), "start");

    // As fast as the pipe takes it: 2.2 MB, a rotation every 4 KiB (about 540).
    let text: String = (0..LINES).map(|i| line(i) + "\n").collect();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let out = pipe.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    let rotations: usize = summary
        .split(" rotations")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(rotations > 300, "{summary}");

    for i in 0..LINES {
        let got = lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("line {i} never came"));
        assert_eq!(got, line(i), "line {i}");
    }
    // Nothing twice at the end either.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines.try_recv().ok(), None);
    drop(tail);
}

#[test]
fn tail_follow_prints_every_line_once_in_order_across_fast_rotations() {
    every_line_once_in_order(true);
}

#[test]
fn tail_follow_prints_every_line_once_in_order_across_fast_plain_rotations() {
    every_line_once_in_order(false);
}

/// The follower is woken by inotify, not a timer: it holds an inotify descriptor.
#[cfg(target_os = "linux")]
#[test]
fn tail_follow_watches_the_directory_with_inotify() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.log"), "hello\n").unwrap();
    let (tail, lines) = tail_follow(dir.path(), "w");
    assert_eq!(lines.recv_timeout(DEADLINE).unwrap(), "hello");
    let fds = format!("/proc/{}/fd", tail.0.id());
    let watching = || {
        std::fs::read_dir(&fds).unwrap().any(|fd| {
            std::fs::read_link(fd.unwrap().path())
                .is_ok_and(|target| target.to_string_lossy().contains("inotify"))
        })
    };
    wait_for("an inotify descriptor", watching);
    // And it follows appends.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("w.log"))
        .unwrap();
    f.write_all(b"world\n").unwrap();
    assert_eq!(lines.recv_timeout(DEADLINE).unwrap(), "world");
}

/// `tail --since T -n N -f` (`docker logs --since T --tail N -f`): the last N of the lines
/// from T on, then what comes next; the lines before T, in an archive and in the live file, are
/// not printed.
#[test]
fn follow_from_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("x").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let at = |h: u32, text: &str| format!("2026-11-27T{h:02}:00:00.000000Z {text}\n");
    std::fs::write(
        logs.join("t.20261127T000000Z-000001.log"),
        at(0, "old archived") + &at(2, "new archived"),
    )
    .unwrap();
    // The live file ends in a line still being written: printed once, when it ends.
    std::fs::write(
        logs.join("t.log"),
        at(0, "old live")
            + &at(3, "new one")
            + &at(4, "new two")
            + "2026-11-27T05:00:00.000000Z foll",
    )
    .unwrap();
    let since = ["--since", "2026-11-27T01:00:00Z", "-f"];
    let run = |n: &str| tail_with(&logs, "t", &[&since[..], &["-n", n]].concat());
    // Without -n: the whole window, read and printed as it goes.
    let (_all, rx0) = tail_with(&logs, "t", &since);
    let (_child, rx) = run("10");
    let next = || rx.recv_timeout(DEADLINE).unwrap();
    let first: Vec<String> = (0..3).map(|_| next()).collect();
    assert_eq!(
        first,
        [at(2, "new archived"), at(3, "new one"), at(4, "new two")]
            .map(|l| l.trim_end().to_string())
    );
    let (_other, rx2) = run("2");
    let first: Vec<String> = (0..2)
        .map(|_| rx2.recv_timeout(DEADLINE).unwrap())
        .collect();
    assert_eq!(
        first,
        [at(3, "new one"), at(4, "new two")].map(|l| l.trim_end().to_string())
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(logs.join("t.log"))
        .unwrap();
    f.write_all(b"owed\n").unwrap();
    assert_eq!(next(), at(5, "followed").trim_end());
    let all: Vec<String> = (0..4)
        .map(|_| rx0.recv_timeout(DEADLINE).unwrap())
        .collect();
    assert_eq!(
        all,
        [
            at(2, "new archived"),
            at(3, "new one"),
            at(4, "new two"),
            at(5, "followed")
        ]
        .map(|l| l.trim_end().to_string())
    );
    assert_eq!(
        rx2.recv_timeout(DEADLINE).unwrap(),
        at(5, "followed").trim_end()
    );
    // Nothing else: the lines printed first are not printed again.
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
    assert!(rx0.recv_timeout(Duration::from_millis(100)).is_err());
}

/// `tail -f` of an app with stdout and stderr files: both followed, each line labelled.
#[test]
fn follow_prints_both_streams_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("x").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("s.log"), "o0\no1\n").unwrap();
    std::fs::write(logs.join("s.err.log"), "e0\ne1\n").unwrap();
    let (_child, rx) = tail_follow(&logs, "s");
    let next = || rx.recv_timeout(DEADLINE).unwrap();
    let mut first = [next(), next()];
    first.sort();
    assert_eq!(first, ["stderr: e1", "stdout: o1"]);
    let append = |name: &str, text: &str| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(logs.join(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    append("s.log", "o2\n");
    assert_eq!(next(), "stdout: o2");
    append("s.err.log", "e2\n");
    assert_eq!(next(), "stderr: e2");
    append("s.log", "[stderr] tagged\n");
    assert_eq!(next(), "[stderr] tagged");
}

/// `tail -f --stream stderr` of an app that has written no stderr yet waits for it.
#[test]
fn follow_of_one_stream_waits_for_its_first_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("x").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("w.log"), "out\n").unwrap();
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["tail", "w", "--dir", logs.to_str().unwrap()])
            .args(["-f", "--stream", "stderr"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::fs::write(logs.join("w.err.log"), "err\n").unwrap();
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), "err");
    assert!(child.0.try_wait().unwrap().is_none(), "still following");
}

/// Runs `pipe` on `app` with `input` and extra flags.
fn pipe(dir: &Path, app: &str, flags: &[&str], input: &str) {
    let mut child = Command::new(BIN)
        .args(["pipe", "--app", app, "--dir", dir.to_str().unwrap()])
        .args(flags)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// A follower paused while retention deleted archives it had not read says so on stderr,
/// once, naming the archives (1, the file it held, it read), and goes on with what is left
/// (it jumped silently before).
#[cfg(unix)]
#[test]
fn a_gap_in_tail_follow_is_named_on_stderr() {
    use rustix::process::{kill_process, Pid, Signal};

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().join("a").join("b");
    pipe(&dir, "gap", &[], "first\n");
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args([
                "tail",
                "gap",
                "--dir",
                dir.to_str().unwrap(),
                "-n",
                "1",
                "-f",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let mut stderr = child.0.stderr.take().unwrap();
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "first\n");
    let pid = Pid::from_raw(i32::try_from(child.0.id()).unwrap()).unwrap();
    kill_process(pid, Signal::STOP).unwrap();
    // Hundreds of rotations, 2 archives kept.
    let input: String = (1..=20_000).map(|i| format!("{}\n", line(i))).collect();
    pipe(
        &dir,
        "gap",
        &["--max-size", "8K", "--keep", "2", "--no-compress"],
        &input,
    );
    kill_process(pid, Signal::CONT).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in stdout.lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let last = line(20_000);
    let start = Instant::now();
    while rx.recv_timeout(DEADLINE).unwrap() != last {
        assert!(start.elapsed() < DEADLINE, "no last line");
    }
    drop(child);
    // Killed: its stderr ends.
    let mut err = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
    let gaps: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("removed before"))
        .collect();
    assert_eq!(gaps.len(), 1, "{err}");
    assert!(
        gaps[0].contains("archives (2 to ") && gaps[0].contains("gap.log"),
        "{err}"
    );
}

/// `tail -f -n 0` started while only archives exist (the live file removed) prints only what
/// is written after it started, not the archives.
#[cfg(target_os = "linux")]
#[test]
fn tail_follow_n_0_without_the_live_file_starts_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().join("a").join("b");
    let input: String = (1..=3_000).map(|i| format!("{}\n", line(i))).collect();
    pipe(&dir, "n0", &["--max-size", "8K"], &input);
    std::fs::remove_file(dir.join("n0.log")).unwrap();
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args([
                "tail",
                "n0",
                "--dir",
                dir.to_str().unwrap(),
                "-n",
                "0",
                "-f",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // Following (it prints nothing yet): its inotify watch is set up after its first look.
    let fds = format!("/proc/{}/fd", child.0.id());
    wait_for("the follower to watch the directory", || {
        std::fs::read_dir(&fds).into_iter().flatten().any(|fd| {
            fd.and_then(|fd| std::fs::read_link(fd.path()))
                .is_ok_and(|target| target.to_string_lossy().contains("inotify"))
        })
    });
    pipe(&dir, "n0", &[], "new\n");
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), "new");
}
