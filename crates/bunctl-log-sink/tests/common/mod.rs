//! Shared test helpers: a fault-injecting [`Filesystem`], a scripted [`Sink`], and readers for
//! a rotating sink's files.
#![allow(dead_code)] // each test crate uses a different part of this module

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bunctl_core::fs::{FileMeta, Filesystem, StdFs, WriteFile};
use bunctl_log_sink::Sink;

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
    }

    /// The next write writes only its first `prefix` bytes (and says so); the write after it
    /// fails once with `then`.
    pub fn short_write(&self, prefix: usize, then: io::ErrorKind) {
        self.lock().short_write = Some((prefix, then));
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

/// The content of one log file, gunzipped if its name ends in `.gz`.
pub fn read_log_file(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{} is not valid gzip: {e}", path.display()));
        out
    } else {
        raw
    }
}

/// The contents of `files`, in order.
pub fn read_all(files: &[PathBuf]) -> Vec<Vec<u8>> {
    files.iter().map(|p| read_log_file(p)).collect()
}

/// The names of the entries of `dir`, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// One scripted result of a [`ScriptedSink`] write.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Fail with this kind.
    Fail(io::ErrorKind),
    /// Take the whole batch.
    Ok,
}

/// A sink whose writes follow a script (then succeed), counting calls; what it took is kept.
#[derive(Debug, Default)]
pub struct ScriptedSink {
    /// Results of the next writes, front first; empty means success.
    pub script: Arc<Mutex<std::collections::VecDeque<Step>>>,
    /// Calls of `write`.
    pub calls: Arc<Mutex<u64>>,
    /// Bytes taken.
    pub data: Vec<u8>,
}

impl ScriptedSink {
    /// Appends `n` failures of `kind` to the script.
    pub fn push_failures(&self, kind: io::ErrorKind, n: usize) {
        let mut s = self.script.lock().unwrap();
        for _ in 0..n {
            s.push_back(Step::Fail(kind));
        }
    }
}

impl Sink for ScriptedSink {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        *self.calls.lock().unwrap() += 1;
        match self.script.lock().unwrap().pop_front() {
            Some(Step::Fail(kind)) => Err(io::Error::new(kind, "scripted failure")),
            Some(Step::Ok) | None => {
                self.data.extend_from_slice(batch);
                Ok(batch.len())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
}
