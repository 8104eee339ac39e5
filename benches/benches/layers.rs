//! Criterion benchmarks of `bunctl-logging`, one group per layer, each measured alone.
//!
//! Run them all, quickly (about two minutes on two cores):
//!
//! ```text
//! cargo bench -p bunctl-log-benches --bench layers -- --quick
//! ```
//!
//! or one group (any criterion filter works, e.g. `channel/send/`):
//!
//! ```text
//! cargo bench -p bunctl-log-benches --bench layers -- --quick channel
//! ```
//!
//! `cargo test -p bunctl-log-benches --benches` runs every benchmark once, as a smoke check.
//!
//! The groups (every one sets a `Throughput`, so criterion prints a rate next to the time):
//!
//! * `line_buffer`: [`LineSplitter::push`] over 8 MiB of lines of 60 to 140 bytes (about 100 on
//!   average) fed in 64 KiB chunks, so chunk boundaries cut lines (bytes/s); and
//!   [`encode_message`] of one 100-byte line and of a multi-line message (a stack trace).
//! * `channel`: [`bunctl_log_channel::channel`] with its default config, one receiver thread
//!   (as the facade's writer thread) that loops `recv` + `complete` and counts lines, and 1, 4
//!   or 100 producers calling `Sender::send(..).await` (tokio tasks on a 2-worker runtime), 4
//!   producer threads calling `send_blocking`, and one producer (the bench thread) calling
//!   `send_or_drop`. One iteration is 100 000 lines of 100 bytes in total, timed from the
//!   first send until the receiver has counted the last line, so the rate is lines/s through
//!   the whole channel.
//!   `send_or_drop` may drop lines if the receiver falls behind; the count is printed.
//! * `sink`: `write_all` of 256 KiB batches of 100-byte lines into a file in a temporary
//!   directory, through [`FileSink`], [`RotatingSink`] ([`NeverPolicy`], no compression) and
//!   `RetryingSink(MeteredSink(RotatingSink(FileSink)))`, the stack the facade's writer thread
//!   writes through (retrying outermost, so metering counts every failed attempt), with the
//!   same metrics attached: the layers should cost nothing measurable. The file is deleted and
//!   a fresh sink opened (untimed) every 64 MiB, so no writeback starts mid-sample; the rate is
//!   that of `write(2)` into the page cache.
//! * `rotation`: the per-batch rotation decision, `SizePolicy::max_size` + `DailyPolicy::is_due`
//!   (and the same through `AnyOf` as a `dyn RotationPolicy`), and archive naming:
//!   `ArchiveNaming::archive_path` and `ArchiveNaming::parse` (of a matching and a foreign name).
//! * `gzip`: [`compress_file`] of a 4 MiB file of realistic log lines (timestamps, levels,
//!   targets, varying text) at levels 6 (gzip's own default), 3 (ours) and 1, with its fsyncs, temp file and
//!   rename; and a raw [`GzEncoder`] into a `Vec` at the same levels for comparison. Writing the
//!   input file is not timed.
//! * `facade`: [`AsyncLogWriter::write_line`] (lossy: never waits, drops when full) and
//!   [`AsyncLogWriter::write_line_async`] (lossless: waits for room, then a final `flush`) of
//!   100-byte lines into a file with [`RotationStrategy::Never`], per line. The lossy figure is
//!   what the caller pays; how many lines it dropped is printed. Each runs twice: `100B` with no
//!   metrics recorder, then `100B_prometheus` with `metrics-exporter-prometheus`'s recorder
//!   installed globally (in that order: a global recorder cannot be removed). The writer thread
//!   exports the metrics after each batch and producers never touch them, so the two should
//!   not differ. `Exporter_record/no_recorder` and `Exporter_record/prometheus` time one
//!   [`Exporter::record`] call, the writer thread's per-batch cost.

use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use bunctl_log_buffer::{encode_message, LineFormat, LineSplitter, DEFAULT_MAX_LINE_LEN};
use bunctl_log_channel::{channel, ChannelConfig, Receiver, Sender};
use bunctl_log_fs::StdFs;
use bunctl_log_metrics::{names as metric_names, Exporter, LogMetrics, MetricsSnapshot};
use bunctl_log_rotation::{
    compress_file, AnyOf, ArchiveNaming, DailyPolicy, NeverPolicy, RotationPolicy, SizePolicy,
    SystemClock,
};
use bunctl_log_sink::{
    FileSink, MeteredSink, RetryConfig, RetryingSink, RotatingSink, RotatingSinkConfig, Sink,
};
use bunctl_logging::{AsyncLogWriter, LogWriterConfig, RotationConfig, RotationStrategy};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use flate2::write::GzEncoder;
use flate2::Compression;
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::runtime::Runtime;

/// One log line of exactly 99 bytes: 100 with its newline.
static LINE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut line = b"2026-11-25T16:39:18.123Z INFO  http::server GET /api/v1/users/12345 200 3ms bytes=5120 req=".to_vec();
    while line.len() < 99 {
        line.push(b'a' + (line.len() % 26) as u8);
    }
    line.truncate(99);
    line
});

/// Lines sent through the channel per criterion iteration.
const CHANNEL_LINES: u64 = 100_000;

/// A small deterministic generator (xorshift64*), so every run benchmarks the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// `total` bytes (rounded up to a whole line) of lines of 60 to 140 bytes, each ending in `\n`.
fn varied_lines(total: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(total + 200);
    while out.len() < total {
        let len = 59 + rng.below(81) as usize;
        out.extend((0..len).map(|i| b' ' + ((i as u64 + rng.0) % 94) as u8));
        out.push(b'\n');
    }
    out
}

/// `total` bytes (rounded up to a whole line) of log lines as an app writes them: timestamps
/// a few ms apart, levels, targets, and messages with varying ids, paths and numbers.
fn realistic_log(total: usize) -> Vec<u8> {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut t: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 25, 16, 39, 18).unwrap();
    let mut out = Vec::with_capacity(total + 300);
    let paths = [
        "users", "orders", "invoices", "sessions", "products", "health",
    ];
    let methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    let tables = ["orders", "users", "line_items", "audit_log"];
    let reasons = ["reset by peer", "timed out", "client closed", "eof"];
    while out.len() < total {
        t += TimeDelta::microseconds(rng.below(20_000) as i64);
        let (level, target) = match rng.below(100) {
            0..=69 => ("INFO ", rng.pick(&["http::server", "worker", "cache"])),
            70..=84 => ("DEBUG", rng.pick(&["db::pool", "cache", "auth"])),
            85..=94 => ("WARN ", rng.pick(&["db::pool", "http::client"])),
            _ => ("ERROR", rng.pick(&["worker", "http::client", "auth"])),
        };
        let msg = match rng.below(5) {
            0 => format!(
                "{} /api/v1/{}/{} {} {}ms bytes={}",
                rng.pick(&methods),
                rng.pick(&paths),
                rng.below(1_000_000),
                [200, 200, 200, 201, 204, 404, 500][rng.below(7) as usize],
                rng.below(900),
                rng.below(65_536)
            ),
            1 => format!(
                "query took {}ms rows={} table={}",
                rng.below(250),
                rng.below(5000),
                rng.pick(&tables)
            ),
            2 => format!(
                "job {:016x} finished in {}ms attempts={}",
                rng.next(),
                rng.below(10_000),
                1 + rng.below(3)
            ),
            3 => format!(
                "cache miss key=session:{:012x} ttl={}s",
                rng.next() >> 16,
                rng.below(3600)
            ),
            _ => format!(
                "connection from 10.{}.{}.{}:{} closed: {}",
                rng.below(256),
                rng.below(256),
                rng.below(256),
                1024 + rng.below(60_000),
                rng.pick(&reasons)
            ),
        };
        writeln!(
            out,
            "{} {level} {target}: {msg}",
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        )
        .unwrap();
    }
    out
}

/// A 2-worker multi-thread runtime, like the supervisor's on a 2-core machine.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Applies the short settings every group uses, so `--quick` of the whole file stays short.
fn short<M: criterion::measurement::Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    measurement: Duration,
) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(measurement);
}

// ---------------------------------------------------------------------------------------------
// 1. line_buffer

fn bench_line_buffer(c: &mut Criterion) {
    let input = varied_lines(8 << 20);
    let mut group = c.benchmark_group("line_buffer");
    short(&mut group, Duration::from_secs(2));

    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("push/8MiB_in_64KiB_chunks", |b| {
        let mut buf = LineSplitter::default();
        b.iter(|| {
            let (mut lines, mut bytes) = (0usize, 0usize);
            for chunk in input.chunks(64 << 10) {
                buf.push(black_box(chunk), |l| {
                    lines += l.count;
                    bytes += l.bytes.len();
                });
            }
            buf.finish(|l| {
                lines += l.count;
                bytes += l.bytes.len();
            });
            black_box((lines, bytes))
        });
    });

    let one_line = &LINE[..];
    let stack_trace: &[u8] = b"thread 'worker-3' panicked at src/jobs/invoice.rs:214:18:\n\
        called `Result::unwrap()` on an `Err` value: Timeout\n\
        stack backtrace:\n   0: rust_begin_unwind\n   1: core::panicking::panic_fmt\n\
           2: core::result::unwrap_failed\n   3: app::jobs::invoice::render\n\
           4: app::jobs::run_one\n";
    let mut out = Vec::with_capacity(4096);
    for (name, msg) in [
        ("encode_message/single_100B", one_line),
        ("encode_message/multiline_8_lines", stack_trace),
    ] {
        group.throughput(Throughput::Bytes(msg.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                let n = encode_message(black_box(msg), DEFAULT_MAX_LINE_LEN, &mut out);
                black_box(n)
            });
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// 2. channel

/// The writer side of a channel bench (on its own thread, as in the facade): takes batches
/// until the channel closes, counts lines.
fn count_lines(mut rx: Receiver) -> u64 {
    let mut spare = Vec::new();
    let mut lines = 0;
    while let Some(batch) = rx.recv(spare) {
        lines += batch.lines;
        rx.complete(batch.generation);
        spare = batch.bytes;
    }
    lines
}

/// Sends `total` lines from `producers` tokio tasks with `send().await`; returns the time until
/// the receiver counted the last one.
fn channel_tasks(rt: &Runtime, producers: u64, total: u64) -> Duration {
    rt.block_on(async {
        let (tx, rx) = channel(ChannelConfig::default());
        let start = Instant::now();
        let receiver = std::thread::spawn(move || count_lines(rx));
        let per = total / producers;
        let tasks: Vec<_> = (0..producers)
            .map(|_| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for _ in 0..per {
                        tx.send(&LINE).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        for t in tasks {
            t.await.unwrap();
        }
        let got = receiver.join().unwrap();
        let elapsed = start.elapsed();
        assert_eq!(got, per * producers);
        elapsed
    })
}

/// As [`channel_tasks`], with plain threads calling `send_blocking`.
fn channel_threads(producers: u64, total: u64) -> Duration {
    let (tx, rx) = channel(ChannelConfig::default());
    let start = Instant::now();
    let receiver = std::thread::spawn(move || count_lines(rx));
    let per = total / producers;
    std::thread::scope(|s| {
        for _ in 0..producers {
            let tx: Sender = tx.clone();
            s.spawn(move || {
                for _ in 0..per {
                    tx.send_blocking(&LINE).unwrap();
                }
            });
        }
        drop(tx);
    });
    let got = receiver.join().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(got, per * producers);
    elapsed
}

/// One producer (this thread) calling `send_or_drop`; adds the lines dropped to `dropped`.
fn channel_send_or_drop(total: u64, dropped: &AtomicU64) -> Duration {
    let (tx, rx) = channel(ChannelConfig::default());
    let receiver = std::thread::spawn(move || count_lines(rx));
    let start = Instant::now();
    for _ in 0..total {
        tx.send_or_drop(&LINE).unwrap();
    }
    drop(tx);
    let got = receiver.join().unwrap();
    let elapsed = start.elapsed();
    dropped.fetch_add(total - got, Ordering::Relaxed);
    elapsed
}

fn bench_channel(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("channel");
    short(&mut group, Duration::from_secs(2));
    group.throughput(Throughput::Elements(CHANNEL_LINES));

    for producers in [1u64, 4, 100] {
        group.bench_with_input(
            BenchmarkId::new("send_tasks", producers),
            &producers,
            |b, &p| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| channel_tasks(&rt, p, CHANNEL_LINES))
                        .sum()
                });
            },
        );
    }
    group.bench_with_input(
        BenchmarkId::new("send_blocking_threads", 4),
        &4u64,
        |b, &p| {
            b.iter_custom(|iters| (0..iters).map(|_| channel_threads(p, CHANNEL_LINES)).sum());
        },
    );

    let dropped = AtomicU64::new(0);
    let sent = AtomicU64::new(0);
    group.bench_function(BenchmarkId::new("send_or_drop", 1), |b| {
        b.iter_custom(|iters| {
            sent.fetch_add(iters * CHANNEL_LINES, Ordering::Relaxed);
            (0..iters)
                .map(|_| channel_send_or_drop(CHANNEL_LINES, &dropped))
                .sum()
        });
    });
    group.finish();
    let (dropped, sent) = (dropped.into_inner(), sent.into_inner());
    if sent > 0 {
        eprintln!(
            "channel/send_or_drop: {dropped} of {sent} lines dropped ({:.3}%)",
            dropped as f64 * 100.0 / sent as f64
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. sink

/// 256 KiB of 100-byte lines.
fn sink_batch() -> Vec<u8> {
    let mut batch = Vec::with_capacity(256 << 10);
    while batch.len() + LINE.len() < 256 << 10 {
        batch.extend_from_slice(&LINE);
        batch.push(b'\n');
    }
    batch
}

fn rotating(path: &Path) -> RotatingSink {
    let config = RotatingSinkConfig {
        policy: Box::new(NeverPolicy),
        compression: false,
        ..RotatingSinkConfig::new(path)
    };
    RotatingSink::open(config, StdFs::shared(), Arc::new(SystemClock)).unwrap()
}

/// Batches written to one file before it is deleted and a fresh one opened (64 MiB), so the
/// page cache never holds enough dirty data to start writeback in the middle of a sample.
const BATCHES_PER_FILE: u64 = 256;

/// Times `iters` `write_all`s of `batch` into sinks on `path`; opening a sink and deleting its
/// file every [`BATCHES_PER_FILE`] batches are not timed.
fn time_sink<S: Sink>(
    path: &Path,
    open: &dyn Fn(&Path) -> S,
    batch: &[u8],
    iters: u64,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCHES_PER_FILE);
        left -= n;
        let _ = std::fs::remove_file(path);
        let mut sink = open(path);
        let start = Instant::now();
        for _ in 0..n {
            sink.write_all(black_box(batch)).unwrap();
        }
        total += start.elapsed();
        drop(sink);
        std::fs::remove_file(path).unwrap();
    }
    total
}

fn bench_sink(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let batch = sink_batch();
    let mut group = c.benchmark_group("sink");
    short(&mut group, Duration::from_secs(2));
    group.throughput(Throughput::Bytes(batch.len() as u64));

    group.bench_function("FileSink/256KiB", |b| {
        let open = |p: &Path| FileSink::open(StdFs::shared(), p, 0o640, LineFormat::Raw).unwrap();
        b.iter_custom(|iters| time_sink(&path, &open, &batch, iters));
    });
    group.bench_function("RotatingSink_never/256KiB", |b| {
        b.iter_custom(|iters| time_sink(&path, &rotating, &batch, iters));
    });
    // The facade's stack and order: retrying outermost, metering inside it.
    group.bench_function("Retrying_Metered_Rotating/256KiB", |b| {
        let metrics = Arc::new(LogMetrics::new());
        let open = |p: &Path| {
            let rotating = rotating(p).with_metrics(metrics.clone());
            RetryingSink::new(
                MeteredSink::new(rotating, metrics.clone()),
                RetryConfig::default(),
            )
            .with_metrics(metrics.clone())
        };
        b.iter_custom(|iters| time_sink(&path, &open, &batch, iters));
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// 4. rotation

fn bench_rotation(c: &mut Criterion) {
    let opened_at = Utc.with_ymd_and_hms(2026, 11, 25, 16, 39, 18).unwrap();
    let now = opened_at + TimeDelta::minutes(30);
    let mut group = c.benchmark_group("rotation");
    short(&mut group, Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));

    let size = SizePolicy(10 << 20);
    let daily = DailyPolicy;
    group.bench_function("decision/size+daily", |b| {
        b.iter(|| {
            let file_size = black_box(5u64 << 20);
            let batch = black_box(256u64 << 10);
            let over = size.max_size().is_some_and(|max| file_size + batch > max);
            black_box(over || daily.is_due(black_box(opened_at), black_box(now)))
        });
    });
    let any: Box<dyn RotationPolicy> = Box::new(AnyOf(vec![
        Box::new(SizePolicy(10 << 20)),
        Box::new(DailyPolicy),
    ]));
    group.bench_function("decision/AnyOf_dyn", |b| {
        b.iter(|| {
            let file_size = black_box(5u64 << 20);
            let batch = black_box(256u64 << 10);
            let over = any.max_size().is_some_and(|max| file_size + batch > max);
            black_box(over || any.is_due(black_box(opened_at), black_box(now)))
        });
    });

    let naming = ArchiveNaming::new(Path::new("/var/log/bunctl/my-app.log")).unwrap();
    group.bench_function("naming/archive_path", |b| {
        b.iter(|| -> PathBuf { naming.archive_path(black_box(opened_at), black_box(42)) });
    });
    group.bench_function("naming/parse_archive", |b| {
        b.iter(|| naming.parse(black_box("my-app.20261125T163918Z-000042.log.gz")));
    });
    group.bench_function("naming/parse_foreign", |b| {
        b.iter(|| naming.parse(black_box("my-app.err.20261125T163918Z-000042.log")));
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// 5. gzip

fn bench_gzip(c: &mut Criterion) {
    let data = realistic_log(4 << 20);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("app.20261125T163918Z-000001.log");
    let fs = StdFs::shared();
    let mut group = c.benchmark_group("gzip");
    short(&mut group, Duration::from_secs(3));
    group.throughput(Throughput::Bytes(data.len() as u64));

    let mut ratios = Vec::new();
    for level in [6u32, 3, 1] {
        group.bench_with_input(BenchmarkId::new("compress_file", level), &level, |b, &l| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    std::fs::write(&plain, &data).unwrap();
                    let start = Instant::now();
                    let gz = compress_file(&*fs, &plain, Compression::new(l)).unwrap();
                    total += start.elapsed();
                    fs.remove_file(&gz).unwrap();
                }
                total
            });
        });
        let mut out = Vec::with_capacity(data.len());
        group.bench_with_input(BenchmarkId::new("GzEncoder_vec", level), &level, |b, &l| {
            b.iter(|| {
                out.clear();
                let mut enc = GzEncoder::new(&mut out, Compression::new(l));
                enc.write_all(black_box(&data)).unwrap();
                enc.finish().unwrap();
            });
        });
        ratios.push((level, out.len()));
    }
    group.finish();
    for (level, len) in ratios {
        if len > 0 {
            eprintln!(
                "gzip: level {level}: {} -> {len} bytes ({:.1}x)",
                data.len(),
                data.len() as f64 / len as f64
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. facade

fn open_writer(rt: &Runtime, path: &Path) -> AsyncLogWriter {
    let _ = std::fs::remove_file(path);
    rt.block_on(AsyncLogWriter::new(LogWriterConfig {
        path: path.to_path_buf(),
        rotation: RotationConfig {
            strategy: RotationStrategy::Never,
            compression: false,
            ..RotationConfig::default()
        },
        enable_compression: false,
        ..LogWriterConfig::default()
    }))
    .unwrap()
}

/// Lines offered to and dropped by one variant of the lossy write bench.
#[derive(Default)]
struct Drops {
    sent: AtomicU64,
    dropped: AtomicU64,
}

impl Drops {
    fn print(self, name: &str) {
        let (sent, dropped) = (self.sent.into_inner(), self.dropped.into_inner());
        if sent > 0 {
            eprintln!(
                "facade/{name}: {dropped} of {sent} lines dropped ({:.1}%)",
                dropped as f64 * 100.0 / sent as f64
            );
        }
    }
}

/// `write_line_lossy/{variant}` and `write_line_async_lossless/{variant}`: 100-byte lines per
/// call into a fresh writer per sample (a writer registers its metrics with whatever recorder
/// is installed when it is opened).
fn bench_facade_writes(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    path: &Path,
    variant: &str,
    drops: &Drops,
) {
    group.bench_function(format!("write_line_lossy/{variant}"), |b| {
        b.iter_custom(|iters| {
            let writer = open_writer(rt, path);
            let start = Instant::now();
            for _ in 0..iters {
                writer.write_line(black_box(&LINE[..])).unwrap();
            }
            let elapsed = start.elapsed();
            rt.block_on(writer.shutdown()).unwrap();
            drops.sent.fetch_add(iters, Ordering::Relaxed);
            drops.dropped.fetch_add(
                writer.metrics_snapshot().dropped_messages,
                Ordering::Relaxed,
            );
            elapsed
        });
    });
    group.bench_function(format!("write_line_async_lossless/{variant}"), |b| {
        b.iter_custom(|iters| {
            let writer = open_writer(rt, path);
            let elapsed = rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    writer.write_line_async(black_box(&LINE[..])).await.unwrap();
                }
                writer.flush().await.unwrap();
                start.elapsed()
            });
            rt.block_on(writer.shutdown()).unwrap();
            assert_eq!(
                std::fs::metadata(path).unwrap().len(),
                iters * (LINE.len() as u64 + 1)
            );
            elapsed
        });
    });
}

/// `Exporter_record/{recorder}`: one [`Exporter::record`] call, what the writer thread does
/// after each batch, with a snapshot that changed as after a batch (bytes and lines written
/// go up: two counter increments; the six gauges are set).
fn bench_exporter_record(group: &mut BenchmarkGroup<'_, WallTime>, recorder: &str) {
    // Made here, after the recorder (if any) is installed: an exporter registers its handles
    // when it is made.
    let mut exporter = Exporter::new(&[
        ("app", "exporter-bench".to_owned()),
        ("file", "exporter-bench.log".to_owned()),
    ]);
    let mut snap = MetricsSnapshot::default();
    group.bench_function(BenchmarkId::new("Exporter_record", recorder), |b| {
        b.iter(|| {
            snap.bytes_written += 256 * 100;
            snap.lines_written += 256;
            snap.buffered_lines ^= 128;
            snap.buffered_bytes ^= 128 * 100;
            exporter.record(black_box(&snap));
        });
    });
}

/// The value of `bunctl_log_lines_written_total` for the benches' writers in a Prometheus
/// text exposition, if it is there.
fn lines_written_exported(text: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(metric_names::LINES_WRITTEN) && l.contains("app=\"app\""))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

fn bench_facade(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut group = c.benchmark_group("facade");
    short(&mut group, Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));

    // Without a recorder first: a global recorder, once installed, stays for the whole process.
    // The order favours what runs second (a warm process), so warm it up first, untimed: with
    // `--quick` criterion goes straight to measuring, in samples of a few thousand lines.
    let writer = open_writer(&rt, &path);
    rt.block_on(async {
        for _ in 0..100_000 {
            writer.write_line_async(&LINE[..]).await.unwrap();
        }
    });
    rt.block_on(writer.shutdown()).unwrap();
    let plain = Drops::default();
    bench_facade_writes(&mut group, &rt, &path, "100B", &plain);
    bench_exporter_record(&mut group, "no_recorder");

    // Then the same with a real recorder installed globally (the writer thread, not this one,
    // records, so a thread-local recorder would see nothing).
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .expect("no metrics recorder is installed before the facade benches");
    let recorded = Drops::default();
    bench_facade_writes(&mut group, &rt, &path, "100B_prometheus", &recorded);
    bench_exporter_record(&mut group, "prometheus");
    group.finish();

    plain.print("write_line_lossy/100B");
    recorded.print("write_line_lossy/100B_prometheus");
    // Proof that the recorder was in use: the writers' line counts reached it.
    if let Some(lines) = lines_written_exported(&handle.render()) {
        eprintln!(
            "facade: the Prometheus recorder got {} = {lines} from the writers",
            metric_names::LINES_WRITTEN
        );
    }
}

fn main() {
    assert_eq!(LINE.len(), 99);
    let mut c = Criterion::default().configure_from_args();
    bench_line_buffer(&mut c);
    bench_channel(&mut c);
    bench_sink(&mut c);
    bench_rotation(&mut c);
    bench_gzip(&mut c);
    bench_facade(&mut c);
    c.final_summary();
}
