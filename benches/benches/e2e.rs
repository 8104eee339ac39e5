//! End-to-end benchmark: the same workloads through bunctl-logging, tracing-appender,
//! spdlog-rs and a plain `BufWriter<File>` ceiling, in one invocation on one machine.
//!
//! Run it with `cargo xtask bench [--quick] [--runs N] [--workloads a,b] [--systems a,b]
//! [--out PATH]` (that is `cargo bench -p bunctl-log-benches --bench e2e -- ARGS`).
//!
//! The binary has three modes:
//! - driver (`cargo bench` passes `--bench`): for every (workload, system, run) it re-executes
//!   itself with `--one SYSTEM WORKLOAD --lines N`, so every measurement has its own process
//!   (clean peak RSS, no cross-talk); it collects one JSON line per child, takes medians, prints
//!   markdown tables on stdout and writes `<target>/bench/e2e-<unix time>.json` and
//!   `<target>/bench/e2e-latest.json`;
//! - child (`--one ...`): one measurement;
//! - smoke (no `--bench`, as under `cargo test --benches`): every system and workload with
//!   2,000 lines, one run, no JSON file; fails if bunctl-logging or the ceiling loses or tears
//!   a line.
//!
//! Lines are exactly 100 bytes (`p{producer:03} s{seq:09} ` and a fixed filler) plus the
//! `\n` that each system adds. After shutdown every file of the run is read back (gzip
//! included) and each line is checked: valid, torn (anything else), duplicate; lost =
//! expected − distinct valid lines.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bunctl_logging::{
    AppId, AsyncLogWriter, Error as LogError, LogConfig, LogManager, LogWriterConfig,
    RotationConfig, RotationStrategy,
};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

/// Bytes of a line without its `\n`.
const LINE_LEN: usize = 100;
/// Bytes of the `p000 s000000000 ` header.
const HEADER_LEN: usize = 16;
/// Size rotation of the `rotating` workload.
const ROTATE_BYTES: u64 = 8 << 20;
/// Prefix of the child's result line on stdout (peers may print on stdout too).
const RESULT_PREFIX: &str = "E2E-RESULT ";
/// Name of tracing-appender's worker thread, watched to know when it has written everything.
const TA_THREAD: &str = "ta-e2e-worker";
/// Significant figures of the latency histograms (2: 1% precision, small per-producer memory).
const SIGFIG: u8 = 2;

const FILLER: [u8; LINE_LEN - HEADER_LEN] = filler();

const fn filler() -> [u8; LINE_LEN - HEADER_LEN] {
    let mut out = [0u8; LINE_LEN - HEADER_LEN];
    let mut i = 0;
    while i < out.len() {
        out[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Systems and workloads

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum System {
    BunctlLossless,
    BunctlLossy,
    TaLossless,
    TaLossy,
    SpdlogBlock,
    SpdlogDrop,
    Ceiling,
}

impl System {
    const ALL: [System; 7] = [
        System::BunctlLossless,
        System::BunctlLossy,
        System::TaLossless,
        System::TaLossy,
        System::SpdlogBlock,
        System::SpdlogDrop,
        System::Ceiling,
    ];

    fn name(self) -> &'static str {
        match self {
            System::BunctlLossless => "bunctl-lossless",
            System::BunctlLossy => "bunctl-lossy",
            System::TaLossless => "tracing-appender-lossless",
            System::TaLossy => "tracing-appender-lossy",
            System::SpdlogBlock => "spdlog-block",
            System::SpdlogDrop => "spdlog-drop",
            System::Ceiling => "ceiling",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }

    fn lossless(self) -> bool {
        !matches!(
            self,
            System::BunctlLossy | System::TaLossy | System::SpdlogDrop
        )
    }

    fn mode(self) -> &'static str {
        if self.lossless() {
            "lossless"
        } else {
            "lossy"
        }
    }

    /// Whether the system runs `workload` (tracing-appender has no size rotation).
    fn supports(self, workload: Workload) -> bool {
        !(workload == Workload::Rotating && matches!(self, System::TaLossless | System::TaLossy))
            && workload != Workload::Idle1000
    }

    fn peer_ta(self) -> System {
        if self.lossless() {
            System::TaLossless
        } else {
            System::TaLossy
        }
    }

    fn peer_spdlog(self) -> System {
        if self.lossless() {
            System::SpdlogBlock
        } else {
            System::SpdlogDrop
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Workload {
    Single,
    Tasks100,
    Threads4,
    Rotating,
    Idle1000,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Producers {
    /// Plain OS threads.
    Threads,
    /// Tokio tasks on a 2-worker multi-thread runtime.
    Tasks,
}

impl Workload {
    const ALL: [Workload; 5] = [
        Workload::Single,
        Workload::Tasks100,
        Workload::Threads4,
        Workload::Rotating,
        Workload::Idle1000,
    ];

    fn name(self) -> &'static str {
        match self {
            Workload::Single => "single",
            Workload::Tasks100 => "tasks100",
            Workload::Threads4 => "threads4",
            Workload::Rotating => "rotating",
            Workload::Idle1000 => "idle1000",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }

    fn producers(self) -> usize {
        match self {
            Workload::Single => 1,
            Workload::Tasks100 | Workload::Rotating => 100,
            Workload::Threads4 => 4,
            Workload::Idle1000 => 0,
        }
    }

    fn kind(self) -> Producers {
        match self {
            Workload::Tasks100 | Workload::Rotating => Producers::Tasks,
            _ => Producers::Threads,
        }
    }

    /// Total lines of a full run.
    fn default_lines(self) -> u64 {
        match self {
            Workload::Single | Workload::Tasks100 | Workload::Threads4 | Workload::Rotating => {
                2_000_000
            }
            Workload::Idle1000 => 0,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Workload::Single => "1 producer thread",
            Workload::Tasks100 => "100 tokio tasks on a 2-worker runtime",
            Workload::Threads4 => "4 OS threads",
            Workload::Rotating => {
                "100 tokio tasks on a 2-worker runtime, size rotation at 8 MiB, compression on"
            }
            Workload::Idle1000 => "1,000 idle writers in one LogManager",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lines

/// One producer's line: header, filler and `\n`; the sequence digits are rewritten in place.
struct LineBuf([u8; LINE_LEN + 1]);

impl LineBuf {
    fn new(producer: usize) -> Self {
        let mut buf = [0u8; LINE_LEN + 1];
        let header = format!("p{producer:03} s{:09} ", 0);
        buf[..HEADER_LEN].copy_from_slice(header.as_bytes());
        buf[HEADER_LEN..LINE_LEN].copy_from_slice(&FILLER);
        buf[LINE_LEN] = b'\n';
        Self(buf)
    }

    fn set_seq(&mut self, mut seq: u64) {
        for i in (6..15).rev() {
            self.0[i] = b'0' + (seq % 10) as u8;
            seq /= 10;
        }
    }

    /// The line without `\n`.
    fn line(&self) -> &[u8] {
        &self.0[..LINE_LEN]
    }

    /// The line with its `\n`.
    fn with_newline(&self) -> &[u8] {
        &self.0
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.line()).unwrap_or("")
    }
}

fn digits(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// `(producer, seq)` of a valid line (without `\n`).
fn parse_line(line: &[u8]) -> Option<(usize, u64)> {
    if line.len() != LINE_LEN
        || line[0] != b'p'
        || &line[4..6] != b" s"
        || line[15] != b' '
        || line[HEADER_LEN..] != FILLER
    {
        return None;
    }
    let producer = usize::try_from(digits(&line[1..4])?).ok()?;
    Some((producer, digits(&line[6..15])?))
}

// ---------------------------------------------------------------------------------------------
// Child: one measurement

/// What every producer writes to.
enum Producer {
    BunctlLossless(Arc<AsyncLogWriter>),
    BunctlLossy(Arc<AsyncLogWriter>),
    Ta(tracing_appender::non_blocking::NonBlocking),
    Spdlog(Arc<spdlog::Logger>),
    CeilingOwned(BufWriter<File>),
    CeilingShared(Arc<Mutex<BufWriter<File>>>),
}

impl Producer {
    /// One write call from a plain thread.
    fn write_sync(&mut self, line: &LineBuf) -> Res<()> {
        match self {
            Producer::BunctlLossless(w) => loop {
                match w.try_write_line(line.line()) {
                    Ok(()) => return Ok(()),
                    Err(LogError::Full) => std::thread::yield_now(),
                    Err(e) => return Err(e.into()),
                }
            },
            Producer::BunctlLossy(w) => Ok(w.write_line(line.line())?),
            Producer::Ta(nb) => Ok(nb.write_all(line.with_newline())?),
            Producer::Spdlog(logger) => {
                spdlog::info!(logger: logger, "{}", line.as_str());
                Ok(())
            }
            Producer::CeilingOwned(w) => Ok(w.write_all(line.with_newline())?),
            Producer::CeilingShared(w) => {
                let mut w = w.lock().map_err(|_| "ceiling mutex poisoned")?;
                Ok(w.write_all(line.with_newline())?)
            }
        }
    }

    /// One write call from a tokio task.
    async fn write_async(&mut self, line: &LineBuf) -> Res<()> {
        match self {
            Producer::BunctlLossless(w) => Ok(w.write_line_async(line.line()).await?),
            _ => self.write_sync(line),
        }
    }

    /// The producer's end (the owned ceiling flushes its `BufWriter`).
    fn finish(self) -> Res<()> {
        if let Producer::CeilingOwned(mut w) = self {
            w.flush()?;
        }
        Ok(())
    }
}

fn new_histogram() -> Res<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000_000, SIGFIG)?)
}

fn elapsed_ns(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn produce_sync(mut p: Producer, id: usize, n: u64) -> Res<Histogram<u64>> {
    let mut hist = new_histogram()?;
    let mut line = LineBuf::new(id);
    for seq in 0..n {
        line.set_seq(seq);
        let t0 = Instant::now();
        p.write_sync(&line)?;
        hist.saturating_record(elapsed_ns(t0));
    }
    p.finish()?;
    Ok(hist)
}

async fn produce_async(mut p: Producer, id: usize, n: u64) -> Res<Histogram<u64>> {
    let mut hist = new_histogram()?;
    let mut line = LineBuf::new(id);
    for seq in 0..n {
        line.set_seq(seq);
        let t0 = Instant::now();
        p.write_async(&line).await?;
        hist.saturating_record(elapsed_ns(t0));
    }
    p.finish()?;
    Ok(hist)
}

/// The system under test, set up in a directory.
enum Backend {
    Bunctl {
        writer: Arc<AsyncLogWriter>,
        lossless: bool,
    },
    Ta {
        writer: Option<tracing_appender::non_blocking::NonBlocking>,
        guard: Option<tracing_appender::non_blocking::WorkerGuard>,
    },
    Spdlog {
        logger: Option<Arc<spdlog::Logger>>,
        file_sink: Arc<dyn spdlog::sink::Sink>,
        pool: Option<Arc<spdlog::ThreadPool>>,
        drops: Arc<AtomicU64>,
    },
    Ceiling {
        owned: Option<BufWriter<File>>,
        shared: Option<Arc<Mutex<BufWriter<File>>>>,
    },
}

fn setup(
    system: System,
    workload: Workload,
    dir: &Path,
    rt: &tokio::runtime::Runtime,
) -> Res<Backend> {
    let rotating = workload == Workload::Rotating;
    let file = dir.join("e2e.log");
    Ok(match system {
        System::BunctlLossless | System::BunctlLossy => {
            let config = LogWriterConfig {
                path: file,
                rotation: RotationConfig {
                    strategy: if rotating {
                        RotationStrategy::Size(ROTATE_BYTES)
                    } else {
                        RotationStrategy::Never
                    },
                    max_files: 1000,
                    compression: rotating,
                },
                ..Default::default()
            };
            let writer = rt.block_on(AsyncLogWriter::new(config))?;
            Backend::Bunctl {
                writer: Arc::new(writer),
                lossless: system == System::BunctlLossless,
            }
        }
        System::TaLossless | System::TaLossy => {
            let appender = tracing_appender::rolling::never(dir, "e2e.log");
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(system == System::TaLossy)
                .thread_name(TA_THREAD)
                .finish(appender);
            Backend::Ta {
                writer: Some(writer),
                guard: Some(guard),
            }
        }
        System::SpdlogBlock | System::SpdlogDrop => {
            use spdlog::formatter::{pattern, PatternFormatter};
            use spdlog::sink::{
                AsyncPoolSink, FileSink, OverflowPolicy, RotatingFileSink, RotationPolicy,
            };
            let file_sink: Arc<dyn spdlog::sink::Sink> = if rotating {
                RotatingFileSink::builder()
                    .base_path(&file)
                    .rotation_policy(RotationPolicy::FileSize(ROTATE_BYTES))
                    // Not 0 ("no limit"): in spdlog-rs 0.5 size rotation with max_files 0
                    // renames nothing and truncates the live file, losing every line before
                    // each rotation. 1000 matches bunctl's max_files.
                    .max_files(1000)
                    .formatter(PatternFormatter::new(pattern!("{payload}{eol}")))
                    .build_arc()?
            } else {
                FileSink::builder()
                    .path(&file)
                    .truncate(true)
                    .formatter(PatternFormatter::new(pattern!("{payload}{eol}")))
                    .build_arc()?
            };
            // The crate's defaults (queue of 8192 tasks, one thread), in a pool of our own so
            // that dropping it waits for every queued record.
            let pool = spdlog::ThreadPool::builder().build_arc()?;
            let policy = if system == System::SpdlogBlock {
                OverflowPolicy::Block
            } else {
                OverflowPolicy::DropIncoming
            };
            let drops = Arc::new(AtomicU64::new(0));
            let counter = drops.clone();
            let async_sink = AsyncPoolSink::builder()
                .sink(file_sink.clone())
                .overflow_policy(policy)
                .thread_pool(pool.clone())
                .error_handler(move |_| {
                    counter.fetch_add(1, Ordering::Relaxed);
                })
                .build_arc()?;
            let logger = spdlog::Logger::builder().sink(async_sink).build_arc()?;
            let counter = drops.clone();
            logger.set_error_handler(move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            });
            Backend::Spdlog {
                logger: Some(logger),
                file_sink,
                pool: Some(pool),
                drops,
            }
        }
        System::Ceiling => {
            let open = || -> Res<BufWriter<File>> {
                Ok(BufWriter::with_capacity(64 << 10, File::create(&file)?))
            };
            if workload.producers() == 1 {
                Backend::Ceiling {
                    owned: Some(open()?),
                    shared: None,
                }
            } else {
                Backend::Ceiling {
                    owned: None,
                    shared: Some(Arc::new(Mutex::new(open()?))),
                }
            }
        }
    })
}

impl Backend {
    fn producer(&mut self) -> Res<Producer> {
        Ok(match self {
            Backend::Bunctl { writer, lossless } => {
                if *lossless {
                    Producer::BunctlLossless(writer.clone())
                } else {
                    Producer::BunctlLossy(writer.clone())
                }
            }
            Backend::Ta { writer, .. } => Producer::Ta(writer.clone().ok_or("closed")?),
            Backend::Spdlog { logger, .. } => Producer::Spdlog(logger.clone().ok_or("closed")?),
            Backend::Ceiling { owned, shared } => match (owned.take(), shared) {
                (Some(w), _) => Producer::CeilingOwned(w),
                (None, Some(shared)) => Producer::CeilingShared(shared.clone()),
                (None, None) => return Err("the single-producer ceiling has one producer".into()),
            },
        })
    }

    /// Shuts the system down until every accepted line is handed to the OS; returns the files
    /// to read back, in order, and the drops the system itself counted.
    fn finish(self, dir: &Path, rt: &tokio::runtime::Runtime) -> Res<(Vec<PathBuf>, u64)> {
        match self {
            Backend::Bunctl { writer, .. } => {
                rt.block_on(writer.shutdown())?;
                let dropped = writer.metrics_snapshot().dropped_messages;
                Ok((writer.log_files()?, dropped))
            }
            Backend::Ta { writer, guard } => {
                drop(writer);
                // Dropping the guard waits at most ~1.1 s for the worker; wait for the worker
                // thread itself to end (it writes all that is queued, then flushes and exits).
                drop(guard);
                let deadline = Instant::now() + Duration::from_secs(120);
                while thread_alive(TA_THREAD) {
                    if Instant::now() > deadline {
                        return Err("tracing-appender's worker did not finish in 120 s".into());
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                Ok((files_in(dir)?, 0))
            }
            Backend::Spdlog {
                logger,
                file_sink,
                pool,
                drops,
            } => {
                if let Some(logger) = &logger {
                    logger.flush();
                }
                drop(logger);
                // The last reference to the pool: dropping it processes every queued task and
                // joins the pool's thread.
                drop(pool);
                file_sink.flush()?;
                drop(file_sink);
                Ok((files_in(dir)?, drops.load(Ordering::Relaxed)))
            }
            Backend::Ceiling { shared, .. } => {
                if let Some(shared) = shared {
                    shared.lock().map_err(|_| "poisoned")?.flush()?;
                }
                let files = vec![dir.join("e2e.log")];
                Ok((files, 0))
            }
        }
    }
}

fn thread_alive(name: &str) -> bool {
    // comm is truncated to 15 bytes.
    let name = &name.as_bytes()[..name.len().min(15)];
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read(t.path().join("comm"))
            .map(|c| c.strip_suffix(b"\n").unwrap_or(&c) == name)
            .unwrap_or(false)
    })
}

fn files_in(dir: &Path) -> Res<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

#[derive(Default)]
struct Readback {
    valid: u64,
    distinct: u64,
    torn: u64,
    duplicates: u64,
    markers: u64,
    marker_dropped: u64,
    bytes: u64,
}

const MARKER_PREFIX: &[u8] = b"[bunctl-log] ";
const MARKER_SUFFIX: &[u8] = b" lines dropped here: the writer was full";

fn read_back(files: &[PathBuf], producers: usize, per_producer: u64) -> Res<Readback> {
    let expected = producers as u64 * per_producer;
    let mut seen = vec![0u64; usize::try_from(expected.div_ceil(64))?];
    let mut r = Readback::default();
    let mut buf = Vec::with_capacity(256);
    for path in files {
        let file = File::open(path)?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            r.bytes += n as u64;
            let Some(line) = buf.strip_suffix(b"\n") else {
                r.torn += 1; // no newline before the end of the file
                continue;
            };
            match parse_line(line) {
                Some((p, s)) if p < producers && s < per_producer => {
                    r.valid += 1;
                    let i = usize::try_from(p as u64 * per_producer + s)?;
                    let (word, bit) = (i / 64, 1u64 << (i % 64));
                    if seen[word] & bit == 0 {
                        seen[word] |= bit;
                        r.distinct += 1;
                    } else {
                        r.duplicates += 1;
                    }
                }
                _ => {
                    if let Some(count) = line
                        .strip_prefix(MARKER_PREFIX)
                        .and_then(|l| l.strip_suffix(MARKER_SUFFIX))
                        .and_then(digits)
                    {
                        r.markers += 1;
                        r.marker_dropped += count;
                    } else {
                        r.torn += 1;
                    }
                }
            }
        }
    }
    Ok(r)
}

/// A field (in KiB) of `/proc/self/status`.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn bench_tmp_dir() -> Res<tempfile::TempDir> {
    let base = target_dir().join("bench").join("tmp");
    std::fs::create_dir_all(&base)?;
    Ok(tempfile::Builder::new().prefix("e2e-").tempdir_in(base)?)
}

fn run_one(system: System, workload: Workload, lines: u64) -> Res<Value> {
    let producers = workload.producers();
    let per_producer = lines / producers as u64;
    let total = per_producer * producers as u64;
    let dir = bench_tmp_dir()?;
    let rt = runtime()?;
    let mut backend = setup(system, workload, dir.path(), &rt)?;

    let start;
    let mut hists = Vec::with_capacity(producers);
    match workload.kind() {
        Producers::Threads => {
            let barrier = Arc::new(Barrier::new(producers + 1));
            let mut handles = Vec::with_capacity(producers);
            for id in 0..producers {
                let p = backend.producer()?;
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
                ps.push(backend.producer()?);
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
    let (files, dropped_reported) = backend.finish(dir.path(), &rt)?;
    let wall = start.elapsed();
    drop(rt);

    let mut hist = new_histogram()?;
    for h in &hists {
        hist.add(h)?;
    }
    drop(hists);
    let rb = read_back(&files, producers, per_producer)?;
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
        "finish_s": (wall - produced).as_secs_f64(),
        "lines_per_s": total as f64 / secs,
        // Until the last write call returned: how fast producers got their lines accepted,
        // before the final drain (and, for bunctl, the wait for compression) at shutdown.
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

// ---------------------------------------------------------------------------------------------
// Child: idle writers

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of the process, in clock ticks.
fn cpu_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // after ")": field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

/// Voluntary + involuntary context switches summed over the process's threads, and the
/// number of threads.
fn context_switches() -> (u64, u64) {
    let mut sum = 0;
    let mut threads = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            threads += 1;
            if let Ok(s) = std::fs::read_to_string(t.path().join("status")) {
                for l in s.lines() {
                    if let Some(v) = l
                        .strip_prefix("voluntary_ctxt_switches:")
                        .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                    {
                        sum += v.trim().parse::<u64>().unwrap_or(0);
                    }
                }
            }
        }
    }
    (sum, threads)
}

fn run_idle(writers: usize, settle: Duration, window: Duration) -> Res<Value> {
    let dir = bench_tmp_dir()?;
    let rt = runtime()?;
    let rss_before = status_kib("VmRSS");
    let manager = rt.block_on(async {
        let manager = LogManager::new(LogConfig {
            base_dir: dir.path().to_path_buf(),
            ..Default::default()
        });
        for i in 0..writers {
            let app = AppId::new(format!("idle-{i:04}"))?;
            let writer = manager.get_writer(&app).await?;
            writer.write_line(format!("idle writer {i} started"))?;
            writer.flush().await?;
        }
        Ok::<_, BoxError>(manager)
    })?;
    std::thread::sleep(settle);
    let (cs0, threads0) = context_switches();
    let cpu0 = cpu_ticks();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let cpu1 = cpu_ticks();
    let secs = t0.elapsed().as_secs_f64();
    let (cs1, threads1) = context_switches();
    let rss_after = status_kib("VmRSS");
    rt.block_on(manager.close_all())?;
    let cpu_s = (cpu1 - cpu0) as f64 / clock_ticks();
    let cs = cs1.saturating_sub(cs0);
    Ok(json!({
        "system": System::BunctlLossless.name(),
        "workload": Workload::Idle1000.name(),
        "writers": writers,
        "window_s": secs,
        "cpu_pct": 100.0 * cpu_s / secs,
        "context_switches": cs,
        "wakeups_per_s": cs as f64 / secs,
        "threads_before": threads0,
        "threads_after": threads1,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_per_writer_kib": rss_after.saturating_sub(rss_before) as f64 / writers.max(1) as f64,
        "peak_rss_mib": status_kib("VmHWM") as f64 / 1024.0,
    }))
}

// ---------------------------------------------------------------------------------------------
// Driver

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

struct Options {
    quick: bool,
    smoke: bool,
    runs: usize,
    lines: Option<u64>,
    workloads: Vec<Workload>,
    systems: Vec<System>,
    out: Option<PathBuf>,
}

const USAGE: &str = "\
e2e: end-to-end benchmark of bunctl-logging against tracing-appender, spdlog-rs and a BufWriter

USAGE: cargo xtask bench [OPTIONS]   (cargo bench -p bunctl-log-benches --bench e2e -- OPTIONS)

OPTIONS:
    --quick              lines / 20, 1 run, 2 s idle window (a smoke run, under a minute)
    --runs N             runs per (system, workload); the median is reported (default 3)
    --lines N            total lines per workload (default 2,000,000)
    --workloads a,b      of single, tasks100, threads4, rotating, idle1000 (default all)
    --systems a,b        of bunctl-lossless, bunctl-lossy, tracing-appender-lossless,
                         tracing-appender-lossy, spdlog-block, spdlog-drop, ceiling (default all)
    --out PATH           also write the JSON there
    --one SYSTEM WORKLOAD --lines N [--idle-writers N --idle-secs S]
                         one measurement (used by the driver), prints one JSON line
";

fn list<T>(arg: &str, parse: impl Fn(&str) -> Option<T>) -> Res<Vec<T>> {
    arg.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(s.trim()).ok_or_else(|| format!("unknown name {s:?}").into()))
        .collect()
}

fn parse_options(args: &[String]) -> Res<Options> {
    let mut o = Options {
        quick: false,
        smoke: !args.iter().any(|a| a == "--bench"),
        runs: 3,
        lines: None,
        workloads: Workload::ALL.to_vec(),
        systems: System::ALL.to_vec(),
        out: None,
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
            // Flags that cargo or a test runner may pass: ignore.
            s if s.starts_with("--") && o.smoke => {}
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}").into()),
        }
    }
    o.runs = runs.unwrap_or(if o.quick || o.smoke { 1 } else { 3 });
    Ok(o)
}

/// Runs one child; returns its JSON.
fn run_child(args: &[String], timeout: Duration) -> Res<Value> {
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

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// Medians of the numeric fields over runs; `lost`, `torn` and `duplicates` are the worst run
/// (a lossless system must have 0 in every run).
fn summarize(runs: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    let Some(first) = runs.first().and_then(Value::as_object) else {
        return Value::Object(out);
    };
    for (key, v) in first {
        if !v.is_number() {
            out.insert(key.clone(), v.clone());
            continue;
        }
        let values: Vec<f64> = runs.iter().map(|r| num(r, key)).collect();
        let worst = matches!(key.as_str(), "lost" | "torn" | "duplicates");
        let x = if worst {
            values.iter().copied().fold(0.0, f64::max)
        } else {
            median(values)
        };
        out.insert(key.clone(), json!(x));
    }
    if let Some(kept) = runs
        .iter()
        .map(|r| num(r, "kept_pct"))
        .reduce(f64::min)
        .filter(|k| k.is_finite())
    {
        out.insert("kept_pct_min".into(), json!(kept));
    }
    out.insert("runs".into(), json!(runs.len()));
    Value::Object(out)
}

fn fmt_int(x: f64) -> String {
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
fn violation(system: System, m: &Value) -> Option<String> {
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
    s += "| system | mode | lines/s | MB/s | accepted lines/s | p50 ns | p99 ns | p99.9 ns \
          | peak RSS MiB | lost | torn | ×ceiling | ×tracing-appender | ×spdlog |\n";
    s += "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for &sys in systems {
        if !sys.supports(workload) {
            s += &format!(
                "| {} | {} | n/a¹ | | | | | | | | | | | |\n",
                sys.name(),
                sys.mode()
            );
            continue;
        }
        let Some(m) = get(sys) else {
            s += &format!(
                "| {} | {} | failed | | | | | | | | | | | |\n",
                sys.name(),
                sys.mode()
            );
            continue;
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
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |\n",
            sys.name(),
            sys.mode(),
            fmt_int(r),
            num(m, "mb_per_s"),
            fmt_int(num(m, "accepted_lines_per_s")),
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

fn drive(o: &Options) -> Res<bool> {
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
    let (idle_writers, idle_settle, idle_window) = if o.smoke {
        (50, 0.2, 0.3)
    } else if o.quick {
        (1000, 1.0, 2.0)
    } else {
        (1000, 1.0, 5.0)
    };
    let timeout = Duration::from_secs(if o.smoke { 60 } else { 600 });
    let mut raw: BTreeMap<(Workload, System), Vec<Value>> = BTreeMap::new();
    let mut failures = Vec::new();
    let plan: Vec<(Workload, usize, System)> = o
        .workloads
        .iter()
        .flat_map(|&w| {
            (0..o.runs).flat_map(move |run| {
                let systems: Vec<System> = if w == Workload::Idle1000 {
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
        if w == Workload::Idle1000 {
            args.extend([
                "--idle-writers".to_string(),
                idle_writers.to_string(),
                "--idle-settle".to_string(),
                idle_settle.to_string(),
                "--idle-secs".to_string(),
                idle_window.to_string(),
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
                if w == Workload::Idle1000 {
                    eprintln!(
                        "{label}: {:.2}% CPU, {:.1} wake-ups/s, {:.1} KiB/writer",
                        num(&v, "cpu_pct"),
                        num(&v, "wakeups_per_s"),
                        num(&v, "rss_per_writer_kib")
                    );
                } else {
                    eprintln!(
                        "{label}: {} lines/s, kept {:.1}%, torn {}",
                        fmt_int(num(&v, "lines_per_s")),
                        num(&v, "kept_pct"),
                        fmt_int(num(&v, "torn"))
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
    for &w in &o.workloads {
        if w == Workload::Idle1000 {
            continue;
        }
        md += &workload_table(w, lines_for(w), &o.systems, &medians, &mut warnings);
    }
    if let Some(m) = medians.get(&(Workload::Idle1000, System::BunctlLossless)) {
        md += &format!(
            "### idle1000 — {} idle writers in one LogManager (bunctl only)\n\n\
             | CPU (% of one core) | wake-ups (context switches) /s | RSS per idle writer KiB | \
             threads |\n|--:|--:|--:|--:|\n| {:.3} | {:.1} | {:.1} | {} |\n\n",
            fmt_int(num(m, "writers")),
            num(m, "cpu_pct"),
            num(m, "wakeups_per_s"),
            num(m, "rss_per_writer_kib"),
            fmt_int(num(m, "threads_after")),
        );
    }

    // Summary: bunctl against the ceiling and the peers, per workload.
    let mut summary = String::new();
    for &w in &o.workloads {
        if w == Workload::Idle1000 {
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
    md += "Notes: lines/s counts lines offered (write calls); wall time runs from the first write \
           to the end of shutdown/flush (everything handed to the OS; bunctl's shutdown also \
           fsyncs, and waits for compression to finish). Accepted lines/s stops the clock when \
           the last write call returns: how fast producers got their lines taken, before the \
           final drain. Latency is one write call on the producer side (for bunctl-lossless in \
           threads: the `try_write_line` retry loop until accepted). Lossy systems report the \
           share of lines kept instead of lines lost. ×peer columns compare with the peer of \
           the same mode (lossless: tracing-appender-lossless / spdlog-block; lossy: \
           tracing-appender-lossy / spdlog-drop). The ceiling is one 64 KiB `BufWriter<File>` \
           (behind a `Mutex` for several producers), with no channel and, in `rotating`, no \
           rotation. Peers use their defaults: tracing-appender's 128,000 buffered lines, \
           spdlog's 8,192-task queue on one thread.\n\
           ¹ tracing-appender has no size rotation: n/a in `rotating` (spdlog uses its \
           `RotatingFileSink` by size, 8 MiB, max_files 1000, no compression; with its default \
           max_files 0, \"no limit\", spdlog-rs 0.5 truncates the live file at each rotation \
           and loses everything written before).\n\n";
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
        "schema": 1,
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

    // Failing: bunctl-logging or the ceiling (a harness bug) lost, tore or duplicated a line,
    // or a run failed. Peers' losses are reported, not fatal.
    let ok = failures.is_empty()
        && medians.iter().all(|((_, s), m)| {
            !matches!(s, System::BunctlLossless | System::Ceiling) || violation(*s, m).is_none()
        });
    Ok(ok)
}

fn child(args: &[String]) -> Res<()> {
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
    let value = if workload == Workload::Idle1000 {
        let writers = flag("--idle-writers").map_or(Ok(1000), |v| v.parse())?;
        let settle: f64 = flag("--idle-settle").map_or(Ok(1.0), |v| v.parse())?;
        let window: f64 = flag("--idle-secs").map_or(Ok(5.0), |v| v.parse())?;
        run_idle(
            writers,
            Duration::from_secs_f64(settle),
            Duration::from_secs_f64(window),
        )?
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--one") {
        return match child(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("e2e child {args:?}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match parse_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::from(2);
        }
    };
    match drive(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("e2e: FAILED: see the warnings above");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("e2e: {e}");
            ExitCode::FAILURE
        }
    }
}
