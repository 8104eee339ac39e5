//! [`RotatingSink`]: a [`FileSink`] on the live file that rotates it at line boundaries.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bunctl_core::fs::{parent_dir, Filesystem};
use bunctl_log_metrics::LogMetrics;
use bunctl_log_rotation::{
    recover, ArchiveNaming, Clock, Compressor, Retention, RotationPolicy, SizePolicy,
};
use chrono::{DateTime, Utc};
use memchr::{memchr, memrchr};

use crate::{FileSink, Sink};

/// What a [`RotatingSink`] writes and how it rotates.
#[derive(Debug)]
pub struct RotatingSinkConfig {
    /// The live file; archives go next to it.
    pub live: PathBuf,
    /// When to rotate.
    pub policy: Box<dyn RotationPolicy>,
    /// Most archives kept; the oldest beyond it are deleted.
    pub max_files: usize,
    /// Most bytes of archives kept, if set.
    pub max_total_bytes: Option<u64>,
    /// Whether archives are gzipped (off the writer's thread).
    pub compression: bool,
    /// gzip level, 0 to 9.
    pub compression_level: u32,
    /// `fdatasync` the live file in the background every this many bytes (0: never), so the
    /// fsync before each rotation, which the writer waits for, has little left to flush. See
    /// [`FileSink::with_background_sync`]. [`RotatingSinkConfig::new`] leaves it 0;
    /// [`RotatingSinkConfig::background_sync_for_size`] derives it from a size limit.
    pub background_sync_bytes: u64,
}

impl RotatingSinkConfig {
    /// Defaults for `live`: rotate at 10 MiB, keep 10 archives, gzip them at level 6.
    pub fn new(live: impl Into<PathBuf>) -> Self {
        Self {
            live: live.into(),
            policy: Box::new(SizePolicy(10 << 20)),
            max_files: 10,
            max_total_bytes: None,
            compression: true,
            compression_level: 6,
            background_sync_bytes: 0,
        }
    }

    /// Sets `background_sync_bytes` for the policy's size limit: a quarter of it, so the live
    /// file is synced in the background three times before the rotation's own fsync; no
    /// background sync without a size limit (an idle or slowly growing file is left to the
    /// kernel's writeback, and the sync at close).
    pub fn background_sync_for_size(mut self) -> Self {
        self.background_sync_bytes = self.policy.max_size().map_or(0, |max| max / 4);
        self
    }
}

/// Writes the live file and rotates it when its [`RotationPolicy`] says so.
///
/// Rotation happens only between lines: a write that would take the file past its size limit
/// is cut at the last whole line that fits, the file is rotated, and the rest goes to the new
/// file; a single line larger than the limit gets a file of its own. Rotation is
/// flush → fsync the file → rename it to its archive name → open a new live file → fsync the
/// directory → hand the archive to the [`Compressor`] (or apply retention), so a rotated file
/// is never lost or empty after a crash and the writer never waits for gzip. Nothing is ever
/// copied and truncated.
pub struct RotatingSink {
    fs: Arc<dyn Filesystem>,
    clock: Arc<dyn Clock>,
    naming: ArchiveNaming,
    policy: Box<dyn RotationPolicy>,
    retention: Retention,
    compressor: Option<Compressor>,
    /// `None` after a rotation whose new live file could not be opened yet.
    live: Option<FileSink>,
    /// When the live file's content started.
    opened_at: DateTime<Utc>,
    next_seq: u64,
    /// Whether the last byte written ended a line (rotation waits for that).
    at_line_start: bool,
    /// [`RotatingSink::rotate`] was called in the middle of a line: rotate when it ends.
    rotate_pending: bool,
    metrics: Option<Arc<LogMetrics>>,
    background_sync_bytes: u64,
}

impl std::fmt::Debug for RotatingSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingSink")
            .field("live", &self.naming.live_path())
            .field("policy", &self.policy)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl RotatingSink {
    /// Opens (or creates) the live file, appending to what is there, and recovers from a
    /// crash: half-written `.gz.tmp` files are removed, archives left uncompressed are
    /// compressed again, and retention is applied.
    ///
    /// # Errors
    /// The I/O error from opening the live file or reading its directory.
    pub fn open(
        config: RotatingSinkConfig,
        fs: Arc<dyn Filesystem>,
        clock: Arc<dyn Clock>,
    ) -> io::Result<Self> {
        let naming = ArchiveNaming::new(&config.live)?;
        let live = FileSink::open(fs.clone(), &config.live)?
            .with_background_sync(config.background_sync_bytes);
        let retention = Retention {
            max_files: config.max_files,
            max_total_bytes: config.max_total_bytes,
        };
        let leftovers = recover(&naming, fs.as_ref())?;
        let compressor = config.compression.then(|| {
            Compressor::new(
                fs.clone(),
                naming.clone(),
                Some(retention),
                flate2::Compression::new(config.compression_level.min(9)),
            )
        });
        if let Some(c) = &compressor {
            for archive in leftovers {
                c.submit(archive);
            }
        }
        retention.apply(&naming, fs.as_ref())?;
        let next_seq = naming.next_seq(fs.as_ref())?;
        let meta = live.meta_at_open();
        let opened_at = match meta.modified {
            Some(t) if meta.len > 0 => DateTime::<Utc>::from(t),
            _ => clock.now(),
        };
        Ok(Self {
            fs,
            clock,
            naming,
            policy: config.policy,
            retention,
            compressor,
            live: Some(live),
            opened_at,
            next_seq,
            at_line_start: true,
            rotate_pending: false,
            metrics: None,
            background_sync_bytes: config.background_sync_bytes,
        })
    }

    /// Counts rotations in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<LogMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The live file.
    pub fn live_path(&self) -> &Path {
        self.naming.live_path()
    }

    /// Bytes in the live file.
    pub fn live_size(&self) -> u64 {
        self.live.as_ref().map_or(0, FileSink::size)
    }

    /// This sink's files, oldest first, the live file last.
    ///
    /// # Errors
    /// The I/O error from reading the directory.
    pub fn log_files(&self) -> io::Result<Vec<PathBuf>> {
        list_log_files(self.fs.as_ref(), self.naming.live_path())
    }

    fn live(&mut self) -> io::Result<&mut FileSink> {
        if self.live.is_none() {
            self.live = Some(
                FileSink::open(self.fs.clone(), self.naming.live_path())?
                    .with_background_sync(self.background_sync_bytes),
            );
        }
        match self.live.as_mut() {
            Some(live) => Ok(live),
            None => Err(io::Error::other("live file not open")),
        }
    }

    /// Rotates the live file now (if it has content). In the middle of a line (after a short
    /// write or a batch without its last `\n`) the rotation waits until that line is finished,
    /// so that the line is not torn across two files.
    ///
    /// # Errors
    /// The I/O error of the step that failed; a failed rename leaves everything as it was.
    pub fn rotate(&mut self) -> io::Result<()> {
        if !self.at_line_start {
            self.rotate_pending = true;
            return Ok(());
        }
        let live = self.live()?;
        if live.size() == 0 {
            self.rotate_pending = false;
            return Ok(());
        }
        live.flush()?;
        live.sync()?;
        let archive = self.naming.archive_path(self.opened_at, self.next_seq);
        self.fs.rename(self.naming.live_path(), &archive)?;
        // The old handle now writes to the archive: never use it again.
        self.live = None;
        self.rotate_pending = false;
        self.next_seq += 1;
        self.opened_at = self.clock.now();
        self.at_line_start = true;
        if let Some(m) = &self.metrics {
            m.record_rotation();
        }
        match &self.compressor {
            Some(c) => c.submit(archive),
            None => {
                if let Err(e) = self.retention.apply(&self.naming, self.fs.as_ref()) {
                    tracing::warn!(dir = %self.naming.dir().display(), error = %e, "log retention failed");
                }
            }
        }
        self.live()?;
        self.fs.sync_dir(&parent_dir(self.naming.live_path()))
    }

    /// How much of `batch`, which starts at a line boundary, goes into the live file now;
    /// rotates first if the policy says so.
    fn chunk_len(&mut self, batch: &[u8]) -> io::Result<usize> {
        if self.rotate_pending {
            self.rotate()?;
        }
        let now = self.clock.now();
        if self.policy.is_due(self.opened_at, now) {
            if self.live()?.size() > 0 {
                self.rotate()?;
            } else {
                self.opened_at = now;
            }
        }
        let Some(max) = self.policy.max_size() else {
            return Ok(batch.len());
        };
        for attempt in 0..2 {
            let size = self.live()?.size();
            let room = max.saturating_sub(size);
            if batch.len() as u64 <= room {
                return Ok(batch.len());
            }
            if let Some(i) = memrchr(b'\n', &batch[..room as usize]) {
                return Ok(i + 1);
            }
            if size == 0 || attempt == 1 {
                break;
            }
            self.rotate()?;
        }
        // Not even one line fits an empty file: it gets the file to itself.
        Ok(memchr(b'\n', batch).map_or(batch.len(), |i| i + 1))
    }
}

impl Sink for RotatingSink {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let len = if self.at_line_start {
            self.chunk_len(batch)?
        } else {
            // Finish the line already started, whatever the limit: never tear it.
            memchr(b'\n', batch).map_or(batch.len(), |i| i + 1)
        };
        let n = self.live()?.write(&batch[..len])?;
        if n > 0 {
            self.at_line_start = batch[n - 1] == b'\n';
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.live.as_mut() {
            Some(live) => live.flush(),
            None => Ok(()),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match self.live.as_mut() {
            Some(live) => live.sync(),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> io::Result<()> {
        let synced = match self.live.as_mut() {
            Some(live) => live.close(),
            None => Ok(()),
        };
        let compressed = match &self.compressor {
            Some(c) => c.wait_idle(),
            None => Ok(()),
        };
        let retained = self
            .retention
            .apply(&self.naming, self.fs.as_ref())
            .map(drop);
        synced.and(compressed).and(retained)
    }
}

/// The files of the live file `live`: its archives oldest first (compressed or not), then the
/// live file itself if it exists. Readers use this instead of parsing names.
///
/// # Errors
/// The I/O error from reading the directory.
pub fn list_log_files(fs: &dyn Filesystem, live: &Path) -> io::Result<Vec<PathBuf>> {
    let naming = ArchiveNaming::new(live)?;
    let mut files: Vec<PathBuf> = naming
        .scan(fs)?
        .archives
        .into_iter()
        .map(|a| a.path)
        .collect();
    if fs.metadata(live).is_ok() {
        files.push(live.to_path_buf());
    }
    Ok(files)
}
