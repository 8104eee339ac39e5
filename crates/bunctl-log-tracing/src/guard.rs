//! [`LogGuard`]: shuts the writer down, so everything logged is in the file at exit.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

use bunctl_logging::{AsyncLogWriter, Result};

use crate::blocking::off_the_runtime;

/// Keeps the log writer open; dropping it shuts the writer down, like `tracing-appender`'s
/// `WorkerGuard`. Hold it until the program ends (`let (writer, _guard) = ...` in `main`; not
/// `let (writer, _)`, which drops it at once and every event after it is discarded).
///
/// Shutting down writes every event accepted before it to the file, fsyncs it, finishes a
/// rotation's compression and retention, and stops the writer
/// ([`AsyncLogWriter::shutdown_blocking`]). It is bounded by the writer's
/// [`shutdown_timeout`](bunctl_logging::WriterOptions::shutdown_timeout) (10 s by default): a
/// disk that hangs is given up on, and the error says how many lines were not written.
/// Dropping the guard writes that error to stderr (it never panics); call
/// [`shutdown`](Self::shutdown) instead to handle it. Events logged after the shutdown are
/// discarded.
///
/// Where the drop runs matters only for what waits meanwhile: on a worker thread of a
/// multi-thread tokio runtime the wait runs in [`tokio::task::block_in_place`], so the
/// worker's other tasks move to another thread; on a current-thread runtime it holds up that
/// runtime's only thread for as long as the shutdown takes (it cannot deadlock: the writer is
/// an OS thread of its own); on a plain thread it simply blocks.
#[must_use = "dropping the guard shuts the writer down: keep it until the program ends"]
pub struct LogGuard {
    writer: Arc<AsyncLogWriter>,
    /// Set once [`LogGuard::shutdown`] has reported the outcome, so `Drop` does not again.
    reported: bool,
}

impl fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogGuard")
            .field("path", &self.writer.path())
            .finish_non_exhaustive()
    }
}

impl LogGuard {
    /// A guard that shuts `writer` down when dropped (for a writer opened by hand, as
    /// [`file_with`](crate::file_with) does).
    pub fn new(writer: Arc<AsyncLogWriter>) -> Self {
        Self {
            writer,
            reported: false,
        }
    }

    /// The guarded writer: its metrics, its files.
    pub fn writer(&self) -> &Arc<AsyncLogWriter> {
        &self.writer
    }

    /// Waits until every event accepted so far is in the file (the OS page cache), at most the
    /// writer's `flush_timeout`; the writer stays open. Safe on any thread, as the drop is.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::flush_blocking`]: a timeout, lines lost to I/O errors, or
    /// [`Error::Closed`](bunctl_logging::Error::Closed) after a shutdown.
    pub fn flush(&self) -> Result<()> {
        off_the_runtime(|| self.writer.flush_blocking())
    }

    /// Shuts the writer down now, as dropping the guard does, and returns the outcome instead
    /// of writing it to stderr.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::shutdown_blocking`]: a timeout, lines lost to I/O errors, a failed
    /// final fsync or compression.
    pub fn shutdown(mut self) -> Result<()> {
        self.reported = true;
        off_the_runtime(|| self.writer.shutdown_blocking())
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if self.reported {
            return;
        }
        if let Err(e) = off_the_runtime(|| self.writer.shutdown_blocking()) {
            // The subscriber may well write to this very writer: stderr is all that is left.
            // A failed write to stderr is ignored; nothing here may panic.
            let _ = writeln!(
                std::io::stderr(),
                "bunctl-log-tracing: the log writer did not shut down cleanly: {e}"
            );
        }
    }
}
