//! One measurement, inside a child process: a throughput workload through one system (set up,
//! produce, flush: the clock stops; shut down, timed apart; read back; one JSON object of
//! rates, latencies, RSS, shutdown time, lost and torn lines). The idle writers are measured
//! in [`crate::idle`], `apps1000` in [`crate::apps`].

use std::sync::{Arc, Barrier};
use std::time::Instant;

use serde_json::{json, Value};

use crate::line::LINE_LEN;
use crate::procfs::status_kib;
use crate::producer::{new_histogram, produce_async, produce_sync, Producer};
use crate::readback::{read_back, Expected};
use crate::systems::{setup, Backend, System};
use crate::workload::{Producers, Workload};
use crate::{target_dir, Res};

/// The runtime of every measurement: tokio, 2 workers.
pub(crate) fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A fresh directory for one measurement's files, under `<target>/bench/tmp`.
pub(crate) fn bench_tmp_dir() -> Res<tempfile::TempDir> {
    let base = target_dir().join("bench").join("tmp");
    std::fs::create_dir_all(&base)?;
    Ok(tempfile::Builder::new().prefix("e2e-").tempdir_in(base)?)
}

pub(crate) fn run_one(system: System, workload: Workload, lines: u64) -> Res<Value> {
    let producers = workload.producers();
    let per_producer = lines / producers as u64;
    let total = per_producer * producers as u64;
    let dir = bench_tmp_dir()?;
    let rt = runtime()?;
    let mut backend = setup(system, workload, dir.path(), &rt)?;
    // The `tracing` workload: producers emit events through one subscriber over the system.
    let dispatch = if workload == Workload::Tracing {
        Some(backend.dispatch()?)
    } else {
        None
    };
    let producer = |backend: &mut Backend| match &dispatch {
        Some(d) => Ok(Producer::Tracing(d.clone())),
        None => backend.producer(),
    };

    let start;
    let mut hists = Vec::with_capacity(producers);
    match workload.kind() {
        Producers::Threads => {
            let barrier = Arc::new(Barrier::new(producers + 1));
            let mut handles = Vec::with_capacity(producers);
            for id in 0..producers {
                let p = producer(&mut backend)?;
                let barrier = barrier.clone();
                handles.push(std::thread::spawn(move || {
                    barrier.wait();
                    produce_sync(p, id, per_producer)
                }));
            }
            barrier.wait();
            start = Instant::now();
            for h in handles {
                hists.push(h.join().map_err(|_| "producer thread panicked")??);
            }
        }
        Producers::Tasks => {
            let mut ps = Vec::with_capacity(producers);
            for _ in 0..producers {
                ps.push(producer(&mut backend)?);
            }
            start = Instant::now();
            let results = rt.block_on(async move {
                let handles: Vec<_> = ps
                    .into_iter()
                    .enumerate()
                    .map(|(id, p)| tokio::spawn(produce_async(p, id, per_producer)))
                    .collect();
                let mut out = Vec::with_capacity(handles.len());
                for h in handles {
                    out.push(h.await);
                }
                out
            });
            for r in results {
                hists.push(r.map_err(|e| format!("producer task failed: {e}"))??);
            }
        }
    }
    let produced = start.elapsed();
    // The last handle on the subscriber: with it goes the last handle on tracing-appender's
    // `NonBlocking`, whose worker ends only then.
    drop(dispatch);
    backend.flush(&rt)?;
    // The clock stops here for every system: every line is in the OS page cache.
    let wall = start.elapsed();
    let closing = Instant::now();
    let (files, dropped_reported) = backend.close(dir.path(), &rt)?;
    let shutdown = closing.elapsed();
    drop(rt);

    let mut hist = new_histogram()?;
    for h in &hists {
        hist.add(h)?;
    }
    drop(hists);
    let rb = read_back(
        &files,
        system.shape(),
        Expected::producers(producers, per_producer),
    )?;
    let peak_rss_kib = status_kib("VmHWM");
    let secs = wall.as_secs_f64();
    let lost = total - rb.distinct;
    Ok(json!({
        "system": system.name(),
        "workload": workload.name(),
        "mode": system.mode(),
        "producers": producers,
        "lines": total,
        "wall_s": secs,
        "produce_s": produced.as_secs_f64(),
        // From the last write call's return to every line in the page cache.
        "flush_s": (wall - produced).as_secs_f64(),
        // After the clock stopped: bunctl's `shutdown()` (fsync, compression, join); the
        // peers' close steps (dropping what is left) are timed too but reported as "—".
        "shutdown_s": shutdown.as_secs_f64(),
        "lines_per_s": total as f64 / secs,
        // Until the last write call returned: how fast producers got their lines accepted,
        // before the final drain.
        "accepted_lines_per_s": total as f64 / produced.as_secs_f64(),
        "mb_per_s": (total * (LINE_LEN as u64 + 1)) as f64 / secs / 1e6,
        "p50_ns": hist.value_at_quantile(0.50),
        "p99_ns": hist.value_at_quantile(0.99),
        "p999_ns": hist.value_at_quantile(0.999),
        "max_ns": hist.max(),
        "peak_rss_mib": peak_rss_kib as f64 / 1024.0,
        "files": files.len(),
        "bytes_read": rb.bytes,
        "valid": rb.valid,
        "distinct": rb.distinct,
        "lost": lost,
        "kept_pct": 100.0 * rb.distinct as f64 / total.max(1) as f64,
        "torn": rb.torn,
        "duplicates": rb.duplicates,
        "markers": rb.markers,
        "marker_dropped": rb.marker_dropped,
        "dropped_reported": dropped_reported,
    }))
}
