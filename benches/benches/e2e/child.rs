//! Each measurement runs in its own process (a clean peak RSS, no cross-talk): the driver side
//! ([`run_child`]: re-execute this binary with `--one SYSTEM WORKLOAD ...`, with a timeout, and
//! take the JSON from its result line) and the child side ([`child`]: read those arguments,
//! measure once, print the result line).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::apps::{run_apps, AppsPlan};
use crate::idle::{run_idle, IdlePlan};
use crate::measure::run_one;
use crate::systems::System;
use crate::workload::Workload;
use crate::Res;

/// Prefix of the child's result line on stdout (peers may print on stdout too).
const RESULT_PREFIX: &str = "E2E-RESULT ";

/// Runs one child; returns its JSON.
pub(crate) fn run_child(args: &[String], timeout: Duration) -> Res<Value> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {timeout:?}: {args:?}").into());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = reader.join().map_err(|_| "stdout reader panicked")?;
    if !status.success() {
        return Err(format!("child {args:?} failed: {status}").into());
    }
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_PREFIX))
        .ok_or_else(|| format!("child {args:?} printed no result"))?;
    Ok(serde_json::from_str(line)?)
}

pub(crate) fn child(args: &[String]) -> Res<()> {
    let mut it = args.iter().skip_while(|a| *a != "--one").skip(1);
    let system = it.next().ok_or("--one needs SYSTEM WORKLOAD")?;
    let system = System::parse(system).ok_or(format!("unknown system {system:?}"))?;
    let workload = it.next().ok_or("--one needs SYSTEM WORKLOAD")?;
    let workload = Workload::parse(workload).ok_or(format!("unknown workload {workload:?}"))?;
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let lines: u64 = match flag("--lines") {
        Some(v) => v.parse()?,
        None => workload.default_lines(),
    };
    let secs = |name: &str, default: f64| -> Res<Duration> {
        let s: f64 = flag(name).map_or(Ok(default), |v| v.parse())?;
        Ok(Duration::from_secs_f64(s))
    };
    let value = if workload == Workload::Apps1000 {
        run_apps(&AppsPlan {
            apps: flag("--apps").map_or(Ok(1000), |v| v.parse())?,
            busy_lines: lines,
            settle: secs("--apps-settle", 1.0)?,
            window: secs("--apps-secs", 3.0)?,
        })?
    } else if let Some(writers) = workload.idle_writers() {
        run_idle(&IdlePlan {
            workload,
            writers: flag("--idle-writers").map_or(Ok(writers), |v| v.parse())?,
            // Past the writers' `close_idle_after` (2 s): quiet writers have closed their files.
            settle: secs("--idle-settle", 3.0)?,
            window: secs("--idle-secs", 5.0)?,
            nofile: flag("--nofile").map(|v| v.parse()).transpose()?,
        })?
    } else {
        if !system.supports(workload) {
            return Err(format!("{} does not run {}", system.name(), workload.name()).into());
        }
        run_one(system, workload, lines)?
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{RESULT_PREFIX}{value}")?;
    stdout.flush()?;
    Ok(())
}
