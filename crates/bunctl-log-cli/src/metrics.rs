//! `--metrics-addr`: the writers' metrics, served in Prometheus text format over HTTP.
//!
//! The library publishes each writer's counters, gauges and latency histograms (in seconds)
//! through the `metrics` facade, from the writer after every batch (see
//! `bunctl_logging::metric_names`), with a help text for each; but only to a recorder
//! installed before the writer is created: its handles are registered then. [`serve`] installs
//! the Prometheus recorder and starts the HTTP server, so it must run first.
//!
//! The server answers `GET` and `HEAD` of `/metrics` only (404 for any other path, 405 for
//! any other method), one connection at a time, and puts the families in name order and the
//! series of each family in label order, so that two scrapes list the same series in the same
//! order.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use bunctl_logging::metric_names;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// How long a client may take to send its request or read the answer: one connection is
/// served at a time, so a silent client must not hold the others off for long.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head read; a scrape's is a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// How often the histograms' recent samples are folded into their buckets between scrapes,
/// which bounds the memory they hold when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Binds `addr`, installs the Prometheus recorder as the global `metrics` recorder and serves
/// `/metrics` on `addr` from a thread of its own, until the process ends.
///
/// # Errors
/// If `addr` cannot be bound (in use, not an address of this machine), a recorder is already
/// installed, or the threads cannot be started.
pub fn serve(addr: SocketAddr) -> Result<(), String> {
    let cannot = |e: &dyn std::fmt::Display| format!("cannot serve metrics on {addr}: {e}");
    // Bound first: a port in use is an error before any recorder or writer exists.
    let listener = TcpListener::bind(addr).map_err(|e| cannot(&e))?;
    let mut builder = PrometheusBuilder::new();
    for name in [
        metric_names::WRITE_LATENCY_SECONDS,
        metric_names::FLUSH_LATENCY_SECONDS,
    ] {
        // The writers' own bounds: the buckets rendered are their exact counts.
        builder = builder
            .set_buckets_for_metric(
                Matcher::Full(name.to_owned()),
                &metric_names::LATENCY_BUCKETS_SECONDS,
            )
            .map_err(|e| cannot(&e))?;
    }
    let handle = builder.install_recorder().map_err(|e| cannot(&e))?;
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            upkeep.run_upkeep();
        })
        .map_err(|e| cannot(&e))?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            // A connection that failed or misbehaved concerns that client alone.
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &handle);
            }
        })
        .map_err(|e| cannot(&e))?;
    Ok(())
}

/// Reads one request from `stream` and answers it.
fn answer(mut stream: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let (status, extra_headers, body) = respond(&head, || stable_order(&handle.render()));
    let is_head = head.starts_with("HEAD ");
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    if !is_head {
        response.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&response)?;
    stream.flush()
}

/// The request head (up to the blank line, or what came before the client stopped sending).
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 || head.len() >= MAX_REQUEST_HEAD {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Status line, extra headers (each ending in CRLF) and body for the request whose head is
/// `head`; `render` makes the exposition, for `/metrics` only.
fn respond(head: &str, render: impl FnOnce() -> String) -> (&'static str, String, String) {
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return bad_request();
    };
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return bad_request();
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if path != "/metrics" {
        let body = format!("not found: {path} (the metrics are at /metrics)\n");
        return ("404 Not Found", text_plain(), body);
    }
    if method != "GET" && method != "HEAD" {
        let body = format!("method {method} not allowed: use GET or HEAD\n");
        return (
            "405 Method Not Allowed",
            format!("Allow: GET, HEAD\r\n{}", text_plain()),
            body,
        );
    }
    (
        "200 OK",
        "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n".to_owned(),
        render(),
    )
}

fn text_plain() -> String {
    "Content-Type: text/plain; charset=utf-8\r\n".to_owned()
}

fn bad_request() -> (&'static str, String, String) {
    let body = "bad request: expected a request line such as GET /metrics HTTP/1.1\n".to_owned();
    ("400 Bad Request", text_plain(), body)
}

/// `exposition` (Prometheus text format, families separated by blank lines, as the recorder
/// renders them) with the families in name order and each family's series in label order.
///
/// The recorder keeps its metrics in hash maps, so its order changes from one scrape to the
/// next. The series of a histogram or summary (its buckets or quantiles, `_sum`, `_count`)
/// stay together and in their order: a series ends at its `_count` line.
fn stable_order(exposition: &str) -> String {
    /// A family's name, its comment lines, and its series (each a group of sample lines).
    type Family<'a> = (String, Vec<&'a str>, Vec<Vec<&'a str>>);
    let mut families: Vec<Family<'_>> = Vec::new();
    for block in exposition.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            continue;
        }
        let (comments, samples): (Vec<&str>, Vec<&str>) =
            lines.into_iter().partition(|l| l.starts_with('#'));
        let type_line = comments.iter().find_map(|l| l.strip_prefix("# TYPE "));
        let mut words = type_line.unwrap_or_default().split_whitespace();
        let name = words.next().unwrap_or_default().to_owned();
        let grouped = matches!(words.next(), Some("histogram" | "summary"));
        let count_prefix = format!("{name}_count");
        let mut series: Vec<Vec<&str>> = Vec::new();
        let mut current = Vec::new();
        for sample in samples {
            current.push(sample);
            if !grouped || sample.starts_with(&count_prefix) {
                series.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            series.push(current);
        }
        // A series's first line names it: the same first bucket or quantile in every series.
        series.sort();
        families.push((name, comments, series));
    }
    families.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::with_capacity(exposition.len());
    for (_, comments, series) in families {
        for line in comments.into_iter().chain(series.into_iter().flatten()) {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// `--metrics-addr`'s value: `IP:PORT` (`[::1]:9187` for IPv6), `localhost:PORT` (127.0.0.1)
/// or `:PORT` (every IPv4 interface, 0.0.0.0, as Prometheus exporters take it), with a port
/// other than 0 (a port chosen by the system would be one nobody knows).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    const FORMS: &str = "use IP:PORT, localhost:PORT or :PORT (every IPv4 interface), such as \
                         127.0.0.1:9187, [::1]:9187 or :9187";
    let addr = if let Some(port) = s.strip_prefix(':') {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, parse_port(port)?))
    } else if let Some(port) = s.strip_prefix("localhost:") {
        SocketAddr::from((Ipv4Addr::LOCALHOST, parse_port(port)?))
    } else {
        s.parse().map_err(|_| FORMS.to_owned())?
    };
    if addr.port() == 0 {
        return Err("the port must not be 0 (nobody would know the port chosen)".into());
    }
    Ok(addr)
}

fn parse_port(port: &str) -> Result<u16, String> {
    port.parse()
        .map_err(|_| format!("'{port}' is not a port (a number from 1 to 65535)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("127.0.0.1:9187"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 9187)))
        );
        assert_eq!(
            parse_addr("localhost:9187"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 9187)))
        );
        assert_eq!(
            parse_addr(":9187"),
            Ok(SocketAddr::from(([0, 0, 0, 0], 9187)))
        );
        assert!(parse_addr("[::1]:80").is_ok());
        for bad in [
            "127.0.0.1",
            "localhost",
            "localhost:",
            "example.com:9187",
            "127.0.0.1:0",
            ":0",
            ":",
            ":x",
            "1.2.3.4:99999",
            ":99999",
        ] {
            assert!(parse_addr(bad).is_err(), "{bad}");
        }
        assert!(parse_addr(":99999")
            .unwrap_err()
            .contains("'99999' is not a port"));
        assert!(parse_addr("example.com:1")
            .unwrap_err()
            .contains("localhost:PORT"));
    }

    #[test]
    fn only_get_and_head_of_metrics_are_answered() {
        let render = || "x 1\n".to_owned();
        let status = |head: &str| respond(head, render).0;
        assert_eq!(status("GET /metrics HTTP/1.1\r\n\r\n"), "200 OK");
        assert_eq!(status("HEAD /metrics HTTP/1.0\r\n\r\n"), "200 OK");
        assert_eq!(status("GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), "200 OK");
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), "404 Not Found");
        assert_eq!(status("GET /metrics/ HTTP/1.1\r\n\r\n"), "404 Not Found");
        assert_eq!(status("GET /favicon.ico HTTP/1.1\r\n\r\n"), "404 Not Found");
        let (post, headers, _) = respond("POST /metrics HTTP/1.1\r\n\r\n", render);
        assert_eq!(post, "405 Method Not Allowed");
        assert!(headers.contains("Allow: GET, HEAD\r\n"));
        assert_eq!(status(""), "400 Bad Request");
        assert_eq!(status("GET /metrics\r\n\r\n"), "400 Bad Request");
        assert_eq!(status("GET /metrics SPDY/3\r\n\r\n"), "400 Bad Request");
        assert_eq!(respond("GET /metrics HTTP/1.1\r\n\r\n", render).2, "x 1\n");
    }

    #[test]
    fn families_and_series_come_in_a_stable_order_histograms_kept_whole() {
        let scrambled = "\
# TYPE z_total counter
z_total{app=\"b\"} 2
z_total{app=\"a\"} 1

# HELP h_seconds Latency.
# TYPE h_seconds histogram
h_seconds_bucket{app=\"b\",le=\"0.1\"} 1
h_seconds_bucket{app=\"b\",le=\"+Inf\"} 1
h_seconds_sum{app=\"b\"} 0.05
h_seconds_count{app=\"b\"} 1
h_seconds_bucket{app=\"a\",le=\"0.1\"} 0
h_seconds_bucket{app=\"a\",le=\"+Inf\"} 2
h_seconds_sum{app=\"a\"} 3
h_seconds_count{app=\"a\"} 2

# TYPE a gauge
a 1

";
        let want = "\
# TYPE a gauge
a 1

# HELP h_seconds Latency.
# TYPE h_seconds histogram
h_seconds_bucket{app=\"a\",le=\"0.1\"} 0
h_seconds_bucket{app=\"a\",le=\"+Inf\"} 2
h_seconds_sum{app=\"a\"} 3
h_seconds_count{app=\"a\"} 2
h_seconds_bucket{app=\"b\",le=\"0.1\"} 1
h_seconds_bucket{app=\"b\",le=\"+Inf\"} 1
h_seconds_sum{app=\"b\"} 0.05
h_seconds_count{app=\"b\"} 1

# TYPE z_total counter
z_total{app=\"a\"} 1
z_total{app=\"b\"} 2

";
        assert_eq!(stable_order(scrambled), want);
        assert_eq!(stable_order(want), want);
        assert_eq!(stable_order(""), "");
    }
}
