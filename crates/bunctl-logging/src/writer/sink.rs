//! The sink stack a writer writes through, opened and assembled:
//! `RetryingSink(MeteredSink(Shared(RotatingSink)))`, with the [`RotatingSink`] shared with
//! the handle (for `rotate` and `sync`) through [`Shared`].

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bunctl_log_fs::{is_out_of_descriptors, parent_dir, Filesystem, Locked};
use bunctl_log_metrics::LogMetrics;
use bunctl_log_rotation::{Clock, SharedListing};
use bunctl_log_sink::{MeteredSink, RetryingSink, RotatingSink, RotatingSinkConfig, Sink};

use crate::durability::Rotator;
use crate::pool::Pool;
use crate::{Error, LogWriterConfig, Result, WriterOptions};

use super::lock;

/// The writer's [`RotatingSink`], shared with the handle for
/// [`AsyncLogWriter::rotate`](super::AsyncLogWriter::rotate); `None` once closed.
type SharedRotating = Arc<Mutex<Option<RotatingSink>>>;

/// Tries this long, in all, for descriptors that quiet writers give back.
const DESCRIPTOR_WAIT: Duration = Duration::from_millis(500);

/// Runs `open`; while it fails for want of descriptors, asks every quiet writer of the process
/// to close its file now (see [`Pool::close_idle_files_now`]) and tries again, for at most
/// [`DESCRIPTOR_WAIT`]: a burst of opens, each writer still holding the file it just wrote,
/// must not fail while writers that went quiet could give theirs back.
fn open_with_descriptors<T>(mut open: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let start = Instant::now();
    loop {
        match open() {
            Err(e) if is_out_of_descriptors(&e) && start.elapsed() < DESCRIPTOR_WAIT => {
                Pool::global().close_idle_files_now();
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Creates the log directory, opens the rotating sink on the live file (taking its lock and
/// recovering from a crash) and wraps it in the metered and retrying layers.
pub(super) fn open_sink(
    config: &LogWriterConfig,
    options: &WriterOptions,
    fs: Arc<dyn Filesystem>,
    clock: Arc<dyn Clock>,
    metrics: Arc<LogMetrics>,
    listing: Option<Arc<SharedListing>>,
) -> Result<(Box<dyn Sink>, Rotator)> {
    let dir = parent_dir(&config.path);
    bunctl_log_fs::create_dir_all_durably(fs.as_ref(), &dir, options.dir_mode).map_err(
        |source| Error::Io {
            action: "create log directory",
            path: dir.clone(),
            source,
        },
    )?;
    let open = || {
        RotatingSink::open(
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
                // Opened by a LogManager: the listing of its directory it shares with its writers.
                listing: listing.clone().filter(|l| l.dir() == dir),
                ..RotatingSinkConfig::new(&config.path)
            }
            .background_sync_for_size(),
            fs.clone(),
            clock.clone(),
        )
    };
    let rotating = open_with_descriptors(open)
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

/// The writer's [`RotatingSink`], shared with the handle's
/// [`SinkOp`](crate::durability::SinkOp)s: each call takes the lock (never contended but by a
/// rotation), and `close` drops the sink (its files and lock) so that no rotation can follow.
struct Shared(SharedRotating);

impl Shared {
    fn with<T>(&mut self, op: impl FnOnce(&mut RotatingSink) -> io::Result<T>) -> io::Result<T> {
        let done = match lock(&self.0).as_mut() {
            Some(sink) => op(sink),
            None => Err(io::Error::other("the log writer is closed")),
        };
        if done.as_ref().is_err_and(is_out_of_descriptors) {
            // Opening a file (the live file again after a quiet spell, a rotation's new one)
            // found no descriptor: quiet writers give theirs back now, for the retry
            // (`RetryingSink`, from 100 ms) to find, as an open does (`open_with_descriptors`).
            Pool::global().close_idle_files_now();
        }
        done
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
    fn close_idle(&mut self) -> io::Result<()> {
        self.with(Sink::close_idle)
    }
    fn before_close(&mut self) {
        if let Some(sink) = lock(&self.0).as_mut() {
            sink.before_close();
        }
    }
    fn close(&mut self) -> io::Result<()> {
        let taken = lock(&self.0).take();
        match taken {
            Some(mut sink) => sink.close(),
            None => Ok(()),
        }
    }
}
