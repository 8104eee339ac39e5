//! Names of the metrics an [`Exporter`] publishes, all labelled `app=<app id>` and
//! `file=<file name>`.
//!
//! [`Exporter`]: crate::Exporter

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
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Gauge: seconds since the writer's metrics were created.
pub const UPTIME_SECONDS: &str = "bunctl_log_uptime_seconds";
