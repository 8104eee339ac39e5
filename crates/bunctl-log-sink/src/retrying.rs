//! [`RetryingSink`]: retries transient errors with exponential backoff, behind a circuit
//! breaker.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_log_metrics::LogMetrics;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::Sink;

/// How a [`RetryingSink`] retries and when its circuit breaker opens.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Delay before the first retry; it doubles for each further one.
    pub initial_delay: Duration,
    /// Tries in all for one write, the first included.
    pub max_attempts: usize,
    /// Consecutive failed tries after which the breaker opens.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before one probe write; doubles while probes fail.
    pub probe_interval: Duration,
    /// Longest time between probes.
    pub max_probe_interval: Duration,
}

impl Default for RetryConfig {
    /// 100 ms doubling, 5 tries; the breaker opens after 10 consecutive failures and probes
    /// after 1 s, then up to every 30 s.
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(100),
            max_attempts: 5,
            breaker_threshold: 10,
            probe_interval: Duration::from_secs(1),
            max_probe_interval: Duration::from_secs(30),
        }
    }
}

/// The error a [`RetryingSink`] returns, without trying, while its breaker is open. Find it
/// with `io_error.get_ref().is_some_and(|e| e.is::<CircuitOpen>())`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitOpen;

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circuit breaker open after repeated write failures; waiting to probe")
    }
}

impl std::error::Error for CircuitOpen {}

/// Whether an I/O error may go away by itself (a full disk, EIO, EINTR, a busy resource), so
/// that the write is worth retrying. Errors that say the request itself is wrong are not.
pub fn is_transient(e: &io::Error) -> bool {
    !matches!(
        e.kind(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::Unsupported
    ) && !e.get_ref().is_some_and(|inner| inner.is::<CircuitOpen>())
}

type Sleeper = Box<dyn Fn(Duration) + Send>;

/// Retries the writes of the sink it wraps: transient errors are retried after 100 ms, 200 ms,
/// 400 ms, ... (see [`RetryConfig`]). After `breaker_threshold` consecutive failed tries the
/// circuit breaker opens: writes fail at once with [`CircuitOpen`], so the writer drops and
/// counts lines instead of blocking, until a probe write succeeds and closes it again.
///
/// Retrying is safe because [`Sink::write`] reports partial progress: a retry never repeats a
/// byte that is already in the file.
pub struct RetryingSink<S> {
    inner: S,
    config: RetryConfig,
    sleep: Sleeper,
    metrics: Option<Arc<LogMetrics>>,
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probe_interval: Duration,
}

impl<S: fmt::Debug> fmt::Debug for RetryingSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryingSink")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("open", &self.open_until.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Sink> RetryingSink<S> {
    /// Wraps `inner`; delays are slept with `std::thread::sleep` (the writer runs its sink off
    /// the async runtime).
    pub fn new(inner: S, config: RetryConfig) -> Self {
        let probe_interval = config.probe_interval;
        Self {
            inner,
            config,
            sleep: Box::new(std::thread::sleep),
            metrics: None,
            consecutive_failures: 0,
            open_until: None,
            probe_interval,
        }
    }

    /// Replaces the function that sleeps between tries (tests record the delays instead).
    pub fn with_sleeper(mut self, sleep: impl Fn(Duration) + Send + 'static) -> Self {
        self.sleep = Box::new(sleep);
        self
    }

    /// Shows the breaker's state in `metrics` (`breaker_open`).
    pub fn with_metrics(mut self, metrics: Arc<LogMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Whether the circuit breaker is open.
    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    /// The wrapped sink.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped sink, mutably.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    fn succeeded(&mut self) {
        if self.open_until.take().is_some() {
            tracing::info!("log sink recovered; circuit breaker closed");
            if let Some(m) = &self.metrics {
                m.record_breaker(false);
            }
        }
        self.consecutive_failures = 0;
        self.probe_interval = self.config.probe_interval;
    }

    fn open_breaker(&mut self, e: &io::Error) {
        tracing::warn!(error = %e, failures = self.consecutive_failures,
            "log sink keeps failing; circuit breaker open");
        if let Some(m) = &self.metrics {
            m.record_breaker(true);
        }
        // Saturating: a configured interval too long for the clock means "open for good, until
        // a write after that long", never an overflow panic in the writer thread.
        let now = Instant::now();
        self.open_until = Some(
            now.checked_add(self.probe_interval)
                .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
                .unwrap_or(now),
        );
        self.probe_interval = self
            .probe_interval
            .saturating_mul(2)
            .min(self.config.max_probe_interval);
    }
}

impl<S: Sink> Sink for RetryingSink<S> {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        if let Some(until) = self.open_until {
            if Instant::now() < until {
                return Err(io::Error::other(CircuitOpen));
            }
            // Half open: one probe.
            tracing::debug!("circuit breaker half open; probing the log sink");
            return match self.inner.write(batch) {
                Ok(n) => {
                    self.succeeded();
                    Ok(n)
                }
                Err(e) => {
                    self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                    self.open_breaker(&e);
                    Err(e)
                }
            };
        }
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.config.initial_delay)
            .with_factor(2.0)
            .with_max_times(self.config.max_attempts.saturating_sub(1))
            // No retry waits longer than the breaker's longest probe interval.
            .with_max_delay(
                self.config
                    .max_probe_interval
                    .max(self.config.initial_delay),
            )
            .build();
        let mut attempt = 1usize;
        loop {
            match self.inner.write(batch) {
                Ok(n) => {
                    if attempt > 1 {
                        tracing::info!(attempt, "log write succeeded after retrying");
                    }
                    self.succeeded();
                    return Ok(n);
                }
                Err(e) => {
                    self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                    if self.consecutive_failures >= self.config.breaker_threshold {
                        self.open_breaker(&e);
                        return Err(e);
                    }
                    if !is_transient(&e) {
                        tracing::warn!(attempt, error = %e, "log write failed; not retried");
                        return Err(e);
                    }
                    match delays.next() {
                        Some(delay) => {
                            tracing::warn!(attempt, delay = ?delay,
                                error = %e, "log write failed; retrying");
                            (self.sleep)(delay);
                            attempt += 1;
                        }
                        None => {
                            tracing::warn!(attempts = attempt, error = %e,
                                "log write failed; giving up after the last retry");
                            return Err(e);
                        }
                    }
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }

    fn close_idle(&mut self) -> io::Result<()> {
        self.inner.close_idle()
    }

    /// An open breaker goes half open: the next write is a probe, not refused.
    fn before_close(&mut self) {
        if self.open_until.is_some() {
            self.open_until = Some(Instant::now());
        }
        self.inner.before_close();
    }

    fn close(&mut self) -> io::Result<()> {
        self.inner.close()
    }
}
