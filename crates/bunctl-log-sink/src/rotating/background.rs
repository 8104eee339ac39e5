//! Rotation in the background, for large files: writing moves to the hidden `.next` file while
//! a thread fsyncs the rotated file and renames it (see [`crate::finish`]); the writer then
//! takes note of the result, or does in the foreground what the thread could not.

use std::io;
use std::path::Path;
use std::time::Instant;

use super::RotatingSink;
use crate::file::PathChange;
use crate::finish::{FinishJob, Finished};
use crate::{FileSink, Sink};

/// A rotation finishing off the writer's thread (see [`crate::finish`]).
pub(super) enum BackgroundRotation {
    /// Its thread is at work; the job comes back through the channel.
    Running(std::sync::mpsc::Receiver<(FinishJob, io::Result<Finished>)>),
    /// A step failed: the writer runs the rest in the foreground.
    Failed(Box<FinishJob>),
    /// The rotated file could not be renamed: `.next`'s lines are being moved back to it, the
    /// live file again (a write that failed there is resumed first).
    FoldingBack(Box<FinishJob>),
}

impl RotatingSink {
    /// Moves writing to `.next` and leaves the rotated file's fsync and renames to a thread
    /// of their own; `false` (nothing changed) if that cannot be set up.
    pub(super) fn start_background_rotation(&mut self, archive: &Path, size: u64) -> bool {
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
                self.background_rotation = Some(BackgroundRotation::Running(rx));
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
    pub(super) fn complete_background_rotation(&mut self, block: bool) -> io::Result<bool> {
        let Some(rotation) = self.background_rotation.take() else {
            return Ok(false);
        };
        let (job, done) = match rotation {
            BackgroundRotation::Running(rx) => {
                let got = if block {
                    rx.recv().ok()
                } else {
                    match rx.try_recv() {
                        Ok(got) => Some(got),
                        Err(std::sync::mpsc::TryRecvError::Empty) => {
                            self.background_rotation = Some(BackgroundRotation::Running(rx));
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
            BackgroundRotation::Failed(job)
                if job.archived() && !block && !self.rotation_retry_due() =>
            {
                self.background_rotation = Some(BackgroundRotation::Failed(job));
                return Ok(false);
            }
            BackgroundRotation::Failed(mut job) => {
                let done = job.run();
                (*job, done)
            }
            BackgroundRotation::FoldingBack(job) => return self.fold_back(*job),
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
                        self.background_rotation = Some(BackgroundRotation::Failed(Box::new(job)));
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
                        self.background_rotation = Some(BackgroundRotation::Failed(Box::new(job)));
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
                self.background_rotation = Some(BackgroundRotation::Failed(Box::new(job)));
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
                // The marker goes after `.next`'s lines: it waits in `unwritten_marker`.
                self.note_rotation_failure(&step, &e);
                self.rotate_pending = true;
                self.fold_back(job)
            }
            // The archive has its name; only `.next`'s rename to the live name failed. Writing
            // goes on in `.next`, which takes the name at the next try.
            Err(e) => {
                let step = job.step();
                self.background_rotation = Some(BackgroundRotation::Failed(Box::new(job)));
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
                self.background_rotation = Some(BackgroundRotation::FoldingBack(Box::new(job)));
                Err(e)
            }
        }
    }
}
