//! The handle's control of the writer: [`flush`](AsyncLogWriter::flush),
//! [`rotate`](AsyncLogWriter::rotate), [`sync`](AsyncLogWriter::sync) and
//! [`shutdown`](AsyncLogWriter::shutdown), each bounded by a timeout, with a blocking twin.

use std::io;
use std::sync::atomic::Ordering;

use crate::durability::{self, SinkOp};
use crate::{Error, Result};

use super::AsyncLogWriter;

impl AsyncLogWriter {
    /// Waits until every line accepted before the call is in the file (the OS page cache),
    /// at most [`WriterOptions::flush_timeout`](crate::WriterOptions::flush_timeout).
    ///
    /// # Errors
    /// [`Error::FlushTimeout`] if the writer did not get there in time (a hung disk; the lines
    /// stay buffered), [`Error::WriteFailed`] if lines were lost to I/O errors since the last
    /// time `flush` or `shutdown` reported a loss, [`Error::Closed`] if the writer's job ended
    /// first.
    pub async fn flush(&self) -> Result<()> {
        let generation = self.tx.request_flush();
        match tokio::time::timeout(self.options.flush_timeout, self.tx.flushed(generation)).await {
            Ok(flushed) => flushed.map_err(|_| Error::Closed)?,
            Err(_elapsed) => {
                return Err(Error::FlushTimeout {
                    path: self.path.clone(),
                    timeout: self.options.flush_timeout,
                    unwritten_lines: self.unwritten_lines(),
                })
            }
        }
        self.report_losses()
    }

    /// [`flush`](Self::flush) for plain threads (no async runtime needed), bounded the same
    /// way. Do not call it on an async runtime's worker thread: it blocks the thread.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub fn flush_blocking(&self) -> Result<()> {
        let generation = self.tx.request_flush();
        match self
            .tx
            .flushed_blocking(generation, self.options.flush_timeout)
        {
            Ok(true) => self.report_losses(),
            Ok(false) => Err(Error::FlushTimeout {
                path: self.path.clone(),
                timeout: self.options.flush_timeout,
                unwritten_lines: self.unwritten_lines(),
            }),
            Err(_) => Err(Error::Closed),
        }
    }

    /// Lines accepted and not yet written: buffered, and in the batch being written.
    pub(super) fn unwritten_lines(&self) -> u64 {
        self.tx.stats().buffered_lines as u64
            + self.shared.in_flight.load(Ordering::Acquire)
            + self.shared.torn_lines.load(Ordering::Acquire)
    }

    /// `Err` with the lines lost to I/O errors that no call has reported yet.
    pub(super) fn report_losses(&self) -> Result<()> {
        let total = self.metrics.snapshot().lines_lost;
        let reported = self.shared.reported_lost.swap(total, Ordering::AcqRel);
        // A line a failed write cut is not in the file yet either, though its rest is kept.
        let torn = self.shared.torn_lines.load(Ordering::Acquire);
        if total <= reported && torn == 0 {
            return Ok(());
        }
        let source = self
            .shared
            .last_error
            .lock()
            .ok()
            .and_then(|e| e.as_ref().map(crate::error::copy_io))
            .unwrap_or_else(|| io::Error::other("write failed"));
        Err(Error::WriteFailed {
            path: self.path.clone(),
            lines_lost: total.saturating_sub(reported) + torn,
            source,
        })
    }

    /// Flushes, finishes pending rotation, compression and retention, and stops the writer
    /// thread; later writes fail with [`Error::Closed`]. Bounded by
    /// [`WriterOptions::shutdown_timeout`](crate::WriterOptions::shutdown_timeout): a writer stuck in I/O is given up on (a thread in a
    /// system call cannot be stopped; it goes on alone and counts each line it still writes or
    /// loses) and the error says how many lines were not written. Every later call returns the
    /// same outcome.
    ///
    /// # Errors
    /// [`Error::ShutdownTimeout`], [`Error::WriteFailed`] if lines were lost to I/O errors,
    /// [`Error::Io`] if the final fsync, compression or retention failed.
    pub async fn shutdown(&self) -> Result<()> {
        if let Some(tail) = self.take_partial() {
            // Waits for room, within the shutdown's bound; a closed writer has no room to give.
            let wait = self.write_line_async(&tail);
            let _ = tokio::time::timeout(self.options.shutdown_timeout, wait).await;
        }
        self.shared.closing.store(true, Ordering::Release);
        self.tx.close();
        if let Some(outcome) = self.stored_outcome() {
            return outcome;
        }
        let job_ended = tokio::time::timeout(self.options.shutdown_timeout, self.done.wait())
            .await
            .is_ok();
        self.settle(job_ended)
    }

    /// [`shutdown`](Self::shutdown) for plain threads (no async runtime needed), bounded the
    /// same way and with the same outcome. Do not call it on an async runtime's worker thread:
    /// it blocks the thread.
    ///
    /// # Errors
    /// As [`shutdown`](Self::shutdown).
    pub fn shutdown_blocking(&self) -> Result<()> {
        if let Some(tail) = self.take_partial() {
            // Not waiting: nothing bounds a blocking wait for room.
            let _ = self.write_line(&tail);
        }
        self.shared.closing.store(true, Ordering::Release);
        self.tx.close();
        if let Some(outcome) = self.stored_outcome() {
            return outcome;
        }
        let job_ended = self.done.wait_blocking(self.options.shutdown_timeout);
        self.settle(job_ended)
    }

    /// [`shutdown`](Self::shutdown) by value: the product's (v2) name, for a writer that is not
    /// shared (a [`LogManager`](crate::LogManager)'s are, in an `Arc`: shut those down with
    /// `shutdown`, or [`LogManager::remove_writer`](crate::LogManager::remove_writer)).
    ///
    /// # Errors
    /// As [`shutdown`](Self::shutdown).
    pub async fn close(self) -> Result<()> {
        self.shutdown().await
    }

    /// Rotates the live file now: every line accepted before the call goes to the file being
    /// rotated (as [`flush`](Self::flush) waits for), then it is renamed to its archive name
    /// and compressed and expired as any rotation (see [`RotationConfig`](crate::RotationConfig)).
    /// An empty live file is not rotated. Waits at most [`WriterOptions::flush_timeout`](crate::WriterOptions::flush_timeout) for
    /// each of the flush and the rotation (the writer may be busy in a hung write).
    ///
    /// ```
    /// use bunctl_logging::{AsyncLogWriter, LogWriterConfig};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let writer = AsyncLogWriter::new(LogWriterConfig {
    ///     path: dir.path().join("app.log"),
    ///     ..LogWriterConfig::default()
    /// }).await?;
    /// writer.write_line("before")?;
    /// writer.rotate().await?;
    /// writer.write_line("after")?;
    /// writer.shutdown().await?;
    /// assert_eq!(writer.log_files()?.len(), 2); // the archive, then the live file
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down, [`Error::FlushTimeout`] from the flush,
    /// [`Error::Io`] naming the file if the rotation failed (a failed rename leaves the file as
    /// it was) or did not start within the timeout, [`Error::WriteFailed`] (after rotating) if
    /// lines were lost to I/O errors since the last report.
    pub async fn rotate(&self) -> Result<()> {
        self.flush_then(durability::ROTATE).await
    }

    /// Flushes, then runs `op` on the sink on the blocking pool, waiting at most
    /// [`WriterOptions::flush_timeout`](crate::WriterOptions::flush_timeout) for each; lines lost earlier are reported after `op`.
    async fn flush_then(&self, op: SinkOp) -> Result<()> {
        let losses = self.flush_reporting_losses_later().await?;
        let (rotator, path) = (self.rotator.clone(), self.path.clone());
        let job = tokio::task::spawn_blocking(move || op.run_on(&rotator, &path));
        match tokio::time::timeout(self.options.flush_timeout, job).await {
            Ok(Ok(done)) => done?,
            Ok(Err(_panicked)) => {
                return Err(Error::TaskFailed {
                    path: self.path.clone(),
                    task: op.task,
                })
            }
            Err(_elapsed) => return Err(self.sink_timeout(op)),
        }
        losses.map_or(Ok(()), Err)
    }

    /// Returns when every line accepted before the call is on stable storage: the live file's
    /// data, any rotation still finishing (its file synced and renamed), and the directory
    /// entries that name them (a new live file, a directory the writer created, renames).
    /// [`flush`](Self::flush) only promises the page cache, which a crash of the process keeps
    /// and a crash of the machine may not. Waits at most [`WriterOptions::flush_timeout`](crate::WriterOptions::flush_timeout) for
    /// each of the flush and the sync. Costs an `fdatasync` (and a directory `fsync` when
    /// entries changed): call it at the points that matter, or set
    /// [`WriterOptions::sync_interval`](crate::WriterOptions::sync_interval).
    ///
    /// ```
    /// use bunctl_logging::{AsyncLogWriter, LogWriterConfig};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let writer = AsyncLogWriter::new(LogWriterConfig {
    ///     path: dir.path().join("app.log"),
    ///     ..LogWriterConfig::default()
    /// }).await?;
    /// writer.write_line("payment 42 accepted")?;
    /// writer.sync().await?; // on disk, even if the power goes now
    /// # writer.shutdown().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down, [`Error::FlushTimeout`] from the flush,
    /// [`Error::Io`] naming the file if the sync failed (the lines are then not known to be
    /// durable) or did not start within the timeout, [`Error::WriteFailed`] (after syncing)
    /// if lines were lost to I/O errors since the last report.
    pub async fn sync(&self) -> Result<()> {
        self.flush_then(durability::SYNC).await
    }

    /// [`sync`](Self::sync) for plain threads (no async runtime needed). Do not call it on an
    /// async runtime's worker thread: it blocks the thread. It waits for the writer as long as
    /// the writer takes.
    ///
    /// # Errors
    /// As [`sync`](Self::sync).
    pub fn sync_blocking(&self) -> Result<()> {
        self.flush_blocking_then(durability::SYNC)
    }

    /// [`rotate`](Self::rotate) for plain threads (no async runtime needed). Do not call it on
    /// an async runtime's worker thread: it blocks the thread. It waits for the writer as long
    /// as the writer takes (a writer stuck in a hung write holds it up).
    ///
    /// # Errors
    /// As [`rotate`](Self::rotate).
    pub fn rotate_blocking(&self) -> Result<()> {
        self.flush_blocking_then(durability::ROTATE)
    }

    /// [`flush_then`](Self::flush_then) for plain threads.
    fn flush_blocking_then(&self, op: SinkOp) -> Result<()> {
        let losses = match self.flush_blocking() {
            Ok(()) => None,
            Err(e @ Error::WriteFailed { .. }) => Some(e),
            Err(e) => return Err(e),
        };
        op.run_on(&self.rotator, &self.path)?;
        losses.map_or(Ok(()), Err)
    }

    /// The flush before a rotation or a sync; lines lost earlier are reported after it.
    async fn flush_reporting_losses_later(&self) -> Result<Option<Error>> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        match self.flush().await {
            Ok(()) => Ok(None),
            Err(e @ Error::WriteFailed { .. }) => Ok(Some(e)),
            Err(e) => Err(e),
        }
    }

    fn sink_timeout(&self, op: SinkOp) -> Error {
        let task = op.task;
        Error::Io {
            action: op.action,
            path: self.path.clone(),
            source: io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the writer did not get to the {task} within {:?}",
                    self.options.flush_timeout
                ),
            ),
        }
    }
}
