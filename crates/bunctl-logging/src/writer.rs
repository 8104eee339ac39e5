//! [`AsyncLogWriter`]: the handle producers write to, and the thread that writes the file.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::SystemTime;

use bunctl_log_buffer::{
    format_lines, format_message, formatted_max_len, LineFormat, LineSplitter, Lines, TimeCache,
};
use bunctl_log_channel::{
    channel_with_metrics, Batch, ChannelConfig, ChannelStats, Receiver, Sender, TryRecv,
    TrySendError,
};
use bunctl_log_fs::{parent_dir, Filesystem, Locked, StdFs};
use bunctl_log_metrics::{Exporter, LogMetrics, MetricsSnapshot};
use bunctl_log_rotation::{Clock, SystemClock};
use bunctl_log_sink::{
    list_log_files, MeteredSink, RetryingSink, RotatingSink, RotatingSinkConfig, Sink,
};
use bytes::Bytes;

use crate::durability::{self, Rotator, SinkOp, Unsynced};
use crate::losses::Losses;
use crate::pool::{Job, Pool, Turn, Work, BATCHES_PER_TURN};
use crate::{Error, LogWriterConfig, Result, Stream, WriterOptions};

/// Writes lines to one log file, rotating, compressing and expiring it, without ever making
/// the caller wait for I/O.
///
/// Producers append whole lines to a shared buffer; one writer thread takes the buffer in
/// batches and writes each with one `write(2)` through the sink stack
/// `RetryingSink(MeteredSink(RotatingSink(FileSink)))`. File I/O never runs on the async
/// runtime, and under load the writer goes from one batch to the next without a hand-over to
/// another thread; idle, it sleeps on a condition variable with no timeout. Three ways to
/// write, so callers choose between never blocking and never losing:
///
/// | method | when the buffer is full |
/// |---|---|
/// | [`write_line`](Self::write_line) | drops the line, counts it, marks the gap in the file |
/// | [`try_write_line`](Self::try_write_line) | returns [`Error::Full`] |
/// | [`write_line_async`](Self::write_line_async) | waits for room: lossless |
///
/// [`write`](Self::write) takes raw bytes (chunks of a stream, cut anywhere) and holds a
/// partial last line until the rest comes; [`rotate`](Self::rotate) rotates the file now;
/// [`close`](Self::close) is [`shutdown`](Self::shutdown) by value (the product's v2 names;
/// [`LogWriter`] is this type under its v2 name).
///
/// One writer per live file: opening a second one on the same file, in this process or
/// another, fails with [`Error::Locked`].
///
/// Must be created inside a tokio runtime with the time driver enabled.
pub struct AsyncLogWriter {
    tx: Sender,
    path: PathBuf,
    fs: Arc<dyn Filesystem>,
    metrics: Arc<LogMetrics>,
    shared: Arc<TaskShared>,
    options: WriterOptions,
    /// The `stream` of JSON lines.
    stream: &'static str,
    /// Set by the writer thread when it has finished (drained, closed the sink).
    done: Arc<Done>,
    /// What the first completed `shutdown` returned, returned again by every later call.
    outcome: std::sync::Mutex<Option<Result<()>>>,
    /// Cuts what [`write`](Self::write) is given into lines and holds a partial last one.
    /// Held while the lines are handed over, so they enter the buffer in the order they came.
    partial: Mutex<LineSplitter>,
    /// The rotating sink, for [`rotate`](Self::rotate): weak, so that the writer thread alone
    /// keeps it (its files and lock) alive.
    rotator: Rotator,
}

/// The writer thread's [`RotatingSink`], shared with the handle for [`AsyncLogWriter::rotate`];
/// `None` once closed.
type SharedRotating = Arc<Mutex<Option<RotatingSink>>>;

/// The product's (v2) name of the background writer: the same type as [`AsyncLogWriter`],
/// with the same semantics (`new(LogWriterConfig).await`, `write`, `write_line`, `flush`,
/// `rotate`, `get_metrics`, `shutdown`).
///
/// One difference in signature: v2's `LogWriter::shutdown` took the writer by value; here
/// [`shutdown`](AsyncLogWriter::shutdown) takes `&self`, so that writers shared in an `Arc` (as
/// a [`LogManager`](crate::LogManager) hands them out) can be shut down too. Code written for
/// v2, `writer.shutdown().await?` on an owned writer, compiles and works as it did; after it
/// the writer refuses every write with [`Error::Closed`]. [`close`](AsyncLogWriter::close)
/// takes the writer by value.
///
/// ```
/// use bunctl_logging::{LogWriter, LogWriterConfig};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let dir = tempfile::tempdir().unwrap();
/// let writer = LogWriter::new(LogWriterConfig {
///     path: dir.path().join("app.log"),
///     ..LogWriterConfig::default()
/// }).await?;
/// writer.write("raw bytes, then a partial li")?;
/// writer.write("ne\n")?;
/// writer.write_line("a line")?;
/// writer.flush().await?;
/// writer.rotate().await?;
/// assert_eq!(writer.get_metrics().await.lines_written, 2);
/// writer.shutdown().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub type LogWriter = AsyncLogWriter;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing under these locks leaves them inconsistent if it panics: carry on.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the writer thread ended.
enum Ended {
    Closed(io::Result<()>),
    Panicked,
}

/// The writer thread's end, for async and blocking waiters alike.
#[derive(Default)]
struct Done {
    ended: std::sync::Mutex<Option<Ended>>,
    /// Wakes blocking waiters.
    cv: std::sync::Condvar,
    /// Wakes async waiters.
    notify: tokio::sync::Notify,
}

impl Done {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Ended>> {
        // Only an assignment runs under this lock: a poisoned one is still consistent.
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn finish(&self, ended: Ended) {
        *self.lock() = Some(ended);
        self.cv.notify_all();
        self.notify.notify_waiters();
    }

    fn is_finished(&self) -> bool {
        self.lock().is_some()
    }

    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_finished() {
                return;
            }
            notified.await;
        }
    }

    /// `true` if the thread finished within `timeout`.
    fn wait_blocking(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut ended = self.lock();
        while ended.is_none() {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(std::time::Instant::now()),
                None => std::time::Duration::MAX,
            };
            if left.is_zero() {
                return false;
            }
            ended = self
                .cv
                .wait_timeout(ended, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// What the writer thread shares with the handle.
#[derive(Default)]
struct TaskShared {
    /// Lines of the batch being written, for the shutdown-timeout report.
    in_flight: AtomicU64,
    /// The last write error, for flush's report.
    last_error: std::sync::Mutex<Option<io::Error>>,
    /// Lines lost that `flush` or `shutdown` already reported.
    reported_lost: AtomicU64,
}

impl std::fmt::Debug for AsyncLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncLogWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AsyncLogWriter {
    /// Opens the writer: takes the file's lock, creates its directory if missing, opens the
    /// live file for appending (recovering from a crash: see [`RotatingSink::open`]) and starts
    /// the writer thread. Errors such as a directory without permission are reported here,
    /// with the path.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field, [`Error::Locked`] if another writer has the
    /// file, or [`Error::Io`] naming the directory or file.
    pub async fn new(config: LogWriterConfig) -> Result<Self> {
        Self::with_options(config, WriterOptions::default()).await
    }

    /// [`AsyncLogWriter::new`] with [`WriterOptions`] beyond the config's fields.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::new`].
    pub async fn with_options(config: LogWriterConfig, options: WriterOptions) -> Result<Self> {
        Self::open_with(config, options, StdFs::shared(), Arc::new(SystemClock)).await
    }

    /// [`AsyncLogWriter::with_options`] with another filesystem and clock (for tests, error
    /// injection and simulated time).
    ///
    /// # Errors
    /// As [`AsyncLogWriter::new`].
    pub async fn open_with(
        config: LogWriterConfig,
        options: WriterOptions,
        fs: Arc<dyn Filesystem>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let metrics = checked(&config, &options)?;
        // Opening does file I/O (lock, recovery, retention): off the async worker.
        let (sink, rotator) = {
            let (fs, metrics) = (fs.clone(), metrics.clone());
            let (sink_config, sink_options) = (config.clone(), options.clone());
            tokio::task::spawn_blocking(move || {
                open_sink(&sink_config, &sink_options, fs, clock, metrics)
            })
            .await
            .map_err(|_| Error::TaskFailed {
                path: config.path.clone(),
                task: "open",
            })??
        };
        Self::start(config, options, fs, metrics, sink, rotator)
    }

    /// [`AsyncLogWriter::with_options`] for programs without an async runtime (a `tracing`
    /// backend set up in a plain `main`): opens on the calling thread. The writer needs no
    /// runtime afterwards either: write with [`write_line`](Self::write_line) or
    /// [`write_line_blocking`](Self::write_line_blocking), finish with
    /// [`flush_blocking`](Self::flush_blocking) and
    /// [`shutdown_blocking`](Self::shutdown_blocking).
    ///
    /// # Errors
    /// As [`AsyncLogWriter::new`].
    pub fn open_blocking(config: LogWriterConfig, options: WriterOptions) -> Result<Self> {
        Self::open_blocking_with(config, options, StdFs::shared(), Arc::new(SystemClock))
    }

    /// [`AsyncLogWriter::open_blocking`] with another filesystem and clock.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::new`].
    pub fn open_blocking_with(
        config: LogWriterConfig,
        options: WriterOptions,
        fs: Arc<dyn Filesystem>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let metrics = checked(&config, &options)?;
        let (sink, rotator) = open_sink(&config, &options, fs.clone(), clock, metrics.clone())?;
        Self::start(config, options, fs, metrics, sink, rotator)
    }

    /// Starts the writer thread on an opened sink.
    fn start(
        config: LogWriterConfig,
        options: WriterOptions,
        fs: Arc<dyn Filesystem>,
        metrics: Arc<LogMetrics>,
        sink: Box<dyn Sink>,
        rotator: Rotator,
    ) -> Result<Self> {
        let stream = stream_name(options.stream);
        let (tx, rx) = channel_with_metrics(
            ChannelConfig {
                max_lines: config.max_concurrent_writes,
                max_bytes: options.max_buffered_bytes,
                batch_bytes: config.buffer_size,
                flush_interval: config.flush_interval,
                // Formatted lines are cut before formatting; the channel must not cut them again.
                max_line_len: formatted_max_len(options.format, options.max_line_len, stream),
                format: options.format,
            },
            metrics.clone(),
        );
        let shared = Arc::new(TaskShared::default());
        let done = Arc::new(Done::default());
        tracing::debug!(path = %config.path.display(), "log writer started");
        // The pool schedules the writer whenever the channel wakes it. The waker holds the
        // job: the cycle (job → receiver → waker → job) ends when the job is done and drops
        // its work.
        let pool = Pool::global();
        let cell: Arc<OnceLock<Arc<Job>>> = Arc::new(OnceLock::new());
        rx.set_waker({
            let (pool, cell) = (pool.clone(), cell.clone());
            Box::new(move || {
                if let Some(job) = cell.get() {
                    pool.schedule(job.clone());
                }
            })
        });
        let deadline = rx.deadline_handle();
        let unsynced = options
            .sync_interval
            .map(|every| durability::sync_every(rotator.clone(), &config.path, every));
        let task = WriterTask {
            unsynced,
            path: config.path.clone(),
            rx,
            spare: Vec::new(),
            resting: VecDeque::new(),
            sink,
            exporter: Exporter::new(&metric_labels(&config.path)),
            metrics: metrics.clone(),
            shared: shared.clone(),
            done: done.clone(),
            losses: Losses::default(),
            format: options.format,
        };
        let job = Job::new(Box::new(task), deadline);
        let _ = cell.set(job.clone());
        // The channel starts busy: this first turn finds it idle and lets producers wake it.
        pool.schedule(job);
        Ok(Self {
            tx,
            path: config.path,
            fs,
            metrics,
            shared,
            partial: Mutex::new(LineSplitter::new(options.max_line_len)),
            options,
            stream,
            done,
            outcome: std::sync::Mutex::new(None),
            rotator,
        })
    }

    /// Runs `send` on `line` as this writer's format has it: the line itself when raw, else
    /// formatted into a per-thread buffer (no allocation once it has grown).
    fn formatted<R>(&self, line: &[u8], send: impl FnOnce(&[u8]) -> R) -> R {
        if self.options.format == LineFormat::Raw {
            return send(line);
        }
        let mut scratch = take_scratch();
        self.format_into(line, &mut scratch);
        let result = send(&scratch.0);
        put_scratch(scratch);
        result
    }

    fn format_into(&self, line: &[u8], scratch: &mut Scratch) {
        scratch.0.clear();
        format_message(
            self.options.format,
            line,
            self.stream,
            SystemTime::now(),
            self.options.max_line_len,
            &mut scratch.1,
            &mut scratch.0,
        );
    }

    /// Writes raw bytes: a chunk of a stream, cut anywhere. They are split into lines as any
    /// input is (at each `\n`; a line longer than `max_line_len` in marked pieces); the complete
    /// lines go in as [`write_line`](Self::write_line) would take them, never blocking (when
    /// the buffer is full they are dropped, counted and marked in the file). A partial last line
    /// is held, with no newline added, until more bytes come or the writer closes
    /// ([`shutdown`](Self::shutdown), [`close`](Self::close), or dropping it), when it is written
    /// with a newline. Lines written meanwhile with the other methods do not wait for it.
    ///
    /// ```
    /// use bunctl_logging::{AsyncLogWriter, LogWriterConfig};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("app.log");
    /// let writer = AsyncLogWriter::new(LogWriterConfig { path: path.clone(), ..Default::default() })
    ///     .await?;
    /// writer.write(&b"GET /a 200\nGET /b"[..])?;
    /// writer.write(" 404\nstarting up...")?;
    /// writer.close().await?;
    /// assert_eq!(std::fs::read_to_string(&path)?, "GET /a 200\nGET /b 404\nstarting up...\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`] once the writer is shut down; nothing else.
    pub fn write(&self, data: impl Into<Bytes>) -> Result<()> {
        let data: Bytes = data.into();
        if self.tx.is_closed() {
            return Err(Error::Closed);
        }
        let mut splitter = lock(&self.partial);
        let mut block = Vec::new();
        if splitter.push_into(&data, &mut block) == 0 {
            return Ok(());
        }
        self.hand_over_or_drop(&block)
    }

    /// Hands whole lines (each ending in `\n`, as the splitter cut them) to the buffer without
    /// waiting, formatted, in groups that fit it at once.
    fn hand_over_or_drop(&self, lines: &[u8]) -> Result<()> {
        if self.options.format == LineFormat::Raw {
            return self.send_groups_or_drop(lines);
        }
        let mut scratch = take_scratch();
        scratch.0.clear();
        format_lines(
            self.options.format,
            lines,
            self.stream,
            SystemTime::now(),
            &mut scratch.1,
            &mut scratch.0,
        );
        let sent = self.send_groups_or_drop(&scratch.0);
        put_scratch(scratch);
        sent
    }

    /// Sends whole lines in groups of at most the buffer's limits (a group larger than the
    /// whole buffer could never go in at once, and would be dropped whole).
    fn send_groups_or_drop(&self, bytes: &[u8]) -> Result<()> {
        let (max_bytes, max_lines) = {
            let c = self.tx.config();
            (c.max_bytes, c.max_lines)
        };
        let send = |bytes: &[u8], count: usize| {
            self.tx
                .send_lines_or_drop(Lines { bytes, count })
                .map_err(|_| Error::Closed)
        };
        let (mut start, mut end, mut count) = (0, 0, 0);
        for nl in memchr::memchr_iter(b'\n', bytes) {
            let next = nl + 1;
            if count > 0 && (next - start > max_bytes || count >= max_lines) {
                send(&bytes[start..end], count)?;
                (start, count) = (end, 0);
            }
            (end, count) = (next, count + 1);
        }
        if count > 0 {
            send(&bytes[start..end], count)?;
        }
        Ok(())
    }

    /// Takes the partial line [`write`](Self::write) holds, if any (without a newline).
    fn take_partial(&self) -> Option<Vec<u8>> {
        let mut splitter = lock(&self.partial);
        if splitter.pending_len() == 0 {
            return None;
        }
        let mut tail = Vec::new();
        splitter.finish_into(&mut tail);
        tail.pop(); // the newline `finish` ends it with: `write_line` adds it again
        Some(tail)
    }

    /// Writes one line (a `\n` is added; a trailing one is not doubled). Never blocks: when
    /// the buffer is full the line is dropped and counted (`dropped_messages`,
    /// `buffer_overflows`), and the file gets a marker line with the count at the gap.
    ///
    /// Takes anything that is bytes: `&str`, `String`, `&String`, `&[u8]`, `Vec<u8>`.
    ///
    /// # Errors
    /// [`Error::Closed`] once the writer is shut down; nothing else.
    pub fn write_line(&self, line: impl AsRef<[u8]>) -> Result<()> {
        self.formatted(line.as_ref(), |msg| self.tx.send_or_drop(msg))
            .map_err(|_| Error::Closed)
    }

    /// Writes one line if there is room now. Never blocks.
    ///
    /// # Errors
    /// [`Error::Full`] if the buffer is full (counted in `buffer_overflows`; the line was not
    /// taken), [`Error::TooLarge`] if it never fits at once, [`Error::Closed`].
    pub fn try_write_line(&self, line: impl AsRef<[u8]>) -> Result<()> {
        self.formatted(line.as_ref(), |msg| self.tx.try_send(msg))
            .map_err(|e| match e {
                TrySendError::Full => Error::Full,
                TrySendError::Closed => Error::Closed,
                TrySendError::TooLarge { bytes, lines } => Error::TooLarge { bytes, lines },
            })
    }

    /// Writes one line, waiting for room: lossless. A line larger than the whole buffer is
    /// written in marked pieces.
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down before the line is taken.
    pub async fn write_line_async(&self, line: impl AsRef<[u8]>) -> Result<()> {
        if self.options.format == LineFormat::Raw {
            return self.tx.send(line.as_ref()).await.map_err(|_| Error::Closed);
        }
        // The buffer travels with the future (it may resume on another thread).
        let mut scratch = take_scratch();
        self.format_into(line.as_ref(), &mut scratch);
        let sent = self.tx.send(&scratch.0).await;
        put_scratch(scratch);
        sent.map_err(|_| Error::Closed)
    }

    /// [`write_line_async`](Self::write_line_async) for plain threads: blocks the calling
    /// thread until the line is taken. Do not call it on an async runtime's worker thread.
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down before the line is taken.
    pub fn write_line_blocking(&self, line: impl AsRef<[u8]>) -> Result<()> {
        self.formatted(line.as_ref(), |msg| self.tx.send_blocking(msg))
            .map_err(|_| Error::Closed)
    }

    /// Writes whole lines as a [`LineSplitter`](bunctl_log_buffer::LineSplitter) yields them,
    /// waiting for room: the lossless path for captured streams (one lock per chunk).
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down before the lines are taken.
    pub async fn write_lines(&self, lines: Lines<'_>) -> Result<()> {
        self.write_lines_from(lines, self.options.stream).await
    }

    /// [`write_lines`](Self::write_lines) for lines of `stream`: in JSON, their `stream`
    /// field (stdout and stderr merged into one file); in the other formats the same as
    /// `write_lines`.
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down before the lines are taken.
    pub async fn write_lines_from(&self, lines: Lines<'_>, stream: Stream) -> Result<()> {
        if self.options.format == LineFormat::Raw {
            return self.tx.send_lines(lines).await.map_err(|_| Error::Closed);
        }
        let mut scratch = take_scratch();
        scratch.0.clear();
        let count = format_lines(
            self.options.format,
            lines.bytes,
            stream_name(stream),
            SystemTime::now(),
            &mut scratch.1,
            &mut scratch.0,
        );
        let sent = self
            .tx
            .send_lines(Lines {
                bytes: &scratch.0,
                count,
            })
            .await;
        put_scratch(scratch);
        sent.map_err(|_| Error::Closed)
    }

    /// Waits until every line accepted before the call is in the file (the OS page cache),
    /// at most [`WriterOptions::flush_timeout`].
    ///
    /// # Errors
    /// [`Error::FlushTimeout`] if the writer did not get there in time (a hung disk; the lines
    /// stay buffered), [`Error::WriteFailed`] if lines were lost to I/O errors since the last
    /// time `flush` or `shutdown` reported a loss, [`Error::Closed`] if the writer thread ended
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
    fn unwritten_lines(&self) -> u64 {
        self.tx.stats().buffered_lines as u64 + self.shared.in_flight.load(Ordering::Acquire)
    }

    /// `Err` with the lines lost to I/O errors that no call has reported yet.
    fn report_losses(&self) -> Result<()> {
        let total = self.metrics.snapshot().lines_lost;
        let reported = self.shared.reported_lost.swap(total, Ordering::AcqRel);
        if total <= reported {
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
            lines_lost: total - reported,
            source,
        })
    }

    /// Flushes, finishes pending rotation, compression and retention, and stops the writer
    /// thread; later writes fail with [`Error::Closed`]. Bounded by
    /// [`WriterOptions::shutdown_timeout`]: a writer stuck in I/O is given up on (a thread in a
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
        self.tx.close();
        if let Some(outcome) = self.stored_outcome() {
            return outcome;
        }
        let finished = tokio::time::timeout(self.options.shutdown_timeout, self.done.wait())
            .await
            .is_ok();
        self.settle(finished)
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
        self.tx.close();
        if let Some(outcome) = self.stored_outcome() {
            return outcome;
        }
        let finished = self.done.wait_blocking(self.options.shutdown_timeout);
        self.settle(finished)
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
    /// An empty live file is not rotated. Waits at most [`WriterOptions::flush_timeout`] for
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
    /// [`WriterOptions::flush_timeout`] for each; lines lost earlier are reported after `op`.
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
    /// and a crash of the machine may not. Waits at most [`WriterOptions::flush_timeout`] for
    /// each of the flush and the sync. Costs an `fdatasync` (and a directory `fsync` when
    /// entries changed): call it at the points that matter, or set
    /// [`WriterOptions::sync_interval`].
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

    fn outcome(&self) -> std::sync::MutexGuard<'_, Option<Result<()>>> {
        // Only an assignment runs under this lock: a poisoned one is still consistent.
        self.outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stored_outcome(&self) -> Option<Result<()>> {
        self.outcome().as_ref().map(duplicate)
    }

    /// The outcome of a shutdown whose wait ended (`finished`: the thread is done), stored
    /// by the first caller and returned to every later one.
    fn settle(&self, finished: bool) -> Result<()> {
        let mut stored = self.outcome();
        if let Some(outcome) = stored.as_ref() {
            return duplicate(outcome);
        }
        let ended = if finished {
            self.done.lock().take()
        } else {
            None
        };
        let result = match ended {
            Some(Ended::Closed(Ok(()))) => self.report_losses(),
            Some(Ended::Closed(Err(source))) => Err(Error::Io {
                action: "close log file",
                path: self.path.clone(),
                source,
            }),
            Some(Ended::Panicked) => Err(Error::TaskFailed {
                path: self.path.clone(),
                task: "writer thread",
            }),
            // A thread stuck in a system call cannot be stopped: it goes on alone and counts
            // each line it still writes or loses.
            None => Err(Error::ShutdownTimeout {
                path: self.path.clone(),
                timeout: self.options.shutdown_timeout,
                unwritten_lines: self.unwritten_lines(),
            }),
        };
        *stored = Some(duplicate(&result));
        result
    }

    /// Whether the writer is closed.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// The writer's counters. `lines_written` counts lines in the file, not marker lines.
    pub async fn get_metrics(&self) -> MetricsSnapshot {
        self.metrics_snapshot()
    }

    /// [`get_metrics`](Self::get_metrics) without `async`.
    pub fn metrics_snapshot(&self) -> MetricsSnapshot {
        with_queue(self.metrics.snapshot(), self.tx.stats())
    }

    /// The live file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options this writer was opened with.
    pub fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// This writer's files, oldest first: rotated ones (compressed or not), then the live file.
    ///
    /// # Errors
    /// [`Error::Io`] if the directory cannot be read.
    pub fn log_files(&self) -> Result<Vec<PathBuf>> {
        list_log_files(self.fs.as_ref(), &self.path).map_err(|source| Error::Io {
            action: "list log files in",
            path: parent_dir(&self.path),
            source,
        })
    }
}

impl Drop for AsyncLogWriter {
    /// A partial line [`write`](AsyncLogWriter::write) still holds is handed over as
    /// [`write_line`](AsyncLogWriter::write_line) would (never waiting); the writer thread then
    /// drains the buffer and closes the file on its own.
    fn drop(&mut self) {
        if let Some(tail) = self.take_partial() {
            let _ = self.write_line(&tail);
        }
    }
}

/// A formatting buffer and time cache, one per thread, reused by every writer.
type Scratch = (Vec<u8>, TimeCache);

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new((Vec::new(), TimeCache::default()));
}

/// The thread's formatting buffer (an empty one if it is in use: a nested write).
fn take_scratch() -> Scratch {
    // `try_with`: a writer dropped while its thread's locals are torn down gets a fresh one.
    SCRATCH.try_with(std::cell::Cell::take).unwrap_or_default()
}

/// Gives a formatting buffer back to the thread, keeping its allocation for the next line.
/// A buffer that grew huge (a 100 MB line) is not kept.
fn put_scratch(mut scratch: Scratch) {
    if scratch.0.capacity() <= 1 << 20 {
        scratch.0.clear();
        let _ = SCRATCH.try_with(|cell| cell.set(scratch));
    }
}

fn stream_name(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    }
}

/// `snap` with the queue depth filled in from the channel.
fn with_queue(mut snap: MetricsSnapshot, stats: ChannelStats) -> MetricsSnapshot {
    snap.buffered_lines = stats.buffered_lines as u64;
    snap.buffered_bytes = stats.buffered_bytes as u64;
    snap.current_buffer_size = stats.buffered_bytes;
    snap
}

/// The labels of a writer's metrics: `app`, the file name up to its first `.` (an app id has
/// none, so both of an app's files, `web.log` and `web.err.log`, say `web`), and `file`.
fn metric_labels(path: &Path) -> Vec<(&'static str, String)> {
    let file = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let app = file.split('.').next().unwrap_or_default().to_owned();
    vec![("app", app), ("file", file)]
}

/// Checks both configurations and makes the writer's counters.
fn checked(config: &LogWriterConfig, options: &WriterOptions) -> Result<Arc<LogMetrics>> {
    config.validate()?;
    options.validate()?;
    Ok(Arc::new(LogMetrics::new()))
}

fn duplicate(result: &Result<()>) -> Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(e.duplicate()),
    }
}

fn open_sink(
    config: &LogWriterConfig,
    options: &WriterOptions,
    fs: Arc<dyn Filesystem>,
    clock: Arc<dyn Clock>,
    metrics: Arc<LogMetrics>,
) -> Result<(Box<dyn Sink>, Rotator)> {
    let dir = parent_dir(&config.path);
    bunctl_log_fs::create_dir_all_durably(fs.as_ref(), &dir, options.dir_mode).map_err(
        |source| Error::Io {
            action: "create log directory",
            path: dir.clone(),
            source,
        },
    )?;
    let rotating = RotatingSink::open(
        RotatingSinkConfig {
            live: config.path.clone(),
            policy: options
                .rotation
                .unwrap_or_else(|| config.rotation.strategy.into())
                .policy(),
            max_files: usize::try_from(config.rotation.max_files).unwrap_or(usize::MAX),
            max_total_bytes: options.max_total_bytes,
            max_age: options.max_age,
            compression: config.rotation.compression && config.enable_compression,
            compression_level: options.compression_level,
            file_mode: options.file_mode,
            dir_mode: options.dir_mode,
            reopen_check_interval: options.reopen_check_interval,
            full_disk: options.full_disk,
            format: options.format,
            // Lines come first: half the shutdown time at most goes to a compression backlog;
            // what is left stays plain and is compressed at the next start.
            close_compression_budget: options.shutdown_timeout / 2,
            ..RotatingSinkConfig::new(&config.path)
        }
        .background_sync_for_size(),
        fs,
        clock,
    )
    .map_err(
        |source| match source.get_ref().and_then(|e| e.downcast_ref::<Locked>()) {
            Some(locked) => Error::Locked {
                path: config.path.clone(),
                lock_file: locked.path.clone(),
                pid: locked.pid,
            },
            None => Error::Io {
                action: "open log file",
                path: config.path.clone(),
                source,
            },
        },
    )?
    .with_metrics(metrics.clone());
    let rotating: SharedRotating = Arc::new(Mutex::new(Some(rotating)));
    let rotator = Arc::downgrade(&rotating);
    // Metered inside retrying: every failed attempt counts as a write error, even when a
    // retry then succeeds, so a flaky disk shows in the metrics before it loses anything.
    let metered = MeteredSink::new(Shared(rotating), metrics.clone());
    Ok((
        Box::new(RetryingSink::new(metered, options.retry.clone()).with_metrics(metrics)),
        rotator,
    ))
}

/// The writer thread's [`RotatingSink`], shared with the handle's [`SinkOp`]s: each call takes the lock
/// (never contended but by a rotation), and `close` drops the sink (its files and lock) so
/// that no rotation can follow.
struct Shared(SharedRotating);

impl Shared {
    fn with<T>(&mut self, op: impl FnOnce(&mut RotatingSink) -> io::Result<T>) -> io::Result<T> {
        match lock(&self.0).as_mut() {
            Some(sink) => op(sink),
            None => Err(io::Error::other("the log writer is closed")),
        }
    }
}

impl Sink for Shared {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        self.with(|s| s.write(batch))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.with(Sink::flush)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.with(Sink::sync)
    }
    fn close(&mut self) -> io::Result<()> {
        let taken = lock(&self.0).take();
        match taken {
            Some(mut sink) => sink.close(),
            None => Ok(()),
        }
    }
}

/// How many written batches' buffers rest before producers fill them again. The kernel's
/// copy of a batch (`write(2)`, on the writer's core) leaves its cache lines shared with that
/// core; a producer on another core that fills the same buffer right away waits for each line
/// to be taken back, and its next load of the line it just formatted waits behind that copy
/// (perf: the samples pile up on that load). One producer, e2e `single`, alternating runs:
/// 8.0-8.4 M lines/s handing back the buffer just written, 9.1-9.7 letting it rest (p50 70 ->
/// 40 ns in a tighter loop); 3 resting buffers gained a little more there but cost `tasks100`
/// about 9%; 1 and 2 left `tasks100` and `threads4` as they were.
const RESTING_BUFFERS: usize = 2;

/// Buffers larger than this (huge batches) do not rest: memory stays a few batches of the
/// usual size per busy writer.
const RESTING_MAX: usize = 256 << 10;

/// The writer thread's job: takes batches from the channel and writes them through the sink.
struct WriterTask {
    /// The live file, for diagnostics.
    path: PathBuf,
    rx: Receiver,
    /// An emptied batch buffer to swap in (its allocation is reused while busy).
    spare: Vec<u8>,
    /// Written batches' buffers, handed back to producers only [`RESTING_BUFFERS`] batches
    /// later (see there).
    resting: VecDeque<Vec<u8>>,
    /// Told when the writer has finished.
    done: Arc<Done>,
    sink: Box<dyn Sink>,
    /// Publishes the counters through the `metrics` facade, once per batch.
    exporter: Exporter,
    metrics: Arc<LogMetrics>,
    shared: Arc<TaskShared>,
    /// What the file is missing after failed writes, and the marker saying so.
    losses: Losses,
    /// The file's line format, which loss markers are written in.
    format: LineFormat,
    /// Told after each batch written, with [`WriterOptions::sync_interval`] set.
    unsynced: Option<Unsynced>,
}

impl WriterTask {
    /// Writes one batch and counts it.
    fn write(&mut self, batch: Batch) {
        let lines = batch.lines;
        self.shared.in_flight.store(lines, Ordering::Release);
        let outcome = self
            .losses
            .write_batch(self.sink.as_mut(), self.format, &batch);
        self.metrics.record_lines_written(outcome.lines_done);
        // Only lines that reached the file need a sync.
        if let Some(unsynced) = self.unsynced.as_ref().filter(|_| outcome.lines_done > 0) {
            unsynced.mark();
        }
        let lost = outcome.lines_lost;
        tracing::trace!(path = %self.path.display(), bytes = batch.bytes.len(), lines,
            written = outcome.lines_done, "log batch written");
        if lost > 0 {
            self.metrics.record_lines_lost(lost);
            tracing::debug!(path = %self.path.display(), lines = lost,
                "log lines lost: the batch could not be written");
        }
        if let Some(e) = &outcome.error {
            if let Ok(mut last) = self.shared.last_error.lock() {
                *last = Some(crate::error::copy_io(e));
            }
        }
        self.shared.in_flight.store(0, Ordering::Release);
        // Before `complete`: a flush that returns finds the batch in the exported metrics.
        self.export();
        self.rx.complete(batch.generation);
        self.rest(batch.bytes);
    }

    /// Puts a written batch's buffer aside and takes the one that rested longest as the next
    /// spare.
    fn rest(&mut self, buffer: Vec<u8>) {
        if buffer.capacity() > RESTING_MAX {
            self.spare = buffer;
            return;
        }
        self.resting.push_back(buffer);
        if self.resting.len() > RESTING_BUFFERS {
            if let Some(rested) = self.resting.pop_front() {
                self.spare = rested;
            }
        }
    }

    /// Closed and drained: the last loss marker, then close the sink (final fsync,
    /// compression, retention).
    fn finish(&mut self) -> io::Result<()> {
        let last = self.losses.finish(self.sink.as_mut(), self.format);
        self.metrics.record_lines_written(last.lines_done);
        self.metrics.record_lines_lost(last.lines_lost);
        let closed = self.sink.close();
        self.export();
        self.release();
        tracing::debug!(path = %self.path.display(), ok = closed.is_ok(), "log writer stopped");
        closed
    }

    /// Drops the sink now (its files, and the lock, which the compressor gives back once it
    /// is idle), before anyone is told the writer ended: a writer reopened right after
    /// `shutdown` returns must find the lock free.
    fn release(&mut self) {
        self.sink = Box::new(ReleasedSink);
    }

    fn export(&mut self) {
        let snap = with_queue(self.metrics.snapshot(), self.rx.stats());
        self.exporter.record(&snap);
    }
}

impl Work for WriterTask {
    fn turn(&mut self) -> Turn {
        for _ in 0..BATCHES_PER_TURN {
            match self.rx.try_recv(&mut self.spare) {
                TryRecv::Batch(batch) => self.write(batch),
                TryRecv::Linger(deadline) => return Turn::Linger(deadline),
                TryRecv::Idle => {
                    // An idle writer keeps no buffers (thousands of them cost little).
                    self.resting = VecDeque::new();
                    return Turn::Idle;
                }
                TryRecv::Closed => {
                    let closed = self.finish();
                    self.done.finish(Ended::Closed(closed));
                    return Turn::Done;
                }
            }
        }
        Turn::Again
    }

    fn panicked(&mut self) {
        tracing::error!(path = %self.path.display(), "log writer panicked (a bug: please report it)");
        self.release();
        self.done.finish(Ended::Panicked);
    }
}

/// What a writer's sink becomes once released: it takes nothing.
struct ReleasedSink;

impl Sink for ReleasedSink {
    fn write(&mut self, _batch: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("the log writer is closed"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
}
