//! [`MetricsSnapshot`]: a writer's counters at one moment, as plain numbers, and the total of
//! several.

use serde::{Deserialize, Serialize};

use crate::LatencyHistogram;

/// The counters of a writer at one moment, as plain numbers.
///
/// Taken with [`LogMetrics::snapshot`]; combine several with [`MetricsSnapshot::merge`] and
/// publish with an [`Exporter`]. Serializes (serde) as an object of its fields, by name.
///
/// [`LogMetrics::snapshot`]: crate::LogMetrics::snapshot
/// [`Exporter`]: crate::Exporter
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
    ///
    /// [`LogMetrics::snapshot`]: crate::LogMetrics::snapshot
    pub buffered_lines: u64,
    /// Bytes accepted and waiting in the buffer now; see `buffered_lines`.
    pub buffered_bytes: u64,
    /// Bytes waiting in the buffer now, as the product's API names it: a writer fills it in
    /// (the same value as `buffered_bytes`); a [`LogMetrics`] used alone reports what
    /// [`LogMetrics::update_buffer_size`] last set.
    ///
    /// [`LogMetrics`]: crate::LogMetrics
    /// [`LogMetrics::update_buffer_size`]: crate::LogMetrics::update_buffer_size
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::histogram::tests::histogram_of;
    use crate::LogMetrics;

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
}
