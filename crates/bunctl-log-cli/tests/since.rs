//! `tail --since/--until` on logs written by real `pipe` runs in the timestamped and JSON
//! formats, and on a directory made by hand to check which archives are opened.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_bunctl-log");

fn bunctl_log(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Feeds `pipe --format FORMAT` ten batches 250 ms apart (so that lines span seconds and
/// many archives of 2 KiB); returns every line read back with `cat`, with its time.
fn pipe_over_time(dir: &Path, app: &str, format: &str) -> Vec<(String, String)> {
    let d = dir.to_str().unwrap();
    let mut child = Command::new(BIN)
        .args(["pipe", "--app", app, "--dir", d, "--format", format])
        .args(["--max-size", "2K", "--keep", "1000"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for batch in 0..10 {
        let text: String = (0..40)
            .map(|i| format!("batch {batch} line {i:02} \"quoted\"\n"))
            .collect();
        stdin.write_all(text.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = bunctl_log(&["files", "--app", app, "--dir", d]);
    assert!(String::from_utf8(files.stdout).unwrap().lines().count() > 10);
    // As stored (JSON objects): the range is compared line for line.
    let cat = bunctl_log(&["cat", "--app", app, "--dir", d, "--raw"]);
    let text = String::from_utf8(cat.stdout).unwrap();
    let lines: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let time = if format == "json" {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["time"].as_str().unwrap().to_owned()
            } else {
                l[..27].to_owned()
            };
            assert_eq!(time.len(), 27, "{l}");
            (time, l.to_owned())
        })
        .collect();
    assert_eq!(lines.len(), 400);
    lines
}

/// The lines whose time is in the range, in file order, as `tail` prints them.
fn expected(lines: &[(String, String)], since: Option<&str>, until: Option<&str>) -> String {
    lines
        .iter()
        .filter(|(t, _)| {
            since.is_none_or(|s| t.as_str() >= s) && until.is_none_or(|u| t.as_str() <= u)
        })
        .map(|(_, l)| format!("{l}\n"))
        .collect()
}

fn tail_range(dir: &Path, app: &str, since: Option<&str>, until: Option<&str>) -> String {
    tail_range_n(dir, app, since, until, None)
}

/// `tail [-n N] [--since S] [--until U]`'s output.
fn tail_range_n(
    dir: &Path,
    app: &str,
    since: Option<&str>,
    until: Option<&str>,
    n: Option<&str>,
) -> String {
    let dir = dir.to_str().unwrap();
    let mut args = vec!["tail", "--app", app, "--dir", dir, "--raw"];
    if let Some(n) = n {
        args.extend(["-n", n]);
    }
    if let Some(s) = since {
        args.extend(["--since", s]);
    }
    if let Some(u) = until {
        args.extend(["--until", u]);
    }
    let out = bunctl_log(&args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn round_trip(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let app = format!("t-{format}");
    let lines = pipe_over_time(dir.path(), &app, format);
    let time = |i: usize| lines[i].0.as_str();
    // The times span more than a second: the range below cuts through archives and batches.
    assert!(time(399)[..19] > time(0)[..19], "{} {}", time(0), time(399));
    for (since, until) in [
        (Some(time(100)), Some(time(300))),
        (Some(time(250)), None),
        (None, Some(time(150))),
        (Some(time(0)), Some(time(0))),
        (Some(time(399)), None),
    ] {
        let want = expected(&lines, since, until);
        assert!(!want.is_empty());
        assert_eq!(
            tail_range(dir.path(), &app, since, until),
            want,
            "{since:?}..{until:?}"
        );
    }
    // With -n: the last N of the lines in the range (docker logs --since T --tail N).
    for (since, until) in [(Some(time(100)), None), (None, Some(time(300)))] {
        let want = expected(&lines, since, until);
        let want: Vec<&str> = want.lines().collect();
        for n in ["0", "1", "7", "1000"] {
            let k: usize = n.parse().unwrap();
            let last: String = want[want.len().saturating_sub(k)..]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(
                tail_range_n(dir.path(), &app, since, until, Some(n)),
                last,
                "-n {n} {since:?}..{until:?}"
            );
        }
    }
    // Relative times: everything was written in the last hour, nothing before it.
    let all = expected(&lines, None, None);
    assert_eq!(tail_range(dir.path(), &app, Some("1h"), None), all);
    assert_eq!(tail_range(dir.path(), &app, Some("1h"), Some("0s")), all);
    assert_eq!(tail_range(dir.path(), &app, None, Some("1h")), "");
    // Other spellings: an offset instead of Z, no fraction of a second.
    let t = time(200);
    let offset = chrono::DateTime::parse_from_rfc3339(t)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    assert!(offset.ends_with("+01:00"), "{offset}");
    assert_eq!(
        tail_range(dir.path(), &app, Some(&offset), None),
        expected(&lines, Some(t), None)
    );
    let whole_second = format!("{}Z", &t[..19]);
    assert_eq!(
        tail_range(dir.path(), &app, None, Some(&whole_second)),
        expected(&lines, None, Some(&format!("{}.000000Z", &t[..19])))
    );
}

#[test]
fn timestamped_lines_in_a_range_across_rotated_files() {
    round_trip("timestamped");
}

#[test]
fn json_lines_in_a_range_across_rotated_files() {
    round_trip("json");
}

/// Lines at `hh:00`, `hh:15`, `hh:30` and `hh:45` of 2020-01-01, timestamped.
fn hour_of_lines(hh: u32, tag: &str) -> String {
    (0..4)
        .map(|q| {
            format!(
                "2020-01-01T{hh:02}:{:02}:00.000000Z {tag} {hh:02}:{:02}\n",
                q * 15,
                q * 15
            )
        })
        .collect()
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

/// Five hourly archives (00:00 to 04:00) and a live file; the archives that a range must not
/// open hold lines *in* the range that say so, and would be printed if they were read.
#[test]
fn archives_outside_the_range_are_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let name = |hh: u32, seq: u32, gz: bool| {
        let ext = if gz { ".log.gz" } else { ".log" };
        d.join(format!("k.20200101T{hh:02}0000Z-{seq:06}{ext}"))
    };
    let decoy = "2020-01-01T02:00:00.000000Z NOT-TO-BE-READ\n";
    // 00:00, ends before --since: a decoy, compressed.
    std::fs::write(name(0, 1, true), gzip(decoy)).unwrap();
    std::fs::write(name(1, 2, true), gzip(&hour_of_lines(1, "a"))).unwrap();
    std::fs::write(name(2, 3, false), hour_of_lines(2, "b")).unwrap();
    // 03:00: its lines are after --until, but they could be older than its name: opened.
    std::fs::write(name(3, 4, true), gzip(&hour_of_lines(3, "c"))).unwrap();
    // 04:00 starts after 03:00 (less a minute), which is after --until: a decoy, plain.
    std::fs::write(name(4, 5, false), decoy).unwrap();
    // The live file was born now, years after --until: a decoy.
    std::fs::write(d.join("k.log"), decoy).unwrap();
    let out = tail_range(
        d,
        "k",
        Some("2020-01-01T01:30:00Z"),
        Some("2020-01-01T02:30:00+00:00"),
    );
    assert_eq!(
        out,
        "2020-01-01T01:30:00.000000Z a 01:30\n\
         2020-01-01T01:45:00.000000Z a 01:45\n\
         2020-01-01T02:00:00.000000Z b 02:00\n\
         2020-01-01T02:15:00.000000Z b 02:15\n\
         2020-01-01T02:30:00.000000Z b 02:30\n"
    );
    // Without a range end, every file that can hold later lines is read: the decoys too.
    let all = tail_range(d, "k", Some("2020-01-01T01:59:00Z"), None);
    assert_eq!(all.matches("NOT-TO-BE-READ").count(), 2, "{all}");
}

#[test]
fn raw_logs_have_no_times_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut child = Command::new(BIN)
        .args(["pipe", "--app", "raw", "--dir", d])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a\nb\n").unwrap();
    assert!(child.wait().unwrap().success());
    let out = bunctl_log(&["tail", "--app", "raw", "--dir", d, "--since", "1h"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no times") && err.contains("--format"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // No logs at all: nothing to print, and the app was probably misspelt.
    let out = bunctl_log(&["tail", "--app", "none", "--dir", d, "--since", "1h"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no logs for app 'none' in {d}")),
        "{err}"
    );
}

#[test]
fn range_usage_errors() {
    for (args, says) in [
        (&["--since", "tomorrow"][..], "'tomorrow'"),
        (&["--until", "10y"][..], "'10y'"),
        (
            &[
                "--since",
                "2026-01-02T00:00:00Z",
                "--until",
                "2026-01-01T00:00:00Z",
            ][..],
            "is after --until",
        ),
        (
            &["--until", "1h", "-f"][..],
            "cannot be used with '--follow'",
        ),
    ] {
        let mut all = vec!["tail", "--app", "x", "--dir", "/nonexistent"];
        all.extend(args);
        let out = bunctl_log(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// `--since`/`--until` in the forms beyond RFC 3339: Unix times, a date and time with or
/// without a zone (local time from `TZ`), `now`, `yesterday`, compound durations.
#[test]
fn range_times_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("x").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("t.log"),
        "2022-01-01T00:00:00.000000Z a\n\
         2022-01-01T00:30:00.000000Z b\n\
         2022-01-01T01:00:00.000000Z c\n",
    )
    .unwrap();
    let d = logs.to_str().unwrap();
    let tail = |range: &[&str]| {
        let out = Command::new(BIN)
            .args(["tail", "t", "--dir", d])
            .args(range)
            // Two hours ahead of UTC, in POSIX TZ syntax (no zone database needed).
            .env("TZ", "XXX-2")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{range:?}: {err}");
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().map(|l| l[28..].to_owned()).collect::<String>()
    };
    assert_eq!(
        tail(&["--since", "@1640995200", "--until", "1640997000"]),
        "ab"
    );
    assert_eq!(tail(&["--since", "2022-01-01 00:30Z"]), "bc");
    assert_eq!(tail(&["--since", "2022-01-01 00:30:00+00:00"]), "bc");
    // Local: 02:30 at UTC+2 is 00:30 UTC.
    assert_eq!(tail(&["--since", "2022-01-01 02:30"]), "bc");
    assert_eq!(tail(&["--until", "2022-01-01T02:59:59"]), "ab");
    // Midnight local, 22:00 UTC the day before: every line.
    assert_eq!(tail(&["--since", "2022-01-01"]), "abc");
    assert_eq!(tail(&["--until", "now"]), "abc");
    assert_eq!(tail(&["--since", "yesterday"]), "");
    assert_eq!(tail(&["--since", "1h30m"]), "");
    assert_eq!(tail(&["--until", "1w2d"]), "abc");
}
