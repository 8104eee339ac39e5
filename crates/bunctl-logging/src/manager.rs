//! [`LogManager`]: one writer per app under one directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bunctl_core::AppId;
use bunctl_log_fs::{Filesystem, StdFs};
use bunctl_log_metrics::MetricsSnapshot;
use bunctl_log_rotation::{Clock, SharedListing, SystemClock, DEFAULT_LISTING_MAX_AGE};
use tokio::sync::OnceCell;

use crate::capture::{pump, CaptureMode, PumpSummary, Stream};
use crate::{AsyncLogWriter, Error, LogConfig, Result, WriterOptions};

/// The writer of one live file, opened once by whichever caller gets there first.
type Slot = Arc<OnceCell<Arc<AsyncLogWriter>>>;

/// Holds one [`AsyncLogWriter`] per app, writing `<base_dir>/<app>.log`.
///
/// [`get_writer`](Self::get_writer) returns the same writer on every call for an app, even
/// when many tasks ask at once; opening it (directory, lock, file, crash recovery, retention)
/// happens outside the manager's lock, so one app on a slow disk never holds up another's.
/// [`close_all`](Self::close_all) shuts every writer down concurrently. Idle writers cost no
/// CPU: nothing wakes them until a line arrives.
///
/// Opening a writer scans the directory for its archives (crash recovery, retention, the next
/// sequence number). The writers of one manager share a listing of it, taken at most once a
/// second while writers are being opened ([`SharedListing`] says why that is safe), so
/// opening ten thousand apps in one directory reads it a few times, not ten thousand times.
pub struct LogManager {
    pub(crate) config: LogConfig,
    options: WriterOptions,
    pub(crate) fs: Arc<dyn Filesystem>,
    clock: Arc<dyn Clock>,
    /// Writers by live file. Held only to find or insert a slot, never across I/O or `await`.
    writers: Mutex<HashMap<PathBuf, Slot>>,
    /// Options of apps that do not use the manager's.
    app_options: Mutex<HashMap<AppId, WriterOptions>>,
    /// The listing of `base_dir` its writers share at open.
    listing: Arc<SharedListing>,
}

impl std::fmt::Debug for LogManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogManager")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LogManager {
    /// A manager writing under `config.base_dir` (created on the first `get_writer`).
    /// The configuration is checked by the first `get_writer`.
    pub fn new(config: LogConfig) -> Self {
        Self::with_options(config, WriterOptions::default())
    }

    /// [`LogManager::new`] with [`WriterOptions`] for every app's writer.
    pub fn with_options(config: LogConfig, options: WriterOptions) -> Self {
        Self::with_io(config, options, StdFs::shared(), Arc::new(SystemClock))
    }

    /// [`LogManager::with_options`] with another filesystem and clock (for tests and error
    /// injection).
    pub fn with_io(
        config: LogConfig,
        options: WriterOptions,
        fs: Arc<dyn Filesystem>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let listing = Arc::new(SharedListing::new(
            fs.clone(),
            config.base_dir.clone(),
            DEFAULT_LISTING_MAX_AGE,
        ));
        Self {
            config,
            options,
            fs,
            clock,
            writers: Mutex::new(HashMap::new()),
            app_options: Mutex::new(HashMap::new()),
            listing,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The options of every app's writer.
    pub fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// Gives `app` its own options (another rotation rule, retention, modes, ...) instead of
    /// the manager's. They apply from the next time its writers are opened: before the first
    /// [`get_writer`](Self::get_writer), or after [`close`](Self::close).
    pub fn set_app_options(&self, app: &AppId, options: WriterOptions) {
        self.app_options
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(app.clone(), options);
    }

    /// The options `app`'s writers are opened with.
    pub fn app_options(&self, app: &AppId) -> WriterOptions {
        self.app_options
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(app)
            .unwrap_or(&self.options)
            .clone()
    }

    fn writers(&self) -> MutexGuard<'_, HashMap<PathBuf, Slot>> {
        // Only map operations run under this lock, so a poisoned one is still consistent.
        self.writers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open writers (slots still opening are left out).
    fn open_writers(&self) -> Vec<Arc<AsyncLogWriter>> {
        self.writers()
            .values()
            .filter_map(|slot| slot.get().cloned())
            .collect()
    }

    /// The live file of `app`: `<base_dir>/<app>.log` (see [`LogConfig::log_path`]).
    pub fn log_path(&self, app: &AppId) -> PathBuf {
        self.config.log_path(app)
    }

    /// The live file of `app`'s stderr when streams are kept apart: `<base_dir>/<app>.err.log`.
    pub fn err_log_path(&self, app: &AppId) -> PathBuf {
        self.config.err_log_path(app)
    }

    /// The writer of `app`, created (with `base_dir`) on first use; the same writer on every
    /// call until it is closed.
    ///
    /// # Errors
    /// [`Error::InvalidAppId`] if `app` cannot name files beside other apps' (see
    /// [`check_app_name`](bunctl_log_rotation::check_app_name): `a.err`, `.x`),
    /// [`Error::InvalidConfig`] naming a bad configuration field, [`Error::Locked`] if another
    /// process writes the app's file, [`Error::Io`] naming the directory or file that could not
    /// be created or opened.
    pub async fn get_writer(&self, app: &AppId) -> Result<Arc<AsyncLogWriter>> {
        self.writer_for(app, &self.log_path(app)).await
    }

    /// The writer for `stream` of `app`: stdout always goes to `<app>.log`; stderr goes to
    /// `<app>.err.log` with [`CaptureMode::Separate`] and to `<app>.log` with
    /// [`CaptureMode::Merged`].
    ///
    /// # Errors
    /// As [`LogManager::get_writer`].
    pub async fn get_stream_writer(
        &self,
        app: &AppId,
        stream: Stream,
        mode: CaptureMode,
    ) -> Result<Arc<AsyncLogWriter>> {
        match (stream, mode) {
            (Stream::Stderr, CaptureMode::Separate) => {
                self.writer_for(app, &self.err_log_path(app)).await
            }
            _ => self.get_writer(app).await,
        }
    }

    async fn writer_for(&self, app: &AppId, path: &Path) -> Result<Arc<AsyncLogWriter>> {
        bunctl_log_rotation::check_app_name(app.as_str())?;
        self.config.validate()?;
        let slot = {
            let mut writers = self.writers();
            let slot = writers.entry(path.to_path_buf()).or_default();
            if slot.get().is_some_and(|w| w.is_closed()) {
                *slot = Slot::default(); // closed by its owner: open a new one
            }
            slot.clone()
        };
        // Callers for the same file wait here for the one opening it; other files go on.
        let writer = slot
            .get_or_try_init(|| async {
                let config = self.config.writer_config(path);
                let mut options = self.app_options(app);
                if path == self.err_log_path(app) {
                    options.stream = Stream::Stderr;
                }
                let writer = AsyncLogWriter::open_sharing(
                    config,
                    options,
                    self.fs.clone(),
                    self.clock.clone(),
                    Some(self.listing.clone()),
                )
                .await?;
                Ok::<_, Error>(Arc::new(writer))
            })
            .await?;
        Ok(writer.clone())
    }

    /// Captures a child's output: takes its piped stdout and stderr (spawn it with
    /// `Stdio::piped()`) and pumps each into `app`'s files, losslessly (a slow disk makes the
    /// child wait on its pipe). Await [`Capture::finish`] after the child exits.
    ///
    /// # Errors
    /// As [`LogManager::get_writer`].
    pub async fn capture_child(
        &self,
        app: &AppId,
        child: &mut tokio::process::Child,
        mode: CaptureMode,
    ) -> Result<Capture> {
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        self.capture(app, stdout, stderr, mode).await
    }

    /// Pumps the given streams into `app`'s files as [`LogManager::capture_child`] does.
    ///
    /// # Errors
    /// As [`LogManager::get_writer`].
    pub async fn capture<O, E>(
        &self,
        app: &AppId,
        stdout: Option<O>,
        stderr: Option<E>,
        mode: CaptureMode,
    ) -> Result<Capture>
    where
        O: tokio::io::AsyncRead + Unpin + Send + 'static,
        E: tokio::io::AsyncRead + Unpin + Send + 'static,
    {
        // Merged: each line says its stream (a tag, or JSON's `stream` field).
        let merged = |s: Stream| (mode == CaptureMode::Merged).then_some(s);
        let max_line = self.app_options(app).max_line_len;
        let mut capture = Capture::default();
        if let Some(out) = stdout {
            let w = self.get_stream_writer(app, Stream::Stdout, mode).await?;
            capture.stdout = Some(tokio::spawn(pump(out, w, merged(Stream::Stdout), max_line)));
        }
        if let Some(err) = stderr {
            let w = self.get_stream_writer(app, Stream::Stderr, mode).await?;
            capture.stderr = Some(tokio::spawn(pump(err, w, merged(Stream::Stderr), max_line)));
        }
        Ok(capture)
    }

    /// The apps' live files that have a writer.
    pub async fn log_paths(&self) -> Vec<PathBuf> {
        self.open_writers()
            .iter()
            .map(|w| w.path().to_path_buf())
            .collect()
    }

    /// Shuts down (flushing first) and forgets the writers of `app` (its stdout and stderr
    /// files), if any; a later [`get_writer`](Self::get_writer) opens a new one. A writer
    /// another task is opening for `app` meanwhile is waited for and shut down too. Both
    /// writers are shut down even if one fails.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::shutdown`]: one error, or [`Error::Multiple`].
    pub async fn close(&self, app: &AppId) -> Result<()> {
        let removed: Vec<Slot> = {
            let mut writers = self.writers();
            [self.log_path(app), self.err_log_path(app)]
                .iter()
                .filter_map(|p| writers.remove(p))
                .collect()
        };
        let mut open = Vec::new();
        for slot in removed {
            // Waits for an open in progress; finds nothing (and opens nothing) otherwise.
            let opened = slot
                .get_or_try_init(|| async { Err::<Arc<AsyncLogWriter>, _>(Error::Closed) })
                .await;
            if let Ok(writer) = opened {
                open.push(writer.clone());
            }
        }
        self.on_each(open, "shutdown", |w| async move { w.shutdown().await })
            .await
    }

    /// The v2 name of [`LogManager::close`]: flushes, closes and forgets `app`'s writers (a
    /// later [`get_writer`](Self::get_writer) opens a new one); `Ok` for an app without one.
    /// Its files stay.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::shutdown`].
    pub async fn remove_writer(&self, app: &AppId) -> Result<()> {
        self.close(app).await
    }

    /// Flushes every open writer, concurrently: returns once the lines each accepted before
    /// are in its file (the page cache). All are flushed even if one fails.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::flush`]: one error, or [`Error::Multiple`].
    pub async fn flush_all(&self) -> Result<()> {
        self.on_each(
            self.open_writers(),
            "flush",
            |w| async move { w.flush().await },
        )
        .await
    }

    /// Makes every open writer's lines durable, concurrently (see [`AsyncLogWriter::sync`]):
    /// returns once the lines each accepted before are on stable storage, file data and
    /// directory entries. All are synced even if one fails.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::sync`]: one error, or [`Error::Multiple`].
    pub async fn sync_all(&self) -> Result<()> {
        self.on_each(
            self.open_writers(),
            "sync",
            |w| async move { w.sync().await },
        )
        .await
    }

    /// Rotates every open writer's live file now, concurrently (see
    /// [`AsyncLogWriter::rotate`]): the lines each accepted before go to the file rotated.
    /// Empty live files are not rotated. All are rotated even if one fails.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::rotate`]: one error, or [`Error::Multiple`].
    pub async fn rotate_all(&self) -> Result<()> {
        self.on_each(self.open_writers(), "rotation", |w| async move {
            w.rotate().await
        })
        .await
    }

    /// Runs `op` on every writer of `writers` concurrently and gathers their errors.
    async fn on_each<F, Fut>(
        &self,
        writers: Vec<Arc<AsyncLogWriter>>,
        task: &'static str,
        op: F,
    ) -> Result<()>
    where
        F: Fn(Arc<AsyncLogWriter>) -> Fut,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let mut set = tokio::task::JoinSet::new();
        for writer in writers {
            set.spawn(op(writer));
        }
        let mut errors = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(_join) => errors.push(Error::TaskFailed {
                    path: self.config.base_dir.clone(),
                    task,
                }),
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Multiple(errors)),
        }
    }

    /// Shuts every writer down, concurrently, each bounded by its shutdown timeout. Every line
    /// accepted before is in the files when this returns `Ok`.
    ///
    /// # Errors
    /// The writers' errors: one, or [`Error::Multiple`].
    pub async fn close_all(&self) -> Result<()> {
        let writers: Vec<_> = self
            .writers()
            .drain()
            .filter_map(|(_, slot)| slot.get().cloned())
            .collect();
        self.on_each(writers, "shutdown", |w| async move { w.shutdown().await })
            .await
    }

    /// The counters of every writer, summed (see [`MetricsSnapshot::merge`]).
    pub async fn total_metrics(&self) -> MetricsSnapshot {
        self.open_writers()
            .iter()
            .fold(MetricsSnapshot::default(), |acc, w| {
                acc.merge(&w.metrics_snapshot())
            })
    }
}

/// The pumps of a capture; see [`LogManager::capture_child`].
#[derive(Debug, Default)]
pub struct Capture {
    stdout: Option<tokio::task::JoinHandle<Result<PumpSummary>>>,
    stderr: Option<tokio::task::JoinHandle<Result<PumpSummary>>>,
}

/// What a capture moved, per stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureSummary {
    /// The stdout pump.
    pub stdout: PumpSummary,
    /// The stderr pump.
    pub stderr: PumpSummary,
}

impl Capture {
    /// Waits until both streams reached EOF (the child exited and closed its pipes) and every
    /// line read was handed to its writer.
    ///
    /// # Errors
    /// The first pump's error.
    pub async fn finish(self) -> Result<CaptureSummary> {
        let stdout = join_pump(self.stdout).await;
        let stderr = join_pump(self.stderr).await;
        Ok(CaptureSummary {
            stdout: stdout?,
            stderr: stderr?,
        })
    }
}

async fn join_pump(
    pump: Option<tokio::task::JoinHandle<Result<PumpSummary>>>,
) -> Result<PumpSummary> {
    match pump {
        None => Ok(PumpSummary::default()),
        Some(h) => h.await.map_err(|_| Error::TaskFailed {
            path: PathBuf::from("<capture>"),
            task: "capture pump",
        })?,
    }
}
