//! Making lines durable: [`SYNC`] for [`AsyncLogWriter::sync`](crate::AsyncLogWriter::sync),
//! and the process's syncer thread for [`WriterOptions::sync_interval`](crate::WriterOptions):
//! one thread for every writer that asked for it, woken only by a writer that wrote since its
//! last sync, so writers at rest cause no wake-ups.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use bunctl_log_sink::{RotatingSink, Sink};

use crate::writer::lock;
use crate::{Error, Result};

/// The writer's [`RotatingSink`], shared with the handle's `rotate` and `sync` and with
/// the syncer: each takes the lock between two batches.
pub(crate) type Rotator = Weak<Mutex<Option<RotatingSink>>>;

/// An operation the handle runs on the writer's sink, between two batches, with the names its
/// errors carry.
#[derive(Clone, Copy)]
pub(crate) struct SinkOp {
    /// What it is, in "did not get to the {task}" and [`Error::TaskFailed`].
    pub(crate) task: &'static str,
    /// [`Error::Io`]'s action.
    pub(crate) action: &'static str,
    run: fn(&mut RotatingSink) -> std::io::Result<()>,
}

/// Rotates the live file now.
pub(crate) const ROTATE: SinkOp = SinkOp {
    task: "rotation",
    action: "rotate log file",
    run: RotatingSink::rotate,
};

/// Makes every line the sink took durable: the live file's data, a rotation still finishing
/// (its file synced and renamed), and the directory entries that name them.
pub(crate) const SYNC: SinkOp = SinkOp {
    task: "sync",
    action: "sync log file",
    run: Sink::sync,
};

impl SinkOp {
    /// Runs it on the writer's sink, between two batches.
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is closed; [`Error::Io`] with this action and `path` if
    /// it failed.
    pub(crate) fn run_on(self, rotator: &Rotator, path: &Path) -> Result<()> {
        let Some(shared) = rotator.upgrade() else {
            return Err(Error::Closed);
        };
        let mut sink = lock(&shared);
        let Some(sink) = sink.as_mut() else {
            return Err(Error::Closed);
        };
        (self.run)(sink).map_err(|source| Error::Io {
            action: self.action,
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A writer's "written since the last sync" flag, set by its writer task after each batch.
#[derive(Debug)]
pub(crate) struct Unsynced {
    dirty: Arc<AtomicBool>,
}

impl Unsynced {
    /// Marks the writer as holding unsynced lines; the first mark after a sync wakes the
    /// syncer (one lock and notify per sync interval at most).
    pub(crate) fn mark(&self) {
        if !self.dirty.swap(true, Ordering::AcqRel) {
            Syncer::global().wake.notify_one();
        }
    }
}

struct Entry {
    rotator: Rotator,
    path: PathBuf,
    interval: Duration,
    dirty: Arc<AtomicBool>,
    /// When the pending sync is due; `None` while nothing is unsynced.
    due: Option<Instant>,
}

/// The process's syncer: syncs each registered writer at its interval while it has unsynced
/// lines.
struct Syncer {
    entries: Mutex<Vec<Entry>>,
    wake: Condvar,
    started: OnceLock<bool>,
}

impl Syncer {
    fn global() -> &'static Syncer {
        static SYNCER: OnceLock<Syncer> = OnceLock::new();
        SYNCER.get_or_init(|| Syncer {
            entries: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            started: OnceLock::new(),
        })
    }

    fn run(&self) {
        let mut entries = lock(&self.entries);
        loop {
            let now = Instant::now();
            entries.retain(|e| e.rotator.strong_count() > 0);
            let mut due_now = Vec::new();
            for e in entries.iter_mut() {
                if e.due.is_none() && e.dirty.load(Ordering::Acquire) {
                    e.due = Some(now + e.interval);
                }
                if e.due.is_some_and(|d| d <= now) {
                    e.due = None;
                    // Cleared before the sync: lines written during it mark the writer again.
                    e.dirty.store(false, Ordering::Release);
                    due_now.push((e.rotator.clone(), e.path.clone(), e.dirty.clone()));
                }
            }
            if due_now.is_empty() {
                let next = entries.iter().filter_map(|e| e.due).min();
                entries = match next {
                    Some(at) => {
                        let wait = at.saturating_duration_since(now);
                        self.wake
                            .wait_timeout(entries, wait)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                    None => self
                        .wake
                        .wait(entries)
                        .unwrap_or_else(PoisonError::into_inner),
                };
                continue;
            }
            drop(entries);
            for (rotator, path, dirty) in due_now {
                match SYNC.run_on(&rotator, &path) {
                    Ok(()) | Err(Error::Closed) => {}
                    Err(e) => {
                        // Tried again at the next interval: the lines are not known durable.
                        dirty.store(true, Ordering::Release);
                        tracing::warn!(path = %path.display(), error = %e,
                            "periodic log sync failed; retrying at the next interval");
                    }
                }
            }
            entries = lock(&self.entries);
        }
    }
}

/// Registers a writer to be synced every `interval` while it has unsynced lines, starting the
/// syncer thread the first time; the entry goes when the writer's sink does.
pub(crate) fn sync_every(rotator: Rotator, path: &Path, interval: Duration) -> Unsynced {
    let syncer = Syncer::global();
    let dirty = Arc::new(AtomicBool::new(false));
    lock(&syncer.entries).push(Entry {
        rotator,
        path: path.to_path_buf(),
        interval,
        dirty: dirty.clone(),
        due: None,
    });
    syncer.started.get_or_init(|| {
        let started = std::thread::Builder::new()
            .name(format!("{} syncer", bunctl_log_fs::THREAD_NAME_PREFIX))
            .stack_size(64 << 10)
            .spawn(|| Syncer::global().run());
        if let Err(e) = &started {
            tracing::warn!(error = %e, "cannot start the log syncer thread; sync_interval is \
                not applied (sync() still works)");
        }
        started.is_ok()
    });
    Unsynced { dirty }
}
