//! [`LogMetrics`]: the lock-free counters one writer and its producers add to, and the
//! snapshot taken of them.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::histogram::LiveHistogram;
use crate::MetricsSnapshot;

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
/// instance is shared by the producers and the writer (put it in an `Arc`). Each
/// counter sits in its own [`CachePadded`] cell so that producers and the writer never
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
    /// Only the writer adds to these (with its other counters): one padding for both.
    latencies: CachePadded<Latencies>,
}

/// The latency histograms of a [`LogMetrics`].
#[derive(Debug)]
struct Latencies {
    /// One observation per [`LogMetrics::record_write`].
    writes: LiveHistogram,
    /// One observation per [`LogMetrics::record_flush`].
    flushes: LiveHistogram,
}

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
            latencies: CachePadded::new(Latencies {
                writes: LiveHistogram::new(),
                flushes: LiveHistogram::new(),
            }),
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
        self.latencies.writes.observe(nanos(latency));
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
        self.latencies.flushes.observe(nanos(latency));
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
            write_latency: self.latencies.writes.snapshot(),
            flush_latency: self.latencies.flushes.snapshot(),
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

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
}
