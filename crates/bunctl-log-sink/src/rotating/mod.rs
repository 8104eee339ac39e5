//! [`RotatingSink`]: a [`FileSink`] on the live file that rotates it at line boundaries.
//!
//! This file holds the struct, [`RotatingSink::open`] and the [`Sink`] impl; each other job is
//! a file of its own: `config` (what the sink is opened with), `rotate` (rotation in the
//! foreground, and where a batch is cut), `background` (rotation while a thread fsyncs),
//! `retry` (failed rotations), `reopen` (the live file moved by someone else), `full_disk`,
//! `markers` (the sink's own lines) and `list` (a live file's files, for readers).

mod background;
mod config;
mod full_disk;
mod list;
mod markers;
mod reopen;
mod retry;
mod rotate;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bunctl_log_buffer::LineFormat;
#[cfg(doc)]
use bunctl_log_buffer::Marker;
use bunctl_log_fs::{create_dir_all_durably, parent_dir, FileId, FileLock, Filesystem};
use bunctl_log_metrics::LogMetrics;
use bunctl_log_rotation::{
    ArchiveNaming, Clock, Compressor, Retention, RotationPolicy, SharedListing,
};
use chrono::{DateTime, Utc};
use memchr::memchr;

use crate::recovery::{recover, Recovered};
use crate::{FileSink, PathChange, Sink};

use background::BackgroundRotation;
pub use config::{FullDiskPolicy, RotatingSinkConfig};
use full_disk::{is_disk_full, FullDisk};
pub use list::list_log_files;
use retry::RotationRetry;

/// The file name of `path`, for marker lines and messages.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
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
    /// `None` after a rotation whose new live file could not be opened yet, or while the
    /// writer is idle ([`Sink::close_idle`]): the next write opens it.
    live: Option<FileSink>,
    /// The size of the live file closed by [`Sink::close_idle`], until it is opened again.
    idle_size: u64,
    /// The identity of the live file closed by [`Sink::close_idle`]: if the live path names
    /// another file (or none) when writing resumes, someone moved it meanwhile.
    idle_id: Option<FileId>,
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
    background_rotation: Option<BackgroundRotation>,
    file_mode: u32,
    dir_mode: u32,
    reopen_check_interval: Duration,
    last_check: Instant,
    full_disk: FullDisk,
    close_compression_budget: Duration,
    /// What a failed write left of a marker line (see `write_marker`), written first next.
    unwritten_marker: Vec<u8>,
    /// The file's line format, which markers are written in.
    format: LineFormat,
    /// A rotation happened since retention was last applied here: close applies it.
    retention_due: bool,
    /// A rotation or reopen changed the directory since its last fsync.
    dir_dirty: bool,
    /// The live file holds lines a [`Sink::sync`] declared durable: a foreground rotation
    /// makes its rename durable before a new file takes the live name.
    holds_synced_lines: bool,
    /// Held for the sink's life (and the compressor's); taken again by a reopen that finds
    /// the lock file gone.
    lock: Arc<FileLock>,
    /// Failed rotations, and when the next try is due.
    rotation_retry: RotationRetry,
    /// A `.next` whose lines were moved back to the live file but which could not be removed:
    /// removed before the next rotation (which waits for that).
    stale_next: bool,
    /// The directory listing shared with the writers opened beside this one: told at close
    /// that this file's share is spent (its files may have changed since).
    listing: Option<Arc<SharedListing>>,
    /// Whether this writer's open-file record is in place, to remove at a clean close.
    open_record: bool,
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
            record,
        } = recover(
            &fs,
            &naming,
            config.file_mode,
            config.format,
            config.listing.as_deref(),
        )?;
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
        // Retention first: an archive it deletes must not be in the compressor's hands (which
        // would bring it back as a `.gz` after it was deleted).
        let deleted = retention.apply_scanned(fs.as_ref(), scan)?;
        if let Some(c) = &compressor {
            for archive in uncompressed.into_iter().filter(|a| !deleted.contains(a)) {
                c.submit(archive);
            }
        }
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
            idle_size: 0,
            idle_id: None,
            opened_at,
            next_seq,
            at_line_start: true,
            rotate_pending: false,
            metrics: None,
            background_sync_bytes: config.background_sync_bytes,
            background_finish_bytes: config.background_finish_bytes,
            background_rotation: None,
            file_mode: config.file_mode,
            dir_mode: config.dir_mode,
            reopen_check_interval: config.reopen_check_interval,
            last_check: Instant::now(),
            full_disk: FullDisk::new(config.full_disk),
            close_compression_budget: config.close_compression_budget,
            unwritten_marker: Vec::new(),
            format: config.format,
            retention_due: false,
            // A live file just created (or empty) is named by an entry not yet durable: the
            // first sync or close makes it so.
            dir_dirty: meta.len == 0,
            holds_synced_lines: false,
            lock,
            rotation_retry: RotationRetry::new(
                config.rotation_retry_delay,
                config.rotation_retry_max_delay,
            ),
            stale_next: false,
            listing: config.listing,
            open_record: record.held,
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
        self.live.as_ref().map_or(self.idle_size, FileSink::size)
    }

    /// This sink's files, oldest first, the live file last.
    ///
    /// # Errors
    /// The I/O error from reading the directory.
    pub fn log_files(&self) -> io::Result<Vec<PathBuf>> {
        list_log_files(self.fs.as_ref(), self.naming.live_path())
    }

    /// The live file, opened afresh if it is not open (after a rotation or reopen).
    fn live(&mut self) -> io::Result<&mut FileSink> {
        if let Some(change) = self.moved_while_idle() {
            // Opens the live path afresh and says so in it, as for a move seen while open.
            self.reopen(change)?;
        }
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
            self.idle_size = 0;
        }
        match self.live.as_mut() {
            Some(live) => Ok(live),
            None => Err(io::Error::other("live file not open")),
        }
    }

    /// Whether someone moved, removed or replaced the live file while [`Sink::close_idle`]
    /// had it closed (asked once, when writing resumes).
    fn moved_while_idle(&mut self) -> Option<PathChange> {
        let id = self.idle_id.take()?;
        PathChange::at(self.fs.as_ref(), self.naming.live_path(), id).unwrap_or_else(|e| {
            // Cannot tell (EACCES on the directory, say): open what is at the path.
            tracing::debug!(path = %self.naming.live_path().display(), error = %e,
                "cannot check the idle live log file");
            None
        })
    }

    /// Makes the directory's entries durable if a rotation or reopen changed them since.
    fn sync_dir_if_dirty(&mut self) -> io::Result<()> {
        if self.dir_dirty {
            self.fs.sync_dir(&parent_dir(self.naming.live_path()))?;
            self.dir_dirty = false;
        }
        Ok(())
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
            self.complete_background_rotation(false)?;
        }
        match self.live.as_mut() {
            Some(live) => live.flush(),
            None => Ok(()),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.at_line_start {
            self.complete_background_rotation(true)?;
        }
        if let Some(live) = self.live.as_mut() {
            live.sync()?;
            self.holds_synced_lines = true;
        }
        self.sync_dir_if_dirty()
    }

    /// Closes the live file between lines once it is durable, then makes its directory entry
    /// durable (with the descriptor just freed); the lock stays (a quiet writer holds one
    /// descriptor). Nothing is closed while a rotation
    /// is finishing, a line or a marker is unfinished, or a rotation waits. A live file moved
    /// by someone else meanwhile is not noticed: the next write opens the path afresh.
    fn close_idle(&mut self) -> io::Result<()> {
        // A rotation still finishing in the background is finished first, else `.next` would
        // stay open through the whole quiet spell. It began before the writer went quiet, so
        // it is almost always done; if not, its fsync is waited for, as `sync` does.
        if self.background_rotation.is_some() {
            self.complete_background_rotation(true)?;
        }
        if !self.at_line_start
            || self.rotate_pending
            || self.background_rotation.is_some()
            || !self.unwritten_marker.is_empty()
        {
            return Ok(());
        }
        let Some(live) = self.live.as_mut() else {
            return Ok(());
        };
        // Closed without this fsync, a later writeback error could go unreported.
        live.sync()?;
        self.idle_size = live.size();
        self.idle_id = live.file_id();
        self.live = None;
        // After the close: out of descriptors, opening the directory takes the one just freed.
        // If it fails the entry stays due for the next sync or close.
        self.sync_dir_if_dirty()
    }

    fn close(&mut self) -> io::Result<()> {
        // A rotation still finishing is finished (its archive then reaches the compressor
        // before `finish`); if it cannot be, the next open does it.
        let finished = self
            .complete_background_rotation(true)
            .map(drop)
            .and_then(|()| {
                // A marker still waiting (a rotation failure noted as the sink closes).
                if self.at_line_start && self.live.is_some() {
                    self.write_unwritten_marker()
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
        if let Some(listing) = &self.listing {
            listing.forget(&self.naming);
        }
        // Only once every line is synced: a record left says lines may be missing.
        if std::mem::take(&mut self.open_record) && finished.is_ok() && synced.is_ok() {
            crate::open_record::clear(self.fs.as_ref(), &self.naming);
        }
        finished.and(synced).and(compressed).and(retained)
    }
}
