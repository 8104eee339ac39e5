//! Failed rotations: each attempt counted, the first of a run marked in the file, the next try
//! after a backoff that doubles, and a marker when a rotation works again.

use std::io;
use std::time::{Duration, Instant, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use bunctl_log_buffer::{write_marker, Marker};

use super::{file_name, RotatingSink};

/// When a failed rotation is tried again, and how many attempts failed in a row.
pub(super) struct RotationRetry {
    /// The delay before the first retry of a run of failures.
    first_delay: Duration,
    /// The longest delay between two tries.
    max_delay: Duration,
    /// `Some` while rotations are failing: writing goes on in the live file until a retry
    /// works.
    failure: Option<RotationFailure>,
}

/// A run of failed rotations, and when to try again.
struct RotationFailure {
    /// Failed attempts in this run.
    attempts: u64,
    /// The delays before the next tries.
    delays: ExponentialBackoff,
    retry_at: Instant,
}

/// `now + delay`, or a year from now if that does not fit the clock (never a panic).
fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(now)
}

impl RotationRetry {
    /// No failure yet; a first failure waits `first_delay`, doubling up to `max_delay`.
    pub(super) fn new(first_delay: Duration, max_delay: Duration) -> Self {
        Self {
            first_delay,
            max_delay,
            failure: None,
        }
    }

    /// Whether the last rotation failed (and no retry has worked since).
    pub(super) fn is_failing(&self) -> bool {
        self.failure.is_some()
    }

    /// Whether a rotation may be tried now: no failure, or its retry is due.
    pub(super) fn is_due(&self) -> bool {
        self.failure
            .as_ref()
            .is_none_or(|f| Instant::now() >= f.retry_at)
    }

    /// Counts a failed attempt and sets when to try again: whether it is the first of its
    /// run, the attempts in the run, and the delay until the next try.
    fn record_failure(&mut self) -> (bool, u64, Duration) {
        let (initial, max) = (self.first_delay, self.max_delay);
        let now = Instant::now();
        let first = self.failure.is_none();
        let failure = self.failure.get_or_insert_with(|| RotationFailure {
            attempts: 0,
            delays: ExponentialBuilder::default()
                .with_min_delay(initial)
                .with_factor(2.0)
                .with_max_delay(max.max(initial))
                .without_max_times()
                .build(),
            retry_at: now,
        });
        failure.attempts = failure.attempts.saturating_add(1);
        let delay = failure.delays.next().unwrap_or(max);
        failure.retry_at = later(now, delay);
        (first, failure.attempts, delay)
    }

    /// Ends a run of failures: the attempts it had, `None` if there was none.
    fn end_failures(&mut self) -> Option<u64> {
        self.failure.take().map(|f| f.attempts)
    }
}

impl RotatingSink {
    /// Whether a rotation may be tried now: no failure, or its retry is due.
    pub(super) fn rotation_retry_due(&self) -> bool {
        self.rotation_retry.is_due()
    }

    /// A rotation failed at `step` with `error`, and writing goes on in the file being written:
    /// counts the attempt, sets when to try again, and writes the marker line (the first time
    /// in a run of failures).
    pub(super) fn rotation_failed(&mut self, step: &str, error: &io::Error) -> io::Result<()> {
        self.note_rotation_failure(step, error);
        self.write_unwritten_marker()
    }

    /// [`rotation_failed`](Self::rotation_failed) with the marker line left in
    /// `unwritten_marker`, for the next write: for a caller that must first put other lines
    /// before it.
    pub(super) fn note_rotation_failure(&mut self, step: &str, error: &io::Error) {
        if let Some(m) = &self.metrics {
            m.record_rotation_failure();
        }
        let (first, attempts, delay) = self.rotation_retry.record_failure();
        let dir = self.naming.dir();
        let writing = self.live.as_ref().map_or_else(
            || file_name(self.naming.live_path()),
            |l| file_name(l.path()),
        );
        tracing::warn!(dir = %dir.display(), step, %error, attempts, retry_in = ?delay,
            writing = %writing, "log rotation failed; writing goes on in the same file");
        if first {
            // `.next` (whose rename to the live name failed) is a new file, under its limit.
            let error = error.to_string();
            let marker = Marker::RotationFailed {
                dir,
                step,
                error: &error,
                past_limit: writing == file_name(self.naming.live_path()),
                writing: &writing,
            };
            write_marker(
                self.format,
                &marker,
                SystemTime::now(),
                &mut self.unwritten_marker,
            );
        }
    }

    /// A rotation worked: if it follows failed ones, says so in the file being written now.
    pub(super) fn rotation_resumed(&mut self) -> io::Result<()> {
        let Some(attempts) = self.rotation_retry.end_failures() else {
            return Ok(());
        };
        let dir = self.naming.dir();
        tracing::info!(dir = %dir.display(), attempts, "log rotation works again");
        let dir = dir.to_path_buf();
        self.write_marker(&Marker::RotationResumed {
            dir: &dir,
            attempts,
        })
    }
}
