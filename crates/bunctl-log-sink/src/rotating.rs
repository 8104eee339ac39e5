//! [`RotatingSink`]: a [`FileSink`] on the live file that rotates it at line boundaries.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use bunctl_log_buffer::{write_marker, LineFormat, Marker};
use bunctl_log_fs::{
    create_dir_all_durably, parent_dir, FileLock, Filesystem, DEFAULT_DIR_MODE, DEFAULT_FILE_MODE,
};
use bunctl_log_metrics::LogMetrics;
use bunctl_log_rotation::{
    ArchiveNaming, Clock, Compressor, Retention, RotationPolicy, SizePolicy,
};
use chrono::{DateTime, Utc};
use memchr::{memchr, memrchr};

use crate::file::PathChange;
use crate::finish::{hand_over, FinishJob, Finished};
use crate::recovery::{recover, Recovered};
use crate::{FileSink, Sink};

/// The file name of `path`, for marker lines and messages.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `now + delay`, or a year from now if that does not fit the clock (never a panic).
fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(now)
}

/// What a [`RotatingSink`] does when a write finds the disk full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FullDiskPolicy {
    /// Keep every archive: the write fails, the layers above retry it and, if the disk stays
    /// full, count the lines as lost and mark the gap in the file. The default.
    #[default]
    KeepArchives,
    /// Delete this live file's oldest archives, one at a time, until the write fits or only
    /// `min_archives` are left (svlogd's behaviour); a marker line in the live file says how
    /// many were deleted. Never touches another file's archives.
    DeleteOldestArchives {
        /// Archives never deleted to make room.
        min_archives: usize,
    },
}

/// Whether `e` says the disk (or the user's quota) is full.
fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

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
    /// Oldest archives kept, if set (by their last change).
    pub max_age: Option<Duration>,
    /// Whether archives are gzipped (off the writer's thread).
    pub compression: bool,
    /// gzip level, 0 to 9.
    pub compression_level: u32,
    /// `fdatasync` the live file in the background every this many bytes (0: never), so the
    /// fsync before each rotation, which the writer waits for, has little left to flush. See
    /// [`FileSink::with_background_sync`]. [`RotatingSinkConfig::new`] leaves it 0;
    /// [`RotatingSinkConfig::background_sync_for_size`] derives it from a size limit.
    pub background_sync_bytes: u64,
    /// A rotated file of at least this many bytes is fsynced on a thread of its own while
    /// writing goes on in [`ArchiveNaming::next_path`]; its renames (to its archive name, and
    /// of that file to the live name) wait for the fsync. Smaller ones are fsynced in the
    /// foreground, which costs them little. `u64::MAX`: always in the foreground. Default
    /// 512 KiB (a size limit of 512K or more rotates files just under it: those of 1M do).
    pub background_finish_bytes: u64,
    /// Mode of the files created (live file, lock, and archives keep the live file's mode).
    /// Default [`DEFAULT_FILE_MODE`] (`0o640`).
    pub file_mode: u32,
    /// Mode of the directory if it must be created again (someone removed it). Default
    /// [`DEFAULT_DIR_MODE`] (`0o750`).
    pub dir_mode: u32,
    /// Least time between two checks that the live path still names the open file (one
    /// `lstat` at the start of a batch); a rotation always checks first. Default 10 ms.
    pub reopen_check_interval: Duration,
    /// What to do when the disk is full. Default [`FullDiskPolicy::KeepArchives`].
    pub full_disk: FullDiskPolicy,
    /// How long [`Sink::close`] waits for compressions still queued before it leaves them
    /// for the next start (see [`Compressor::finish`]). Default: no limit.
    pub close_compression_budget: Duration,
    /// After a failed rotation (see [`RotatingSink`]), how long until it is tried again; the
    /// delay doubles with each further failure, up to `rotation_retry_max_delay`. Meanwhile
    /// writing goes on in the live file, past its limit. Default 1 s.
    pub rotation_retry_delay: Duration,
    /// Longest delay between two tries of a failed rotation. Default 60 s.
    pub rotation_retry_max_delay: Duration,
    /// The format the file's lines are in: the sink writes its own marker lines in it, so the
    /// file stays one format throughout. Default [`LineFormat::Raw`].
    pub format: LineFormat,
}

impl RotatingSinkConfig {
    /// Defaults for `live`: rotate at 10 MiB, keep 10 archives, gzip them at level 3.
    pub fn new(live: impl Into<PathBuf>) -> Self {
        Self {
            live: live.into(),
            policy: Box::new(SizePolicy(10 << 20)),
            max_files: 10,
            max_total_bytes: None,
            max_age: None,
            compression: true,
            compression_level: 3,
            background_sync_bytes: 0,
            background_finish_bytes: 512 << 10,
            file_mode: DEFAULT_FILE_MODE,
            dir_mode: DEFAULT_DIR_MODE,
            reopen_check_interval: Duration::from_millis(10),
            full_disk: FullDiskPolicy::KeepArchives,
            close_compression_budget: Duration::MAX,
            rotation_retry_delay: Duration::from_secs(1),
            rotation_retry_max_delay: Duration::from_secs(60),
            format: LineFormat::Raw,
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
/// flush → fsync the file → rename it to its archive name → open a new live file → hand the
/// archive to the [`Compressor`] (or apply retention), so a rotated file is never lost or empty
/// after a crash and the writer never waits for gzip. Nothing is ever copied and truncated.
///
/// For a file of [`background_finish_bytes`](RotatingSinkConfig::background_finish_bytes) or
/// more the writer does not wait for the fsync either: it goes on in the hidden
/// [`ArchiveNaming::next_path`] while a thread fsyncs the rotated file, renames it, hands it
/// over, and renames `.next` to the live name. The next write,
/// [`sync`](Sink::sync) or [`close`](Sink::close) takes note of the result; a step that failed
/// is reported there and done again in the foreground. [`open`](Self::open) finishes a rotation
/// that a crash interrupted.
///
/// The world may intervene, and the sink copes:
///
/// * **One writer per live file.** [`open`](Self::open) takes an exclusive lock on
///   [`ArchiveNaming::lock_path`] before touching anything; a second writer, in this process or
///   another, is refused with [`Locked`](bunctl_log_fs::Locked) naming the holder's pid. The
///   lock lives as long as the sink and its compressor.
/// * **A live file removed or renamed by someone else** (`rm`, logrotate's `mv`) is noticed:
///   at most every `reopen_check_interval` at the start of a batch, and always before a
///   rotation, the path is compared with the open file (device and inode). If they differ the
///   sink opens the path afresh (recreating the directory if it is gone), writes a marker line
///   saying so, and counts it (`reopens`). A rename that finds the live file gone reopens too:
///   the sink never wedges on a missing file.
/// * **A full disk** can free space by deleting this file's oldest archives
///   ([`FullDiskPolicy`]).
/// * **A failed rotation never costs a line.** If the directory refuses the rename to the
///   archive name or the new `.next` file (`chattr +i`, a read-only remount, EIO), the live
///   file is kept and written on past its limit: the write succeeds, a marker line starting
///   with [`Marker::RotationFailed`] says where and why (naming the directory and the error,
///   once per run of failures), every failed attempt is counted (`rotation_failures`), and the
///   rotation is tried again after [`rotation_retry_delay`](RotatingSinkConfig::rotation_retry_delay),
///   doubling up to [`rotation_retry_max_delay`](RotatingSinkConfig::rotation_retry_max_delay),
///   in the foreground. The first rotation that works again writes a
///   [`Marker::RotationResumed`] line at the start of the new file. A rotation finishing in
///   the background whose rotated file cannot be renamed moves the lines written to `.next`
///   meanwhile back to the end of the live file and removes `.next`; if only the rename of
///   `.next` to the live name fails, writing goes on in `.next`, which takes the name at the
///   next try. Lines are lost only when the file itself cannot be written.
pub struct RotatingSink {
    fs: Arc<dyn Filesystem>,
    clock: Arc<dyn Clock>,
    naming: ArchiveNaming,
    policy: Box<dyn RotationPolicy>,
    retention: Retention,
    compressor: Option<Arc<Compressor>>,
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
    background_finish_bytes: u64,
    /// A rotation whose file is being fsynced while writing goes on in the `.next` file.
    finishing: Option<Finishing>,
    file_mode: u32,
    dir_mode: u32,
    reopen_check_interval: Duration,
    last_check: Instant,
    full_disk: FullDiskPolicy,
    close_compression_budget: Duration,
    /// Archives deleted for space that no marker line reported yet.
    deleted_for_space: u64,
    /// The unwritten end of a marker line (see `write_marker`).
    marker_tail: Vec<u8>,
    /// The file's line format, which markers are written in.
    format: LineFormat,
    /// A rotation happened since retention was last applied here: close applies it.
    retention_due: bool,
    /// A rotation or reopen changed the directory since its last fsync.
    dir_dirty: bool,
    /// Held for the sink's life (and the compressor's); taken again by a reopen that finds
    /// the lock file gone.
    lock: Arc<FileLock>,
    rotation_retry_delay: Duration,
    rotation_retry_max_delay: Duration,
    /// Rotations are failing: writing goes on in the live file until a retry works.
    rotation_failure: Option<RotationFailure>,
    /// A `.next` whose lines were moved back to the live file but which could not be removed:
    /// removed before the next rotation (which waits for that).
    stale_next: bool,
}

/// A run of failed rotations, and when to try again.
struct RotationFailure {
    /// Failed attempts in this run.
    attempts: u64,
    /// The delays before the next tries.
    delays: ExponentialBackoff,
    retry_at: Instant,
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

/// A rotation finishing off the writer's thread (see [`crate::finish`]).
enum Finishing {
    /// Its thread is at work; the job comes back through the channel.
    Running(std::sync::mpsc::Receiver<(FinishJob, io::Result<Finished>)>),
    /// A step failed: the writer runs the rest in the foreground.
    Failed(Box<FinishJob>),
    /// The rotated file could not be renamed: `.next`'s lines are being moved back to it, the
    /// live file again (a write that failed there is resumed first).
    FoldingBack(Box<FinishJob>),
}

impl RotatingSink {
    /// Takes the live file's lock, recovers from a crash (the steps are listed at
    /// `recovery::recover`: an interrupted rotation finished, a cut last line ended with a
    /// marker, half-written `.gz.tmp` files removed), opens (or creates) the live file,
    /// appending to what is there, hands archives left uncompressed to the compressor, and
    /// applies retention.
    ///
    /// # Errors
    /// [`Locked`](bunctl_log_fs::Locked) (kind `ResourceBusy`) if another writer has the
    /// live file; the I/O error from opening the live file or reading its directory.
    pub fn open(
        config: RotatingSinkConfig,
        fs: Arc<dyn Filesystem>,
        clock: Arc<dyn Clock>,
    ) -> io::Result<Self> {
        let naming = ArchiveNaming::new(&config.live)?;
        // Before anything else: recovery removes `.gz.tmp` files, which must not be another
        // writer's compression in progress.
        let lock = Arc::new(fs.lock(&naming.lock_path(), config.file_mode)?);
        let Recovered {
            live,
            scan,
            uncompressed,
        } = recover(&fs, &naming, config.file_mode, config.format)?;
        let live = live.with_background_sync(config.background_sync_bytes);
        let retention = Retention {
            max_files: config.max_files,
            max_total_bytes: config.max_total_bytes,
            max_age: config.max_age,
        };
        let next_seq = scan.next_seq();
        let compressor = config
            .compression
            .then(|| {
                Compressor::new(
                    fs.clone(),
                    naming.clone(),
                    Some(retention),
                    flate2::Compression::new(config.compression_level.min(9)),
                )
                .with_guard(lock.clone())
            })
            .map(Arc::new);
        if let Some(c) = &compressor {
            for archive in uncompressed {
                c.submit(archive);
            }
        }
        retention.apply_scanned(fs.as_ref(), scan)?;
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
            background_finish_bytes: config.background_finish_bytes,
            finishing: None,
            file_mode: config.file_mode,
            dir_mode: config.dir_mode,
            reopen_check_interval: config.reopen_check_interval,
            last_check: Instant::now(),
            full_disk: config.full_disk,
            close_compression_budget: config.close_compression_budget,
            deleted_for_space: 0,
            marker_tail: Vec::new(),
            format: config.format,
            retention_due: false,
            // A live file just created (or empty) is named by an entry not yet durable: the
            // first sync or close makes it so.
            dir_dirty: meta.len == 0,
            lock,
            rotation_retry_delay: config.rotation_retry_delay,
            rotation_retry_max_delay: config.rotation_retry_max_delay,
            rotation_failure: None,
            stale_next: false,
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
            let path = self.naming.live_path();
            let live = match FileSink::open(self.fs.clone(), path, self.file_mode, self.format) {
                // The directory is gone (`rm -r`): make it again rather than fail forever.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    create_dir_all_durably(self.fs.as_ref(), self.naming.dir(), self.dir_mode)?;
                    FileSink::open(self.fs.clone(), path, self.file_mode, self.format)?
                }
                other => other?,
            };
            self.live = Some(live.with_background_sync(self.background_sync_bytes));
        }
        match self.live.as_mut() {
            Some(live) => Ok(live),
            None => Err(io::Error::other("live file not open")),
        }
    }

    /// Checks that the live path still names the open file (if `force`, or if the last check
    /// is `reopen_check_interval` old) and reopens it if not; `Ok(true)` if it reopened. Only
    /// called between lines.
    fn check_live(&mut self, force: bool) -> io::Result<bool> {
        if !force && self.last_check.elapsed() < self.reopen_check_interval {
            return Ok(false);
        }
        // While a rotation finishes, the live name is the rotated file's, not the open one's:
        // its renames check it.
        if self.finishing.is_some() {
            return Ok(false);
        }
        self.last_check = Instant::now();
        let Some(live) = &self.live else {
            return Ok(false); // opened afresh at the next write anyway
        };
        match live.path_change() {
            Ok(None) => Ok(false),
            Ok(Some(change)) => self.reopen(change).map(|()| true),
            Err(e) => {
                // Cannot tell (EACCES on the directory, say): keep writing the open file.
                tracing::debug!(path = %self.naming.live_path().display(), error = %e,
                    "cannot check the live log file");
                Ok(false)
            }
        }
    }

    /// The live path no longer names the open file: open it afresh and say so in the file.
    fn reopen(&mut self, change: PathChange) -> io::Result<()> {
        let path = self.naming.live_path().to_path_buf();
        tracing::warn!(path = %path.display(), change = change.describe(),
            "live log file was changed by someone else; reopening it");
        if let Some(mut old) = self.live.take() {
            // Lines already written to a moved file stay there; make them durable.
            if let Err(e) = old.sync() {
                tracing::debug!(error = %e, "cannot sync the old live file before reopening");
            }
        }
        self.relock()?;
        self.dir_dirty = true;
        self.opened_at = self.clock.now();
        self.at_line_start = true;
        if let Some(m) = &self.metrics {
            m.record_reopen();
        }
        self.write_marker(&Marker::Reopened {
            path: &path,
            change: change.describe(),
        })
    }

    /// If the lock file is gone too (`rm -r` of the directory), the old lock keeps nobody out:
    /// take a new one before writing again, or give way to the writer that took it meanwhile.
    fn relock(&mut self) -> io::Result<()> {
        let Some(id) = self.lock.file_id() else {
            return Ok(());
        };
        let path = self.naming.lock_path();
        match self.fs.metadata(&path) {
            Ok(m) if m.id == Some(id) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The directory may be gone with it.
                create_dir_all_durably(self.fs.as_ref(), self.naming.dir(), self.dir_mode)?;
            }
            Err(e) => return Err(e),
        }
        self.lock = Arc::new(self.fs.lock(&path, self.file_mode)?);
        Ok(())
    }

    /// On a full disk with [`FullDiskPolicy::DeleteOldestArchives`]: deletes the oldest
    /// archive if more than the floor are left. `Ok(true)` if one was deleted.
    fn delete_oldest_for_space(&mut self) -> io::Result<bool> {
        let FullDiskPolicy::DeleteOldestArchives { min_archives } = self.full_disk else {
            return Ok(false);
        };
        let archives = self.naming.scan(self.fs.as_ref())?.archives;
        if archives.len() <= min_archives {
            return Ok(false);
        }
        let Some(oldest) = archives.into_iter().next() else {
            return Ok(false);
        };
        for p in std::iter::once(&oldest.path).chain(&oldest.plain_leftover) {
            match self.fs.remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        tracing::warn!(path = %oldest.path.display(), "disk full: deleted the oldest log archive");
        self.deleted_for_space += 1;
        if let Some(m) = &self.metrics {
            m.record_archives_deleted_for_space(1);
        }
        Ok(true)
    }

    /// Writes the marker for archives deleted for space, if any (between lines only).
    fn write_space_marker(&mut self) -> io::Result<()> {
        if self.deleted_for_space == 0 {
            return Ok(());
        }
        let count = self.deleted_for_space;
        self.deleted_for_space = 0;
        self.write_marker(&Marker::ArchivesDeleted { count })
    }

    /// Makes the directory's entries durable if a rotation or reopen changed them since.
    fn sync_dir_if_dirty(&mut self) -> io::Result<()> {
        if self.dir_dirty {
            self.fs.sync_dir(&parent_dir(self.naming.live_path()))?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Writes a marker line of the sink's own, between lines. What a failed write leaves of it
    /// is written first the next time, so a marker is never torn and never glued to a line.
    fn write_marker(&mut self, marker: &Marker<'_>) -> io::Result<()> {
        write_marker(
            self.format,
            marker,
            SystemTime::now(),
            &mut self.marker_tail,
        );
        self.write_marker_tail()
    }

    fn write_marker_tail(&mut self) -> io::Result<()> {
        while !self.marker_tail.is_empty() {
            let tail = std::mem::take(&mut self.marker_tail);
            let written = self.live().and_then(|live| live.write(&tail));
            let n = match written {
                Ok(n) => n,
                Err(e) => {
                    self.marker_tail = tail;
                    return Err(e);
                }
            };
            if n == 0 {
                self.marker_tail = tail;
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the log file took no bytes",
                ));
            }
            self.marker_tail = tail[n.min(tail.len())..].to_vec();
        }
        Ok(())
    }

    /// Rotates the live file now (if it has content). In the middle of a line (after a short
    /// write or a batch without its last `\n`) the rotation waits until that line is finished,
    /// so that the line is not torn across two files.
    ///
    /// A rename the directory refuses is not an error: the live file is kept and written on
    /// past its limit, with a marker line, and the rotation is tried again later (see
    /// [`RotatingSink`]); until that retry is due, this does nothing.
    ///
    /// # Errors
    /// The I/O error of the step that failed (the fsync of the live file, opening the new
    /// one, writing the marker line).
    pub fn rotate(&mut self) -> io::Result<()> {
        if !self.at_line_start {
            self.rotate_pending = true;
            return Ok(());
        }
        // After a failed rotation the next try waits for its backoff; writing goes on.
        if !self.rotation_retry_due() {
            return Ok(());
        }
        // One rotation at a time: the last one's renames first. If that reopened the live name
        // (someone else's file was there), there is nothing of ours to rotate.
        if self.finish_rotation(true)? {
            self.rotate_pending = false;
            return Ok(());
        }
        // The last rotation's `.next` is still waiting for the live name (its rename failed):
        // it is the file being written, and rotating it waits for that rename's retry.
        if self.finishing.is_some() {
            return Ok(());
        }
        // Lines of a `.next` that were moved back to the live file: it must go first, or a
        // crash would let the next open take it for a rotation's and write them twice.
        if self.stale_next {
            let next = self.naming.next_path();
            match self.fs.remove_file(&next) {
                Ok(()) => self.stale_next = false,
                Err(e) if e.kind() == io::ErrorKind::NotFound => self.stale_next = false,
                Err(e) => {
                    self.rotate_pending = true;
                    return self.rotation_failed(&format!("remove {}", file_name(&next)), &e);
                }
            }
        }
        // Never rename a file that is not ours: someone may have moved it or put another there.
        // After a reopen the live file is new (only the marker in it): nothing to rotate.
        if self.check_live(true)? {
            self.rotate_pending = false;
            return Ok(());
        }
        let live = self.live()?;
        if live.size() == 0 {
            self.rotate_pending = false;
            return Ok(());
        }
        live.flush()?;
        let size = live.size();
        let archive = self.naming.archive_path(self.opened_at, self.next_seq);
        // A retry after a failure is done in the foreground: if it fails again, there is no
        // `.next` to move back.
        if self.rotation_failure.is_none()
            && size >= self.background_finish_bytes
            && self.start_finishing(&archive, size)
        {
            self.rotated();
            return Ok(());
        }
        self.live()?.sync()?;
        match self.fs.rename(self.naming.live_path(), &archive) {
            Ok(()) => {}
            // Gone between the check and the rename: reopen, as the check would have.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.rotate_pending = false;
                return self.reopen(PathChange::Removed);
            }
            // Refused (EPERM of an immutable directory, EROFS, EIO): nothing changed, and the
            // live file is still ours to write.
            Err(e) => {
                let step = format!(
                    "rename {} to {}",
                    file_name(self.naming.live_path()),
                    file_name(&archive)
                );
                // Tried again once the backoff is over, whatever asked for this one.
                self.rotate_pending = true;
                return self.rotation_failed(&step, &e);
            }
        }
        // The old handle now writes to the archive: never use it again.
        self.live = None;
        tracing::debug!(live = %self.naming.live_path().display(), archive = %archive.display(),
            seq = self.next_seq, size, "log file rotated");
        self.rotated();
        self.count_rotation();
        self.hand_over(archive);
        self.live()?;
        self.rotation_resumed()
    }

    /// Whether a rotation may be tried now: no failure, or its retry is due.
    fn rotation_retry_due(&self) -> bool {
        self.rotation_failure
            .as_ref()
            .is_none_or(|f| Instant::now() >= f.retry_at)
    }

    /// A rotation failed at `step` with `error`, and writing goes on in the file being written:
    /// counts the attempt, sets when to try again, and writes the marker line (the first time
    /// in a run of failures).
    fn rotation_failed(&mut self, step: &str, error: &io::Error) -> io::Result<()> {
        self.note_rotation_failure(step, error);
        self.write_marker_tail()
    }

    /// [`rotation_failed`](Self::rotation_failed) with the marker line left in `marker_tail`,
    /// for the next write: for a caller that must first put other lines before it.
    fn note_rotation_failure(&mut self, step: &str, error: &io::Error) {
        if let Some(m) = &self.metrics {
            m.record_rotation_failure();
        }
        let (initial, max) = (self.rotation_retry_delay, self.rotation_retry_max_delay);
        let now = Instant::now();
        let first = self.rotation_failure.is_none();
        let failure = self
            .rotation_failure
            .get_or_insert_with(|| RotationFailure {
                attempts: 0,
                delays: ExponentialBuilder::default()
                    .with_min_delay(initial)
                    .with_factor(2.0)
                    .with_max_delay(max.max(initial))
                    .without_max_times()
                    .build(),
                retry_at: now,
            });
        failure.attempts = failure.attempts.saturating_add(1);
        let delay = failure.delays.next().unwrap_or(max);
        failure.retry_at = later(now, delay);
        let attempts = failure.attempts;
        let dir = self.naming.dir();
        let writing = self.live.as_ref().map_or_else(
            || file_name(self.naming.live_path()),
            |l| file_name(l.path()),
        );
        tracing::warn!(dir = %dir.display(), step, %error, attempts, retry_in = ?delay,
            writing = %writing, "log rotation failed; writing goes on in the same file");
        if first {
            // `.next` (whose rename to the live name failed) is a new file, under its limit.
            let error = error.to_string();
            let marker = Marker::RotationFailed {
                dir,
                step,
                error: &error,
                past_limit: writing == file_name(self.naming.live_path()),
                writing: &writing,
            };
            write_marker(
                self.format,
                &marker,
                SystemTime::now(),
                &mut self.marker_tail,
            );
        }
    }

    /// A rotation worked: if it follows failed ones, says so in the file being written now.
    fn rotation_resumed(&mut self) -> io::Result<()> {
        let Some(failure) = self.rotation_failure.take() else {
            return Ok(());
        };
        let dir = self.naming.dir();
        tracing::info!(dir = %dir.display(), attempts = failure.attempts,
            "log rotation works again");
        let dir = dir.to_path_buf();
        self.write_marker(&Marker::RotationResumed {
            dir: &dir,
            attempts: failure.attempts,
        })
    }

    /// Counts a rotation whose archive got its name (or, moved away by someone else, had it
    /// taken for it).
    fn count_rotation(&self) {
        if let Some(m) = &self.metrics {
            m.record_rotation();
        }
    }

    /// Queues `archive` for compression, or applies retention (see [`hand_over`]).
    fn hand_over(&self, archive: PathBuf) {
        hand_over(
            archive,
            self.compressor.as_deref(),
            &self.retention,
            &self.naming,
            self.fs.as_ref(),
        );
    }

    /// What every rotation changes, in the foreground or not.
    fn rotated(&mut self) {
        self.rotate_pending = false;
        self.retention_due = true;
        self.next_seq += 1;
        self.opened_at = self.clock.now();
        self.at_line_start = true;
        // The directory's fsync (making the renames and the new live file durable) is left to
        // the next sync or close, or to the compressor, which fsyncs the directory before it
        // removes the plain archive: a crash before that undoes a rename at worst, and the
        // content is then still whole under its old name (which the next open finishes).
        self.dir_dirty = true;
    }

    /// Moves writing to `.next` and leaves the rotated file's fsync and renames to a thread
    /// of their own; `false` (nothing changed) if that cannot be set up.
    fn start_finishing(&mut self, archive: &Path, size: u64) -> bool {
        let next = self.naming.next_path();
        // One left over was finished at open; one here now is not ours to write to.
        match self.fs.metadata(&next) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            _ => return false,
        }
        let next_sink = match FileSink::open(self.fs.clone(), &next, self.file_mode, self.format) {
            Ok(sink) => sink.with_background_sync(self.background_sync_bytes),
            Err(e) => {
                tracing::debug!(path = %next.display(), error = %e,
                    "cannot open the next log file; rotating in the foreground");
                return false;
            }
        };
        let Some(old) = self.live.replace(next_sink) else {
            return false;
        };
        let mut job = FinishJob::new(
            self.fs.clone(),
            old,
            next,
            archive.to_path_buf(),
            size,
            self.compressor.clone(),
            self.retention,
            self.naming.clone(),
            self.opened_at,
            self.lock.clone(),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("{}-rotate", bunctl_log_fs::THREAD_NAME_PREFIX))
            .stack_size(256 << 10)
            .spawn(move || {
                // A panic must not lose the job: the writer finishes it in the foreground.
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()))
                    .unwrap_or_else(|_| Err(io::Error::other("rotation thread panicked")));
                let _ = tx.send((job, done));
            });
        match spawned {
            Ok(_) => {
                self.finishing = Some(Finishing::Running(rx));
                true
            }
            Err(e) => {
                // The job went with the closure. Nothing was written to `.next` yet: drop it,
                // and the foreground rotation reopens the live name, still the rotated file.
                tracing::debug!(error = %e, "no thread to finish the rotation; rotating in the foreground");
                self.live = None;
                if let Err(e) = self.fs.remove_file(&self.naming.next_path()) {
                    tracing::warn!(error = %e, "cannot remove the unused next log file");
                }
                false
            }
        }
    }

    /// Completes a background rotation: if its thread is done (or `block`, after waiting for
    /// it), takes note of its renames, or does what it could not in the foreground. `Ok(true)`
    /// if it reopened the live name (only between lines: callers in mid-line do not call it).
    fn finish_rotation(&mut self, block: bool) -> io::Result<bool> {
        let Some(finishing) = self.finishing.take() else {
            return Ok(false);
        };
        let (job, done) = match finishing {
            Finishing::Running(rx) => {
                let got = if block {
                    rx.recv().ok()
                } else {
                    match rx.try_recv() {
                        Ok(got) => Some(got),
                        Err(std::sync::mpsc::TryRecvError::Empty) => {
                            self.finishing = Some(Finishing::Running(rx));
                            return Ok(false);
                        }
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
                    }
                };
                match got {
                    Some(got) => got,
                    None => {
                        // Cannot happen: the thread always sends its job back.
                        tracing::error!("log rotation thread vanished; the next open finishes it");
                        return Ok(false);
                    }
                }
            }
            // Only `.next`'s rename is left, and it failed: it waits for its retry, unless the
            // caller waits for the rotation's end anyway (sync, close).
            Finishing::Failed(job) if job.archived() && !block && !self.rotation_retry_due() => {
                self.finishing = Some(Finishing::Failed(job));
                return Ok(false);
            }
            Finishing::Failed(mut job) => {
                let done = job.run();
                (*job, done)
            }
            Finishing::FoldingBack(job) => return self.fold_back(*job),
        };
        match done {
            Ok(Finished::Done { moved_away }) => {
                let live = self.naming.live_path().to_path_buf();
                if let Some(next) = self.live.as_mut() {
                    next.renamed_to(&live);
                }
                self.last_check = Instant::now();
                if let Some(change) = moved_away {
                    tracing::warn!(path = %live.display(), change = change.describe(),
                        "live log file was changed by someone else while it was rotated");
                    if let Some(m) = &self.metrics {
                        m.record_reopen();
                    }
                }
                self.count_rotation();
                self.rotation_resumed().map(|()| false)
            }
            Ok(Finished::Foreign(change)) => {
                // `.next` holds our newest lines: they become the archive the rotated file
                // would have been, durable first, and writing goes on at the live name.
                if let Some(next) = self.live.as_mut() {
                    if let Err(e) = next.sync() {
                        self.finishing = Some(Finishing::Failed(Box::new(job)));
                        return Err(e);
                    }
                }
                // A name of its own: the rotated file may have taken the one it was given.
                let archive = self.naming.archive_path(self.opened_at, self.next_seq);
                match self.fs.rename(&job.next, &archive) {
                    Ok(()) => {
                        self.next_seq += 1;
                        self.count_rotation();
                    }
                    // Gone too: what was written there went with it.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        self.live = None;
                        return self.reopen(change).map(|()| true);
                    }
                    Err(e) => {
                        self.finishing = Some(Finishing::Failed(Box::new(job)));
                        return Err(e);
                    }
                }
                self.hand_over(archive);
                self.live = None;
                self.reopen(change).map(|()| true)
            }
            Ok(Finished::NextGone) => {
                // The lines written to `.next` went with it, as they would have with the live
                // file: start afresh at the live name (recreating the directory if need be).
                self.count_rotation();
                self.live = None;
                self.reopen(PathChange::Removed).map(|()| true)
            }
            // The rotated file's own fsync failed: its error, retried like a failed write.
            Err(e) if !job.synced() => {
                self.finishing = Some(Finishing::Failed(Box::new(job)));
                Err(e)
            }
            // The rotated file could not take its archive name, and nothing was renamed: it
            // stays the live file, and what went to `.next` meanwhile goes back to its end.
            Err(e) if !job.archived() => {
                let step = job.step();
                if let Some(mut next) = self.live.take() {
                    if let Err(e) = next.flush() {
                        tracing::debug!(error = %e, "cannot flush the next log file");
                    }
                }
                // The marker goes after `.next`'s lines: it waits in `marker_tail`.
                self.note_rotation_failure(&step, &e);
                self.rotate_pending = true;
                self.fold_back(job)
            }
            // The archive has its name; only `.next`'s rename to the live name failed. Writing
            // goes on in `.next`, which takes the name at the next try.
            Err(e) => {
                let step = job.step();
                self.finishing = Some(Finishing::Failed(Box::new(job)));
                self.rotation_failed(&step, &e).map(|()| false)
            }
        }
    }

    /// Moves `.next`'s lines back to the end of the rotated file and makes it the live file
    /// again (see [`FinishJob::fold_back`]); a write that fails there is resumed by the next
    /// call (before any other write).
    fn fold_back(&mut self, mut job: FinishJob) -> io::Result<bool> {
        match job.fold_back() {
            Ok(removed) => {
                self.stale_next = !removed;
                // The rotation did not happen: a time policy still finds it due.
                self.opened_at = job.opened_at;
                self.live = Some(job.into_old());
                self.last_check = Instant::now();
                Ok(false)
            }
            Err(e) => {
                self.finishing = Some(Finishing::FoldingBack(Box::new(job)));
                Err(e)
            }
        }
    }

    /// How much of `batch`, which starts at a line boundary, goes into the live file now;
    /// rotates first if the policy says so.
    fn chunk_len(&mut self, batch: &[u8]) -> io::Result<usize> {
        self.finish_rotation(false)?;
        self.write_marker_tail()?;
        self.check_live(false)?;
        if self.rotate_pending {
            self.rotate()?;
        }
        self.write_space_marker()?;
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
            // Rotation is failing: the live file takes the whole batch, past its limit, until
            // a retry works (tried here when due).
            if self.rotation_failure.is_some() && (attempt == 1 || !self.rotation_retry_due()) {
                return Ok(batch.len());
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
        let n = loop {
            match self.live()?.write(&batch[..len]) {
                Err(e) if is_disk_full(&e) && self.delete_oldest_for_space()? => continue,
                other => break other?,
            }
        };
        if n > 0 {
            self.at_line_start = batch[n - 1] == b'\n';
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Never in mid-line: a reopen there would tear the line.
        if self.at_line_start {
            self.finish_rotation(false)?;
        }
        match self.live.as_mut() {
            Some(live) => live.flush(),
            None => Ok(()),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.at_line_start {
            self.finish_rotation(true)?;
        }
        if let Some(live) = self.live.as_mut() {
            live.sync()?;
        }
        self.sync_dir_if_dirty()
    }

    fn close(&mut self) -> io::Result<()> {
        // A rotation still finishing is finished (its archive then reaches the compressor
        // before `finish`); if it cannot be, the next open does it.
        let finished = self.finish_rotation(true).map(drop).and_then(|()| {
            // A marker still waiting (a rotation failure noted as the sink closes).
            if self.at_line_start && self.live.is_some() {
                self.write_marker_tail()
            } else {
                Ok(())
            }
        });
        if self.stale_next {
            match self.fs.remove_file(&self.naming.next_path()) {
                Ok(()) => self.stale_next = false,
                Err(e) if e.kind() == io::ErrorKind::NotFound => self.stale_next = false,
                Err(e) => tracing::error!(path = %self.naming.next_path().display(), error = %e,
                    "cannot remove a next log file whose lines are in the live file; the next \
                     open will write them twice unless it is removed"),
            }
        }
        let synced = match self.live.as_mut() {
            Some(live) => live.close(),
            None => Ok(()),
        }
        .and_then(|()| self.sync_dir_if_dirty());
        let compressed = match &self.compressor {
            Some(c) => c.finish(self.close_compression_budget).map(drop),
            None => Ok(()),
        };
        // Retention was applied at open and after each compression; again only if this sink
        // rotated since (a directory of ten thousand apps is listed once per close otherwise).
        let retained = if std::mem::take(&mut self.retention_due) {
            self.retention
                .apply(&self.naming, self.fs.as_ref())
                .map(drop)
        } else {
            Ok(())
        };
        finished.and(synced).and(compressed).and(retained)
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
