//! The second half of a rotation, the part that waits for the disk.
//!
//! A rotated file must be durable before its name changes (so an archive is never empty or
//! short after a crash), and its fsync takes milliseconds. Instead of making the writer, and
//! through it every producer, wait for it, [`RotatingSink`](crate::RotatingSink) opens the
//! hidden `.<live name>.next` file ([`ArchiveNaming::next_path`]) and goes on writing there,
//! while a [`FinishJob`] on a thread of its own fsyncs the rotated file, renames it to its
//! archive name, fsyncs the directory, hands it to the compressor, and renames `.next` to the
//! live name. The rules
//! are the foreground rotation's: the rotated file is fsynced before any rename, a file that is
//! not ours is never renamed or replaced, and a crash at any step is finished by the next
//! open ([`recover`](crate::recovery::recover)): the live file, if any, is fsynced and archived first, then `.next`
//! becomes the live file, so the lines stay in order.
//!
//! A rename the directory refuses (`chattr +i`, a read-only remount, EIO) must not cost a line.
//! If the rotated file could not take its archive name, nothing was renamed: the job folds
//! `.next` back ([`FinishJob::fold_back`]), appending its lines to the rotated file, which stays
//! the live file, and removing `.next`. If only the rename of `.next` to the live name failed,
//! the rotation itself is done and `.next` is the file that takes the name at the next try.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use bunctl_log_fs::{parent_dir, FileLock, Filesystem};
use bunctl_log_rotation::{ArchiveNaming, Compressor, Retention};
use chrono::{DateTime, Utc};

use crate::file::PathChange;
use crate::{FileSink, Sink};

/// How a [`FinishJob`] ended.
#[derive(Debug)]
pub(crate) enum Finished {
    /// `.next` is the live file now. `moved_away` says if someone had removed or moved the
    /// rotated file before it could be archived (its lines are wherever they took it).
    Done { moved_away: Option<PathChange> },
    /// Someone else's file or link is at the live name: nothing was renamed over it, and
    /// `.next` is where it was. The caller archives `.next` instead and reopens the live name.
    Foreign(PathChange),
    /// `.next` is gone (someone removed it, or the whole directory): the caller reopens the
    /// live name, as after any removal of the file it writes.
    NextGone,
}

/// The steps of a rotation after the writer moved on to `.next`. Each step is done once, so
/// a job that failed half-way is run again from where it stopped.
pub(crate) struct FinishJob {
    pub(crate) fs: Arc<dyn Filesystem>,
    /// The rotated file, still at the live name.
    pub(crate) old: FileSink,
    pub(crate) next: PathBuf,
    pub(crate) archive: PathBuf,
    pub(crate) size: u64,
    pub(crate) compressor: Option<Arc<Compressor>>,
    pub(crate) retention: Retention,
    pub(crate) naming: ArchiveNaming,
    /// When the rotated file's content started: the live file's again if the job folds back.
    pub(crate) opened_at: DateTime<Utc>,
    /// The writer's lock, held until the renames are done even if the sink is dropped.
    _lock: Arc<FileLock>,
    synced: bool,
    /// The rotated file was renamed to `archive` (or was found gone).
    archived: bool,
    /// The directory was fsynced after that rename, before `.next` takes the live name.
    archive_durable: bool,
    moved_away: Option<PathChange>,
    /// Bytes of `.next` already appended to the rotated file by [`fold_back`](Self::fold_back).
    folded: u64,
}

impl FinishJob {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        fs: Arc<dyn Filesystem>,
        old: FileSink,
        next: PathBuf,
        archive: PathBuf,
        size: u64,
        compressor: Option<Arc<Compressor>>,
        retention: Retention,
        naming: ArchiveNaming,
        opened_at: DateTime<Utc>,
        lock: Arc<FileLock>,
    ) -> Self {
        Self {
            fs,
            old,
            next,
            archive,
            size,
            compressor,
            retention,
            naming,
            opened_at,
            _lock: lock,
            synced: false,
            archived: false,
            archive_durable: false,
            moved_away: None,
            folded: 0,
        }
    }

    /// Whether the rotated file was fsynced (a failure before that is the file's own).
    pub(crate) fn synced(&self) -> bool {
        self.synced
    }

    /// Whether the rotated file took its archive name (or was found gone): only the rename of
    /// `.next` to the live name is left.
    pub(crate) fn archived(&self) -> bool {
        self.archived
    }

    /// The rename the job is at, for messages: "rename a.log to a.<stamp>-<seq>.log".
    pub(crate) fn step(&self) -> String {
        let name = |p: &std::path::Path| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        };
        let live = self.old.path();
        if self.archived {
            format!("rename {} to {}", name(&self.next), name(live))
        } else {
            format!("rename {} to {}", name(live), name(&self.archive))
        }
    }

    /// Undoes the switch to `.next` after the rotated file could not be renamed (nothing was):
    /// appends what was written to `.next` to the rotated file, which stays the live file, then
    /// removes `.next`. The caller writes nothing to either meanwhile. A write that fails
    /// half-way is resumed from the byte it stopped at by the next call, never repeated.
    /// `Ok(false)` if `.next` could not be removed: its lines are in the live file too, and the
    /// caller must remove it before a crash lets the next open take it for a rotation's (and
    /// write those lines twice).
    ///
    /// # Errors
    /// The I/O error of reading `.next` or writing the rotated file.
    pub(crate) fn fold_back(&mut self) -> io::Result<bool> {
        let mut next = match self.fs.open_read(&self.next) {
            Ok(next) => next,
            // Removed by someone else: its lines went with it, as with any removed file.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        // What an earlier call appended already.
        io::copy(&mut next.by_ref().take(self.folded), &mut io::sink())?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match next.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let Some(chunk) = buf.get(..n) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a read claimed more bytes than it was given room for",
                ));
            };
            if let Err(e) = self.old.write_all(chunk) {
                self.folded += e.written as u64;
                return Err(e.error);
            }
            self.folded += n as u64;
        }
        drop(next);
        match self.fs.remove_file(&self.next) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
            Err(e) => {
                tracing::warn!(path = %self.next.display(), error = %e,
                    "cannot remove the next log file after moving its lines back to the live file");
                Ok(false)
            }
        }
    }

    /// The rotated file, the live file again after [`fold_back`](Self::fold_back).
    pub(crate) fn into_old(self) -> FileSink {
        self.old
    }

    /// Runs the steps not done yet.
    pub(crate) fn run(&mut self) -> io::Result<Finished> {
        if !self.synced {
            self.old.sync()?;
            self.synced = true;
        }
        let live = self.old.path().to_path_buf();
        if !self.archived {
            match self.old.path_change()? {
                None => match self.fs.rename(&live, &self.archive) {
                    Ok(()) => self.hand_over(),
                    // Gone between the check and the rename.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        self.moved_away = Some(PathChange::Removed);
                    }
                    Err(e) => return Err(e),
                },
                Some(PathChange::Removed) => self.moved_away = Some(PathChange::Removed),
                Some(change) => return Ok(Finished::Foreign(change)),
            }
            self.archived = true;
        }
        if !self.archive_durable {
            // A filesystem may make directory changes durable out of order: after a power cut
            // the rename of `.next` to the live name must not be there without this one, or
            // the rotated file's lines (synced, perhaps acknowledged by `sync()`) would have
            // no name. One directory fsync per rotation, on this thread, off the writer's path.
            match self.fs.sync_dir(&parent_dir(&live)) {
                // The directory itself is gone: the rename below finds `.next` gone too.
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => self.archive_durable = true,
            }
        }
        // Never over a file someone put at the live name after the rotated file left it.
        match self.fs.rename_noreplace(&self.next, &live) {
            Ok(()) => Ok(Finished::Done {
                moved_away: self.moved_away,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Finished::NextGone),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Ok(Finished::Foreign(PathChange::Replaced))
            }
            Err(e) => Err(e),
        }
    }

    /// The archive is in place: compress it, or apply retention.
    fn hand_over(&self) {
        tracing::debug!(live = %self.old.path().display(), archive = %self.archive.display(),
            size = self.size, "log file rotated");
        hand_over(
            self.archive.clone(),
            self.compressor.as_deref(),
            &self.retention,
            &self.naming,
            self.fs.as_ref(),
        );
    }
}

/// What follows every rotation once its archive has its name, wherever it was done: queue
/// it for compression, or, without compression, apply retention now.
pub(crate) fn hand_over(
    archive: PathBuf,
    compressor: Option<&Compressor>,
    retention: &Retention,
    naming: &ArchiveNaming,
    fs: &dyn Filesystem,
) {
    match compressor {
        Some(c) => c.submit(archive),
        None => {
            if let Err(e) = retention.apply(naming, fs) {
                tracing::warn!(dir = %naming.dir().display(), error = %e, "log retention failed");
            }
        }
    }
}
