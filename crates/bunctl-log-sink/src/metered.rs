//! [`MeteredSink`]: counts what passes through the sink it wraps.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use bunctl_log_metrics::LogMetrics;

use crate::Sink;

/// Records bytes written, write latency, write errors and flush/sync latency of the sink it
/// wraps into a [`LogMetrics`]. Lines are counted by the writer, which knows them without
/// scanning the batch.
#[derive(Debug)]
pub struct MeteredSink<S> {
    inner: S,
    metrics: Arc<LogMetrics>,
}

impl<S: Sink> MeteredSink<S> {
    /// Wraps `inner`, recording into `metrics`.
    pub fn new(inner: S, metrics: Arc<LogMetrics>) -> Self {
        Self { inner, metrics }
    }

    /// The wrapped sink.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn timed<T>(&mut self, op: impl FnOnce(&mut S) -> io::Result<T>) -> io::Result<T> {
        let start = Instant::now();
        let r = op(&mut self.inner);
        if r.is_ok() {
            self.metrics.record_flush(start.elapsed());
        } else {
            self.metrics.record_write_error();
        }
        r
    }
}

impl<S: Sink> Sink for MeteredSink<S> {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        let start = Instant::now();
        match self.inner.write(batch) {
            Ok(n) => {
                self.metrics.record_write(n as u64, 0, start.elapsed());
                Ok(n)
            }
            Err(e) => {
                self.metrics.record_write_error();
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.timed(|s| s.flush())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.timed(|s| s.sync())
    }

    fn close_idle(&mut self) -> io::Result<()> {
        self.timed(|s| s.close_idle())
    }

    fn before_close(&mut self) {
        self.inner.before_close();
    }

    fn close(&mut self) -> io::Result<()> {
        self.timed(|s| s.close())
    }
}
