//! `--metrics-addr`: the writers' metrics scraped over real HTTP while lines flow, checked
//! against the files.
//!
//! Every wait polls with a generous deadline, so that a busy machine makes the tests slower,
//! not flaky. The port is found by binding port 0 and closing it; if another process takes it
//! before bunctl-log does, bunctl-log says so and the test starts it again on another port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bunctl-log");
const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `done` every 20 ms until it holds; panics with `what` after [`DEADLINE`].
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET /metrics` over a plain TCP connection: the body, or `None` if nothing answers.
fn scrape(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8(response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// The value of `name{app="...",file="<file>"}` in a Prometheus text body.
fn metric(body: &str, name: &str, file: &str) -> Option<f64> {
    let label = format!("file=\"{file}\"");
    body.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .find_map(|l| l.rsplit_once(' ')?.1.parse().ok())
}

/// A free port on 127.0.0.1, as far as anyone can tell now.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Kills bunctl-log if the test fails before it exits.
struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts bunctl-log with `args`, `--metrics-addr` on a free port and `command` (run's
/// `-- COMMAND...`), stdin piped; returns once its metrics of `app` are served.
fn start_serving(args: &[&str], command: &[&str], app: &str) -> Running {
    for _ in 0..10 {
        let addr = free_addr();
        let child = Command::new(BIN)
            .args(args)
            .arg(format!("--metrics-addr={addr}"))
            .args(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut running = Running { child, addr };
        let ours = format!("bunctl_log_lines_written_total{{app=\"{app}\"");
        let start = Instant::now();
        loop {
            if let Some(status) = running.child.try_wait().unwrap() {
                let mut err = String::new();
                let _ = running
                    .child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err);
                // Someone took the port between its check and bunctl-log's bind.
                assert!(
                    err.contains("cannot serve metrics"),
                    "bunctl-log exited with {status}: {err}"
                );
                break;
            }
            if scrape(addr).is_some_and(|body| body.contains(&ours)) {
                return running;
            }
            assert!(start.elapsed() < DEADLINE, "metrics never served");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("no free port in 10 tries");
}

/// Lines in every file of `app`, read back with `bunctl-log cat`.
fn lines_in_files(dir: &Path, app: &str) -> usize {
    let out = Command::new(BIN)
        .args(["cat", "--app", app, "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {err}", out.status);
    out.stdout.iter().filter(|&&b| b == b'\n').count()
}

fn files_of(dir: &Path, app: &str) -> usize {
    let out = Command::new(BIN)
        .args(["files", "--app", app, "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().lines().count()
}

/// Writes lines `from..to` to `stdin`; returns their bytes.
fn feed(stdin: &mut ChildStdin, from: usize, to: usize) -> usize {
    let text: String = (from..to)
        .map(|i| format!("metrics line {i:06} ..................................\n"))
        .collect();
    stdin.write_all(text.as_bytes()).unwrap();
    text.len()
}

#[test]
fn pipe_serves_counters_that_match_the_files_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut running = start_serving(
        &["pipe", "--app", "m", "--dir", d],
        &["--max-size", "16K", "--keep", "1000"],
        "m",
    );
    let mut stdin = running.child.stdin.take().unwrap();
    let addr = running.addr;
    // The pipe stays open between the batches: bunctl-log is still running at every scrape.
    let (mut lines, mut bytes) = (0, 0);
    for batch in [3_000, 2_000] {
        bytes += feed(&mut stdin, lines, lines + batch);
        lines += batch;
        let mut body = String::new();
        wait_for("the counter to agree with the files", || {
            body = scrape(addr).unwrap_or_default();
            let counted = metric(&body, "bunctl_log_lines_written_total", "m.log");
            counted == Some(lines as f64) && lines_in_files(dir.path(), "m") == lines
        });
        assert!(running.child.try_wait().unwrap().is_none());
        let written = metric(&body, "bunctl_log_bytes_written_total", "m.log");
        assert_eq!(written, Some(bytes as f64), "{body}");
        // Every rotation made one archive, and none was deleted.
        let rotations = metric(&body, "bunctl_log_rotations_total", "m.log").unwrap();
        assert!(rotations >= 5.0, "{body}");
        assert_eq!(rotations as usize + 1, files_of(dir.path(), "m"), "{body}");
        for gauge in ["bunctl_log_buffered_lines", "bunctl_log_breaker_open"] {
            assert_eq!(metric(&body, gauge, "m.log"), Some(0.0), "{gauge}: {body}");
        }
        for zero in [
            "bunctl_log_dropped_messages_total",
            "bunctl_log_lines_lost_total",
        ] {
            assert_eq!(metric(&body, zero, "m.log"), Some(0.0), "{zero}: {body}");
        }
    }
    drop(stdin);
    let status = running.child.wait().unwrap();
    assert!(status.success());
}

#[test]
fn run_serves_the_metrics_of_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // The command reads bunctl-log's stdin, which it inherits: it ends when the test says so.
    let mut running = start_serving(
        &["run", "--app", "r", "--dir", d],
        &[
            "--",
            "sh",
            "-c",
            "echo out1; echo err1 >&2; read x; echo out2",
        ],
        "r",
    );
    let addr = running.addr;
    wait_for("one line in each file, counted", || {
        let body = scrape(addr).unwrap_or_default();
        metric(&body, "bunctl_log_lines_written_total", "r.log") == Some(1.0)
            && metric(&body, "bunctl_log_lines_written_total", "r.err.log") == Some(1.0)
    });
    let body = scrape(addr).unwrap();
    for file in ["r.log", "r.err.log"] {
        assert_eq!(
            metric(&body, "bunctl_log_breaker_open", file),
            Some(0.0),
            "{body}"
        );
    }
    let mut stdin = running.child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let status = running.child.wait().unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read(dir.path().join("r.log")).unwrap(),
        b"out1\nout2\n"
    );
}

#[test]
fn an_address_in_use_is_an_error_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = Command::new(BIN)
        .args([
            "pipe",
            "--app",
            "busy",
            "--dir",
            dir.path().to_str().unwrap(),
        ])
        .arg(format!("--metrics-addr={addr}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot serve metrics on {addr}")),
        "{err}"
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}
