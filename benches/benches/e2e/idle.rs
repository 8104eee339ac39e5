//! The idle writers (`idle1000`, `idle10000`), inside a child process: `writers` apps in one
//! `LogManager`, each opened, given one line and flushed, then left alone. As after a
//! supervisor's restart, each app already has its live file (one line) and
//! [`ARCHIVES_PER_APP`] compressed archives in the shared directory before the first open, so
//! the opening time shows what reading that directory costs. Measured while
//! they idle: the process's threads, its RSS per writer, its CPU (% of one core) and context
//! switches per second; then how long `close_all()` takes and what it returned (its errors
//! counted by kind).
//!
//! Writers share the library's pool of threads, so 10,000 idle writers are a few threads; a
//! quiet writer closes its live file after `close_idle_after` (2 s) and keeps its lock file
//! open, so 10,000 of them are some 10,000 descriptors (the descriptors per idle writer are
//! measured). The child sets its soft descriptor limit to [`NOFILE`] (the hard limit if that
//! is lower: a supervisor's 16,384), or to `--nofile N` (soft and hard, which takes the
//! privilege to raise a hard limit); the limit it ran with is reported. If opening a
//! writer still fails (at the limit, say), the error is recorded and the writers opened so far
//! are measured. So that the measurement itself can read `/proc` at the limit, the child
//! holds a few descriptors in reserve while it opens writers and lets them go before it
//! measures.

use std::collections::BTreeMap;
use std::fs::File;
use std::time::{Duration, Instant};

use bunctl_logging::{AppId, Error as LogError, LogConfig, LogManager};
use serde_json::{json, Value};

use crate::measure::{bench_tmp_dir, runtime};
use crate::procfs::{context_switches, cpu_pct, cpu_ticks, open_fds, status_kib, threads};
use crate::systems::System;
use crate::workload::Workload;
use crate::Res;

/// The idle measurement's parameters.
pub(crate) struct IdlePlan {
    pub(crate) workload: Workload,
    pub(crate) writers: usize,
    pub(crate) settle: Duration,
    pub(crate) window: Duration,
    /// Descriptor limit to set (soft and hard); `None`: the soft limit is raised to the hard.
    pub(crate) nofile: Option<u64>,
}

/// Compressed archives each app has before the writers are opened.
const ARCHIVES_PER_APP: u64 = 3;

/// The app id of writer `i`.
fn app_name(i: usize) -> String {
    format!("idle-{i:04}")
}

/// What a previous run left in `dir` for `writers` apps: each one's live file, with a line,
/// and [`ARCHIVES_PER_APP`] compressed archives (a day old, so no rotation is due).
fn previous_run(dir: &std::path::Path, writers: usize) -> std::io::Result<()> {
    let naming_time = chrono::Utc::now() - chrono::TimeDelta::days(1);
    for i in 0..writers {
        let live = dir.join(format!("{}.log", app_name(i)));
        let naming = bunctl_log_rotation::ArchiveNaming::new(&live)?;
        for seq in 1..=ARCHIVES_PER_APP {
            let mut gz = naming.archive_path(naming_time, seq).into_os_string();
            gz.push(bunctl_log_rotation::GZ_SUFFIX);
            std::fs::write(gz, b"")?;
        }
        std::fs::write(&live, format!("idle writer {i} of the previous run\n"))?;
    }
    // On disk, as a previous run's files are after a restart: the writers' first syncs then
    // do not pay for writing back forty thousand files just made.
    rustix::fs::syncfs(File::open(dir)?)?;
    Ok(())
}

/// Descriptors held back while the writers are opened, released before the measurement:
/// enough for the harness's own reads of `/proc` once the writers took the rest.
const FD_RESERVE: usize = 16;

/// The soft descriptor limit the writers run under unless `--nofile` says otherwise: 10,000
/// quiet apps must fit in it.
const NOFILE: u64 = 16_384;

/// Sets the descriptor limit for the writers: `wanted` as soft and hard limit, or the soft
/// limit raised to the hard one. Returns the limit now in force (soft, hard; `None`: no
/// limit) and the error if it could not be set.
fn set_nofile(wanted: Option<u64>) -> (Option<u64>, Option<u64>, Option<String>) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    let new = match wanted {
        Some(n) => Rlimit {
            current: Some(n),
            maximum: Some(n),
        },
        None => Rlimit {
            current: Some(now.maximum.map_or(NOFILE, |hard| hard.min(NOFILE))),
            maximum: now.maximum,
        },
    };
    let error = setrlimit(Resource::Nofile, new)
        .err()
        .map(|e| format!("cannot set the descriptor limit to {wanted:?}: {e}"));
    let limit = getrlimit(Resource::Nofile);
    (limit.current, limit.maximum, error)
}

/// The kind of an error of the facade, for counting: its variant, and for I/O errors the
/// OS error.
fn kind(e: &LogError) -> String {
    match e {
        LogError::Io { action, source, .. } => match source.raw_os_error() {
            Some(code) => format!("Io({action}: os error {code})"),
            None => format!("Io({action}: {:?})", source.kind()),
        },
        LogError::ShutdownTimeout { .. } => "ShutdownTimeout".into(),
        LogError::FlushTimeout { .. } => "FlushTimeout".into(),
        LogError::WriteFailed { .. } => "WriteFailed".into(),
        LogError::TaskFailed { task, .. } => format!("TaskFailed({task})"),
        LogError::Closed => "Closed".into(),
        LogError::Locked { .. } => "Locked".into(),
        // The rest cannot come out of a shutdown; name them by their debug form.
        other => format!("{other:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("other")
            .to_string(),
    }
}

/// Counts `e`'s errors by kind, looking inside `Error::Multiple`.
fn count_kinds(e: &LogError, counts: &mut BTreeMap<String, u64>) {
    match e {
        LogError::Multiple(errors) => errors.iter().for_each(|e| count_kinds(e, counts)),
        e => *counts.entry(kind(e)).or_default() += 1,
    }
}

pub(crate) fn run_idle(plan: &IdlePlan) -> Res<Value> {
    let (nofile_soft, nofile_hard, nofile_error) = set_nofile(plan.nofile);
    if let Some(e) = &nofile_error {
        eprintln!("e2e idle: {e}");
    }
    let reserve: Vec<File> = (0..FD_RESERVE)
        .map(|_| File::open("/dev/null"))
        .collect::<Result<_, _>>()?;
    let dir = bench_tmp_dir()?;
    previous_run(dir.path(), plan.writers)?;
    let rt = runtime()?;
    let rss_before = status_kib("VmRSS");
    // The reserve is let go before the count after: it is not the writers'.
    let fds_before = open_fds().map(|n| n.saturating_sub(FD_RESERVE as u64));
    let manager = LogManager::new(LogConfig {
        base_dir: dir.path().to_path_buf(),
        ..Default::default()
    });
    // The time per open of the first and of the last tenth of the writers (at most 1,000
    // each): whether opening slows down as the directory and the process fill up.
    let tenth = (plan.writers / 10).clamp(1, 1000);
    let mut marks = [None; 4];
    let opening = Instant::now();
    let (opened, open_error) = rt.block_on(async {
        for i in 0..plan.writers {
            if i == 0 || i == tenth {
                marks[usize::from(i != 0)] = Some(Instant::now());
            }
            if i == plan.writers - tenth {
                marks[2] = Some(Instant::now());
            }
            let app = AppId::new(app_name(i))?;
            let opened = async {
                let writer = manager.get_writer(&app).await?;
                writer.write_line(format!("idle writer {i} started"))?;
                writer.flush().await
            };
            if let Err(e) = opened.await {
                return Ok::<_, crate::BoxError>((i, Some(e.to_string())));
            }
        }
        marks[3] = Some(Instant::now());
        Ok((plan.writers, None))
    })?;
    let open_s = opening.elapsed().as_secs_f64();
    let ms_per_open = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
        (Some(from), Some(to)) => json!(1e3 * (to - from).as_secs_f64() / tenth as f64),
        _ => Value::Null,
    };
    if let Some(e) = &open_error {
        eprintln!(
            "e2e idle: opened {opened} of {} writers; the next failed: {e}",
            plan.writers
        );
    }
    drop(reserve);

    std::thread::sleep(plan.settle);
    let threads_idle = threads();
    let fds_idle = open_fds();
    let cs0 = context_switches();
    let cpu0 = cpu_ticks();
    let t0 = Instant::now();
    std::thread::sleep(plan.window);
    let cpu1 = cpu_ticks();
    let secs = t0.elapsed().as_secs_f64();
    let cs1 = context_switches();
    let rss_after = status_kib("VmRSS");

    let closing = Instant::now();
    let closed = rt.block_on(manager.close_all());
    let close_all_s = closing.elapsed().as_secs_f64();
    let mut errors = BTreeMap::new();
    if let Err(e) = &closed {
        count_kinds(e, &mut errors);
    }
    let cs = cs0
        .zip(cs1)
        .map(|((cs0, _), (cs1, _))| cs1.saturating_sub(cs0));
    Ok(json!({
        "system": System::BunctlLossless.name(),
        "workload": plan.workload.name(),
        "writers": plan.writers,
        "opened": opened,
        "open_error": open_error,
        "open_s": open_s,
        "open_first_ms": ms_per_open(marks[0], marks[1]),
        "open_last_ms": ms_per_open(marks[2], marks[3]),
        "open_tenth": tenth,
        "nofile_soft": nofile_soft,
        "nofile_hard": nofile_hard,
        "nofile_error": nofile_error,
        "window_s": secs,
        "cpu_pct": cpu_pct(cpu0, cpu1, secs),
        "context_switches": cs,
        "wakeups_per_s": cs.map(|cs| cs as f64 / secs),
        "threads_after": threads_idle,
        "fds_idle": fds_idle,
        "fds_per_writer": fds_before.zip(fds_idle).map(|(before, idle)| {
            idle.saturating_sub(before) as f64 / opened.max(1) as f64
        }),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_per_writer_kib": rss_after.saturating_sub(rss_before) as f64 / opened.max(1) as f64,
        "peak_rss_mib": status_kib("VmHWM") as f64 / 1024.0,
        "close_all_s": close_all_s,
        "close_all_ok": closed.is_ok(),
        "close_all_errors": errors.values().sum::<u64>(),
        "close_all_error_kinds": errors,
    }))
}
