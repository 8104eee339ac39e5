//! Latency histograms: the live one the writer counts into ([`LiveHistogram`]) and the plain
//! numbers a snapshot holds ([`LatencyHistogram`]), on the fixed bounds of
//! [`names::LATENCY_BUCKETS_SECONDS`].

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::names;

/// [`names::LATENCY_BUCKETS_SECONDS`] in nanoseconds: where an observation is counted is
/// decided on integers, so an observation exactly on a bound is in that bound's bucket.
pub(crate) const LATENCY_BUCKETS_NS: [u64; 19] = [
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

/// The live form of a [`LatencyHistogram`]: counted by the writer, read by snapshots.
#[derive(Debug)]
pub(crate) struct LiveHistogram {
    counts: [AtomicU64; LATENCY_BUCKETS],
    totals_ns: [AtomicU64; LATENCY_BUCKETS],
}

impl LiveHistogram {
    pub(crate) fn new() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            totals_ns: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one latency of `ns` nanoseconds in its bucket.
    pub(crate) fn observe(&self, ns: u64) {
        let bucket = LATENCY_BUCKETS_NS.partition_point(|&bound| bound < ns);
        // Total before count, as for the averages (see `LogMetrics::snapshot`).
        self.totals_ns[bucket].fetch_add(ns, Ordering::Relaxed);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts and totals now, each read once.
    pub(crate) fn snapshot(&self) -> LatencyHistogram {
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

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::LogMetrics;

    /// The histogram of flushes of these latencies, in nanoseconds.
    pub(crate) fn histogram_of(latencies_ns: &[u64]) -> LatencyHistogram {
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
}
