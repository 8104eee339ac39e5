//! A full disk: with [`FullDiskPolicy::DeleteOldestArchives`], this live file's oldest
//! archives are deleted until a write fits, and a marker line says how many went.

use std::io;

use bunctl_log_buffer::Marker;

use super::RotatingSink;
use crate::FullDiskPolicy;

/// What the sink does on a full disk, and what it did that the file does not say yet.
pub(super) struct FullDisk {
    policy: FullDiskPolicy,
    /// Archives deleted for space that no marker line reported yet.
    unreported_deletions: u64,
}

impl FullDisk {
    /// Nothing deleted yet.
    pub(super) fn new(policy: FullDiskPolicy) -> Self {
        Self {
            policy,
            unreported_deletions: 0,
        }
    }
}

/// Whether `e` says the disk (or the user's quota) is full.
pub(super) fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

impl RotatingSink {
    /// On a full disk with [`FullDiskPolicy::DeleteOldestArchives`]: deletes the oldest
    /// archive if more than the floor are left. `Ok(true)` if one was deleted.
    pub(super) fn delete_oldest_for_space(&mut self) -> io::Result<bool> {
        let FullDiskPolicy::DeleteOldestArchives { min_archives } = self.full_disk.policy else {
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
        self.full_disk.unreported_deletions += 1;
        if let Some(m) = &self.metrics {
            m.record_archives_deleted_for_space(1);
        }
        Ok(true)
    }

    /// Writes the marker for archives deleted for space, if any (between lines only).
    pub(super) fn write_space_marker(&mut self) -> io::Result<()> {
        let count = std::mem::take(&mut self.full_disk.unreported_deletions);
        if count == 0 {
            return Ok(());
        }
        self.write_marker(&Marker::ArchivesDeleted { count })
    }
}
