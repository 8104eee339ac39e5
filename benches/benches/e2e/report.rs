//! The report: markdown tables on stdout (one per workload with ratios to the ceiling and the
//! peers, the idle writers, a summary, notes and warnings) and the JSON file with every run
//! and its medians (`<target>/bench/e2e-<unix time>.json`, `e2e-latest.json`, `--out`).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bunctl_logging::LineFormat;
use serde_json::{json, Value};

use crate::options::Options;
use crate::stats::num;
use crate::systems::System;
use crate::workload::Workload;
use crate::{target_dir, workspace_root, Res};

pub(crate) fn fmt_int(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{:.0}", x);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// `x` with `decimals` decimals, or "—" if it was not measured.
fn fmt_dec(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "—".into()
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "n/a".into()
    }
}

fn must_be_lossless(system: System) -> bool {
    system.lossless()
}

/// A problem with a lossless system (lost, torn or duplicated lines), if any.
pub(crate) fn violation(system: System, m: &Value) -> Option<String> {
    let (lost, torn, dup) = (num(m, "lost"), num(m, "torn"), num(m, "duplicates"));
    let bad = lost > 0.0 || torn > 0.0 || dup > 0.0;
    (must_be_lossless(system) && bad).then(|| {
        format!(
            "{}: {} lines lost, {} torn, {} duplicated (worst run)",
            system.name(),
            fmt_int(lost),
            fmt_int(torn),
            fmt_int(dup)
        )
    })
}

fn workload_table(
    workload: Workload,
    lines: u64,
    systems: &[System],
    medians: &BTreeMap<(Workload, System), Value>,
    warnings: &mut Vec<String>,
) -> String {
    let mut s = String::new();
    let get = |sys: System| medians.get(&(workload, sys));
    let rate = |sys: System| get(sys).map_or(f64::NAN, |m| num(m, "lines_per_s"));
    let producers = workload.producers() as u64;
    s += &format!(
        "### {} — {}, {} lines of 100 bytes ({} per producer)\n\n",
        workload.name(),
        workload.describe(),
        fmt_int(lines as f64),
        fmt_int((lines / producers) as f64)
    );
    s += "| system | mode | lines/s | MB/s | accepted lines/s | shutdown ms | p50 ns | p99 ns \
          | p99.9 ns | peak RSS MiB | lost | torn | ×ceiling | ×tracing-appender | ×spdlog |\n";
    s += "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for &sys in systems {
        if !sys.supports(workload) {
            // Only `rotating` lists the systems it cannot run for want of size rotation
            // (footnote ¹); the rest is left out (the line-format systems run `single` only,
            // `tracing` is for the systems with a `MakeWriter`).
            if workload != Workload::Rotating || sys.line_format() != LineFormat::Raw {
                continue;
            }
            s += &format!(
                "| {} | {} | n/a¹ | | | | | | | | | | | | |\n",
                sys.name(),
                sys.mode()
            );
            continue;
        }
        let Some(m) = get(sys) else {
            s += &format!(
                "| {} | {} | failed | | | | | | | | | | | | |\n",
                sys.name(),
                sys.mode()
            );
            continue;
        };
        let shutdown = if sys.has_shutdown() {
            format!("{:.1}", num(m, "shutdown_s") * 1e3)
        } else {
            "—".to_string()
        };
        let r = num(m, "lines_per_s");
        let lost = if sys.lossless() {
            let lost = num(m, "lost");
            if lost > 0.0 {
                format!("**⚠ {}**", fmt_int(lost))
            } else {
                "0".into()
            }
        } else {
            format!("kept {:.1}%", num(m, "kept_pct"))
        };
        let torn = num(m, "torn");
        let torn = if torn > 0.0 {
            format!("**⚠ {}**", fmt_int(torn))
        } else {
            "0".into()
        };
        if let Some(v) = violation(sys, m) {
            warnings.push(format!("{}: {v}", workload.name()));
        }
        let peer = |p: System| {
            if p == sys {
                "—".to_string()
            } else {
                ratio(r, rate(p))
            }
        };
        let ceiling = if sys == System::Ceiling {
            "—".to_string()
        } else {
            ratio(r, rate(System::Ceiling))
        };
        s += &format!(
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |\n",
            sys.name(),
            sys.mode(),
            fmt_int(r),
            num(m, "mb_per_s"),
            fmt_int(num(m, "accepted_lines_per_s")),
            shutdown,
            fmt_int(num(m, "p50_ns")),
            fmt_int(num(m, "p99_ns")),
            fmt_int(num(m, "p999_ns")),
            num(m, "peak_rss_mib"),
            lost,
            torn,
            ceiling,
            peer(sys.peer_ta()),
            peer(sys.peer_spdlog()),
        );
    }
    s.push('\n');
    s
}

/// The cost of bunctl's line formats in `single`: each format's row next to raw, with the
/// bytes each line takes in the file.
fn format_table(lines: u64, medians: &BTreeMap<(Workload, System), Value>) -> String {
    let rows = [
        ("raw", System::BunctlLossless),
        ("timestamped", System::BunctlLosslessTs),
        ("json", System::BunctlLosslessJson),
    ];
    let get = |sys: System| medians.get(&(Workload::Single, sys));
    if get(System::BunctlLosslessTs).is_none() && get(System::BunctlLosslessJson).is_none() {
        return String::new();
    }
    let raw = get(System::BunctlLossless).map_or(f64::NAN, |m| num(m, "lines_per_s"));
    let mut s = format!(
        "### Line formats — single, bunctl-lossless, {} lines, `WriterOptions::format`\n\n\
         | format | system | lines/s | ×raw | file bytes/line | file MB/s | p50 ns | p99 ns \
         | shutdown ms | lost | torn |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        fmt_int(lines as f64)
    );
    for (format, sys) in rows {
        let Some(m) = get(sys) else { continue };
        let r = num(m, "lines_per_s");
        let per_line = num(m, "bytes_read") / num(m, "lines");
        s += &format!(
            "| {format} | {} | {} | {} | {:.1} | {:.1} | {} | {} | {:.1} | {} | {} |\n",
            sys.name(),
            fmt_int(r),
            if sys == System::BunctlLossless {
                "—".to_string()
            } else {
                ratio(r, raw)
            },
            per_line,
            r * per_line / 1e6,
            fmt_int(num(m, "p50_ns")),
            fmt_int(num(m, "p99_ns")),
            num(m, "shutdown_s") * 1e3,
            fmt_int(num(m, "lost")),
            fmt_int(num(m, "torn")),
        );
    }
    s.push('\n');
    s
}

/// The notes under the throughput tables: what the columns mean, how the peers are set up.
const NOTES: &str =
    "Notes: lines/s counts lines offered (write calls) over the wall time, from the first \
       write to the point where every line is in the OS page cache (listed above for each \
       system). Shutdown ms is bunctl's `shutdown()` after that point (fsync, the wait for \
       compression in `rotating`, the join of its threads), outside the wall time; the \
       peers' clocks already stop at their end (—). Accepted lines/s stops the clock when \
       the last write call returns: how fast producers got their lines taken, before the \
       final drain. Latency is one write call on the producer side (for bunctl-lossless in \
       threads: the `try_write_line` retry loop until accepted). Lossy systems report the \
       share of lines kept instead of lines lost. ×peer columns compare with the peer of \
       the same mode (lossless: tracing-appender-lossless / spdlog-block; lossy: \
       tracing-appender-lossy / spdlog-drop). The ceiling is one 64 KiB `BufWriter<File>` \
       (behind a `Mutex` for several producers), with no channel and, in `rotating`, no \
       rotation. Peers use their defaults: tracing-appender's 128,000 buffered lines, \
       spdlog's 8,192-task queue on one thread, ftlog's queue of 100,000 messages \
       (ftlog-block: `bounded(100_000, true)`; ftlog-drop: its default, dropping) and one \
       thread that formats and writes through an 8 KiB `BufWriter`; fast_log with \
       `chan_len(Some(100_000))` as its README recommends (its default channel is \
       unbounded), one formatting and one appender thread (between them a second channel of up \
       to 100,000 batches, so far more than 100,000 lines can be in memory: see its peak \
       RSS). fast_log and ftlog are fed with \
       `log::info!(\"{}\", line)` and set to a plain message format (no time, level or \
       location); ftlog still writes ` {delay}ms ` in front of each message (the time \
       between the call and its formatting; it cannot be turned off), which the read-back \
       strips; MB/s counts the 101 bytes of each line for every system. In `tracing` \
       every system gets the same subscriber, `tracing_subscriber::fmt()` with \
       `.with_ansi(false).without_time().with_level(false).with_target(false)` (the line \
       is the message alone), the default of each producer thread: bunctl through \
       bunctl-log-tracing's `LogMakeWriter` (lossless: `try_write_line`, then wait when \
       full; lossy: drop and mark), tracing-appender through `NonBlocking` \
       (`NonBlockingBuilder::default().lossy(false)` / `.lossy(true)`) over \
       `rolling::never`, the ceiling through its shared `BufWriter`; latency is one \
       `info!` call, formatting included. bunctl-lossless-ts and bunctl-lossless-json \
       (`single` only) are bunctl-lossless with `WriterOptions::format` set to \
       `LineFormat::Timestamped` / `LineFormat::Json`: each line gets the time it was \
       accepted (and, in JSON, is escaped into a Docker json-file object); their MB/s \
       counts the 101 bytes of the line like every row, the file bytes are in the line \
       format table; the read-back checks the timestamp / parses the object and takes the \
       line from its `log` field.\n\
       ¹ tracing-appender has no size rotation and ftlog rotates by time only; fast_log's \
       size rotation (`file_split`) is not set up here: n/a in `rotating` (spdlog uses its \
       `RotatingFileSink` by size, 8 MiB, max_files 1000, no compression; with its default \
       max_files 0, \"no limit\", spdlog-rs 0.5 truncates the live file at each rotation \
       and loses everything written before).\n\n";

/// What `close_all()` returned in one idle run: `Ok`, or its errors counted by kind.
pub(crate) fn close_all_outcome(run: &Value) -> String {
    if run.get("close_all_ok").and_then(Value::as_bool) == Some(true) {
        return "Ok".into();
    }
    let kinds = run
        .get("close_all_error_kinds")
        .and_then(Value::as_object)
        .map(|kinds| {
            kinds
                .iter()
                .map(|(kind, n)| format!("{kind} × {}", fmt_int(n.as_f64().unwrap_or(f64::NAN))))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!("Err: {kinds}")
}

/// The idle writers, a row per idle workload: what they cost while idle, and `close_all()`.
fn idle_table(
    workloads: &[Workload],
    raw: &BTreeMap<(Workload, System), Vec<Value>>,
    medians: &BTreeMap<(Workload, System), Value>,
    warnings: &mut Vec<String>,
) -> String {
    let mut rows = String::new();
    for &w in workloads.iter().filter(|w| w.idle_writers().is_some()) {
        let key = (w, System::BunctlLossless);
        let (Some(m), Some(runs)) = (medians.get(&key), raw.get(&key)) else {
            continue;
        };
        let outcomes: Vec<String> = runs.iter().map(close_all_outcome).collect();
        for (i, run) in runs.iter().enumerate() {
            if let Some(e) = run.get("open_error").and_then(Value::as_str) {
                warnings.push(format!(
                    "{} run {}: opened {} of {} writers; the next failed: {e}",
                    w.name(),
                    i + 1,
                    fmt_int(num(run, "opened")),
                    fmt_int(num(run, "writers"))
                ));
            }
            if outcomes[i] != "Ok" {
                warnings.push(format!(
                    "{} run {}: close_all() returned {}",
                    w.name(),
                    i + 1,
                    outcomes[i]
                ));
            }
        }
        let limit = |key: &str| match m.get(key) {
            Some(Value::Null) => "unlimited".to_string(),
            _ => fmt_int(num(m, key)),
        };
        rows += &format!(
            "| {} | {} / {} | {} / {} | {:.1} | {} / {} | {} | {:.1} | {:.2} | {} | {} | {:.0} | {} |\n",
            w.name(),
            fmt_int(num(m, "opened")),
            fmt_int(num(m, "writers")),
            limit("nofile_soft"),
            limit("nofile_hard"),
            num(m, "open_s"),
            fmt_dec(num(m, "open_first_ms"), 2),
            fmt_dec(num(m, "open_last_ms"), 2),
            fmt_int(num(m, "threads_after")),
            num(m, "rss_per_writer_kib"),
            num(m, "fds_per_writer"),
            fmt_dec(num(m, "cpu_pct"), 3),
            fmt_dec(num(m, "wakeups_per_s"), 1),
            num(m, "close_all_s") * 1e3,
            outcomes.join("; "),
        );
    }
    if rows.is_empty() {
        return rows;
    }
    format!(
        "### Idle writers — one LogManager, each writer opened, given one line, flushed and left \
         alone (bunctl only)\n\n\
         | workload | writers opened | fd limit soft / hard | open s | ms per open, first / \
         last tenth | threads | RSS per idle writer KiB | descriptors per idle writer | CPU (% of one core) | wake-ups \
         (context switches) /s | close_all ms | close_all (each run) |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n\
         {rows}\n\
         Writers share the library's pool of threads (an idle writer has no thread and no \
         timer); a quiet writer closes its live file after `close_idle_after` (2 s) and keeps \
         its lock file open: one descriptor (two while it writes). The child sets its soft \
         descriptor limit to 16,384 (the hard limit if lower; both with `--nofile N`) and holds 16 descriptors \
         back while it opens writers, released before it measures (the measurement reads \
         `/proc`); a writer that cannot be opened ends the opening, and the writers opened \
         are measured. Opening one is `get_writer`, one `write_line` and `flush()`, one \
         writer after the other; the first and last tenth (at most 1,000 writers each) are \
         timed apart. CPU and wake-ups are the whole process's over the idle window, RSS \
         the growth from before the first writer. `close_all()` shuts every writer down \
         concurrently, each bounded by its `shutdown_timeout` (10 s); its errors are counted \
         by kind.\n\n"
    )
}

/// `apps1000`: the busy app alone and among the 1,000 apps, and what the apps cost.
fn apps_table(m: &Value) -> String {
    let mut s = format!(
        "### apps1000 — one LogManager: {} apps at 10 lines/s each and one busy app, \
         {} lines per phase (bunctl only, lossless)\n\n",
        fmt_int(num(m, "apps")),
        fmt_int(num(m, "busy_lines")),
    );
    s += "| busy app | lines/s | p99 ns | CPU % of one core |\n|---|--:|--:|--:|\n";
    for (phase, key) in [
        ("alone, before the apps are opened", "alone_before"),
        ("with the apps' traffic", "loaded"),
        ("alone, after their traffic stopped", "alone_after"),
    ] {
        s += &format!(
            "| {phase} | {} | {} | {} |\n",
            fmt_int(num(m, &format!("{key}_lines_per_s"))),
            fmt_int(num(m, &format!("{key}_p99_ns"))),
            fmt_dec(num(m, &format!("{key}_cpu_pct")), 0),
        );
    }
    s += &format!(
        "\n| with the apps ×alone | apps' lines/s | CPU % for the apps' traffic alone | \
         wake-ups (context switches) /s | threads | close_all ms | peak RSS MiB | lost \
         (busy / apps) | torn (busy / apps) |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n\
         | {:.2}× | {} | {} | {} | {} | {:.0} | {:.1} | {} / {} | {} / {} |\n\n",
        num(m, "loaded_vs_alone"),
        fmt_int(num(m, "app_lines_per_s")),
        fmt_dec(num(m, "background_cpu_pct"), 1),
        fmt_int(num(m, "background_wakeups_per_s")),
        fmt_int(num(m, "threads")),
        num(m, "close_all_s") * 1e3,
        num(m, "peak_rss_mib"),
        fmt_int(num(m, "busy_lost")),
        fmt_int(num(m, "apps_lost")),
        fmt_int(num(m, "busy_torn")),
        fmt_int(num(m, "apps_torn")),
    );
    s += "The apps: one tokio task per 100 apps ticks every 10 ms (the tasks' ticks spread over \
          the 10 ms) and writes one line to 10 of its apps with `write_line_async`, so each app \
          gets a line every 100 ms. The busy app: one thread, `try_write_line` retried when \
          full, as in `single`; each phase's clock stops when the busy writer's `flush()` \
          returns. ×alone is the loaded phase over the mean of the two alone phases. No \
          rotation (`max_file_size` u64::MAX, no compression); the manager's other defaults \
          (8 KiB `buffer_size`, 100 ms `flush_interval`). CPU is counted in clock ticks of \
          10 ms. Lost and torn: every app's file read back after `close_all()` (worst run).\n\n";
    s
}

/// The header paragraph that says where each system's clock stops.
fn clock_stops(systems: &[System]) -> String {
    let mut s = String::from(
        "The clock of every throughput row starts at the first write and stops when every line \
         is in the OS page cache:\n\n",
    );
    // Systems that stop at the same point share a line.
    let mut stops: Vec<(Vec<&str>, &str)> = Vec::new();
    for &sys in systems {
        match stops.iter_mut().find(|(_, stop)| *stop == sys.clock_stop()) {
            Some((names, _)) => names.push(sys.name()),
            None => stops.push((vec![sys.name()], sys.clock_stop())),
        }
    }
    for (names, stop) in stops {
        s += &format!("- {}: {stop}\n", names.join(", "));
    }
    s.push('\n');
    s
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(workspace_root())
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Prints the markdown report on stdout (a table per workload, the idle writers, the summary,
/// the notes and the warnings) and writes the JSON file(s).
pub(crate) fn publish(
    o: &Options,
    raw: &BTreeMap<(Workload, System), Vec<Value>>,
    medians: &BTreeMap<(Workload, System), Value>,
    failures: &[String],
    lines_for: impl Fn(Workload) -> u64,
    started: Instant,
) -> Res<()> {
    let mut warnings = Vec::new();
    let mut md = String::new();
    md += &format!(
        "## bunctl-logging end-to-end benchmark{}\n\n",
        if o.smoke {
            " (smoke)"
        } else if o.quick {
            " (--quick)"
        } else {
            ""
        }
    );
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    md += &format!(
        "commit {commit}{}, {cpus} CPUs, median of {} run(s) per row (lost/torn: worst run)\n\n",
        if dirty { " (dirty)" } else { "" },
        o.runs
    );
    // The systems of the throughput rows that this run has.
    let measured: Vec<System> = o
        .systems
        .iter()
        .copied()
        .filter(|s| o.workloads.iter().any(|&w| s.supports(w)))
        .collect();
    if !measured.is_empty() {
        md += &clock_stops(&measured);
    }
    for &w in &o.workloads {
        if w.bunctl_only() {
            continue;
        }
        md += &workload_table(w, lines_for(w), &o.systems, medians, &mut warnings);
        if w == Workload::Single {
            md += &format_table(lines_for(w), medians);
        }
    }
    if let Some(m) = medians.get(&(Workload::Apps1000, System::BunctlLossless)) {
        if let Some(v) = violation(System::BunctlLossless, m) {
            warnings.push(format!("apps1000: {v}"));
        }
        md += &apps_table(m);
    }
    md += &idle_table(&o.workloads, raw, medians, &mut warnings);

    // Summary: bunctl against the ceiling and the peers, per workload.
    let mut summary = String::new();
    for &w in &o.workloads {
        if w.bunctl_only() {
            continue;
        }
        let rate = |s: System| {
            medians
                .get(&(w, s))
                .map_or(f64::NAN, |m| num(m, "lines_per_s"))
        };
        for sys in [System::BunctlLossless, System::BunctlLossy] {
            if medians.contains_key(&(w, sys)) {
                summary += &format!(
                    "| {} | {} | {} | {} | {} |\n",
                    w.name(),
                    sys.name(),
                    ratio(rate(sys), rate(System::Ceiling)),
                    ratio(rate(sys), rate(sys.peer_ta())),
                    ratio(rate(sys), rate(sys.peer_spdlog())),
                );
            }
        }
    }
    if !summary.is_empty() {
        md += "### Summary: bunctl-logging's throughput relative to\n\n\
               | workload | system | ceiling | tracing-appender (same mode) | spdlog (same mode) |\n\
               |---|---|--:|--:|--:|\n";
        md += &summary;
        md.push('\n');
    }
    if !measured.is_empty() {
        md += NOTES;
    }
    warnings.extend(failures.iter().map(|f| format!("run failed: {f}")));
    if !warnings.is_empty() {
        md += "### ⚠ WARNINGS\n\n";
        for w in &warnings {
            md += &format!("- **⚠ {w}**\n");
        }
        md.push('\n');
    }
    md += &format!("Total time {:.1} s.\n", started.elapsed().as_secs_f64());
    println!("{md}");

    let results: Vec<Value> = raw
        .iter()
        .map(|((w, s), runs)| {
            json!({
                "workload": w.name(),
                "system": s.name(),
                "mode": s.mode(),
                "median": medians.get(&(*w, *s)),
                "runs": runs,
            })
        })
        .collect();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let report = json!({
        // 2: the clock stops at flush (`flush_s`, `shutdown_s` instead of `finish_s`), new
        // systems and workloads.
        "schema": 2,
        "created_unix": now,
        "commit": git(&["rev-parse", "HEAD"]),
        "dirty": dirty,
        "cpus": cpus,
        "quick": o.quick,
        "smoke": o.smoke,
        "runs": o.runs,
        "lines": o.workloads.iter().map(|w| (w.name(), lines_for(*w))).collect::<BTreeMap<_, _>>(),
        "results": results,
        "warnings": warnings,
        "markdown": md,
    });
    let text = serde_json::to_string_pretty(&report)?;
    let mut written = Vec::new();
    if !o.smoke {
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir)?;
        for name in [format!("e2e-{now}.json"), "e2e-latest.json".to_string()] {
            let path = dir.join(name);
            std::fs::write(&path, &text)?;
            written.push(path);
        }
    }
    if let Some(out) = &o.out {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out, &text)?;
        written.push(out.clone());
    }
    for path in written {
        eprintln!("e2e: wrote {}", path.display());
    }
    Ok(())
}
