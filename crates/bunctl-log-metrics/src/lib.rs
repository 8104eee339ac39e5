//! Lock-free counters of one log writer, snapshots of them, and export through `metrics`.
//!
//! A [`LogMetrics`] is shared (usually in an `Arc`) by the producers of one writer, which count
//! dropped lines and buffer overflows, and by the writer thread, which counts bytes, lines,
//! flushes, rotations and errors. Design:
//!
//! * **Nothing on the hot path waits.** Every `record_*` method takes `&self` and does one or
//!   two `fetch_add`s with [`Ordering::Relaxed`]: no lock, no allocation, no system call.
//! * **No false sharing.** Each counter lives in its own [`CachePadded`] cell, so a producer
//!   counting a dropped line never invalidates the cache line the writer thread is adding bytes
//!   to, and the other way round.
//! * **Consistent enough, not transactional.** [`LogMetrics::snapshot`] reads each counter once.
//!   Counters that change while it reads may be taken at slightly different instants (say,
//!   `bytes_written` of one batch and `lines_written` of the one before), which is the price of
//!   a writer that never waits for a reader. Every counter is monotonic, so each value is one
//!   the counter really had, and a later snapshot is never below an earlier one.
//! * **Averages from totals.** Latencies are kept as a total in nanoseconds and a count; a
//!   snapshot divides them ([`MetricsSnapshot::avg_write_latency_us`] is per written batch,
//!   [`MetricsSnapshot::avg_flush_latency_us`] per flush), so the average covers the writer's
//!   whole life and costs nothing to maintain.
//! * **Histograms for export.** Each write batch and flush is also counted in one bucket of a
//!   [`LatencyHistogram`] (fixed bounds, [`names::LATENCY_BUCKETS_SECONDS`]), with its latency
//!   added to that bucket's total, so that an [`Exporter`] can publish latencies as Prometheus
//!   histograms in seconds: exact buckets, exact `_sum` and `_count`.
//! * **Export is separate from counting.** An [`Exporter`] publishes a writer's snapshots
//!   through the [`metrics`] facade as they change, labelled with the app, to whatever recorder
//!   the program installed (Prometheus, statsd, ...); the writer thread calls it per batch, so
//!   producers never pay for it. Without a recorder it does nothing.
//!
//! Counters wrap at `u64::MAX` (584 years of nanoseconds of latency, or 16 EiB written).
//!
//! ```
//! use std::time::Duration;
//! use bunctl_log_metrics::LogMetrics;
//!
//! let metrics = LogMetrics::new();
//! metrics.record_write(4096, 40, Duration::from_micros(30));
//! metrics.record_write(1024, 10, Duration::from_micros(10));
//! metrics.record_flush(Duration::from_micros(500));
//! metrics.record_overflow();
//! metrics.record_dropped(3);
//!
//! let snap = metrics.snapshot();
//! assert_eq!(snap.bytes_written, 5120);
//! assert_eq!(snap.lines_written, 50);
//! assert_eq!(snap.avg_write_latency_us, 20.0);
//! assert_eq!(snap.avg_flush_latency_us, 500.0);
//! assert_eq!((snap.buffer_overflows, snap.dropped_messages), (1, 3));
//!
//! // Publish through the `metrics` facade (a no-op unless a recorder is installed).
//! let mut exporter = bunctl_log_metrics::Exporter::new(&[("app", "web-1".to_owned())]);
//! exporter.record(&snap);
//!
//! // Totals over several writers.
//! let total = snap.merge(&LogMetrics::new().snapshot());
//! assert_eq!(total.lines_written, 50);
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use serde::{Deserialize, Serialize};

/// Names of the metrics an [`Exporter`] publishes, all labelled `app=<app id>` and `file=<file name>`.
pub mod names {
    /// Counter: bytes written to the log files.
    pub const BYTES_WRITTEN: &str = "bunctl_log_bytes_written_total";
    /// Counter: lines written to the log files.
    pub const LINES_WRITTEN: &str = "bunctl_log_lines_written_total";
    /// Counter: failed writes (each failed attempt counts once).
    pub const WRITE_ERRORS: &str = "bunctl_log_write_errors_total";
    /// Counter: accepted lines that could not be written because of I/O failures.
    pub const LINES_LOST: &str = "bunctl_log_lines_lost_total";
    /// Counter: flushes.
    pub const FLUSHES: &str = "bunctl_log_flushes_total";
    /// Counter: file rotations.
    pub const ROTATIONS: &str = "bunctl_log_rotations_total";
    /// Counter: writes that found the buffer full.
    pub const BUFFER_OVERFLOWS: &str = "bunctl_log_buffer_overflows_total";
    /// Counter: lines dropped because the writer was full.
    pub const DROPPED_MESSAGES: &str = "bunctl_log_dropped_messages_total";
    /// Counter: live files reopened because someone else removed or replaced them.
    pub const REOPENS: &str = "bunctl_log_reopens_total";
    /// Counter: archives deleted early to make room on a full disk.
    pub const ARCHIVES_DELETED_FOR_SPACE: &str = "bunctl_log_archives_deleted_for_space_total";
    /// Counter: failed attempts to rotate the log file (the directory refused a name); writing
    /// went on in the live file past its limit.
    pub const ROTATION_FAILURES: &str = "bunctl_log_rotation_failures_total";
    /// Gauge: lines accepted and waiting in the writer's buffer (the queue depth).
    pub const BUFFERED_LINES: &str = "bunctl_log_buffered_lines";
    /// Gauge: bytes accepted and waiting in the writer's buffer.
    pub const BUFFERED_BYTES: &str = "bunctl_log_buffered_bytes";
    /// Gauge: 1 while the circuit breaker is open (writes fail at once), else 0.
    pub const BREAKER_OPEN: &str = "bunctl_log_breaker_open";
    /// Formerly a gauge of the average write latency in microseconds; no longer exported
    /// (Prometheus wants base units and distributions): see [`WRITE_LATENCY_SECONDS`].
    #[deprecated(note = "not exported any more: use WRITE_LATENCY_SECONDS, a histogram")]
    pub const AVG_WRITE_LATENCY_US: &str = "bunctl_log_avg_write_latency_us";
    /// Formerly a gauge of the average flush latency in microseconds; no longer exported: see
    /// [`FLUSH_LATENCY_SECONDS`].
    #[deprecated(note = "not exported any more: use FLUSH_LATENCY_SECONDS, a histogram")]
    pub const AVG_FLUSH_LATENCY_US: &str = "bunctl_log_avg_flush_latency_us";
    /// Histogram: latency of one written batch, in seconds, with the buckets of
    /// [`LATENCY_BUCKETS_SECONDS`] (configure the recorder with them).
    pub const WRITE_LATENCY_SECONDS: &str = "bunctl_log_write_latency_seconds";
    /// Histogram: latency of one flush, in seconds, with the buckets of
    /// [`LATENCY_BUCKETS_SECONDS`].
    pub const FLUSH_LATENCY_SECONDS: &str = "bunctl_log_flush_latency_seconds";
    /// Upper bounds (Prometheus `le`, inclusive), in seconds, of the latency histograms'
    /// buckets, from 10 µs to 10 s; above the last is `+Inf`. A recorder that renders
    /// histograms with buckets of its own choosing should be given these, so that its buckets
    /// are the writer's exact counts (for metrics-exporter-prometheus:
    /// `PrometheusBuilder::set_buckets_for_metric`).
    pub const LATENCY_BUCKETS_SECONDS: [f64; 19] = [
        0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01,
        0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    /// Gauge: seconds since the writer's metrics were created.
    pub const UPTIME_SECONDS: &str = "bunctl_log_uptime_seconds";
}

/// One counter, alone on its cache line.
type Counter = CachePadded<AtomicU64>;

fn counter() -> Counter {
    CachePadded::new(AtomicU64::new(0))
}

fn add(c: &Counter, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

fn get(c: &Counter) -> u64 {
    c.load(Ordering::Relaxed)
}

/// [`names::LATENCY_BUCKETS_SECONDS`] in nanoseconds: where an observation is counted is
/// decided on integers, so an observation exactly on a bound is in that bound's bucket.
const LATENCY_BUCKETS_NS: [u64; 19] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Buckets of a [`LatencyHistogram`]: one per bound, and one above the last bound.
pub const LATENCY_BUCKETS: usize = LATENCY_BUCKETS_NS.len() + 1;

/// The live form of a [`LatencyHistogram`]: counted by the writer thread, read by snapshots.
#[derive(Debug)]
struct AtomicHistogram {
    counts: [AtomicU64; LATENCY_BUCKETS],
    totals_ns: [AtomicU64; LATENCY_BUCKETS],
}

impl AtomicHistogram {
    fn new() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            totals_ns: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    fn observe(&self, ns: u64) {
        let bucket = LATENCY_BUCKETS_NS.partition_point(|&bound| bound < ns);
        // Total before count, as for the averages (see `LogMetrics::snapshot`).
        self.totals_ns[bucket].fetch_add(ns, Ordering::Relaxed);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LatencyHistogram {
        // Counts before totals, the reverse of `observe`.
        let counts = std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed));
        let totals_ns = std::array::from_fn(|i| self.totals_ns[i].load(Ordering::Relaxed));
        LatencyHistogram { counts, totals_ns }
    }
}

/// How many latencies fell in each bucket of [`names::LATENCY_BUCKETS_SECONDS`], and their
/// total per bucket: a writer's write batches or flushes since it started.
///
/// Buckets are not cumulative here (`counts[i]` counts the latencies above bound `i - 1` and
/// up to bound `i`; the last bucket, those above 10 s); [`cumulative`](Self::cumulative) gives
/// the Prometheus form.
///
/// ```
/// use std::time::Duration;
/// use bunctl_log_metrics::LogMetrics;
///
/// let metrics = LogMetrics::new();
/// metrics.record_flush(Duration::from_micros(10)); // on the first bound: in its bucket
/// metrics.record_flush(Duration::from_millis(3));
/// let flushes = metrics.snapshot().flush_latency;
/// assert_eq!(flushes.count(), 2);
/// assert!((flushes.sum_seconds() - 0.003_01).abs() < 1e-12);
/// let le: Vec<(f64, u64)> = flushes.cumulative().collect();
/// assert_eq!(le[0], (0.000_01, 1));
/// assert_eq!(le[8], (0.005, 2));
/// assert_eq!(*le.last().unwrap(), (f64::INFINITY, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// Latencies counted per bucket (not cumulative).
    pub counts: [u64; LATENCY_BUCKETS],
    /// The sum of the latencies of each bucket, in nanoseconds.
    pub totals_ns: [u64; LATENCY_BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: [0; LATENCY_BUCKETS],
            totals_ns: [0; LATENCY_BUCKETS],
        }
    }
}

impl LatencyHistogram {
    /// Latencies counted (saturating at `u64::MAX`).
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0, |a, &c| a.saturating_add(c))
    }

    /// Their sum, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        let ns = self
            .totals_ns
            .iter()
            .fold(0u64, |a, &t| a.saturating_add(t));
        ns as f64 / 1e9
    }

    /// `(le, latencies at or below le)` per bucket bound in seconds, ascending, then
    /// `(f64::INFINITY, count)`: Prometheus's cumulative buckets.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let bounds = names::LATENCY_BUCKETS_SECONDS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY));
        bounds
            .zip(self.counts.iter())
            .scan(0u64, |below, (le, &c)| {
                *below = below.saturating_add(c);
                Some((le, *below))
            })
    }

    /// Both histograms in one (bucket by bucket, saturating).
    #[must_use]
    pub fn merge(&self, other: &LatencyHistogram) -> LatencyHistogram {
        LatencyHistogram {
            counts: std::array::from_fn(|i| self.counts[i].saturating_add(other.counts[i])),
            totals_ns: std::array::from_fn(|i| {
                self.totals_ns[i].saturating_add(other.totals_ns[i])
            }),
        }
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `total_ns / count` in microseconds, or 0.0 when nothing was counted.
fn average_us(total_ns: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total_ns as f64 / count as f64 / 1_000.0
    }
}

/// The counters of one log writer. See the [crate docs](crate).
///
/// Every method takes `&self`, uses [`Ordering::Relaxed`] atomics and never blocks, so one
/// instance is shared by the producers and the writer thread (put it in an `Arc`). Each
/// counter sits in its own [`CachePadded`] cell so that producers and the writer thread never
/// share a cache line.
#[derive(Debug)]
pub struct LogMetrics {
    started: Instant,
    bytes_written: Counter,
    lines_written: Counter,
    /// Batches passed to [`LogMetrics::record_write`]: the divisor of the write latency.
    write_batches: Counter,
    write_latency_ns: Counter,
    write_errors: Counter,
    lines_lost: Counter,
    flush_count: Counter,
    flush_latency_ns: Counter,
    rotation_count: Counter,
    rotation_failures: Counter,
    buffer_overflows: Counter,
    dropped_messages: Counter,
    reopens: Counter,
    archives_deleted_for_space: Counter,
    breaker_open: CachePadded<AtomicBool>,
    /// Bytes waiting in the buffer, as last set by [`LogMetrics::update_buffer_size`].
    current_buffer_size: CachePadded<AtomicUsize>,
    /// Only the writer thread adds to these (with its other counters): one padding for both.
    latencies: CachePadded<[AtomicHistogram; 2]>,
}

/// Where `LogMetrics::latencies` keeps each histogram.
const WRITES: usize = 0;
const FLUSHES: usize = 1;

impl LogMetrics {
    /// All counters at zero; uptime counts from now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            bytes_written: counter(),
            lines_written: counter(),
            write_batches: counter(),
            write_latency_ns: counter(),
            write_errors: counter(),
            lines_lost: counter(),
            flush_count: counter(),
            flush_latency_ns: counter(),
            rotation_count: counter(),
            rotation_failures: counter(),
            buffer_overflows: counter(),
            dropped_messages: counter(),
            reopens: counter(),
            archives_deleted_for_space: counter(),
            breaker_open: CachePadded::new(AtomicBool::new(false)),
            current_buffer_size: CachePadded::new(AtomicUsize::new(0)),
            latencies: CachePadded::new([AtomicHistogram::new(), AtomicHistogram::new()]),
        }
    }

    /// One batch was written: `bytes` bytes holding `lines` lines, in `latency`.
    ///
    /// The write latency average and histogram are per batch (per call), not per line.
    pub fn record_write(&self, bytes: u64, lines: u64, latency: Duration) {
        add(&self.bytes_written, bytes);
        add(&self.lines_written, lines);
        // Total before count: see `snapshot`.
        add(&self.write_latency_ns, nanos(latency));
        add(&self.write_batches, 1);
        self.latencies[WRITES].observe(nanos(latency));
    }

    /// Adds `latency` to the write latency total without counting a write: for callers that
    /// time a write apart from recording it. The average stays per
    /// [`record_write`](Self::record_write) call. The write latency histogram is not changed:
    /// it has one observation per `record_write`, with the latency given there.
    pub fn record_write_duration(&self, latency: Duration) {
        add(&self.write_latency_ns, nanos(latency));
    }

    /// Sets the bytes waiting in the buffer now, reported as
    /// [`MetricsSnapshot::current_buffer_size`] (a gauge: the last value set wins).
    pub fn update_buffer_size(&self, bytes: usize) {
        self.current_buffer_size.store(bytes, Ordering::Relaxed);
    }

    /// `lines` more lines are in the file. For writers whose sink layer records bytes and
    /// latency ([`record_write`](Self::record_write) with 0 lines) while the writer, which
    /// knows the line count of each batch without scanning it, records the lines.
    pub fn record_lines_written(&self, lines: u64) {
        add(&self.lines_written, lines);
    }

    /// A write failed (each failed attempt counts, retried or not).
    pub fn record_write_error(&self) {
        add(&self.write_errors, 1);
    }

    /// `lines` accepted lines could not be written because of I/O failures and are gone.
    pub fn record_lines_lost(&self, lines: u64) {
        add(&self.lines_lost, lines);
    }

    /// One flush completed in `latency`.
    pub fn record_flush(&self, latency: Duration) {
        add(&self.flush_latency_ns, nanos(latency));
        add(&self.flush_count, 1);
        self.latencies[FLUSHES].observe(nanos(latency));
    }

    /// The log file was rotated.
    pub fn record_rotation(&self) {
        add(&self.rotation_count, 1);
    }

    /// An attempt to rotate the log file failed (each failed attempt counts once); the live
    /// file was kept and written past its limit.
    pub fn record_rotation_failure(&self) {
        add(&self.rotation_failures, 1);
    }

    /// `lines` lines were dropped because the writer was full (`write_line`).
    pub fn record_dropped(&self, lines: u64) {
        add(&self.dropped_messages, lines);
    }

    /// A write found the buffer full (`write_line` or `try_write_line`).
    pub fn record_overflow(&self) {
        add(&self.buffer_overflows, 1);
    }

    /// The live file was reopened because someone else removed or replaced it.
    pub fn record_reopen(&self) {
        add(&self.reopens, 1);
    }

    /// The circuit breaker opened (`true`) or closed again (`false`).
    pub fn record_breaker(&self, open: bool) {
        self.breaker_open.store(open, Ordering::Relaxed);
    }

    /// `archives` archives were deleted early to make room on a full disk.
    pub fn record_archives_deleted_for_space(&self, archives: u64) {
        add(&self.archives_deleted_for_space, archives);
    }

    /// The counters now, each read once (see the [crate docs](crate) for what "now" means
    /// while writers are running), with averages computed and the uptime in whole seconds.
    pub fn snapshot(&self) -> MetricsSnapshot {
        // Counts are read before totals, the reverse of the order `record_*` adds them in.
        // With Relaxed atomics nothing is promised across counters, but in practice a batch
        // recorded during the snapshot then lands in the total only, nudging the average up
        // by one batch, rather than in the count only.
        let write_batches = get(&self.write_batches);
        let flush_count = get(&self.flush_count);
        let write_latency_ns = get(&self.write_latency_ns);
        let flush_latency_ns = get(&self.flush_latency_ns);
        MetricsSnapshot {
            bytes_written: get(&self.bytes_written),
            lines_written: get(&self.lines_written),
            write_errors: get(&self.write_errors),
            lines_lost: get(&self.lines_lost),
            flush_count,
            rotation_count: get(&self.rotation_count),
            rotation_failures: get(&self.rotation_failures),
            buffer_overflows: get(&self.buffer_overflows),
            dropped_messages: get(&self.dropped_messages),
            reopens: get(&self.reopens),
            archives_deleted_for_space: get(&self.archives_deleted_for_space),
            breaker_open: self.breaker_open.load(Ordering::Relaxed),
            buffered_lines: 0,
            buffered_bytes: 0,
            current_buffer_size: self.current_buffer_size.load(Ordering::Relaxed),
            avg_write_latency_us: average_us(write_latency_ns, write_batches),
            avg_flush_latency_us: average_us(flush_latency_ns, flush_count),
            uptime_seconds: self.started.elapsed().as_secs(),
            write_latency: self.latencies[WRITES].snapshot(),
            flush_latency: self.latencies[FLUSHES].snapshot(),
        }
    }

    /// When these metrics were created: the start of [`MetricsSnapshot::uptime_seconds`].
    pub fn started_at(&self) -> Instant {
        self.started
    }
}

impl Default for LogMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The counters of a writer at one moment, as plain numbers.
///
/// Taken with [`LogMetrics::snapshot`]; combine several with [`MetricsSnapshot::merge`] and
/// publish with an [`Exporter`]. Serializes (serde) as an object of its fields, by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Bytes written to the log files.
    pub bytes_written: u64,
    /// Lines written to the log files.
    pub lines_written: u64,
    /// Failed writes (each failed attempt counts once).
    pub write_errors: u64,
    /// Accepted lines that could not be written because of I/O failures.
    pub lines_lost: u64,
    /// Flushes completed.
    pub flush_count: u64,
    /// Rotations of the log file.
    pub rotation_count: u64,
    /// Failed attempts to rotate the log file (each attempt counts once): the directory
    /// refused the rename or the new file, and the live file was written past its limit until
    /// a retry worked. 0 when read from a snapshot serialized before this field existed.
    #[serde(default)]
    pub rotation_failures: u64,
    /// Writes that found the buffer full (`write_line` or `try_write_line`).
    pub buffer_overflows: u64,
    /// Lines dropped because the writer was full (`write_line`).
    pub dropped_messages: u64,
    /// Times the live file was reopened because someone else removed or replaced it (each
    /// time the file got a marker line saying so).
    pub reopens: u64,
    /// Archives deleted early to make room on a full disk (only with that option on).
    pub archives_deleted_for_space: u64,
    /// Whether the circuit breaker is open: writes fail at once, lines are counted as lost,
    /// until a probe write succeeds.
    pub breaker_open: bool,
    /// Lines accepted and waiting in the buffer now (the queue depth). Filled in by the
    /// writer that owns the buffer; [`LogMetrics::snapshot`] alone leaves it 0.
    pub buffered_lines: u64,
    /// Bytes accepted and waiting in the buffer now; see `buffered_lines`.
    pub buffered_bytes: u64,
    /// Bytes waiting in the buffer now, as the product's API names it: a writer fills it in
    /// (the same value as `buffered_bytes`); a [`LogMetrics`] used alone reports what
    /// [`LogMetrics::update_buffer_size`] last set.
    pub current_buffer_size: usize,
    /// Average latency of one written batch, in microseconds (0.0 before the first write).
    pub avg_write_latency_us: f64,
    /// Average latency of one flush, in microseconds (0.0 before the first flush).
    pub avg_flush_latency_us: f64,
    /// Whole seconds since the metrics were created.
    pub uptime_seconds: u64,
    /// The latency of each written batch, bucketed. Empty when read from a snapshot
    /// serialized before this field existed.
    #[serde(default)]
    pub write_latency: LatencyHistogram,
    /// The latency of each flush, bucketed. Empty when read from a snapshot serialized
    /// before this field existed.
    #[serde(default)]
    pub flush_latency: LatencyHistogram,
}

impl MetricsSnapshot {
    /// The total of two snapshots, to report many writers as one.
    ///
    /// Counters are added (saturating at `u64::MAX`). A snapshot does not keep the number of
    /// batches behind its write latency average, so averages cannot be weighted: the result
    /// holds the larger of the two averages (the slower writer's, an upper bound of the true
    /// combined average), and the larger uptime (the oldest writer's). The latency histograms
    /// are added bucket by bucket, so they stay exact.
    #[must_use]
    pub fn merge(&self, other: &MetricsSnapshot) -> MetricsSnapshot {
        MetricsSnapshot {
            bytes_written: self.bytes_written.saturating_add(other.bytes_written),
            lines_written: self.lines_written.saturating_add(other.lines_written),
            write_errors: self.write_errors.saturating_add(other.write_errors),
            lines_lost: self.lines_lost.saturating_add(other.lines_lost),
            flush_count: self.flush_count.saturating_add(other.flush_count),
            rotation_count: self.rotation_count.saturating_add(other.rotation_count),
            rotation_failures: self
                .rotation_failures
                .saturating_add(other.rotation_failures),
            buffer_overflows: self.buffer_overflows.saturating_add(other.buffer_overflows),
            dropped_messages: self.dropped_messages.saturating_add(other.dropped_messages),
            reopens: self.reopens.saturating_add(other.reopens),
            archives_deleted_for_space: self
                .archives_deleted_for_space
                .saturating_add(other.archives_deleted_for_space),
            breaker_open: self.breaker_open || other.breaker_open,
            buffered_lines: self.buffered_lines.saturating_add(other.buffered_lines),
            buffered_bytes: self.buffered_bytes.saturating_add(other.buffered_bytes),
            current_buffer_size: self
                .current_buffer_size
                .saturating_add(other.current_buffer_size),
            avg_write_latency_us: self.avg_write_latency_us.max(other.avg_write_latency_us),
            avg_flush_latency_us: self.avg_flush_latency_us.max(other.avg_flush_latency_us),
            uptime_seconds: self.uptime_seconds.max(other.uptime_seconds),
            write_latency: self.write_latency.merge(&other.write_latency),
            flush_latency: self.flush_latency.merge(&other.flush_latency),
        }
    }
}

type CounterOf = fn(&MetricsSnapshot) -> u64;
type GaugeOf = fn(&MetricsSnapshot) -> f64;
type HistogramOf = fn(&MetricsSnapshot) -> &LatencyHistogram;

/// The counters [`Exporter`] publishes: name, help text, unit, where the value comes from.
const COUNTERS: [(&str, &str, metrics::Unit, CounterOf); 11] = [
    (
        names::BYTES_WRITTEN,
        "Bytes written to the log files.",
        metrics::Unit::Bytes,
        |s| s.bytes_written,
    ),
    (
        names::LINES_WRITTEN,
        "Lines written to the log files.",
        metrics::Unit::Count,
        |s| s.lines_written,
    ),
    (
        names::WRITE_ERRORS,
        "Failed writes to the log files (each failed attempt counts once).",
        metrics::Unit::Count,
        |s| s.write_errors,
    ),
    (
        names::LINES_LOST,
        "Accepted lines that could not be written because of I/O failures.",
        metrics::Unit::Count,
        |s| s.lines_lost,
    ),
    (
        names::FLUSHES,
        "Flushes of the log files.",
        metrics::Unit::Count,
        |s| s.flush_count,
    ),
    (
        names::ROTATIONS,
        "Rotations of the log files.",
        metrics::Unit::Count,
        |s| s.rotation_count,
    ),
    (
        names::ROTATION_FAILURES,
        "Failed attempts to rotate a log file; it was written past its limit meanwhile.",
        metrics::Unit::Count,
        |s| s.rotation_failures,
    ),
    (
        names::BUFFER_OVERFLOWS,
        "Writes that found the writer's buffer full.",
        metrics::Unit::Count,
        |s| s.buffer_overflows,
    ),
    (
        names::DROPPED_MESSAGES,
        "Lines dropped because the writer's buffer was full.",
        metrics::Unit::Count,
        |s| s.dropped_messages,
    ),
    (
        names::REOPENS,
        "Live files reopened because something else removed or replaced them.",
        metrics::Unit::Count,
        |s| s.reopens,
    ),
    (
        names::ARCHIVES_DELETED_FOR_SPACE,
        "Archives deleted early to make room on a full disk.",
        metrics::Unit::Count,
        |s| s.archives_deleted_for_space,
    ),
];

/// The gauges [`Exporter`] publishes.
const GAUGES: [(&str, &str, metrics::Unit, GaugeOf); 4] = [
    (
        names::BUFFERED_LINES,
        "Lines accepted and waiting in the writer's buffer.",
        metrics::Unit::Count,
        |s| s.buffered_lines as f64,
    ),
    (
        names::BUFFERED_BYTES,
        "Bytes accepted and waiting in the writer's buffer.",
        metrics::Unit::Bytes,
        |s| s.buffered_bytes as f64,
    ),
    (
        names::BREAKER_OPEN,
        "1 while the circuit breaker is open (writes fail at once), else 0.",
        metrics::Unit::Count,
        |s| f64::from(u8::from(s.breaker_open)),
    ),
    (
        names::UPTIME_SECONDS,
        "Seconds since the writer started.",
        metrics::Unit::Seconds,
        |s| s.uptime_seconds as f64,
    ),
];

/// The histograms [`Exporter`] publishes (buckets: [`names::LATENCY_BUCKETS_SECONDS`]).
const HISTOGRAMS: [(&str, &str, HistogramOf); 2] = [
    (
        names::WRITE_LATENCY_SECONDS,
        "Latency of one written batch.",
        |s| &s.write_latency,
    ),
    (names::FLUSH_LATENCY_SECONDS, "Latency of one flush.", |s| {
        &s.flush_latency
    }),
];

/// Gives the installed `metrics` recorder the help text and unit of every metric an
/// [`Exporter`] publishes (Prometheus's `# HELP` lines). [`Exporter::new`] calls it; call it
/// yourself to describe the metrics before any writer exists.
pub fn describe() {
    for (name, help, unit, _) in COUNTERS {
        metrics::describe_counter!(name, unit, help);
    }
    for (name, help, unit, _) in GAUGES {
        metrics::describe_gauge!(name, unit, help);
    }
    for (name, help, _) in HISTOGRAMS {
        metrics::describe_histogram!(name, metrics::Unit::Seconds, help);
    }
}

/// Publishes one writer's metrics through the [`metrics`] facade as they change, to whatever
/// recorder the program installed (Prometheus, statsd, ...); without one it does nothing.
///
/// The handles are registered once, with the writer's labels, when the exporter is made (so
/// install the recorder before creating writers), and every metric is described then
/// ([`describe`]). [`record`](Self::record) then costs an atomic add per changed counter, a
/// store per gauge and one histogram record per latency bucket that changed: the writer thread
/// calls it once per batch and at close, never a producer per line, so it adds nothing to the
/// hot path. Counters go up by the change since the last call; gauges are set.
///
/// Latencies are histograms in seconds ([`names::WRITE_LATENCY_SECONDS`],
/// [`names::FLUSH_LATENCY_SECONDS`]). The latencies that fell in one bucket since the last
/// call are recorded as that many observations of their mean, which lies in the same bucket:
/// with a recorder using [`names::LATENCY_BUCKETS_SECONDS`] as its bounds, bucket counts,
/// `_sum` and `_count` are exact.
///
/// ```
/// use bunctl_log_metrics::{Exporter, LogMetrics};
/// use std::time::Duration;
///
/// let metrics = LogMetrics::new();
/// let mut exporter = Exporter::new(&[("app", "web-1".to_owned())]);
/// metrics.record_write(4096, 40, Duration::from_micros(30));
/// exporter.record(&metrics.snapshot()); // a no-op without an installed recorder
/// ```
pub struct Exporter {
    counters: Vec<metrics::Counter>,
    gauges: Vec<metrics::Gauge>,
    histograms: Vec<metrics::Histogram>,
    last: MetricsSnapshot,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Exporter {
    /// Describes the metrics of [`names`] and registers them with `labels` (e.g.
    /// `app=web-1`).
    pub fn new(labels: &[(&'static str, String)]) -> Self {
        describe();
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.clone()))
            .collect();
        Self {
            counters: COUNTERS
                .iter()
                .map(|(name, ..)| metrics::counter!(*name, labels.clone()))
                .collect(),
            gauges: GAUGES
                .iter()
                .map(|(name, ..)| metrics::gauge!(*name, labels.clone()))
                .collect(),
            histograms: HISTOGRAMS
                .iter()
                .map(|(name, ..)| metrics::histogram!(*name, labels.clone()))
                .collect(),
            last: MetricsSnapshot::default(),
        }
    }

    /// Publishes `now`: each counter goes up by its change since the last call, each gauge is
    /// set, and each histogram gets the latencies counted since the last call.
    pub fn record(&mut self, now: &MetricsSnapshot) {
        for (handle, (.., value)) in self.counters.iter().zip(COUNTERS.iter()) {
            let delta = value(now).saturating_sub(value(&self.last));
            if delta > 0 {
                handle.increment(delta);
            }
        }
        for (handle, (.., value)) in self.gauges.iter().zip(GAUGES.iter()) {
            handle.set(value(now));
        }
        for (handle, (.., histogram)) in self.histograms.iter().zip(HISTOGRAMS.iter()) {
            let (now, last) = (histogram(now), histogram(&self.last));
            for bucket in 0..LATENCY_BUCKETS {
                let count = now.counts[bucket].saturating_sub(last.counts[bucket]);
                if count == 0 {
                    continue;
                }
                let total_ns = now.totals_ns[bucket].saturating_sub(last.totals_ns[bucket]);
                let mean_seconds = total_ns as f64 / count as f64 / 1e9;
                handle.record_many(mean_seconds, usize::try_from(count).unwrap_or(usize::MAX));
            }
        }
        self.last = *now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use metrics_util::MetricKind;

    /// The histogram of flushes of these latencies, in nanoseconds.
    fn histogram_of(latencies_ns: &[u64]) -> LatencyHistogram {
        let m = LogMetrics::new();
        for &ns in latencies_ns {
            m.record_flush(Duration::from_nanos(ns));
        }
        m.snapshot().flush_latency
    }

    #[test]
    fn bucket_bounds_in_seconds_are_the_nanosecond_bounds() {
        for (s, ns) in names::LATENCY_BUCKETS_SECONDS
            .iter()
            .zip(LATENCY_BUCKETS_NS)
        {
            assert_eq!(*s, ns as f64 / 1e9);
        }
        assert!(LATENCY_BUCKETS_NS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn latencies_land_in_their_bucket_bounds_included() {
        let h = histogram_of(&[0, 10_000, 10_001, 25_000, 10_000_000_000, 10_000_000_001]);
        let mut want = [0; LATENCY_BUCKETS];
        want[0] = 2; // 0 and 10 µs: le 10 µs
        want[1] = 2; // 10.001 µs and 25 µs: le 25 µs
        want[18] = 1; // 10 s: le 10 s
        want[19] = 1; // above 10 s: +Inf only
        assert_eq!(h.counts, want);
        assert_eq!(h.totals_ns[1], 35_001);
        assert_eq!(h.count(), 6);
        let cumulative: Vec<(f64, u64)> = h.cumulative().collect();
        assert_eq!(cumulative.len(), LATENCY_BUCKETS);
        assert_eq!(cumulative[0], (0.000_01, 2));
        assert_eq!(cumulative[1], (0.000_025, 4));
        assert_eq!(cumulative[17], (5.0, 4));
        assert_eq!(cumulative[18], (10.0, 5));
        assert_eq!(cumulative[19], (f64::INFINITY, 6));
        assert!((h.sum_seconds() - 20.000_045_002).abs() < 1e-9);
        // Writes have their own histogram; record_write_duration adds to the average only.
        let m = LogMetrics::new();
        m.record_write(1, 1, Duration::from_millis(2));
        m.record_write_duration(Duration::from_secs(1));
        let snap = m.snapshot();
        assert_eq!(snap.write_latency.count(), 1);
        assert_eq!(snap.write_latency.counts[7], 1); // le 2.5 ms
        assert_eq!(snap.flush_latency.count(), 0);
    }

    #[test]
    fn starts_at_zero() {
        let snap = LogMetrics::default().snapshot();
        assert_eq!(
            snap,
            MetricsSnapshot {
                uptime_seconds: snap.uptime_seconds,
                ..MetricsSnapshot::default()
            }
        );
        assert_eq!(snap.avg_write_latency_us, 0.0);
        assert_eq!(snap.avg_flush_latency_us, 0.0);
    }

    #[test]
    fn concurrent_records_are_exact() {
        const THREADS: u64 = 4;
        const PER_THREAD: u64 = 100_000;
        let m = LogMetrics::new();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for _ in 0..PER_THREAD {
                        m.record_write(100, 2, Duration::from_nanos(1_000));
                        m.record_write_error();
                        m.record_lines_lost(3);
                        m.record_flush(Duration::from_nanos(2_000));
                        m.record_rotation();
                        m.record_rotation_failure();
                        m.record_dropped(5);
                        m.record_overflow();
                    }
                });
            }
        });
        let n = THREADS * PER_THREAD;
        let snap = m.snapshot();
        assert_eq!(snap.bytes_written, 100 * n);
        assert_eq!(snap.lines_written, 2 * n);
        assert_eq!(snap.write_errors, n);
        assert_eq!(snap.lines_lost, 3 * n);
        assert_eq!(snap.flush_count, n);
        assert_eq!(snap.rotation_count, n);
        assert_eq!(snap.rotation_failures, n);
        assert_eq!(snap.dropped_messages, 5 * n);
        assert_eq!(snap.buffer_overflows, n);
        assert_eq!(snap.avg_write_latency_us, 1.0);
        assert_eq!(snap.avg_flush_latency_us, 2.0);
    }

    #[test]
    fn snapshots_while_recording_never_go_backwards() {
        let m = LogMetrics::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..100_000 {
                    m.record_write(10, 1, Duration::from_micros(3));
                }
            });
            let mut last = m.snapshot();
            for _ in 0..1_000 {
                let snap = m.snapshot();
                assert!(snap.bytes_written >= last.bytes_written);
                assert!(snap.lines_written >= last.lines_written);
                last = snap;
            }
        });
        assert_eq!(m.snapshot().lines_written, 100_000);
    }

    #[test]
    fn averages_are_per_batch_and_per_flush_in_microseconds() {
        let m = LogMetrics::new();
        m.record_write(1, 100, Duration::from_micros(10));
        m.record_write(1, 1, Duration::from_micros(20));
        m.record_write(1, 1, Duration::from_nanos(30_500));
        m.record_flush(Duration::from_millis(1));
        m.record_flush(Duration::from_millis(2));
        let snap = m.snapshot();
        assert!((snap.avg_write_latency_us - 20.166_666).abs() < 1e-3);
        assert_eq!(snap.avg_flush_latency_us, 1_500.0);
        // Sub-microsecond latencies are kept, not rounded away.
        let m = LogMetrics::new();
        m.record_flush(Duration::from_nanos(250));
        assert_eq!(m.snapshot().avg_flush_latency_us, 0.25);
    }

    #[test]
    fn huge_latency_saturates_instead_of_panicking() {
        let m = LogMetrics::new();
        m.record_flush(Duration::MAX);
        assert!(m.snapshot().avg_flush_latency_us > 1e15);
    }

    #[test]
    fn uptime_is_monotonic() {
        let m = LogMetrics::new();
        let mut last = m.snapshot().uptime_seconds;
        for _ in 0..100 {
            let now = m.snapshot().uptime_seconds;
            assert!(now >= last);
            last = now;
        }
        assert!(m.started_at() <= Instant::now());
        // The value is whole seconds since creation.
        assert!(last <= m.started_at().elapsed().as_secs());
        std::thread::sleep(Duration::from_millis(1_050));
        assert!(m.snapshot().uptime_seconds >= 1);
    }

    #[test]
    fn merge_adds_counters_and_takes_max_of_averages_and_uptime() {
        let a = MetricsSnapshot {
            bytes_written: 10,
            lines_written: 1,
            write_errors: 2,
            lines_lost: 3,
            flush_count: 4,
            rotation_count: 5,
            rotation_failures: 1,
            buffer_overflows: 6,
            dropped_messages: 7,
            reopens: 8,
            archives_deleted_for_space: 9,
            breaker_open: false,
            buffered_lines: 1,
            buffered_bytes: 100,
            current_buffer_size: 100,
            avg_write_latency_us: 1.5,
            avg_flush_latency_us: 9.0,
            uptime_seconds: 100,
            write_latency: histogram_of(&[1_000, 20_000]),
            flush_latency: LatencyHistogram::default(),
        };
        let b = MetricsSnapshot {
            bytes_written: u64::MAX,
            lines_written: 10,
            write_errors: 20,
            lines_lost: 30,
            flush_count: 40,
            rotation_count: 50,
            rotation_failures: 10,
            buffer_overflows: 60,
            dropped_messages: 70,
            reopens: 80,
            archives_deleted_for_space: 90,
            breaker_open: true,
            buffered_lines: 2,
            buffered_bytes: 200,
            current_buffer_size: usize::MAX,
            avg_write_latency_us: 2.5,
            avg_flush_latency_us: 3.0,
            uptime_seconds: 7,
            write_latency: histogram_of(&[20_000, 30_000_000_000]),
            flush_latency: histogram_of(&[5]),
        };
        let want = MetricsSnapshot {
            bytes_written: u64::MAX,
            lines_written: 11,
            write_errors: 22,
            lines_lost: 33,
            flush_count: 44,
            rotation_count: 55,
            rotation_failures: 11,
            buffer_overflows: 66,
            dropped_messages: 77,
            reopens: 88,
            archives_deleted_for_space: 99,
            breaker_open: true,
            buffered_lines: 3,
            buffered_bytes: 300,
            current_buffer_size: usize::MAX,
            avg_write_latency_us: 2.5,
            avg_flush_latency_us: 9.0,
            uptime_seconds: 100,
            write_latency: histogram_of(&[1_000, 20_000, 20_000, 30_000_000_000]),
            flush_latency: histogram_of(&[5]),
        };
        assert_eq!(a.merge(&b), want);
        assert_eq!(b.merge(&a), want);
        assert_eq!(a.merge(&MetricsSnapshot::default()), a);
    }

    #[test]
    fn buffer_size_is_a_gauge_and_write_duration_adds_latency_only() {
        let m = LogMetrics::new();
        m.update_buffer_size(4096);
        m.update_buffer_size(512);
        m.record_write(100, 1, Duration::ZERO);
        m.record_write(100, 1, Duration::ZERO);
        m.record_write_duration(Duration::from_micros(30));
        m.record_write_duration(Duration::from_micros(10));
        let snap = m.snapshot();
        assert_eq!(snap.current_buffer_size, 512);
        assert_eq!((snap.bytes_written, snap.lines_written), (200, 2));
        // 40 us over the two writes recorded.
        assert_eq!(snap.avg_write_latency_us, 20.0);
    }

    #[test]
    fn a_snapshot_round_trips_through_json_by_field_name() {
        let m = LogMetrics::new();
        m.record_write(10, 2, Duration::from_micros(5));
        m.update_buffer_size(7);
        let snap = m.snapshot();
        let json = serde_json::to_value(snap).unwrap();
        assert_eq!(json["bytes_written"], 10);
        assert_eq!(json["lines_written"], 2);
        assert_eq!(json["current_buffer_size"], 7);
        assert_eq!(json["breaker_open"], false);
        let back: MetricsSnapshot = serde_json::from_value(json).unwrap();
        assert_eq!(back, snap);
    }

    #[test]
    fn a_snapshot_serialized_before_rotation_failures_existed_reads_it_as_zero() {
        let m = LogMetrics::new();
        m.record_rotation_failure();
        let mut json = serde_json::to_value(m.snapshot()).unwrap();
        assert_eq!(json["rotation_failures"], 1);
        json.as_object_mut().unwrap().remove("rotation_failures");
        let back: MetricsSnapshot = serde_json::from_value(json).unwrap();
        assert_eq!(back.rotation_failures, 0);
    }

    #[test]
    fn export_publishes_every_metric_with_the_app_label() {
        let m = LogMetrics::new();
        m.record_write(4096, 40, Duration::from_micros(8));
        m.record_write(4096, 2, Duration::from_micros(4));
        m.record_flush(Duration::from_micros(250));
        m.record_dropped(9);
        m.record_rotation_failure();
        m.record_rotation_failure();
        let snap = m.snapshot();

        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let mut exporter = Exporter::new(&[("app", "web-1".to_owned())]);
            exporter.record(&snap);
            exporter.record(&snap); // only changes are added: recording twice adds nothing
        });

        let entries = snapshotter.snapshot().into_vec();
        assert_eq!(entries.len(), 17, "{entries:#?}");
        // Every metric is described: the help text of Prometheus's `# HELP` lines.
        for (key, _, description, _) in &entries {
            assert!(
                description.as_ref().is_some_and(|d| !d.is_empty()),
                "{} has no description",
                key.key().name()
            );
        }
        let find = |name: &str| {
            let (key, _, _, value) = entries
                .iter()
                .find(|(k, ..)| k.key().name() == name)
                .unwrap_or_else(|| panic!("{name} not exported: {entries:#?}"));
            let labels: Vec<_> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            assert_eq!(labels, [("app".to_owned(), "web-1".to_owned())], "{name}");
            let value = match value {
                DebugValue::Counter(v) => *v as f64,
                DebugValue::Gauge(v) => v.into_inner(),
                DebugValue::Histogram(v) => v.len() as f64,
            };
            (key.kind(), value)
        };
        let samples = |name: &str| -> Vec<f64> {
            entries
                .iter()
                .find_map(|(k, _, _, v)| match v {
                    DebugValue::Histogram(v) if k.key().name() == name => {
                        Some(v.iter().map(|x| x.into_inner()).collect())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{name} not exported as a histogram"))
        };
        use MetricKind::{Counter, Gauge, Histogram};
        assert_eq!(find(names::BYTES_WRITTEN), (Counter, 8192.0));
        assert_eq!(find(names::LINES_WRITTEN), (Counter, 42.0));
        assert_eq!(find(names::WRITE_ERRORS), (Counter, 0.0));
        assert_eq!(find(names::LINES_LOST), (Counter, 0.0));
        assert_eq!(find(names::FLUSHES), (Counter, 1.0));
        assert_eq!(find(names::ROTATIONS), (Counter, 0.0));
        assert_eq!(find(names::ROTATION_FAILURES), (Counter, 2.0));
        assert_eq!(find(names::BUFFER_OVERFLOWS), (Counter, 0.0));
        assert_eq!(find(names::DROPPED_MESSAGES), (Counter, 9.0));
        assert_eq!(find(names::BREAKER_OPEN), (Gauge, 0.0));
        assert_eq!(find(names::BUFFERED_LINES), (Gauge, 0.0));
        // Seconds; one observation per write and per flush, recorded once though exported twice.
        assert_eq!(find(names::WRITE_LATENCY_SECONDS), (Histogram, 2.0));
        // 4 and 8 µs share the bucket le 10 µs: recorded as two of their mean, in that bucket,
        // with the exact sum.
        assert_eq!(samples(names::WRITE_LATENCY_SECONDS), [0.000_006; 2]);
        assert_eq!(samples(names::FLUSH_LATENCY_SECONDS), [0.000_25]);
        assert!(entries
            .iter()
            .all(|(k, ..)| !k.key().name().ends_with("_us")));
        assert_eq!(
            find(names::UPTIME_SECONDS),
            (Gauge, snap.uptime_seconds as f64)
        );
    }
}
