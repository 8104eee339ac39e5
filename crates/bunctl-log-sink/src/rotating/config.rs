//! What a [`RotatingSink`] is opened with: [`RotatingSinkConfig`] and its
//! [`FullDiskPolicy`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bunctl_log_buffer::LineFormat;
use bunctl_log_fs::{DEFAULT_DIR_MODE, DEFAULT_FILE_MODE};
use bunctl_log_rotation::{RotationPolicy, SharedListing, SizePolicy};

#[cfg(doc)]
use crate::{FileSink, RotatingSink, Sink};
#[cfg(doc)]
use bunctl_log_rotation::{ArchiveNaming, Compressor};

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
    /// A listing of the live file's directory shared with the other writers opened in it:
    /// the open takes its scan of the archives from it instead of reading the directory
    /// (see [`SharedListing`] for why that is safe), and the close tells it that this file's
    /// share is spent. Default `None`: the open reads the directory.
    pub listing: Option<Arc<SharedListing>>,
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
            listing: None,
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
