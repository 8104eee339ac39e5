//! Noticing that someone else moved or removed the live file (`rm`, logrotate's `mv`), and
//! opening the live path afresh, with a marker line and, if the lock file went too, a new lock.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use bunctl_log_buffer::Marker;
use bunctl_log_fs::create_dir_all_durably;

use super::RotatingSink;
use crate::file::PathChange;
use crate::Sink;

impl RotatingSink {
    /// Checks that the live path still names the open file (if `force`, or if the last check
    /// is `reopen_check_interval` old) and reopens it if not; `Ok(true)` if it reopened. Only
    /// called between lines.
    pub(super) fn check_live(&mut self, force: bool) -> io::Result<bool> {
        if !force && self.last_check.elapsed() < self.reopen_check_interval {
            return Ok(false);
        }
        // While a rotation finishes, the live name is the rotated file's, not the open one's:
        // its renames check it.
        if self.background_rotation.is_some() {
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
    pub(super) fn reopen(&mut self, change: PathChange) -> io::Result<()> {
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
}
