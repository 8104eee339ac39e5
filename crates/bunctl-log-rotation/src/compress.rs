//! Gzip of rotated archives, crash-safe, off the writer's thread.
//!
//! Over 500 lines with its tests; the code is about 210 of them.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bunctl_log_fs::{parent_dir, Filesystem, DEFAULT_FILE_MODE};
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::naming::{with_suffix, ArchiveNaming, GZ_SUFFIX, TMP_SUFFIX};
use crate::retention::Retention;

/// Compresses `path` (a plain archive) with gzip: writes `path.gz.tmp`, `sync_data`, renames it
/// to `path.gz`, `sync_dir`, then removes `path`. Returns the `.gz` path.
///
/// The `.gz` gets the archive's mode (the live file's, as a rename keeps it). Neither file is
/// ever opened through a symlink, and the temp file is created with `O_EXCL`: a file or symlink
/// already there under its name is a leftover (only the lock holder compresses this app's
/// archives) and is removed first, never written through.
///
/// The rename is the commit point: before it, `path` is the archive and the temp file is
/// garbage; after it, the `.gz` is complete and durable and `path` is redundant (if the process
/// dies before removing it, the sink's crash recovery (`bunctl-log-sink`'s `recovery.rs`) does). No file is ever half-written
/// under a final name.
///
/// # Errors
/// Any error of the underlying operations. Before the commit point, the temp file is removed
/// (best effort) and `path` is left as it was. After it (the `sync_dir` or the removal of
/// `path` failed), the `.gz` stays, and so does `path`: both are whole copies of the archive.
pub fn compress_file(fs: &dyn Filesystem, path: &Path, level: Compression) -> io::Result<PathBuf> {
    let gz = with_suffix(path, GZ_SUFFIX);
    let tmp = with_suffix(&gz, TMP_SUFFIX);
    if let Err(e) = write_gzip(fs, path, &tmp, &gz, level) {
        match fs.remove_file(&tmp) {
            Ok(()) => {}
            Err(re) if re.kind() == io::ErrorKind::NotFound => {}
            Err(re) => {
                tracing::warn!(path = %tmp.display(), error = %re, "cannot remove temporary file of failed compression");
            }
        }
        return Err(e);
    }
    fs.sync_dir(&parent_dir(path))?;
    match fs.remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(gz)
}

/// Everything up to and including the commit point (the rename of `tmp` to `gz`).
fn write_gzip(
    fs: &dyn Filesystem,
    src: &Path,
    tmp: &Path,
    gz: &Path,
    level: Compression,
) -> io::Result<()> {
    let mut input = fs.open_read(src)?;
    let mode = fs.metadata(src)?.mode.unwrap_or(DEFAULT_FILE_MODE);
    let out = match fs.create_new(tmp, mode) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs.remove_file(tmp)?;
            fs.create_new(tmp, mode)?
        }
        other => other?,
    };
    let mut enc = GzEncoder::new(out, level);
    io::copy(&mut input, &mut enc)?;
    let mut out = enc.finish()?;
    out.flush()?;
    out.sync_data()?;
    drop(out);
    fs.rename(tmp, gz)
}

/// While a backlog of compressions waits, retention (a listing of the whole directory) runs
/// after every this many jobs rather than after each, and always after the last: with
/// thousands of archives queued, listing the directory per job made the backlog quadratic.
/// Archives may then exceed the limits by at most this many, for as long as the backlog lasts.
const RETENTION_EVERY: usize = 32;

/// What the worker and the callers share.
struct Shared {
    fs: Arc<dyn Filesystem>,
    naming: ArchiveNaming,
    retention: Option<Retention>,
    level: Compression,
    state: Mutex<State>,
    /// Signalled when the worker finishes a job or exits.
    idle: Condvar,
    completed: AtomicU64,
    failed: AtomicU64,
}

/// What [`Compressor::with_guard`] keeps alive.
type Guard = Arc<dyn std::any::Any + Send + Sync>;

#[derive(Default)]
struct State {
    queue: VecDeque<PathBuf>,
    /// A worker (thread, or the inline fallback) is draining the queue.
    running: bool,
    /// The worker is in the middle of a job (popped from `queue`, not finished).
    busy: bool,
    /// The first error since the last `wait_idle`.
    first_error: Option<io::Error>,
    /// See [`Compressor::with_guard`]: dropped by the last of the handle and the worker.
    guard: Option<Guard>,
    /// The [`Compressor`] handle is gone: the worker drops the guard when it stops.
    orphaned: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across I/O or user code, so poisoning can only come from a
        // panic in trivial code; the state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drains the queue, then marks the worker stopped. Runs on the worker thread (or inline
    /// in `submit` if no thread could be started).
    fn run(self: &Arc<Self>) {
        // Marks the worker stopped however this function exits, a panic included, so
        // `wait_idle` cannot wait forever and the next `submit` starts a new worker.
        struct Stopped<'a>(&'a Shared);
        impl Drop for Stopped<'_> {
            fn drop(&mut self) {
                let mut st = self.0.lock();
                st.running = false;
                st.busy = false;
                let guard = if st.orphaned { st.guard.take() } else { None };
                drop(st);
                drop(guard);
                self.0.idle.notify_all();
            }
        }
        let _stopped = Stopped(self);
        // Jobs since retention was last applied: see `RETENTION_EVERY`.
        let mut since_retention = 0;
        loop {
            let (job, backlog) = {
                let mut st = self.lock();
                match st.queue.pop_front() {
                    Some(job) => {
                        st.busy = true;
                        (job, st.queue.len())
                    }
                    None => return,
                }
            };
            since_retention += 1;
            let retain = backlog == 0 || since_retention >= RETENTION_EVERY;
            if retain {
                since_retention = 0;
            }
            let err = self.job(&job, retain);
            let mut st = self.lock();
            st.busy = false;
            if let Some(e) = err {
                st.first_error.get_or_insert(e);
            }
            drop(st);
            self.idle.notify_all();
        }
    }

    /// Compresses one archive and applies the retention; returns the first error.
    fn job(&self, path: &Path, retain: bool) -> Option<io::Error> {
        let mut first = None;
        let started = Instant::now();
        match compress_file(&*self.fs, path, self.level) {
            Ok(gz) => {
                self.completed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(path = %gz.display(), archive = %path.display(),
                    elapsed = ?started.elapsed(), "log archive compressed");
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.vanished(path) => {
                // Retention (or an operator) deleted the archive while it waited in the queue:
                // nothing left to compress, and nothing lost that was meant to be kept.
                tracing::debug!(path = %path.display(), "log archive gone before compression");
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %path.display(), error = %e,
                    "cannot compress log archive; it is kept uncompressed");
                first = Some(e);
            }
        }
        if let Some(r) = self.retention.as_ref().filter(|_| retain) {
            if let Err(e) = r.apply(&self.naming, &*self.fs) {
                tracing::warn!(live = %self.naming.live_path().display(), error = %e,
                    "log retention failed");
                first.get_or_insert(e);
            }
        }
        first
    }

    fn vanished(&self, path: &Path) -> bool {
        matches!(self.fs.metadata(path), Err(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

#[cfg(test)]
thread_local! {
    /// Makes `spawn_worker` fail on this thread, to test the inline fallback.
    static FAIL_SPAWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Starts a worker thread draining `shared`'s queue.
fn spawn_worker(shared: Arc<Shared>) -> io::Result<()> {
    #[cfg(test)]
    if FAIL_SPAWN.with(std::cell::Cell::get) {
        return Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "thread limit (test)",
        ));
    }
    std::thread::Builder::new()
        .name(format!("{}-gzip", bunctl_log_fs::THREAD_NAME_PREFIX))
        .spawn(move || {
            lowest_cpu_priority();
            shared.run()
        })
        .map(drop)
}

/// Puts the calling thread at the lowest CPU priority, so that gzip uses only the CPU time
/// that producers and writers leave: compression may lag under load, never slow the writing
/// down. `SCHED_IDLE` (which any thread may choose): it runs only when nothing else wants the
/// core, and a waking producer or writer preempts it at once. With nice 19 alone, gzip still
/// took a third of a two-core machine while producers and writers slept in short waits, and
/// the e2e `rotating` workload ran 8% slower (6.04 against 6.54 M lines/s, alternating runs). Nice 19 too, which is what counts if
/// the policy cannot be changed. Best effort: without either, compression just competes.
fn lowest_cpu_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        if let Err(e) = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        ) {
            tracing::debug!(error = ?e, "cannot make the compressor an idle-priority thread");
        }
        // After the policy, which resets it. On Linux the priority of PRIO_PROCESS with a
        // thread id is that thread's own.
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), 19) {
            tracing::debug!(error = %e, "cannot lower the compressor's CPU priority");
        }
    }
}

/// Compresses archives on a background thread so the writer never waits for gzip.
///
/// [`submit`](Self::submit) never blocks on I/O: it queues the path and starts a worker thread
/// if none is running. The thread exits when the queue is empty, so an idle writer has no
/// thread. After each job the worker applies the [`Retention`] (if any), so the number of
/// archives stays bounded even while compression lags. Errors are logged with
/// `tracing::warn!`, counted ([`failed`](Self::failed)), reported once by
/// [`wait_idle`](Self::wait_idle), and the plain archive is left in place: it is still a valid
/// log file, and the sink's crash recovery at the next open (`bunctl-log-sink`'s `recovery.rs`) offers it for compression again.
///
/// Dropping a `Compressor` does not wait: a running worker finishes the queued jobs in the
/// background and exits. Call [`wait_idle`](Self::wait_idle) (or
/// [`wait_idle_timeout`](Self::wait_idle_timeout)) at shutdown to be sure they are done.
///
/// ```
/// use bunctl_log_fs::StdFs;
/// use bunctl_log_rotation::{ArchiveNaming, Compressor, Retention};
/// use chrono::Utc;
///
/// let dir = tempfile::tempdir().unwrap();
/// let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
/// let c = Compressor::new(StdFs::shared(), naming.clone(), Some(Retention::max_files(5)),
///                         flate2::Compression::fast());
/// let archive = naming.archive_path(Utc::now(), 1);
/// std::fs::write(&archive, b"hello\n").unwrap();
/// c.submit(archive.clone());
/// c.wait_idle().unwrap();
/// assert_eq!(c.completed(), 1);
/// assert!(!archive.exists());
/// ```
pub struct Compressor {
    shared: Arc<Shared>,
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Compressor")
            .field("live", &self.shared.naming.live_path())
            .field("retention", &self.shared.retention)
            .field("level", &self.shared.level)
            .field("queued", &st.queue.len())
            .field("running", &st.running)
            .field("completed", &self.completed())
            .field("failed", &self.failed())
            .finish_non_exhaustive()
    }
}

impl Compressor {
    /// A compressor for the archives of `naming`'s live file, applying `retention` after each
    /// job. No thread is started until the first [`submit`](Self::submit).
    pub fn new(
        fs: Arc<dyn Filesystem>,
        naming: ArchiveNaming,
        retention: Option<Retention>,
        level: Compression,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                fs,
                naming,
                retention,
                level,
                state: Mutex::new(State::default()),
                idle: Condvar::new(),
                completed: AtomicU64::new(0),
                failed: AtomicU64::new(0),
            }),
        }
    }

    /// Keeps `guard` alive until this compressor is dropped and its worker has stopped,
    /// whichever comes last: the writer's lock on the live file, so that a compression left
    /// running after its writer was dropped still holds it and no new writer's
    /// the sink's crash recovery (`bunctl-log-sink`'s `recovery.rs`) removes its `.gz.tmp`. Dropped at once when the compressor
    /// is dropped idle (after [`wait_idle`](Self::wait_idle)), so the next writer finds the
    /// lock free.
    #[must_use]
    pub fn with_guard(self, guard: Arc<dyn std::any::Any + Send + Sync>) -> Self {
        self.shared.lock().guard = Some(guard);
        self
    }

    /// Queues `plain_archive` for compression and returns at once.
    pub fn submit(&self, plain_archive: PathBuf) {
        {
            let mut st = self.shared.lock();
            st.queue.push_back(plain_archive);
            if st.running {
                return; // the running worker will take it
            }
            st.running = true;
        }
        if let Err(e) = spawn_worker(Arc::clone(&self.shared)) {
            // No thread (resource limits): rather than lose the job or panic, compress inline,
            // on the caller's thread. This blocks the writer for the duration, which is the
            // lesser evil; `running` is still set, so concurrent submits just queue.
            tracing::warn!(error = %e, "cannot start the log compression thread; compressing inline");
            self.shared.run();
        }
    }

    /// Blocks until every submitted job is done (used by shutdown).
    ///
    /// # Errors
    /// The first error since the last call, if any (compression or retention).
    pub fn wait_idle(&self) -> io::Result<()> {
        let mut st = self.shared.lock();
        while st.running || !st.queue.is_empty() {
            st = self
                .shared
                .idle
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        match st.first_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Like [`wait_idle`](Self::wait_idle), but gives up after `timeout`: `Ok(true)` if idle,
    /// `Ok(false)` if jobs are still running (a bounded shutdown may then leave them: the
    /// plain archives stay valid logs and the sink's crash recovery (`bunctl-log-sink`'s `recovery.rs`) finds them next time).
    ///
    /// # Errors
    /// The first error since the last call, if any, once idle.
    pub fn wait_idle_timeout(&self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.shared.lock();
        while st.running || !st.queue.is_empty() {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return Ok(false);
            }
            st = self
                .shared
                .idle
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        match st.first_error.take() {
            Some(e) => Err(e),
            None => Ok(true),
        }
    }

    /// Waits up to `budget` for the queue to drain; then drops the jobs not started and waits
    /// for the one in progress, so no compression is left half-done. Returns how many archives
    /// were left uncompressed: they stay valid plain logs, and the next
    /// the sink's crash recovery (`bunctl-log-sink`'s `recovery.rs`) offers them for compression again. For a bounded shutdown
    /// that must not spend its time on a backlog (archives piled up while the disk was slow,
    /// or left by crashes).
    ///
    /// # Errors
    /// The first error since the last call, if any.
    pub fn finish(&self, budget: Duration) -> io::Result<usize> {
        if self.wait_idle_timeout(budget)? {
            return Ok(0);
        }
        let left = {
            let mut st = self.shared.lock();
            let left = st.queue.len();
            st.queue.clear();
            left
        };
        if left > 0 {
            tracing::info!(live = %self.shared.naming.live_path().display(), archives = left,
                "shutdown: leaving log archives uncompressed; they are compressed at the next start");
        }
        self.wait_idle().map(|()| left)
    }

    /// Jobs queued or in progress.
    pub fn pending(&self) -> usize {
        let st = self.shared.lock();
        st.queue.len() + usize::from(st.busy)
    }

    /// Files compressed so far.
    pub fn completed(&self) -> u64 {
        self.shared.completed.load(Ordering::Relaxed)
    }

    /// Files that could not be compressed so far (they are kept uncompressed).
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// The naming of the archives this compressor handles.
    pub fn naming(&self) -> &ArchiveNaming {
        &self.shared.naming
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.orphaned = true;
        let guard = if st.running { None } else { st.guard.take() };
        drop(st);
        drop(guard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_fs::{FaultFs, Op, StdFs};
    use chrono::{TimeZone, Utc};

    fn setup() -> (tempfile::TempDir, ArchiveNaming, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let naming = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap();
        let p = naming.archive_path(t, 1);
        std::fs::write(&p, b"hello\n").unwrap();
        (dir, naming, p)
    }

    #[test]
    fn falls_back_to_inline_when_no_thread_can_start() {
        let (_dir, naming, p) = setup();
        let c = Compressor::new(StdFs::shared(), naming, None, Compression::fast());
        FAIL_SPAWN.with(|f| f.set(true));
        c.submit(p.clone());
        FAIL_SPAWN.with(|f| f.set(false));
        // done by the time submit returned
        assert_eq!(c.completed(), 1);
        assert_eq!(c.pending(), 0);
        assert!(!p.exists());
        c.wait_idle().unwrap();
    }

    #[test]
    fn submit_does_not_wait_for_io_and_wait_idle_timeout_gives_up() {
        let (_dir, naming, p) = setup();
        // `create` waits to be released: a compression stuck in I/O
        let (fs, faults) = FaultFs::shared();
        faults.hold(Op::Create);
        let c = Compressor::new(fs, naming.clone(), None, Compression::fast());
        let t = Instant::now();
        c.submit(p.clone());
        let p2 = with_suffix(&p, ".second");
        c.submit(p2.clone()); // queued behind the stuck job
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(!c.wait_idle_timeout(Duration::from_millis(50)).unwrap());
        assert_eq!(c.pending(), 2);
        assert!(format!("{c:?}").contains("running: true"));
        faults.release(Op::Create, 2);
        // the second job's source does not exist: skipped as vanished, not a failure
        assert!(c.wait_idle_timeout(Duration::from_secs(30)).unwrap());
        assert_eq!((c.completed(), c.failed()), (1, 0));
        assert_eq!(c.naming(), &naming);
        assert!(!p.exists());
    }
}
