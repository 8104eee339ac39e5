//! The driver's command line: `--quick`, `--runs`, `--lines`, `--workloads`, `--systems`,
//! `--out`, and the usage text (`--help`). The child's `--one ...` arguments are read in
//! [`crate::child`].

use std::path::PathBuf;

use crate::systems::System;
use crate::workload::Workload;
use crate::Res;

pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) smoke: bool,
    pub(crate) runs: usize,
    pub(crate) lines: Option<u64>,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) systems: Vec<System>,
    pub(crate) out: Option<PathBuf>,
    /// Descriptor limit of the idle writers' children (`--nofile`).
    pub(crate) nofile: Option<u64>,
}

pub(crate) const USAGE: &str = "\
e2e: end-to-end benchmark of bunctl-logging against tracing-appender, spdlog-rs, fast_log,
ftlog and a BufWriter

USAGE: cargo xtask bench [OPTIONS]   (cargo bench -p bunctl-log-benches --bench e2e -- OPTIONS)

OPTIONS:
    --quick              lines / 20, 1 run, 2 s idle window, no idle10000 (a smoke run,
                         under a minute)
    --runs N             runs per (system, workload); the median is reported (default 3)
    --lines N            total lines per workload (default 2,000,000)
    --workloads a,b      of single, tasks100, threads4, rotating, tracing, apps1000, idle1000,
                         idle10000 (default all; --quick and the smoke run leave out
                         idle10000 unless it is named here)
    --systems a,b        of bunctl-lossless, bunctl-lossy, bunctl-lossless-ts,
                         bunctl-lossless-json (single only), tracing-appender-lossless,
                         tracing-appender-lossy, spdlog-block, spdlog-drop, fast_log,
                         ftlog-block, ftlog-drop, ceiling (default all)
    --out PATH           also write the JSON there
    --nofile N           the idle writers' process sets its descriptor limit (soft and hard)
                         to N (raising a hard limit takes privilege); by default it raises
                         its soft limit to the hard one
    --one SYSTEM WORKLOAD --lines N [--idle-writers N --idle-settle S --idle-secs S --nofile N]
                         [--apps N --apps-settle S --apps-secs S]
                         one measurement (used by the driver), prints one JSON line
";

fn list<T>(arg: &str, parse: impl Fn(&str) -> Option<T>) -> Res<Vec<T>> {
    arg.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(s.trim()).ok_or_else(|| format!("unknown name {s:?}").into()))
        .collect()
}

pub(crate) fn parse_options(args: &[String]) -> Res<Options> {
    let mut o = Options {
        quick: false,
        smoke: !args.iter().any(|a| a == "--bench"),
        runs: 3,
        lines: None,
        workloads: Vec::new(),
        systems: System::ALL.to_vec(),
        out: None,
        nofile: None,
    };
    let mut runs = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--bench" => {}
            "--quick" => o.quick = true,
            "--runs" => runs = Some(value()?.parse::<usize>()?.max(1)),
            "--lines" => o.lines = Some(value()?.parse()?),
            "--workloads" => o.workloads = list(&value()?, Workload::parse)?,
            "--systems" => o.systems = list(&value()?, System::parse)?,
            "--out" => o.out = Some(PathBuf::from(value()?)),
            "--nofile" => o.nofile = Some(value()?.parse()?),
            // Flags that cargo or a test runner may pass: ignore.
            s if s.starts_with("--") && o.smoke => {}
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}").into()),
        }
    }
    o.runs = runs.unwrap_or(if o.quick || o.smoke { 1 } else { 3 });
    if o.workloads.is_empty() {
        let short = o.quick || o.smoke;
        o.workloads = Workload::ALL
            .into_iter()
            .filter(|w| !short || w.in_quick())
            .collect();
    }
    Ok(o)
}
