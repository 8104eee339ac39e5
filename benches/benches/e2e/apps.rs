//! `apps1000`, inside a child process: what a supervisor's log subsystem does all day, many
//! apps writing a little, and whether that holds up one app that writes a lot.
//!
//! One `LogManager` (no rotation, so that the busy app's phases compare with each other and
//! with `single`); `apps` app writers (`app-0000`, ...) each get 10 lines/s, lossless
//! (`write_line_async`), from one tokio task per 100 apps that ticks every 10 ms and writes to
//! 10 of its apps (the tasks' ticks spread over the 10 ms); and one busy app (`busy`) into which
//! one thread writes `lines` lines as fast as it can, lossless (`try_write_line`, retried
//! when full, as in `single`), in three phases: alone before the other apps are opened, then
//! with the apps' traffic running, then alone again after their traffic stopped (the apps'
//! writers still open, idle). Each phase's clock stops when the busy writer's `flush()`
//! returns. The ratio is the loaded phase's rate over the mean of the two alone phases, so
//! that the order of the phases (page cache filling, the disk writing back) does not count
//! against either side.
//!
//! Reported: the busy app's lines/s and p99 in each phase, the ratio, the apps' offered
//! lines/s, the CPU of the process (% of one core, in clock ticks of 10 ms) with the apps'
//! traffic alone and during the loaded phase, its context switches per second, `close_all`'s
//! time, and lost and torn lines of every app, read back from the files.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bunctl_logging::{list_log_files, AppId, AsyncLogWriter, LogConfig, LogManager};
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use crate::line::LineBuf;
use crate::measure::{bench_tmp_dir, runtime};
use crate::procfs::{context_switches, cpu_pct, cpu_ticks, status_kib};
use crate::producer::{produce_sync, Producer};
use crate::readback::{read_back, Expected, Readback};
use crate::shape::Shape;
use crate::systems::System;
use crate::workload::Workload;
use crate::{BoxError, Res};

/// Apps per ticking task.
const APPS_PER_TASK: usize = 100;
/// A task's tick; each tick writes to a tenth of its apps, so each app gets a line every
/// 10 ticks: 10 lines/s.
const TICK: Duration = Duration::from_millis(10);
const GROUPS: usize = 10;
/// The producer ids of the busy app's phases (the line header's `p000`, `p001`, `p002`).
const ALONE_BEFORE: usize = 0;
const LOADED: usize = 1;
const ALONE_AFTER: usize = 2;

/// How long the apps' traffic runs alone, and for how long it is measured.
pub(crate) struct AppsPlan {
    pub(crate) apps: usize,
    pub(crate) busy_lines: u64,
    pub(crate) settle: Duration,
    pub(crate) window: Duration,
}

/// One phase of the busy app.
struct Phase {
    secs: f64,
    cpu_pct: Option<f64>,
    p99_ns: u64,
}

impl Phase {
    fn lines_per_s(&self, lines: u64) -> f64 {
        lines as f64 / self.secs
    }
}

/// One thread writes `lines` lines into `writer` as fast as it can (producer `id`); the clock
/// stops when `flush()` returns.
fn busy_phase(rt: &Runtime, writer: &Arc<AsyncLogWriter>, id: usize, lines: u64) -> Res<Phase> {
    let barrier = Arc::new(Barrier::new(2));
    let producer = Producer::BunctlLossless(writer.clone());
    let start = barrier.clone();
    let handle = std::thread::spawn(move || {
        start.wait();
        produce_sync(producer, id, lines)
    });
    let cpu0 = cpu_ticks();
    barrier.wait();
    let t0 = Instant::now();
    let hist = handle.join().map_err(|_| "busy producer panicked")??;
    rt.block_on(writer.flush())?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(Phase {
        secs,
        cpu_pct: cpu_pct(cpu0, cpu_ticks(), secs),
        p99_ns: hist.value_at_quantile(0.99),
    })
}

/// One ticking task: every `TICK`, one line into each app of the next group (lossless), until
/// `stop`; returns the lines written per app.
async fn tick_apps(
    writers: Vec<Arc<AsyncLogWriter>>,
    first_app: usize,
    offset: Duration,
    stop: Arc<AtomicBool>,
) -> Res<Vec<u64>> {
    tokio::time::sleep(offset).await;
    let mut counts = vec![0u64; writers.len()];
    let mut lines: Vec<LineBuf> = (0..writers.len())
        .map(|i| LineBuf::new(first_app + i))
        .collect();
    let per_tick = writers.len().div_ceil(GROUPS);
    let mut interval = tokio::time::interval(TICK);
    let mut group = 0;
    while !stop.load(Ordering::Relaxed) {
        interval.tick().await;
        let first = group * per_tick;
        for i in first..(first + per_tick).min(writers.len()) {
            lines[i].set_seq(counts[i]);
            writers[i].write_line_async(lines[i].line()).await?;
            counts[i] += 1;
        }
        group = (group + 1) % GROUPS;
    }
    Ok(counts)
}

fn app_id(i: usize) -> Res<AppId> {
    Ok(AppId::new(format!("app-{i:04}"))?)
}

pub(crate) fn run_apps(plan: &AppsPlan) -> Res<Value> {
    let AppsPlan {
        apps,
        busy_lines,
        settle,
        window,
    } = *plan;
    // The line header has three digits for the producer: app i writes as producer i.
    if apps > 1000 {
        return Err("apps1000 runs at most 1,000 apps".into());
    }
    let dir = bench_tmp_dir()?;
    let rt = runtime()?;
    let manager = LogManager::new(LogConfig {
        base_dir: dir.path().to_path_buf(),
        // No rotation: the busy app's 3 × 200 MB stay in one file, as in `single`.
        max_file_size: u64::MAX,
        compression: false,
        ..Default::default()
    });
    let busy_app = AppId::new("busy")?;
    let busy = rt.block_on(manager.get_writer(&busy_app))?;

    let before = busy_phase(&rt, &busy, ALONE_BEFORE, busy_lines)?;

    let writers = rt.block_on(async {
        let mut writers = Vec::with_capacity(apps);
        for i in 0..apps {
            writers.push(manager.get_writer(&app_id(i)?).await?);
        }
        Ok::<_, BoxError>(writers)
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let traffic_start = Instant::now();
    let tasks: Vec<_> = writers
        .chunks(APPS_PER_TASK)
        .enumerate()
        .map(|(k, chunk)| {
            // Spread the tasks' ticks over the 10 ms.
            let offset = TICK * u32::try_from(k % 10).unwrap_or(0) / 10;
            rt.spawn(tick_apps(
                chunk.to_vec(),
                k * APPS_PER_TASK,
                offset,
                stop.clone(),
            ))
        })
        .collect();
    drop(writers);

    std::thread::sleep(settle);
    let cs0 = context_switches();
    let cpu0 = cpu_ticks();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let cpu1 = cpu_ticks();
    let window_s = t0.elapsed().as_secs_f64();
    let cs1 = context_switches();
    let background_cpu_pct = cpu_pct(cpu0, cpu1, window_s);
    let background_wakeups_per_s = cs0
        .zip(cs1)
        .map(|((cs0, _), (cs1, _))| cs1.saturating_sub(cs0) as f64 / window_s);
    let threads = cs1.map(|(_, threads)| threads);

    let loaded = busy_phase(&rt, &busy, LOADED, busy_lines)?;

    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = rt.block_on(async {
        let mut counts = Vec::with_capacity(apps);
        for task in tasks {
            counts.extend(
                task.await
                    .map_err(|e| format!("ticking task failed: {e}"))??,
            );
        }
        Ok::<_, BoxError>(counts)
    })?;
    let traffic_s = traffic_start.elapsed().as_secs_f64();

    let after = busy_phase(&rt, &busy, ALONE_AFTER, busy_lines)?;
    drop(busy);

    let closing = Instant::now();
    rt.block_on(manager.close_all())?;
    let close_all_s = closing.elapsed().as_secs_f64();
    let peak_rss_mib = status_kib("VmHWM") as f64 / 1024.0;
    drop(rt);

    // Read back: the busy app's three phases, and every app's own lines in its own file.
    let busy_rb = read_back(
        &list_log_files(&manager.log_path(&busy_app))?,
        Shape::Raw,
        Expected::producers(3, busy_lines),
    )?;
    let mut apps_rb = Readback::default();
    let mut apps_lost = 0;
    for (i, &count) in counts.iter().enumerate() {
        let rb = read_back(
            &list_log_files(&manager.log_path(&app_id(i)?))?,
            Shape::Raw,
            Expected {
                first_producer: i,
                producers: 1,
                per_producer: count,
            },
        )?;
        apps_lost += count - rb.distinct;
        apps_rb.torn += rb.torn;
        apps_rb.duplicates += rb.duplicates;
        apps_rb.markers += rb.markers;
    }
    let busy_lost = 3 * busy_lines - busy_rb.distinct;
    let app_lines: u64 = counts.iter().sum();

    let alone = (before.lines_per_s(busy_lines) + after.lines_per_s(busy_lines)) / 2.0;
    let loaded_rate = loaded.lines_per_s(busy_lines);
    Ok(json!({
        "system": System::BunctlLossless.name(),
        "workload": Workload::Apps1000.name(),
        "apps": apps,
        "busy_lines": busy_lines,
        "alone_before_lines_per_s": before.lines_per_s(busy_lines),
        "loaded_lines_per_s": loaded_rate,
        "alone_after_lines_per_s": after.lines_per_s(busy_lines),
        "loaded_vs_alone": loaded_rate / alone,
        "alone_before_p99_ns": before.p99_ns,
        "loaded_p99_ns": loaded.p99_ns,
        "alone_after_p99_ns": after.p99_ns,
        "alone_before_cpu_pct": before.cpu_pct,
        "loaded_cpu_pct": loaded.cpu_pct,
        "alone_after_cpu_pct": after.cpu_pct,
        "app_lines": app_lines,
        "app_lines_per_s": app_lines as f64 / traffic_s,
        "background_cpu_pct": background_cpu_pct,
        "background_wakeups_per_s": background_wakeups_per_s,
        "threads": threads,
        "close_all_s": close_all_s,
        "peak_rss_mib": peak_rss_mib,
        "busy_lost": busy_lost,
        "busy_torn": busy_rb.torn,
        "apps_lost": apps_lost,
        "apps_torn": apps_rb.torn,
        "lost": busy_lost + apps_lost,
        "torn": busy_rb.torn + apps_rb.torn,
        "duplicates": busy_rb.duplicates + apps_rb.duplicates,
        "markers": busy_rb.markers + apps_rb.markers,
    }))
}
