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
    let (head, body) = request(addr, "GET", "/metrics")?;
    head.starts_with("HTTP/1.1 200").then_some(body)
}

/// `METHOD TARGET` over a plain TCP connection: the response's head and body, or `None` if
/// nothing answers.
fn request(addr: SocketAddr, method: &str, target: &str) -> Option<(String, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8(response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((head.to_owned(), body.to_owned()))
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
    start_serving_as(args, command, app, |addr| addr.to_string())
}

/// [`start_serving`], with `--metrics-addr` written as `spell(the free 127.0.0.1 address)`.
fn start_serving_as(
    args: &[&str],
    command: &[&str],
    app: &str,
    spell: impl Fn(SocketAddr) -> String,
) -> Running {
    for _ in 0..10 {
        let addr = free_addr();
        let child = Command::new(BIN)
            .args(args)
            .arg(format!("--metrics-addr={}", spell(addr)))
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

/// One sample of a Prometheus text exposition: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// A family: its `# TYPE`, whether it had a `# HELP`, and its samples in order.
#[derive(Debug, Default)]
struct Family {
    kind: String,
    help: bool,
    samples: Vec<Sample>,
}

/// Parses `body` as the Prometheus text format (version 0.0.4), checking as it goes that each
/// family has `# HELP` and `# TYPE` before its first sample, that every sample belongs to the
/// family declared last, and that every value is a number. Families in the order they came.
fn parse_exposition(body: &str) -> Vec<(String, Family)> {
    let mut families: Vec<(String, Family)> = Vec::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(!help.trim().is_empty(), "empty help: {line}");
            assert!(
                families.iter().all(|(n, _)| n != name),
                "{name} declared twice or out of order"
            );
            families.push((
                name.to_owned(),
                Family {
                    help: true,
                    ..Family::default()
                },
            ));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            let (last, family) = families.last_mut().expect("# TYPE before # HELP");
            assert_eq!(
                last, name,
                "# TYPE of another family than the # HELP before it"
            );
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            family.kind = kind.to_owned();
        } else {
            assert!(!line.starts_with('#'), "unexpected comment: {line}");
            let sample = parse_sample(line);
            let (name, family) = families.last_mut().expect("sample before any # TYPE");
            assert!(!family.kind.is_empty(), "{name} has no # TYPE");
            let base = match family.kind.as_str() {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| sample.name.strip_suffix(s))
                    .unwrap_or(&sample.name),
                _ => &sample.name,
            };
            assert_eq!(base, name, "sample {line} outside its family's block");
            family.samples.push(sample);
        }
    }
    families
}

fn parse_sample(line: &str) -> Sample {
    let (series, value) = line.rsplit_once(' ').unwrap();
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
    };
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => {
            let rest = rest.strip_suffix('}').unwrap();
            let labels = rest
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once("=\"").unwrap();
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            (name, labels)
        }
        None => (series, Vec::new()),
    };
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

type Labels = Vec<(String, String)>;

/// One series of a histogram, as checked by [`check_histograms`].
#[derive(Debug)]
struct HistogramSeries {
    family: String,
    labels: Labels,
    count: f64,
    sum: f64,
}

/// The parts of one histogram series while they are gathered.
#[derive(Default)]
struct Parts {
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
}

/// Checks every histogram of `families`: per series, buckets in ascending `le`, cumulative
/// (never decreasing), ending with `+Inf`, which equals `_count`; a `_sum` present.
fn check_histograms(families: &[(String, Family)]) -> Vec<HistogramSeries> {
    let mut series = Vec::new();
    for (name, family) in families.iter().filter(|(_, f)| f.kind == "histogram") {
        let mut by_labels: Vec<(Labels, Parts)> = Vec::new();
        for s in &family.samples {
            let mut labels = s.labels.clone();
            let le = labels
                .iter()
                .position(|(k, _)| k == "le")
                .map(|i| labels.remove(i).1);
            let i = match by_labels.iter().position(|(l, _)| *l == labels) {
                Some(i) => i,
                None => {
                    by_labels.push((labels, Parts::default()));
                    by_labels.len() - 1
                }
            };
            let parts = &mut by_labels[i].1;
            if s.name.ends_with("_bucket") {
                let le = le.expect("a bucket without le");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                parts.buckets.push((le, s.value));
            } else if s.name.ends_with("_sum") {
                parts.sum = Some(s.value);
            } else {
                parts.count = Some(s.value);
            }
        }
        for (labels, parts) in by_labels {
            let buckets = &parts.buckets;
            assert!(buckets.len() > 1, "{name}{labels:?}: {buckets:?}");
            assert!(
                buckets.windows(2).all(|w| w[0].0 < w[1].0),
                "{name}: le not ascending"
            );
            assert!(
                buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                "{name}: not cumulative"
            );
            let (last_le, inf) = *buckets.last().unwrap();
            assert_eq!(last_le, f64::INFINITY, "{name}{labels:?}: no +Inf bucket");
            let count = parts
                .count
                .unwrap_or_else(|| panic!("{name}{labels:?}: no _count"));
            assert_eq!(inf, count, "{name}{labels:?}: +Inf bucket != _count");
            let sum = parts
                .sum
                .unwrap_or_else(|| panic!("{name}{labels:?}: no _sum"));
            series.push(HistogramSeries {
                family: name.clone(),
                labels,
                count,
                sum,
            });
        }
    }
    series
}

#[test]
fn the_exposition_has_help_type_histograms_in_seconds_and_a_stable_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("a/b");
    let d = d.to_str().unwrap();
    let mut running = start_serving(&["pipe", "--app", "p", "--dir", d], &[], "p");
    let mut stdin = running.child.stdin.take().unwrap();
    feed(&mut stdin, 0, 2_000);
    let addr = running.addr;
    wait_for("the lines to be counted", || {
        let body = scrape(addr).unwrap_or_default();
        metric(&body, "bunctl_log_lines_written_total", "p.log") == Some(2_000.0)
    });
    let first = scrape(addr).unwrap();
    let families = parse_exposition(&first);
    for (name, family) in &families {
        assert!(family.help, "{name} has no # HELP");
        assert!(!name.ends_with("_us"), "{name}: not in base units");
    }
    let kind = |name: &str| {
        families
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.kind.as_str())
            .unwrap_or_else(|| panic!("{name} missing: {first}"))
    };
    assert_eq!(kind("bunctl_log_lines_written_total"), "counter");
    assert_eq!(kind("bunctl_log_buffered_lines"), "gauge");
    assert_eq!(kind("bunctl_log_write_latency_seconds"), "histogram");
    assert_eq!(kind("bunctl_log_flush_latency_seconds"), "histogram");
    let histograms = check_histograms(&families);
    let writes = histograms
        .iter()
        .find(|h| {
            h.family == "bunctl_log_write_latency_seconds"
                && h.labels.contains(&("file".to_owned(), "p.log".to_owned()))
        })
        .unwrap_or_else(|| panic!("no write latency of p.log: {first}"));
    // 2,000 lines took at least one batch, each well under a minute.
    assert!(writes.count >= 1.0, "{first}");
    assert!(
        writes.sum > 0.0 && writes.sum < 60.0 * writes.count,
        "{first}"
    );

    // Families in name order; the same families and series in the same order at every scrape.
    let names: Vec<&String> = families.iter().map(|(n, _)| n).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let series = |families: &[(String, Family)]| -> Vec<(String, Labels)> {
        families
            .iter()
            .flat_map(|(_, f)| f.samples.iter().map(|s| (s.name.clone(), s.labels.clone())))
            .collect()
    };
    for _ in 0..5 {
        assert_eq!(
            series(&parse_exposition(&scrape(addr).unwrap())),
            series(&families)
        );
    }
    drop(stdin);
    assert!(running.child.wait().unwrap().success());
}

#[test]
fn only_get_and_head_of_metrics_answer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("a/b");
    let d = d.to_str().unwrap();
    let running = start_serving(&["pipe", "--app", "h", "--dir", d], &[], "h");
    let addr = running.addr;
    let status = |method: &str, target: &str| {
        let (head, body) = request(addr, method, target).expect("no answer");
        (head.lines().next().unwrap().to_owned(), head, body)
    };
    for path in ["/", "/metricsx", "/metrics/", "/favicon.ico", "/debug"] {
        let (line, _, body) = status("GET", path);
        assert_eq!(line, "HTTP/1.1 404 Not Found", "{path}");
        assert!(body.contains("/metrics"), "{path}: {body}");
    }
    let (line, head, _) = status("POST", "/metrics");
    assert_eq!(line, "HTTP/1.1 405 Method Not Allowed");
    assert!(head.contains("Allow: GET, HEAD"), "{head}");
    let (line, head, body) = status("HEAD", "/metrics");
    assert_eq!(line, "HTTP/1.1 200 OK");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert_eq!(body, "", "HEAD has no body");
    let (line, _, body) = status("GET", "/metrics?name[]=x");
    assert_eq!(line, "HTTP/1.1 200 OK");
    assert!(
        body.contains("# TYPE bunctl_log_lines_written_total counter"),
        "{body}"
    );
}

#[test]
fn localhost_port_and_colon_port_are_accepted() {
    for spell in [
        (|a: SocketAddr| format!("localhost:{}", a.port())) as fn(SocketAddr) -> String,
        // Every IPv4 interface, loopback included.
        |a: SocketAddr| format!(":{}", a.port()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        let running = start_serving_as(
            &["pipe", "--app", "l", "--dir", d.to_str().unwrap()],
            &[],
            "l",
            spell,
        );
        assert!(scrape(running.addr).is_some());
    }
    let out = Command::new(BIN)
        .args(["pipe", "--app", "x", "--metrics-addr", "nosuchhost:9187"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nosuchhost:9187") && err.contains("localhost:PORT"),
        "{err}"
    );
}
