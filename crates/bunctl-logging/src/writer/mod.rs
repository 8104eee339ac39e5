//! [`AsyncLogWriter`]: the handle producers write to, its constructors and accessors. The rest
//! of the writer is in the submodules, one job each (see their opening lines).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bunctl_log_buffer::{formatted_max_len, LineSplitter};
use bunctl_log_channel::{channel_with_metrics, ChannelConfig, ChannelStats, Sender};
use bunctl_log_fs::{parent_dir, Filesystem, StdFs};
use bunctl_log_metrics::{LogMetrics, MetricsSnapshot};
use bunctl_log_rotation::{Clock, SharedListing, SystemClock};
use bunctl_log_sink::{list_log_files, Sink};

use crate::durability::Rotator;
use crate::{Error, LogWriterConfig, Result, Stream, WriterOptions};

mod control;
mod ending;
mod idle;
mod produce;
mod scratch;
mod sink;
mod task;

use ending::Done;
use sink::open_sink;

/// Writes lines to one log file, rotating, compressing and expiring it, without ever making
/// the caller wait for I/O.
///
/// Producers append whole lines to a shared buffer; a thread of the process's writer pool
/// (a few threads that serve every writer) takes the buffer in batches and writes each with
/// one `write(2)` through the sink stack `RetryingSink(MeteredSink(RotatingSink(FileSink)))`.
/// File I/O never runs on the async runtime; an idle writer holds no thread and no timer.
/// Three ways to write, so callers choose between never blocking and never losing:
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
    /// Signalled by the writer's job when it has ended (drained, closed the sink).
    done: Arc<Done>,
    /// What the first completed `shutdown` returned, returned again by every later call.
    outcome: std::sync::Mutex<Option<Result<()>>>,
    /// Cuts what [`write`](Self::write) is given into lines and holds a partial last one.
    /// Held while the lines are handed over, so they enter the buffer in the order they came.
    partial: Mutex<LineSplitter>,
    /// The rotating sink, for [`rotate`](Self::rotate): weak, so that the writer's job alone
    /// keeps it (its files and lock) alive.
    rotator: Rotator,
}

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

/// What the writer's job shares with the handle.
#[derive(Default)]
struct TaskShared {
    /// Lines of the batch being written, for the shutdown-timeout report.
    in_flight: AtomicU64,
    /// The last write error, for flush's report.
    last_error: std::sync::Mutex<Option<io::Error>>,
    /// Lines lost that `flush` or `shutdown` already reported.
    reported_lost: AtomicU64,
    /// Lines a failed write cut, whose rest is kept to be written when the file takes writes
    /// again: not written yet, not lost yet (0 or 1).
    torn_lines: AtomicU64,
    /// Set by `shutdown` before it closes the channel: the writer's job lets its last batches
    /// through an open circuit breaker ([`bunctl_log_sink::Sink::before_close`]).
    closing: std::sync::atomic::AtomicBool,
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
    /// live file for appending (recovering from a crash: see
    /// [`RotatingSink::open`](bunctl_log_sink::RotatingSink::open)) and starts the writer
    /// thread. Errors such as a directory without permission are reported here, with the path.
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
        Self::open_with_io(config, options, StdFs::shared(), Arc::new(SystemClock)).await
    }

    /// [`AsyncLogWriter::with_options`] with another filesystem and clock (for tests, error
    /// injection and simulated time).
    ///
    /// # Errors
    /// As [`AsyncLogWriter::new`].
    pub async fn open_with_io(
        config: LogWriterConfig,
        options: WriterOptions,
        fs: Arc<dyn Filesystem>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Self::open_sharing(config, options, fs, clock, None).await
    }

    /// [`AsyncLogWriter::open_with_io`] for a [`LogManager`](crate::LogManager)'s writer:
    /// `listing` is the manager's listing of its directory, which the writers it opens share
    /// (used only if the live file is in that directory).
    pub(crate) async fn open_sharing(
        config: LogWriterConfig,
        options: WriterOptions,
        fs: Arc<dyn Filesystem>,
        clock: Arc<dyn Clock>,
        listing: Option<Arc<SharedListing>>,
    ) -> Result<Self> {
        validate(&config, &options)?;
        let metrics = Arc::new(LogMetrics::new());
        // Opening does file I/O (lock, recovery, retention): off the async worker.
        let (sink, rotator) = {
            let (fs, metrics) = (fs.clone(), metrics.clone());
            let (sink_config, sink_options) = (config.clone(), options.clone());
            tokio::task::spawn_blocking(move || {
                open_sink(&sink_config, &sink_options, fs, clock, metrics, listing)
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
        Self::open_blocking_with_io(config, options, StdFs::shared(), Arc::new(SystemClock))
    }

    /// [`AsyncLogWriter::open_blocking`] with another filesystem and clock.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::new`].
    pub fn open_blocking_with_io(
        config: LogWriterConfig,
        options: WriterOptions,
        fs: Arc<dyn Filesystem>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        validate(&config, &options)?;
        let metrics = Arc::new(LogMetrics::new());
        let (sink, rotator) =
            open_sink(&config, &options, fs.clone(), clock, metrics.clone(), None)?;
        Self::start(config, options, fs, metrics, sink, rotator)
    }

    /// Starts the writer's job on the pool, on an opened sink.
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
                max_bytes: options.max_buffered_bytes,
                max_concurrent_sends: config.max_concurrent_writes,
                batch_bytes: config.buffer_size,
                flush_interval: config.flush_interval,
                // Formatted lines are cut before formatting; the channel must not cut them again.
                max_line_len: formatted_max_len(options.format, options.max_line_len, stream),
                format: options.format,
            },
            metrics.clone(),
        );
        tracing::debug!(path = %config.path.display(), "log writer started");
        let (shared, done) = task::start(&config, &options, rx, sink, &rotator, &metrics);
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
    /// [`write_line`](AsyncLogWriter::write_line) would (never waiting); the writer then
    /// drains the buffer and closes the file on its own.
    fn drop(&mut self) {
        if let Some(tail) = self.take_partial() {
            let _ = self.write_line(&tail);
        }
    }
}

/// Checks both configurations before anything is opened.
fn validate(config: &LogWriterConfig, options: &WriterOptions) -> Result<()> {
    config.validate()?;
    options.validate()?;
    Ok(())
}

/// The `stream` field of this writer's JSON lines.
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
