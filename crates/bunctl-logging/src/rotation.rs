//! [`LogRotation`]: the rotation engine on its own, for a file no writer of this crate holds.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bunctl_log_fs::{Filesystem, Locked, StdFs, SymlinkRefused, DEFAULT_FILE_MODE};
use bunctl_log_rotation::{
    compress_file, ArchiveNaming, Clock, Retention, RotationPolicy, SystemClock,
};
use chrono::{DateTime, Utc};

use crate::{Error, Result, RotationConfig, WriterOptions};

/// Rotates one log file by a [`RotationConfig`], with the same naming, compression and
/// retention the writers use: the product's (v2) `LogRotation`.
///
/// A writer of this crate ([`AsyncLogWriter`](crate::AsyncLogWriter)) rotates its own file
/// (by its configuration, or now with [`rotate`](crate::AsyncLogWriter::rotate)); this engine is
/// for a file written some other way. It keeps the size written since the last rotation
/// ([`update_size`](Self::update_size)) and the start of the current period, and
/// [`rotate`](Self::rotate) does the rotation itself:
///
/// 1. the file is fsynced, then renamed (never copied) to its archive name in the same
///    directory, `<stem>.<UTC start time>-<sequence>.log` (`app.20261125T163918Z-000042.log`,
///    see [`ArchiveNaming`]), the sequence one above any archive there;
/// 2. with `compression`, the archive is gzipped to `….log.gz` (crash-safe: through a
///    `.gz.tmp` that is fsynced and renamed) and the plain archive removed;
/// 3. the oldest archives beyond `max_files` are deleted.
///
/// It leaves nothing else behind: no new live file (the file's writer creates it at its next
/// write) and no lock file. It refuses a file whose writer of this crate holds its lock
/// ([`Error::Locked`]), and never renames a symbolic link.
///
/// ```
/// use bunctl_logging::{LogRotation, RotationConfig, RotationStrategy};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let dir = tempfile::tempdir().unwrap();
/// let live = dir.path().join("app.log");
/// std::fs::write(&live, "one line\n")?;
/// let mut rotation = LogRotation::new(RotationConfig {
///     strategy: RotationStrategy::Size(1 << 20),
///     max_files: 5,
///     compression: false,
/// });
/// rotation.update_size(9);
/// assert!(!rotation.should_rotate(rotation.current_size()));
/// rotation.rotate(&live).await?;
/// assert!(!live.exists());
/// let names: Vec<_> = std::fs::read_dir(dir.path())?
///     .map(|e| e.unwrap().file_name().into_string().unwrap())
///     .collect();
/// assert_eq!(names.len(), 1);
/// assert!(names[0].starts_with("app.") && names[0].ends_with("-000001.log"), "{names:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct LogRotation {
    config: RotationConfig,
    policy: Box<dyn RotationPolicy>,
    /// Bytes written since the last rotation or reset.
    current_size: u64,
    /// When the current period started: the last rotation or reset, or the engine's creation.
    period_start: DateTime<Utc>,
    fs: Arc<dyn Filesystem>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LogRotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogRotation")
            .field("config", &self.config)
            .field("current_size", &self.current_size)
            .field("period_start", &self.period_start)
            .finish_non_exhaustive()
    }
}

impl LogRotation {
    /// An engine for `config`, on the real filesystem and clock; its period starts now.
    pub fn new(config: RotationConfig) -> Self {
        Self::with_io(config, StdFs::shared(), Arc::new(SystemClock))
    }

    /// [`LogRotation::new`] with another filesystem and clock (tests, error injection,
    /// simulated time).
    pub fn with_io(config: RotationConfig, fs: Arc<dyn Filesystem>, clock: Arc<dyn Clock>) -> Self {
        Self {
            policy: config.strategy.policy(),
            config,
            current_size: 0,
            period_start: clock.now(),
            fs,
            clock,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RotationConfig {
        &self.config
    }

    /// Whether a file of `size` bytes must be rotated now: from `Size(n)` bytes on (`size >=
    /// n`); for `Daily` and `Hourly`, once a new UTC day or hour began since the period started
    /// (the last [`rotate`](Self::rotate) or [`reset`](Self::reset), or the engine's
    /// creation); never for `Never`.
    pub fn should_rotate(&self, size: u64) -> bool {
        self.policy.max_size().is_some_and(|max| size >= max)
            || self.policy.is_due(self.period_start, self.clock.now())
    }

    /// Counts `bytes` more written to the file since the last rotation.
    pub fn update_size(&mut self, bytes: u64) {
        self.current_size = self.current_size.saturating_add(bytes);
    }

    /// The bytes counted by [`update_size`](Self::update_size) since the last rotation or
    /// reset.
    pub fn current_size(&self) -> u64 {
        self.current_size
    }

    /// Starts afresh: the size counted goes back to 0 and the period starts now.
    pub fn reset(&mut self) {
        self.current_size = 0;
        self.period_start = self.clock.now();
    }

    /// Rotates `path` now (see the [type docs](Self)), on a blocking thread, then
    /// [`reset`](Self::reset)s. A missing or empty file is not rotated (there is nothing to
    /// keep), and resets all the same.
    ///
    /// # Errors
    /// [`Error::Locked`] if a writer holds the file's lock; [`Error::Io`] naming the file of the
    /// step that failed: a symbolic link at `path` is refused, a failed rename leaves the file
    /// as it was, a failed compression leaves the plain archive. [`Error::TaskFailed`] if the
    /// blocking thread panicked.
    pub async fn rotate(&mut self, path: &Path) -> Result<()> {
        let job = Job {
            fs: self.fs.clone(),
            live: path.to_path_buf(),
            started: self.period_start,
            compression: self.config.compression,
            max_files: self.config.max_files,
        };
        tokio::task::spawn_blocking(move || job.run())
            .await
            .map_err(|_| Error::TaskFailed {
                path: path.to_path_buf(),
                task: "rotation",
            })??;
        self.reset();
        Ok(())
    }

    /// [`rotate`](Self::rotate) on the calling thread, for programs without an async runtime.
    ///
    /// # Errors
    /// As [`rotate`](Self::rotate).
    pub fn rotate_blocking(&mut self, path: &Path) -> Result<()> {
        Job {
            fs: self.fs.clone(),
            live: path.to_path_buf(),
            started: self.period_start,
            compression: self.config.compression,
            max_files: self.config.max_files,
        }
        .run()?;
        self.reset();
        Ok(())
    }
}

/// One rotation, with everything it needs owned (it runs on a blocking thread).
struct Job {
    fs: Arc<dyn Filesystem>,
    live: PathBuf,
    /// When the file's content started, at the latest.
    started: DateTime<Utc>,
    compression: bool,
    max_files: u32,
}

impl Job {
    fn io(&self, action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    fn run(self) -> Result<()> {
        let fs = self.fs.as_ref();
        let live = &self.live;
        let naming = ArchiveNaming::new(live).map_err(self.io("rotate log file", live))?;
        let meta = match fs.metadata(live) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io("rotate log file", live)(e)),
        };
        if meta.is_symlink {
            let refused = io::Error::new(
                io::ErrorKind::InvalidInput,
                SymlinkRefused { path: live.clone() },
            );
            return Err(self.io("rotate log file", live)(refused));
        }
        if meta.len == 0 {
            return Ok(());
        }
        // A writer of this crate holds `.<name>.lock` while it writes: never rotate under it.
        // No lock file, no writer: none is created, so none is left behind.
        let lock_path = naming.lock_path();
        let _lock = match fs.metadata(&lock_path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io("check the lock of", &lock_path)(e)),
            Ok(_) => Some(fs.lock(&lock_path, DEFAULT_FILE_MODE).map_err(|e| {
                match e.get_ref().and_then(|e| e.downcast_ref::<Locked>()) {
                    Some(locked) => Error::Locked {
                        path: live.clone(),
                        lock_file: locked.path.clone(),
                        pid: locked.pid,
                    },
                    None => self.io("lock", &lock_path)(e),
                }
            })?),
        };
        // Durable before its name changes.
        let mode = meta.mode.unwrap_or(DEFAULT_FILE_MODE);
        fs.open_append(live, mode)
            .and_then(|mut f| f.sync_data())
            .map_err(self.io("sync log file", live))?;
        // The content started no later than its last change.
        let started = meta
            .modified
            .map(DateTime::<Utc>::from)
            .map_or(self.started, |m| m.min(self.started));
        let seq = naming
            .next_seq(fs)
            .map_err(self.io("list archives in", naming.dir()))?;
        let archive = naming.archive_path(started, seq);
        fs.rename_noreplace(live, &archive)
            .map_err(self.io("rotate log file", live))?;
        let archive = if self.compression {
            let level = flate2::Compression::new(WriterOptions::default().compression_level);
            compress_file(fs, &archive, level).map_err(self.io("compress", &archive))?
        } else {
            fs.sync_dir(naming.dir())
                .map_err(self.io("sync directory", naming.dir()))?;
            archive
        };
        tracing::debug!(live = %live.display(), archive = %archive.display(), "log file rotated");
        let keep = usize::try_from(self.max_files).unwrap_or(usize::MAX);
        Retention::max_files(keep)
            .apply(&naming, fs)
            .map_err(self.io("delete old archives in", naming.dir()))?;
        Ok(())
    }
}
