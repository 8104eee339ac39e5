//! Export through the [`metrics`] facade: what each published metric is (name, help text,
//! unit, where its value is in a snapshot), [`describe`], and the [`Exporter`] that publishes
//! a writer's snapshots as they change.

use crate::histogram::LATENCY_BUCKETS;
use crate::{names, LatencyHistogram, MetricsSnapshot};

/// One metric an [`Exporter`] publishes.
struct Published<Value> {
    name: &'static str,
    /// Prometheus's `# HELP` text.
    help: &'static str,
    unit: metrics::Unit,
    /// Where its value is in a snapshot.
    value: Value,
}

type CounterValue = fn(&MetricsSnapshot) -> u64;
type GaugeValue = fn(&MetricsSnapshot) -> f64;
type HistogramValue = fn(&MetricsSnapshot) -> &LatencyHistogram;

/// The counters [`Exporter`] publishes.
const COUNTERS: [Published<CounterValue>; 11] = [
    Published {
        name: names::BYTES_WRITTEN,
        help: "Bytes written to the log files.",
        unit: metrics::Unit::Bytes,
        value: |s| s.bytes_written,
    },
    Published {
        name: names::LINES_WRITTEN,
        help: "Lines written to the log files.",
        unit: metrics::Unit::Count,
        value: |s| s.lines_written,
    },
    Published {
        name: names::WRITE_ERRORS,
        help: "Failed writes to the log files (each failed attempt counts once).",
        unit: metrics::Unit::Count,
        value: |s| s.write_errors,
    },
    Published {
        name: names::LINES_LOST,
        help: "Accepted lines that could not be written because of I/O failures.",
        unit: metrics::Unit::Count,
        value: |s| s.lines_lost,
    },
    Published {
        name: names::FLUSHES,
        help: "Flushes of the log files.",
        unit: metrics::Unit::Count,
        value: |s| s.flush_count,
    },
    Published {
        name: names::ROTATIONS,
        help: "Rotations of the log files.",
        unit: metrics::Unit::Count,
        value: |s| s.rotation_count,
    },
    Published {
        name: names::ROTATION_FAILURES,
        help: "Failed attempts to rotate a log file; it was written past its limit meanwhile.",
        unit: metrics::Unit::Count,
        value: |s| s.rotation_failures,
    },
    Published {
        name: names::BUFFER_OVERFLOWS,
        help: "Writes that found the writer's buffer full.",
        unit: metrics::Unit::Count,
        value: |s| s.buffer_overflows,
    },
    Published {
        name: names::DROPPED_MESSAGES,
        help: "Lines dropped because the writer's buffer was full.",
        unit: metrics::Unit::Count,
        value: |s| s.dropped_messages,
    },
    Published {
        name: names::REOPENS,
        help: "Live files reopened because something else removed or replaced them.",
        unit: metrics::Unit::Count,
        value: |s| s.reopens,
    },
    Published {
        name: names::ARCHIVES_DELETED_FOR_SPACE,
        help: "Archives deleted early to make room on a full disk.",
        unit: metrics::Unit::Count,
        value: |s| s.archives_deleted_for_space,
    },
];

/// The gauges [`Exporter`] publishes.
const GAUGES: [Published<GaugeValue>; 4] = [
    Published {
        name: names::BUFFERED_LINES,
        help: "Lines accepted and waiting in the writer's buffer.",
        unit: metrics::Unit::Count,
        value: |s| s.buffered_lines as f64,
    },
    Published {
        name: names::BUFFERED_BYTES,
        help: "Bytes accepted and waiting in the writer's buffer.",
        unit: metrics::Unit::Bytes,
        value: |s| s.buffered_bytes as f64,
    },
    Published {
        name: names::BREAKER_OPEN,
        help: "1 while the circuit breaker is open (writes fail at once), else 0.",
        unit: metrics::Unit::Count,
        value: |s| f64::from(u8::from(s.breaker_open)),
    },
    Published {
        name: names::UPTIME_SECONDS,
        help: "Seconds since the writer started.",
        unit: metrics::Unit::Seconds,
        value: |s| s.uptime_seconds as f64,
    },
];

/// The histograms [`Exporter`] publishes (buckets: [`names::LATENCY_BUCKETS_SECONDS`]).
const HISTOGRAMS: [Published<HistogramValue>; 2] = [
    Published {
        name: names::WRITE_LATENCY_SECONDS,
        help: "Latency of one written batch.",
        unit: metrics::Unit::Seconds,
        value: |s| &s.write_latency,
    },
    Published {
        name: names::FLUSH_LATENCY_SECONDS,
        help: "Latency of one flush.",
        unit: metrics::Unit::Seconds,
        value: |s| &s.flush_latency,
    },
];

/// Gives the installed `metrics` recorder the help text and unit of every metric an
/// [`Exporter`] publishes (Prometheus's `# HELP` lines). [`Exporter::new`] calls it; call it
/// yourself to describe the metrics before any writer exists.
pub fn describe() {
    for m in &COUNTERS {
        metrics::describe_counter!(m.name, m.unit, m.help);
    }
    for m in &GAUGES {
        metrics::describe_gauge!(m.name, m.unit, m.help);
    }
    for m in &HISTOGRAMS {
        metrics::describe_histogram!(m.name, m.unit, m.help);
    }
}

/// Publishes one writer's metrics through the [`metrics`] facade as they change, to whatever
/// recorder the program installed (Prometheus, statsd, ...); without one it does nothing.
///
/// The handles are registered once, with the writer's labels, when the exporter is made (so
/// install the recorder before creating writers), and every metric is described then
/// ([`describe`]). [`record`](Self::record) then costs an atomic add per changed counter, a
/// store per gauge and one histogram record per latency bucket that changed: the writer
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
                .map(|m| metrics::counter!(m.name, labels.clone()))
                .collect(),
            gauges: GAUGES
                .iter()
                .map(|m| metrics::gauge!(m.name, labels.clone()))
                .collect(),
            histograms: HISTOGRAMS
                .iter()
                .map(|m| metrics::histogram!(m.name, labels.clone()))
                .collect(),
            last: MetricsSnapshot::default(),
        }
    }

    /// Publishes `now`: each counter goes up by its change since the last call, each gauge is
    /// set, and each histogram gets the latencies counted since the last call.
    pub fn record(&mut self, now: &MetricsSnapshot) {
        for (handle, counter) in self.counters.iter().zip(COUNTERS.iter()) {
            let delta = (counter.value)(now).saturating_sub((counter.value)(&self.last));
            if delta > 0 {
                handle.increment(delta);
            }
        }
        for (handle, gauge) in self.gauges.iter().zip(GAUGES.iter()) {
            handle.set((gauge.value)(now));
        }
        for (handle, histogram) in self.histograms.iter().zip(HISTOGRAMS.iter()) {
            let (now, last) = ((histogram.value)(now), (histogram.value)(&self.last));
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
    use std::time::Duration;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use metrics_util::MetricKind;

    use super::*;
    use crate::LogMetrics;

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
