//! [`FaultFs`]: the real filesystem with faults injected on command.
//!
//! For tests and fault drills: a test keeps the [`Faults`] handle and flips faults (a full disk
//! on the next write, a failing rename, a short write followed by EIO, a call stuck until
//! released, a file deleted by someone else just before it is used, ...) while a writer owns
//! the filesystem as `Arc<dyn Filesystem>`. The errors are real [`io::ErrorKind`]s, so the code
//! under test takes exactly the paths it would take on a real full disk or a broken device.
//!
//! Over 500 lines with its tests; the code (one fault per operation of the seam) is about 390.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::{FileId, FileLock, FileMeta, Filesystem, ReadFile, StdFs, WriteFile};

/// An operation of [`FaultFs`] that can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `write` on a file opened with `open_append` (the log files, not the compressor's).
    Write,
    /// `sync_data` on a file opened with `open_append`.
    SyncData,
    /// `Filesystem::open_append`.
    OpenAppend,
    /// `Filesystem::create_new` (the compressor's `.gz.tmp`).
    Create,
    /// `Filesystem::rename`.
    Rename,
    /// `Filesystem::sync_dir`.
    SyncDir,
    /// `Filesystem::remove_file`.
    RemoveFile,
    /// `Filesystem::metadata`.
    Metadata,
    /// `Filesystem::read_dir`.
    ReadDir,
    /// `Filesystem::create_dir_all`.
    CreateDir,
    /// `Filesystem::lock`.
    Lock,
    /// `Filesystem::open_read` and `Filesystem::open_read_file` (readers).
    OpenRead,
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    kind: io::ErrorKind,
    /// `None`: until cleared.
    remaining: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    rules: HashMap<Op, Rule>,
    /// Calls per operation (failed ones included).
    calls: HashMap<Op, u64>,
    /// Injected failures per operation.
    failures: HashMap<Op, u64>,
    /// Next write writes at most this many bytes, then the write after fails with the kind.
    short_write: Option<(usize, io::ErrorKind)>,
    /// The failure armed by a short write, for the next write.
    after_short: Option<io::ErrorKind>,
    /// Every write first sleeps this long (a hung device).
    stall: Option<std::time::Duration>,
    /// Held operations, with how many calls may still pass.
    held: HashMap<Op, u64>,
    /// Operations held only on one path, until cleared.
    held_paths: HashMap<Op, Vec<PathBuf>>,
    /// Files deleted just before the next call of an operation on them.
    vanish: HashMap<Op, PathBuf>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when held calls may pass.
    released: Condvar,
}

/// The test's handle on a [`FaultFs`]: flips faults while the sink owns the filesystem.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Shared>);

impl Faults {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `n` calls of `op` fail with `kind`.
    pub fn fail(&self, op: Op, kind: io::ErrorKind, n: u64) {
        self.lock().rules.insert(
            op,
            Rule {
                kind,
                remaining: Some(n),
            },
        );
    }

    /// Every call of `op` fails with `kind` until [`clear`](Self::clear).
    pub fn fail_always(&self, op: Op, kind: io::ErrorKind) {
        self.lock().rules.insert(
            op,
            Rule {
                kind,
                remaining: None,
            },
        );
    }

    /// `op` works again (held calls of it go on, an armed [`vanish_before`](Self::vanish_before)
    /// is dropped).
    pub fn clear(&self, op: Op) {
        let mut st = self.lock();
        st.rules.remove(&op);
        st.held.remove(&op);
        st.held_paths.remove(&op);
        st.vanish.remove(&op);
        drop(st);
        self.0.released.notify_all();
    }

    /// Everything works again (an armed short write and held calls included).
    pub fn clear_all(&self) {
        let mut st = self.lock();
        st.rules.clear();
        st.short_write = None;
        st.after_short = None;
        st.stall = None;
        st.held.clear();
        st.held_paths.clear();
        st.vanish.clear();
        drop(st);
        self.0.released.notify_all();
    }

    /// Every later call of `op` blocks (I/O stuck on a hung device) until [`release`]d or
    /// [`clear`](Self::clear)ed. A blocked call is already counted by [`calls`](Self::calls),
    /// so a test can tell that the code under test has reached it.
    ///
    /// [`release`]: Self::release
    pub fn hold(&self, op: Op) {
        self.lock().held.entry(op).or_insert(0);
    }

    /// Every later call of `op` on `path` blocks until [`clear`](Self::clear)ed; calls on
    /// other paths go through (one slow file among many). Writes and `sync_data` count as
    /// calls on the file they were opened for. Several paths can be held at once.
    pub fn hold_path(&self, op: Op, path: impl Into<PathBuf>) {
        self.lock()
            .held_paths
            .entry(op)
            .or_default()
            .push(path.into());
    }

    /// Lets `n` more calls of a [`hold`](Self::hold)-ed `op` through, blocked ones first; the
    /// calls after them block again. Does nothing if `op` is not held.
    pub fn release(&self, op: Op, n: u64) {
        if let Some(pass) = self.lock().held.get_mut(&op) {
            *pass = pass.saturating_add(n);
        }
        self.0.released.notify_all();
    }

    /// Deletes `path` from disk just before the next call of `op` on it (for `rename`, on its
    /// source), as another process deleting the file at that very moment would: the call then
    /// meets the real outcome, `NotFound` for most operations. Once only; write and `sync_data`
    /// calls have no path and never trigger it.
    pub fn vanish_before(&self, op: Op, path: impl Into<PathBuf>) {
        self.lock().vanish.insert(op, path.into());
    }

    /// The next write writes only its first `prefix` bytes (and says so); the write after it
    /// fails once with `then`.
    pub fn short_write(&self, prefix: usize, then: io::ErrorKind) {
        self.lock().short_write = Some((prefix, then));
    }

    /// Every write first blocks for `d` (a hung NFS mount, a dying disk); `None` ends it.
    pub fn stall_writes(&self, d: Option<std::time::Duration>) {
        self.lock().stall = d;
    }

    /// Calls of `op` so far, failed ones included.
    pub fn calls(&self, op: Op) -> u64 {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// Injected failures of `op` so far.
    pub fn failures(&self, op: Op) -> u64 {
        self.lock().failures.get(&op).copied().unwrap_or(0)
    }

    /// Counts a call of `op` on `path`, blocks while `op` is held, makes a file vanish if one is
    /// due, and returns the injected error, if one is due.
    fn check(&self, op: Op, path: Option<&Path>) -> io::Result<()> {
        let mut st = self.lock();
        *st.calls.entry(op).or_default() += 1;
        while path.is_some_and(|p| {
            st.held_paths
                .get(&op)
                .is_some_and(|held| held.iter().any(|h| h == p))
        }) {
            st = self
                .0
                .released
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        loop {
            match st.held.get_mut(&op) {
                None => break,
                Some(0) => {
                    st = self
                        .0
                        .released
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Some(pass) => {
                    *pass -= 1;
                    break;
                }
            }
        }
        let pathless = matches!(op, Op::Write | Op::SyncData);
        if !pathless && path.is_some() && st.vanish.get(&op).map(PathBuf::as_path) == path {
            if let Some(p) = st.vanish.remove(&op) {
                let _ = std::fs::remove_file(p);
            }
        }
        let Some(rule) = st.rules.get_mut(&op) else {
            return Ok(());
        };
        let kind = rule.kind;
        match &mut rule.remaining {
            Some(0) => {
                st.rules.remove(&op);
                return Ok(());
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    st.rules.remove(&op);
                }
            }
            None => {}
        }
        *st.failures.entry(op).or_default() += 1;
        Err(io::Error::new(kind, format!("injected {op:?} failure")))
    }

    /// For a write of `len` bytes: the injected error, or how many bytes to write at most.
    fn check_write(&self, path: &Path, len: usize) -> io::Result<usize> {
        let stall = self.lock().stall;
        if let Some(d) = stall {
            std::thread::sleep(d);
        }
        self.check(Op::Write, Some(path))?;
        let mut st = self.lock();
        if let Some(kind) = st.after_short.take() {
            *st.failures.entry(Op::Write).or_default() += 1;
            return Err(io::Error::new(kind, "injected failure after a short write"));
        }
        if len > 0 {
            if let Some((prefix, then)) = st.short_write.take() {
                st.after_short = Some(then);
                return Ok(prefix.min(len));
            }
        }
        Ok(len)
    }
}

/// [`StdFs`] with faults injected on command (see [`Faults`]).
#[derive(Debug, Default)]
pub struct FaultFs {
    faults: Faults,
}

impl FaultFs {
    /// A fault-free filesystem as the shared trait object, and the handle that controls it.
    pub fn shared() -> (Arc<dyn Filesystem>, Faults) {
        let faults = Faults::default();
        let fs = Arc::new(FaultFs {
            faults: faults.clone(),
        });
        (fs, faults)
    }
}

/// A file opened through [`FaultFs::open_append`].
struct FaultFile {
    inner: Box<dyn WriteFile>,
    faults: Faults,
    /// The path it was opened as, for [`Faults::hold_path`].
    path: PathBuf,
}

impl Write for FaultFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let max = self.faults.check_write(&self.path, buf.len())?;
        self.inner.write(&buf[..max])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl WriteFile for FaultFile {
    fn sync_data(&mut self) -> io::Result<()> {
        self.faults.check(Op::SyncData, Some(&self.path))?;
        self.inner.sync_data()
    }

    /// The clone is faulted like the original (same [`Faults`]).
    fn try_clone(&self) -> io::Result<Box<dyn WriteFile>> {
        Ok(Box::new(FaultFile {
            inner: self.inner.try_clone()?,
            faults: self.faults.clone(),
            path: self.path.clone(),
        }))
    }

    fn file_id(&self) -> io::Result<Option<FileId>> {
        self.inner.file_id()
    }
}

impl Filesystem for FaultFs {
    fn open_append(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>> {
        self.faults.check(Op::OpenAppend, Some(path))?;
        Ok(Box::new(FaultFile {
            inner: StdFs.open_append(path, mode)?,
            faults: self.faults.clone(),
            path: path.to_path_buf(),
        }))
    }
    fn create_new(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>> {
        self.faults.check(Op::Create, Some(path))?;
        StdFs.create_new(path, mode)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        self.faults.check(Op::OpenRead, Some(path))?;
        StdFs.open_read(path)
    }
    fn open_read_file(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        self.faults.check(Op::OpenRead, Some(path))?;
        StdFs.open_read_file(path)
    }
    fn last_byte(&self, path: &Path) -> io::Result<Option<u8>> {
        StdFs.last_byte(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.check(Op::Rename, Some(from))?;
        StdFs.rename(from, to)
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.check(Op::Rename, Some(from))?;
        StdFs.rename_noreplace(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.faults.check(Op::RemoveFile, Some(path))?;
        StdFs.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.check(Op::SyncDir, Some(dir))?;
        StdFs.sync_dir(dir)
    }
    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        self.faults.check(Op::Metadata, Some(path))?;
        StdFs.metadata(path)
    }
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.faults.check(Op::ReadDir, Some(dir))?;
        StdFs.read_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path, mode: u32) -> io::Result<()> {
        self.faults.check(Op::CreateDir, Some(dir))?;
        StdFs.create_dir_all(dir, mode)
    }
    fn lock(&self, path: &Path, mode: u32) -> io::Result<FileLock> {
        self.faults.check(Op::Lock, Some(path))?;
        StdFs.lock(path, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_as_told_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let (fs, faults) = FaultFs::shared();
        let p = dir.path().join("a.log");
        faults.fail(Op::OpenAppend, io::ErrorKind::PermissionDenied, 1);
        let e = fs.open_append(&p, 0o640).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let mut f = fs.open_append(&p, 0o640).unwrap();
        faults.short_write(3, io::ErrorKind::StorageFull);
        assert_eq!(f.write(b"hello").unwrap(), 3);
        assert_eq!(
            f.write(b"lo").unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        assert_eq!(f.write(b"lo").unwrap(), 2);
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        faults.fail_always(Op::Rename, io::ErrorKind::Other);
        assert!(fs.rename(&p, &dir.path().join("b")).is_err());
        assert!(fs.rename(&p, &dir.path().join("b")).is_err());
        faults.clear(Op::Rename);
        fs.rename(&p, &dir.path().join("b")).unwrap();
        assert_eq!(faults.calls(Op::Rename), 3);
        assert_eq!(faults.failures(Op::Rename), 2);
        assert_eq!(faults.failures(Op::Write), 1);
    }

    #[test]
    fn metadata_and_read_dir_can_fail() {
        let dir = tempfile::tempdir().unwrap();
        let (fs, faults) = FaultFs::shared();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"x").unwrap();
        faults.fail(Op::Metadata, io::ErrorKind::PermissionDenied, 1);
        let e = fs.metadata(&p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(fs.metadata(&p).unwrap().len, 1);
        faults.fail_always(Op::ReadDir, io::ErrorKind::PermissionDenied);
        for _ in 0..2 {
            let e = fs.read_dir(dir.path()).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        }
        faults.clear(Op::ReadDir);
        assert_eq!(fs.read_dir(dir.path()).unwrap(), vec!["a.log".to_string()]);
        assert_eq!(
            (faults.calls(Op::ReadDir), faults.failures(Op::ReadDir)),
            (3, 2)
        );
        assert_eq!(
            (faults.calls(Op::Metadata), faults.failures(Op::Metadata)),
            (2, 1)
        );
    }

    #[test]
    fn held_calls_wait_for_release() {
        use std::sync::mpsc;
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let (fs, faults) = FaultFs::shared();
        faults.hold(Op::Create);
        let (done_tx, done) = mpsc::channel();
        let worker = {
            let (fs, dir) = (Arc::clone(&fs), dir.path().to_path_buf());
            std::thread::spawn(move || {
                for name in ["a", "b"] {
                    drop(fs.create_new(&dir.join(name), 0o640).unwrap());
                    done_tx.send(name).unwrap();
                }
            })
        };
        // the first call is counted, and blocked
        while faults.calls(Op::Create) == 0 {
            std::thread::yield_now();
        }
        assert!(done.recv_timeout(Duration::from_millis(50)).is_err());
        assert!(!dir.path().join("a").exists());
        // one call at a time
        faults.release(Op::Create, 1);
        assert_eq!(done.recv().unwrap(), "a");
        assert!(done.recv_timeout(Duration::from_millis(50)).is_err());
        assert_eq!(faults.calls(Op::Create), 2);
        // clear lets everything through
        faults.clear(Op::Create);
        assert_eq!(done.recv().unwrap(), "b");
        worker.join().unwrap();
        // other operations were never held; release of an unheld op is a no-op
        faults.release(Op::Rename, 5);
        fs.rename(&dir.path().join("a"), &dir.path().join("c"))
            .unwrap();
        // a release given before the call lets it through without blocking
        faults.hold(Op::RemoveFile);
        faults.release(Op::RemoveFile, 1);
        fs.remove_file(&dir.path().join("c")).unwrap();
        assert_eq!(faults.failures(Op::Create), 0);
    }

    #[test]
    fn vanish_before_deletes_just_before_the_call_on_that_path() {
        let dir = tempfile::tempdir().unwrap();
        let (fs, faults) = FaultFs::shared();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        faults.vanish_before(Op::RemoveFile, &a);
        // a call on another path does not trigger it
        fs.remove_file(&b).unwrap();
        assert!(a.exists());
        let e = fs.remove_file(&a).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(!a.exists());
        // once only, and not an injected failure
        std::fs::write(&a, b"a").unwrap();
        assert_eq!(fs.metadata(&a).unwrap().len, 1);
        fs.remove_file(&a).unwrap();
        assert_eq!(faults.failures(Op::RemoveFile), 0);
        // on metadata: the file is gone when it is measured
        std::fs::write(&b, b"b").unwrap();
        faults.vanish_before(Op::Metadata, &b);
        assert_eq!(fs.read_dir(dir.path()).unwrap(), vec!["b".to_string()]);
        let e = fs.metadata(&b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        // on a read: the file is gone when it is opened, by either method
        std::fs::write(&b, b"b").unwrap();
        faults.vanish_before(Op::OpenRead, &b);
        let e = fs.open_read_file(&b).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        std::fs::write(&b, b"b").unwrap();
        faults.fail(Op::OpenRead, io::ErrorKind::PermissionDenied, 1);
        let e = fs.open_read(&b).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(fs.open_read_file(&b).unwrap().meta().unwrap().len, 1);
        assert_eq!(faults.calls(Op::OpenRead), 3);
        // clear drops an armed one
        std::fs::write(&b, b"b").unwrap();
        faults.vanish_before(Op::Metadata, &b);
        faults.clear(Op::Metadata);
        assert_eq!(fs.metadata(&b).unwrap().len, 1);
    }
}
