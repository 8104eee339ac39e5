//! Test tooling: a filesystem that runs a writer's step at a chosen point of a reader's work,
//! and the writer's steps themselves.

#![allow(dead_code)] // each test file uses a part

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bunctl_log_fs::{FileLock, FileMeta, Filesystem, ReadFile, StdFs, WriteFile};

/// A writer's step, run by [`HookFs`] in the middle of the reader's work.
pub type Hook = Box<dyn FnOnce() + Send>;

/// [`StdFs`] that runs a hook just before the reader's call number `at` through the seam
/// (counting every operation from 0). With `split_listing`, a directory is listed the way
/// `readdir` does it over several `getdents` calls: `.gz` names in a first read, the others
/// in a second, and a hook due at that listing runs between the two, so a plain archive
/// compressed meanwhile is in neither (the worst order a real directory can have).
pub struct HookFs {
    calls: AtomicUsize,
    at: AtomicUsize,
    hook: Mutex<Option<Hook>>,
    split_listing: bool,
}

impl HookFs {
    /// A filesystem that runs `hook` before call `at`.
    pub fn new(at: usize, split_listing: bool, hook: Hook) -> Self {
        Self {
            calls: AtomicUsize::new(0),
            at: AtomicUsize::new(at),
            hook: Mutex::new(Some(hook)),
            split_listing,
        }
    }

    /// A filesystem with no hook yet ([`arm`](Self::arm) one).
    pub fn unarmed(split_listing: bool) -> Self {
        Self {
            calls: AtomicUsize::new(0),
            at: AtomicUsize::new(usize::MAX),
            hook: Mutex::new(None),
            split_listing,
        }
    }

    /// Runs `hook` before the call `after` calls from now.
    pub fn arm(&self, after: usize, hook: Hook) {
        *self.hook.lock().unwrap() = Some(hook);
        self.at
            .store(self.calls.load(Ordering::SeqCst) + after, Ordering::SeqCst);
    }

    /// Whether the hook has run.
    pub fn fired(&self) -> bool {
        self.hook.lock().unwrap().is_none()
    }

    /// Counts a call; runs the hook if it is the one.
    fn tick(&self) {
        if self.calls.fetch_add(1, Ordering::SeqCst) == self.at.load(Ordering::SeqCst) {
            self.run_hook();
        }
    }

    fn run_hook(&self) {
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
    }
}

impl Filesystem for HookFs {
    fn open_append(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>> {
        self.tick();
        StdFs.open_append(path, mode)
    }
    fn create_new(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>> {
        self.tick();
        StdFs.create_new(path, mode)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        self.tick();
        StdFs.open_read(path)
    }
    fn open_read_file(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        self.tick();
        StdFs.open_read_file(path)
    }
    fn last_byte(&self, path: &Path) -> io::Result<Option<u8>> {
        self.tick();
        StdFs.last_byte(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.tick();
        StdFs.rename(from, to)
    }
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.tick();
        StdFs.rename_noreplace(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.tick();
        StdFs.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.tick();
        StdFs.sync_dir(dir)
    }
    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        self.tick();
        StdFs.metadata(path)
    }
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        if !self.split_listing {
            self.tick();
            return StdFs.read_dir(dir);
        }
        let due = self.calls.fetch_add(1, Ordering::SeqCst) == self.at.load(Ordering::SeqCst);
        let mut names: Vec<String> = StdFs
            .read_dir(dir)?
            .into_iter()
            .filter(|n| n.ends_with(".gz"))
            .collect();
        if due {
            self.run_hook();
        }
        names.extend(
            StdFs
                .read_dir(dir)?
                .into_iter()
                .filter(|n| !n.ends_with(".gz")),
        );
        Ok(names)
    }
    fn create_dir_all(&self, dir: &Path, mode: u32) -> io::Result<()> {
        self.tick();
        StdFs.create_dir_all(dir, mode)
    }
    fn lock(&self, path: &Path, mode: u32) -> io::Result<FileLock> {
        self.tick();
        StdFs.lock(path, mode)
    }
}

/// A directory of logs of `app`, written the way the writer writes them (each step by hand,
/// so that a test runs it exactly where it wants).
#[derive(Debug, Clone)]
pub struct Logs {
    pub dir: PathBuf,
    pub app: String,
    /// Every line written so far, in order.
    pub next_line: usize,
    pub next_seq: u64,
}

impl Logs {
    /// An empty directory deep inside `root`.
    pub fn new(root: &Path, app: &str) -> Self {
        let dir = root.join("a").join("b").join("logs");
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            app: app.into(),
            next_line: 0,
            next_seq: 1,
        }
    }

    pub fn live(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.app))
    }

    pub fn archive(&self, seq: u64) -> PathBuf {
        self.dir
            .join(format!("{}.20260101T000000Z-{seq:06}.log", self.app))
    }

    /// Appends `n` numbered lines to the live file.
    pub fn append(&mut self, n: usize) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.live())
            .unwrap();
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(&line(self.next_line));
            text.push('\n');
            self.next_line += 1;
        }
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Renames the live file to the next archive (plain); returns its seq.
    pub fn rotate(&mut self) -> u64 {
        let seq = self.next_seq;
        std::fs::rename(self.live(), self.archive(seq)).unwrap();
        self.next_seq += 1;
        seq
    }

    /// Compresses archive `seq` as the compressor does (`.gz.tmp`, rename, remove the plain).
    pub fn compress(&self, seq: u64) {
        bunctl_log_rotation::compress_file(&StdFs, &self.archive(seq), flate2::Compression::fast())
            .unwrap();
    }

    /// Everything written so far, in order.
    pub fn all(&self) -> Vec<String> {
        (0..self.next_line).map(line).collect()
    }
}

/// Line `i` of the logs.
pub fn line(i: usize) -> String {
    format!("line {i:06}")
}

/// The lines as text.
pub fn text(lines: &[Vec<u8>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8(l.clone()).unwrap())
        .collect()
}

/// Whether `got` is `before` followed by a prefix of `after` (what a reader may see when
/// `after` was written while it read).
pub fn is_prefix_run(got: &[String], before: &[String], after: &[String]) -> bool {
    got.len() >= before.len()
        && got[..before.len()] == *before
        && after.starts_with(&got[before.len()..])
}
