//! Lock-free counters of one log writer, snapshots of them, and export through `metrics`.
//!
//! A [`LogMetrics`] is shared (usually in an `Arc`) by the producers of one writer, which count
//! dropped lines and buffer overflows, and by the writer, which counts bytes, lines,
//! flushes, rotations and errors. Design:
//!
//! * **Nothing on the hot path waits.** Every `record_*` method takes `&self` and does one or
//!   two `fetch_add`s with [`Ordering::Relaxed`]: no lock, no allocation, no system call.
//! * **No false sharing.** Each counter lives in its own [`CachePadded`] cell, so a producer
//!   counting a dropped line never invalidates the cache line the writer is adding bytes
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
//!   the program installed (Prometheus, statsd, ...); the writer calls it per batch, so
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
//!
//! [`Ordering::Relaxed`]: std::sync::atomic::Ordering::Relaxed
//! [`CachePadded`]: crossbeam_utils::CachePadded
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

// One job a file: the counters (`LogMetrics`), the plain numbers read from them
// (`MetricsSnapshot`), the latency histograms both hold, the metric names, and the export
// through the `metrics` facade.
mod counters;
mod export;
mod histogram;
pub mod names;
mod snapshot;

pub use counters::LogMetrics;
pub use export::{describe, Exporter};
pub use histogram::{LatencyHistogram, LATENCY_BUCKETS};
pub use snapshot::MetricsSnapshot;
