//! [`FaultFs`]: the real filesystem with faults injected on command.
//!
//! For tests and fault drills: a test keeps the [`Faults`] handle and flips faults (a full disk
//! on the next write, a failing rename, a short write followed by EIO, ...) while a writer owns
//! the filesystem as `Arc<dyn Filesystem>`. The errors are real [`io::ErrorKind`]s, so the code
//! under test takes exactly the paths it would take on a real full disk or a broken device.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{FileMeta, Filesystem, StdFs, WriteFile};

/// An operation of [`FaultFs`] that can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `write` on a file opened with `open_append` (the log files, not the compressor's).
    Write,
    /// `sync_data` on a file opened with `open_append`.
    SyncData,
    /// `Filesystem::open_append`.
    OpenAppend,
    /// `Filesystem::create` (the compressor's `.gz.tmp`).
    Create,
    /// `Filesystem::rename`.
    Rename,
    /// `Filesystem::sync_dir`.
    SyncDir,
    /// `Filesystem::remove_file`.
    RemoveFile,
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
}

/// The test's handle on a [`FaultFs`]: flips faults while the sink owns the filesystem.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<State>>);

impl Faults {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// `op` works again.
    pub fn clear(&self, op: Op) {
        self.lock().rules.remove(&op);
    }

    /// Everything works again (an armed short write included).
    pub fn clear_all(&self) {
        let mut st = self.lock();
        st.rules.clear();
        st.short_write = None;
        st.after_short = None;
        st.stall = None;
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

    /// Counts a call of `op` and returns the injected error, if one is due.
    fn check(&self, op: Op) -> io::Result<()> {
        let mut st = self.lock();
        *st.calls.entry(op).or_default() += 1;
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
    fn check_write(&self, len: usize) -> io::Result<usize> {
        let stall = self.lock().stall;
        if let Some(d) = stall {
            std::thread::sleep(d);
        }
        self.check(Op::Write)?;
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
}

impl Write for FaultFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let max = self.faults.check_write(buf.len())?;
        self.inner.write(&buf[..max])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl WriteFile for FaultFile {
    fn sync_data(&mut self) -> io::Result<()> {
        self.faults.check(Op::SyncData)?;
        self.inner.sync_data()
    }
}

impl Filesystem for FaultFs {
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        self.faults.check(Op::OpenAppend)?;
        Ok(Box::new(FaultFile {
            inner: StdFs.open_append(path)?,
            faults: self.faults.clone(),
        }))
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        self.faults.check(Op::Create)?;
        StdFs.create(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        StdFs.open_read(path)
    }
    fn last_byte(&self, path: &Path) -> io::Result<Option<u8>> {
        StdFs.last_byte(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.check(Op::Rename)?;
        StdFs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.faults.check(Op::RemoveFile)?;
        StdFs.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.check(Op::SyncDir)?;
        StdFs.sync_dir(dir)
    }
    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        StdFs.metadata(path)
    }
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        StdFs.read_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        StdFs.create_dir_all(dir)
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
        let e = fs.open_append(&p).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let mut f = fs.open_append(&p).unwrap();
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
}
