//! [`LogMetrics`]: the product's counters API, on the writers' own lock-free counters.

use std::time::Duration;

use bunctl_log_metrics::MetricsSnapshot;

/// Lock-free counters with the product's (v2) methods, for code that counts its own logging
/// next to the writers': the same counters the writers keep
/// ([`bunctl_log_metrics::LogMetrics`], each on its own cache line, `Relaxed` atomics, no lock,
/// nothing that waits), under the v2 names and units (microseconds as `u64`).
/// [`snapshot`](Self::snapshot) gives the same [`MetricsSnapshot`] a writer's
/// [`get_metrics`](crate::AsyncLogWriter::get_metrics) does.
///
/// Writers count for themselves: this type is not needed to read their metrics.
///
/// ```
/// use bunctl_logging::LogMetrics;
///
/// let metrics = LogMetrics::new();
/// metrics.record_write(120);
/// metrics.record_write_duration(30);
/// metrics.record_write(80);
/// metrics.record_write_duration(10);
/// metrics.record_flush(500);
/// metrics.record_dropped_message();
/// metrics.update_buffer_size(4096);
///
/// let snap = metrics.snapshot();
/// assert_eq!((snap.bytes_written, snap.lines_written), (200, 2));
/// assert_eq!(snap.avg_write_latency_us, 20.0);
/// assert_eq!(snap.avg_flush_latency_us, 500.0);
/// assert_eq!(snap.dropped_messages, 1);
/// assert_eq!(snap.current_buffer_size, 4096);
/// ```
#[derive(Debug, Default)]
pub struct LogMetrics {
    inner: bunctl_log_metrics::LogMetrics,
}

impl LogMetrics {
    /// All counters at zero; the uptime counts from now.
    pub fn new() -> Self {
        Self::default()
    }

    /// One line of `bytes` bytes was written (one write: the divisor of the write latency
    /// average).
    pub fn record_write(&self, bytes: u64) {
        self.inner.record_write(bytes, 1, Duration::ZERO);
    }

    /// A write failed.
    pub fn record_write_error(&self) {
        self.inner.record_write_error();
    }

    /// A flush took `duration_us` microseconds.
    pub fn record_flush(&self, duration_us: u64) {
        self.inner.record_flush(Duration::from_micros(duration_us));
    }

    /// The file was rotated.
    pub fn record_rotation(&self) {
        self.inner.record_rotation();
    }

    /// A write found the buffer full.
    pub fn record_buffer_overflow(&self) {
        self.inner.record_overflow();
    }

    /// A message was dropped because the buffer was full.
    pub fn record_dropped_message(&self) {
        self.inner.record_dropped(1);
    }

    /// `bytes` are waiting in the buffer now ([`MetricsSnapshot::current_buffer_size`]; the last
    /// value set wins).
    pub fn update_buffer_size(&self, bytes: usize) {
        self.inner.update_buffer_size(bytes);
    }

    /// A write took `duration_us` microseconds: added to the write latency total, whose
    /// average is per [`record_write`](Self::record_write).
    pub fn record_write_duration(&self, duration_us: u64) {
        self.inner
            .record_write_duration(Duration::from_micros(duration_us));
    }

    /// The counters now, with the averages computed (see [`MetricsSnapshot`]).
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.inner.snapshot()
    }
}
