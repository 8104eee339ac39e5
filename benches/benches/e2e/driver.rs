//! The driver: the plan of (workload, run, system) measurements, one child process each, their
//! medians, the report, and whether the run passed (bunctl-logging and the ceiling must lose,
//! tear or duplicate nothing, and every child must succeed).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::child::run_child;
use crate::options::Options;
use crate::report::{close_all_outcome, fmt_int, publish, violation};
use crate::stats::{num, summarize};
use crate::systems::System;
use crate::workload::Workload;
use crate::Res;

pub(crate) fn drive(o: &Options) -> Res<bool> {
    let started = Instant::now();
    let lines_for = |w: Workload| {
        if let Some(n) = o.lines {
            n
        } else if o.smoke {
            2_000
        } else if o.quick {
            w.default_lines() / 20
        } else {
            w.default_lines()
        }
    };
    // Idle writers: how many (the smoke run: a twentieth of 1,000 or 10,000), seconds to
    // settle, seconds measured.
    let idle_writers = |w: Workload| {
        let n = w.idle_writers().unwrap_or(0);
        if o.smoke {
            n / 20
        } else {
            n
        }
    };
    let (idle_settle, idle_window) = if o.smoke {
        (0.2, 0.3)
    } else if o.quick {
        (3.0, 2.0)
    } else {
        // Past the writers' `close_idle_after` (2 s): quiet writers have closed their files.
        (3.0, 5.0)
    };
    // apps1000: apps, seconds of their traffic before it is measured, seconds measured.
    let (apps, apps_settle, apps_window) = if o.smoke {
        (50, 0.2, 0.3)
    } else if o.quick {
        (1000, 0.5, 1.0)
    } else {
        (1000, 1.0, 3.0)
    };
    let timeout = Duration::from_secs(if o.smoke { 60 } else { 600 });
    let mut raw: BTreeMap<(Workload, System), Vec<Value>> = BTreeMap::new();
    let mut failures = Vec::new();
    let plan: Vec<(Workload, usize, System)> = o
        .workloads
        .iter()
        .flat_map(|&w| {
            (0..o.runs).flat_map(move |run| {
                let systems: Vec<System> = if w.bunctl_only() {
                    vec![System::BunctlLossless]
                } else {
                    o.systems
                        .iter()
                        .copied()
                        .filter(|s| s.supports(w))
                        .collect()
                };
                systems.into_iter().map(move |s| (w, run, s))
            })
        })
        .collect();
    for (i, &(w, run, sys)) in plan.iter().enumerate() {
        let mut args = vec![
            "--one".to_string(),
            sys.name().to_string(),
            w.name().to_string(),
            "--lines".to_string(),
            lines_for(w).to_string(),
        ];
        if w.idle_writers().is_some() {
            args.extend([
                "--idle-writers".to_string(),
                idle_writers(w).to_string(),
                "--idle-settle".to_string(),
                idle_settle.to_string(),
                "--idle-secs".to_string(),
                idle_window.to_string(),
            ]);
            if let Some(n) = o.nofile {
                args.extend(["--nofile".to_string(), n.to_string()]);
            }
        }
        if w == Workload::Apps1000 {
            args.extend([
                "--apps".to_string(),
                apps.to_string(),
                "--apps-settle".to_string(),
                apps_settle.to_string(),
                "--apps-secs".to_string(),
                apps_window.to_string(),
            ]);
        }
        let label = format!(
            "[{}/{}] {} {} run {}",
            i + 1,
            plan.len(),
            w.name(),
            sys.name(),
            run + 1
        );
        match run_child(&args, timeout) {
            Ok(v) => {
                if w == Workload::Apps1000 {
                    eprintln!(
                        "{label}: busy app {} lines/s alone, {} with the apps ({:.2}×), \
                         {:.1}% CPU for the apps' traffic, lost {}, torn {}",
                        fmt_int(num(&v, "alone_before_lines_per_s")),
                        fmt_int(num(&v, "loaded_lines_per_s")),
                        num(&v, "loaded_vs_alone"),
                        num(&v, "background_cpu_pct"),
                        fmt_int(num(&v, "lost")),
                        fmt_int(num(&v, "torn")),
                    );
                } else if w.idle_writers().is_some() {
                    eprintln!(
                        "{label}: {} of {} writers opened, {:.2}% CPU, {:.1} wake-ups/s, \
                         {:.1} KiB/writer, close_all {:.0} ms: {}",
                        fmt_int(num(&v, "opened")),
                        fmt_int(num(&v, "writers")),
                        num(&v, "cpu_pct"),
                        num(&v, "wakeups_per_s"),
                        num(&v, "rss_per_writer_kib"),
                        num(&v, "close_all_s") * 1e3,
                        close_all_outcome(&v),
                    );
                } else {
                    let shutdown = if sys.has_shutdown() {
                        format!(", shutdown {:.1} ms", num(&v, "shutdown_s") * 1e3)
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "{label}: {} lines/s, kept {:.1}%, torn {}{shutdown}",
                        fmt_int(num(&v, "lines_per_s")),
                        num(&v, "kept_pct"),
                        fmt_int(num(&v, "torn")),
                    );
                }
                raw.entry((w, sys)).or_default().push(v);
            }
            Err(e) => {
                eprintln!("{label}: FAILED: {e}");
                failures.push(format!("{label}: {e}"));
            }
        }
    }

    let medians: BTreeMap<(Workload, System), Value> =
        raw.iter().map(|(k, v)| (*k, summarize(v))).collect();

    publish(o, &raw, &medians, &failures, lines_for, started)?;

    // Failing: bunctl-logging (lossless, any format) or the ceiling (a harness bug) lost, tore
    // or duplicated a line, or a run failed. Peers' losses are reported, not fatal.
    let ok = failures.is_empty()
        && medians.iter().all(|((_, s), m)| {
            !((s.is_bunctl() && s.lossless()) || *s == System::Ceiling)
                || violation(*s, m).is_none()
        });
    Ok(ok)
}
