//! Rotation in the foreground: where a batch is cut so that rotation falls between lines, and
//! the rotation itself (fsync, rename to the archive name, a new live file, the hand-over).

use std::io;
use std::path::PathBuf;

use memchr::{memchr, memrchr};

use super::{file_name, RotatingSink};
use crate::file::PathChange;
use crate::finish::hand_over;
use crate::Sink;

impl RotatingSink {
    /// How much of `batch`, which starts at a line boundary, goes into the live file now;
    /// rotates first if the policy says so.
    pub(super) fn chunk_len(&mut self, batch: &[u8]) -> io::Result<usize> {
        self.complete_background_rotation(false)?;
        self.write_unwritten_marker()?;
        if self.live.is_none() {
            // Closed while idle: opened before the policy looks at its age and size, so that
            // a file someone moved meanwhile is seen first (`live` reopens it).
            self.live()?;
        }
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
            if self.rotation_retry.is_failing() && (attempt == 1 || !self.rotation_retry_due()) {
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
        if self.complete_background_rotation(true)? {
            self.rotate_pending = false;
            return Ok(());
        }
        // The last rotation's `.next` is still waiting for the live name (its rename failed):
        // it is the file being written, and rotating it waits for that rename's retry.
        if self.background_rotation.is_some() {
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
        if !self.rotation_retry.is_failing()
            && size >= self.background_finish_bytes
            && self.start_background_rotation(&archive, size)
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
        // Lines a `sync()` declared durable must not lose their name: on a filesystem that
        // makes directory changes durable out of order, the new live file's entry could
        // survive a power cut without this rename, leaving the synced file unnamed.
        if self.holds_synced_lines {
            self.dir_dirty = true;
            if let Err(e) = self.sync_dir_if_dirty() {
                tracing::warn!(live = %self.naming.live_path().display(), error = %e,
                    "cannot sync the log directory after a rotation; the next sync retries");
            }
        }
        tracing::debug!(live = %self.naming.live_path().display(), archive = %archive.display(),
            seq = self.next_seq, size, "log file rotated");
        self.rotated();
        self.count_rotation();
        self.hand_over(archive);
        self.live()?;
        self.rotation_resumed()
    }

    /// Counts a rotation whose archive got its name (or, moved away by someone else, had it
    /// taken for it).
    pub(super) fn count_rotation(&self) {
        if let Some(m) = &self.metrics {
            m.record_rotation();
        }
    }

    /// Queues `archive` for compression, or applies retention (see [`hand_over`]).
    pub(super) fn hand_over(&self, archive: PathBuf) {
        hand_over(
            archive,
            self.compressor.as_deref(),
            &self.retention,
            &self.naming,
            self.fs.as_ref(),
        );
    }

    /// What every rotation changes, in the foreground or not.
    pub(super) fn rotated(&mut self) {
        self.rotate_pending = false;
        self.retention_due = true;
        self.next_seq += 1;
        self.opened_at = self.clock.now();
        self.at_line_start = true;
        self.holds_synced_lines = false;
        // The directory's fsync (making the renames and the new live file durable) is left to
        // the next sync or close, or to the compressor, which fsyncs the directory before it
        // removes the plain archive: a crash before that undoes a rename at worst, and the
        // content is then still whole under its old name (which the next open finishes).
        self.dir_dirty = true;
    }
}
