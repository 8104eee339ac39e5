//! The writer's job on the pool: started with the handle, it takes batches from the channel
//! and writes them through the sink, lets written buffers rest before producers reuse them,
//! and at the end writes what is left, closes the sink and signals [`Done`].

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use bunctl_log_buffer::LineFormat;
use bunctl_log_channel::{Batch, Receiver, TryRecv};
use bunctl_log_metrics::{Exporter, LogMetrics};
use bunctl_log_sink::Sink;

use crate::durability::{self, Rotator, Unsynced};
use crate::losses::Losses;
use crate::pool::{Job, Pool, Turn, Work, BATCHES_PER_TURN};
use crate::{LogWriterConfig, WriterOptions};

use super::ending::{Done, Ended};
use super::idle::IdleClose;
use super::{with_queue, TaskShared};

/// Starts the writer's job on the process's pool, reading `rx` and writing to `sink`; returns
/// what the job shares with the handle, and the signal of its end.
pub(super) fn start(
    config: &LogWriterConfig,
    options: &WriterOptions,
    rx: Receiver,
    sink: Box<dyn Sink>,
    rotator: &Rotator,
    metrics: &Arc<LogMetrics>,
) -> (Arc<TaskShared>, Arc<Done>) {
    let shared = Arc::new(TaskShared::default());
    let done = Arc::new(Done::default());
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
        closing: false,
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
        idle: IdleClose::new(options.close_idle_after),
    };
    let job = Job::new(Box::new(task), deadline);
    let _ = cell.set(job.clone());
    // The channel starts busy: this first turn finds it idle and lets producers wake it.
    pool.schedule(job);
    (shared, done)
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

/// The writer's job: takes batches from the channel and writes them through the sink.
struct WriterTask {
    /// The live file, for diagnostics.
    path: PathBuf,
    rx: Receiver,
    /// An emptied batch buffer to swap in (its allocation is reused while busy).
    spare: Vec<u8>,
    /// Written batches' buffers, handed back to producers only [`RESTING_BUFFERS`] batches
    /// later (see there).
    resting: VecDeque<Vec<u8>>,
    /// Signalled when the job has ended.
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
    /// Shutdown was asked for and the sink was told (`Sink::before_close`).
    closing: bool,
    /// When a quiet writer closes its live file.
    idle: IdleClose,
}

impl WriterTask {
    /// Writes one batch and counts it.
    fn write(&mut self, batch: Batch) {
        let lines = batch.lines;
        self.shared.in_flight.store(lines, Ordering::Release);
        if !self.closing && self.shared.closing.load(Ordering::Acquire) {
            // Shutdown: what is left gets a real try, even past an open breaker.
            self.closing = true;
            self.sink.before_close();
        }
        let outcome = self
            .losses
            .write_batch(self.sink.as_mut(), self.format, &batch);
        self.idle.wrote();
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
        self.shared
            .torn_lines
            .store(self.losses.torn_lines(), Ordering::Release);
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

    /// Closed and drained: writes the last loss marker, then closes the sink (final fsync,
    /// compression, retention).
    fn write_last_and_close(&mut self) -> io::Result<()> {
        let last = self.losses.write_last(self.sink.as_mut(), self.format);
        self.metrics.record_lines_written(last.lines_done);
        self.metrics.record_lines_lost(last.lines_lost);
        self.shared
            .torn_lines
            .store(self.losses.torn_lines(), Ordering::Release);
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
                    return self.idle.idle(self.sink.as_mut(), &self.path);
                }
                TryRecv::Closed => {
                    let closed = self.write_last_and_close();
                    self.done.signal(Ended::Closed(closed));
                    return Turn::Done;
                }
            }
        }
        Turn::Again
    }

    fn panicked(&mut self) {
        tracing::error!(path = %self.path.display(), "log writer panicked (a bug: please report it)");
        self.release();
        self.done.signal(Ended::Panicked);
    }
}

/// What a writer's sink becomes once released: it takes nothing (and has nothing to flush,
/// sync or close: [`Sink`]'s defaults).
struct ReleasedSink;

impl Sink for ReleasedSink {
    fn write(&mut self, _batch: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("the log writer is closed"))
    }
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
