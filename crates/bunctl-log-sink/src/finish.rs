//! The second half of a rotation, the part that waits for the disk.
//!
//! A rotated file must be durable before its name changes (so an archive is never empty or
//! short after a crash), and its fsync takes milliseconds. Instead of making the writer, and
//! through it every producer, wait for it, [`RotatingSink`](crate::RotatingSink) opens the
//! hidden `.<live name>.next` file ([`ArchiveNaming::next_path`]) and goes on writing there,
//! while a [`FinishJob`] on a thread of its own fsyncs the rotated file, renames it to its
//! archive name, hands it to the compressor, and renames `.next` to the live name. The rules
//! are the foreground rotation's: the rotated file is fsynced before any rename, a file that is
//! not ours is never renamed or replaced, and a crash at any step is finished by the next
//! open ([`recover_next`]): the live file, if any, is fsynced and archived first, then `.next`
//! becomes the live file, so the lines stay in order.

use std::io;
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
    /// The writer's lock, held until the renames are done even if the sink is dropped.
    _lock: Arc<FileLock>,
    synced: bool,
    /// The rotated file was renamed to `archive` (or was found gone).
    archived: bool,
    moved_away: Option<PathChange>,
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
            _lock: lock,
            synced: false,
            archived: false,
            moved_away: None,
        }
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

/// Finishes a rotation that a crash interrupted, before the live file is opened: if
/// `.next` exists, the live file (the rotated one) is fsynced and renamed to the next archive
/// name, then `.next` is renamed to the live name. Returns the archive made, if any, for the
/// compressor. A symlink at `.next` is removed, never followed.
///
/// # Errors
/// The I/O error of the step that failed; what is done stays done, and the next open goes on.
pub(crate) fn recover_next(
    fs: &Arc<dyn Filesystem>,
    naming: &ArchiveNaming,
    file_mode: u32,
) -> io::Result<Option<PathBuf>> {
    let next = naming.next_path();
    match fs.metadata(&next) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
        Ok(m) if m.is_symlink => {
            tracing::warn!(path = %next.display(), "removed a symbolic link posing as a log file");
            fs.remove_file(&next)?;
            return Ok(None);
        }
        Ok(_) => {}
    }
    let live = naming.live_path();
    let next_id = fs.metadata(&next)?.id;
    let mut archived = None;
    match fs.metadata(live) {
        // Both names on one file (a crash inside a rename done as link + unlink): done but
        // for the unlink.
        Ok(m) if m.id.is_some() && m.id == next_id => {
            fs.remove_file(&next)?;
            return Ok(None);
        }
        Ok(m) if !m.is_symlink && m.len > 0 => {
            let mut old = FileSink::open(fs.clone(), live, file_mode)?;
            old.sync()?;
            // When its content started is not known any more; when it ended is an upper
            // bound that keeps the archives in order.
            let ended = m.modified.map_or_else(Utc::now, DateTime::<Utc>::from);
            let archive = naming.archive_path(ended, naming.next_seq(fs.as_ref())?);
            fs.rename(live, &archive)?;
            archived = Some(archive);
        }
        // A link is left for the open to refuse; `.next` waits until it is gone.
        Ok(m) if m.is_symlink => return Ok(None),
        // Missing or empty: `.next` takes the name.
        _ => {}
    }
    fs.rename(&next, live)?;
    fs.sync_dir(&parent_dir(live))?;
    tracing::warn!(live = %live.display(), "finished a rotation that was interrupted");
    Ok(archived)
}
