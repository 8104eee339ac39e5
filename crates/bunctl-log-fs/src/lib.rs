//! The filesystem seam.
//!
//! Every file operation of the log subsystem goes through [`Filesystem`]: the real one is
//! [`StdFs`]; tests wrap it to fail a chosen operation with a real [`std::io::ErrorKind`]
//! (`StorageFull`, `PermissionDenied`, ...) at a chosen moment. The trait is object safe and
//! shared as `Arc<dyn Filesystem>`; it is called once per batch or per rotation, never per line,
//! so dynamic dispatch costs nothing measurable.
//!
//! What the real filesystem promises, because log directories are shared with operators and
//! other programs:
//!
//! * **Symlinks are never followed** at the last component of a path: files are opened with
//!   `O_NOFOLLOW`, new files with `O_EXCL` too, and [`Filesystem::metadata`] describes the link
//!   itself (`lstat`). A symlink where a log file should be gives [`SymlinkRefused`], so nothing
//!   outside the log directory is ever written or truncated through one.
//! * **Files are created with a mode** the caller chooses ([`DEFAULT_FILE_MODE`] `0640`,
//!   directories [`DEFAULT_DIR_MODE`] `0750`), reduced by the umask as usual.
//! * **One writer per file**: [`Filesystem::lock`] takes an advisory exclusive lock
//!   (`flock(2)`) on a lock file, released when the [`FileLock`] is dropped or the process dies;
//!   a second taker, in this process or another, gets [`Locked`] with the holder's pid.
//! * **Identity**: [`FileId`] (device and inode) tells whether a path still names the file a
//!   writer has open, so a live file removed or renamed by someone else is noticed.

/// Every thread of the log subsystem has a name starting with this: writer threads
/// (`bunctl-log <file>`), the compressor (`bunctl-log-gzip`), background syncs
/// (`bunctl-log-sync`).
pub const THREAD_NAME_PREFIX: &str = "bunctl-log";

/// Whether the calling thread is one of the log subsystem's own (see [`THREAD_NAME_PREFIX`]).
/// A logging backend that waits for room in a writer's buffer must not wait on these: the
/// writer thread would wait for itself.
pub fn is_log_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with(THREAD_NAME_PREFIX))
}

#[cfg(any(test, feature = "testing"))]
mod crash;
#[cfg(any(test, feature = "testing"))]
mod fault;
mod std_fs;

#[cfg(any(test, feature = "testing"))]
pub use crash::{CrashFs, CrashLog, CrashState, Cut, DirOrder};
#[cfg(any(test, feature = "testing"))]
pub use fault::{FaultFs, Faults, Op};
pub use std_fs::StdFs;

use std::fmt;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Mode of files the log subsystem creates, before the umask: owner read-write, group read.
/// Logs hold tokens and user data, so they are not world-readable by default.
pub const DEFAULT_FILE_MODE: u32 = 0o640;
/// Mode of directories the log subsystem creates, before the umask.
pub const DEFAULT_DIR_MODE: u32 = 0o750;

/// Which file a path or an open handle is: device and inode on Unix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The device.
    pub dev: u64,
    /// The inode on that device.
    pub ino: u64,
}

/// A file opened for writing through a [`Filesystem`].
pub trait WriteFile: Write + Send {
    /// Flushes file data (not necessarily metadata) to the device: `fdatasync(2)`.
    fn sync_data(&mut self) -> io::Result<()>;

    /// A second handle on the same open file (`dup(2)`), so another thread can `sync_data`
    /// it while this one keeps writing. The default says `Unsupported`.
    fn try_clone(&self) -> io::Result<Box<dyn WriteFile>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this file cannot be cloned",
        ))
    }

    /// Which file this handle has open (`fstat(2)`), where the platform can tell; `None`
    /// otherwise. The default is `None`.
    fn file_id(&self) -> io::Result<Option<FileId>> {
        Ok(None)
    }
}

/// A file opened for reading through [`Filesystem::open_read_file`]: read from any offset,
/// and asked what it is now (readers hold a live file open and compare its identity with what
/// the path names, to tell whether it was rotated meanwhile).
pub trait ReadFile: Read + Seek + Send {
    /// Length, modification time and identity of the open file itself (`fstat(2)`: the file
    /// as it is now, even if its name was changed or removed since it was opened).
    fn meta(&self) -> io::Result<FileMeta>;
}

/// What the log subsystem needs to know about a file (from `lstat(2)`: a symlink is described
/// as itself, never as its target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Length in bytes.
    pub len: u64,
    /// Last modification time, where the platform has one.
    pub modified: Option<SystemTime>,
    /// Which file it is, where the platform can tell.
    pub id: Option<FileId>,
    /// Permission bits (`0o640`), where the platform has them.
    pub mode: Option<u32>,
    /// Whether the path is a symbolic link.
    pub is_symlink: bool,
}

/// The error of opening a log file that is a symbolic link: log files are never written
/// through one. Carried inside an [`io::Error`] of kind `InvalidInput`; find it with
/// `e.get_ref().and_then(|e| e.downcast_ref::<SymlinkRefused>())`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymlinkRefused {
    /// The path that is a symlink.
    pub path: PathBuf,
}

impl fmt::Display for SymlinkRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is a symbolic link; log files are never opened through one",
            self.path.display()
        )
    }
}

impl std::error::Error for SymlinkRefused {}

/// The error of [`Filesystem::lock`] when another writer holds the lock. Carried inside an
/// [`io::Error`] of kind `ResourceBusy`; find it with
/// `e.get_ref().and_then(|e| e.downcast_ref::<Locked>())`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// The lock file.
    pub path: PathBuf,
    /// The holder's process id, as it wrote it into the lock file, if it could be read.
    pub pid: Option<u32>,
}

impl fmt::Display for Locked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is held by another writer", self.path.display())?;
        match self.pid {
            Some(pid) if pid == std::process::id() => write!(f, " in this process (pid {pid})"),
            Some(pid) => write!(f, " (pid {pid})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Locked {}

/// An exclusive advisory lock on a lock file, held until dropped (or until the process ends,
/// however it ends: the kernel releases it).
pub struct FileLock {
    path: PathBuf,
    /// The lock file's identity, to tell whether the path still names it.
    id: Option<FileId>,
    // Only held: closing it releases the lock.
    _file: Option<std::fs::File>,
}

impl FileLock {
    /// A lock that holds nothing, for filesystems that cannot lock (test doubles).
    pub fn unlocked(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            id: None,
            _file: None,
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which file the lock is on, where the platform can tell: if the path names another file
    /// now (someone removed the directory), the lock no longer keeps other writers out.
    pub fn file_id(&self) -> Option<FileId> {
        self.id
    }
}

impl fmt::Debug for FileLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileLock")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The file operations the log subsystem uses, as a seam for error injection.
pub trait Filesystem: Send + Sync + 'static {
    /// Opens `path` for appending, creating it with `mode` if missing; never through a symlink
    /// ([`SymlinkRefused`]).
    fn open_append(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>>;
    /// Creates `path` for writing with `mode`; fails with `AlreadyExists` if anything (a file,
    /// a symlink) is there (`O_EXCL`).
    fn create_new(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>>;
    /// Opens `path` for reading; never through a symlink.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// Opens `path` for reading at any offset; never through a symlink. The default says
    /// `Unsupported` (a filesystem that only streams).
    fn open_read_file(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{} cannot be opened for seeking here", path.display()),
        ))
    }
    /// Reads the last byte of `path`, or `None` if it is empty; never through a symlink.
    fn last_byte(&self, path: &Path) -> io::Result<Option<u8>>;
    /// Renames `from` to `to`, replacing `to` (atomic on POSIX within one filesystem).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Renames `from` to `to` unless `to` exists (`AlreadyExists` then): never replaces a
    /// file, even one that appears between a check and the rename.
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path` (a symlink itself, never its target).
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory entries of `dir` durable (`fsync` on the directory); a no-op where
    /// the platform cannot do it.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Length, modification time, identity and mode of `path` itself (`lstat`).
    fn metadata(&self, path: &Path) -> io::Result<FileMeta>;
    /// The names (not paths) of the entries of `dir`.
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates `dir` and its missing parents with `mode`.
    fn create_dir_all(&self, dir: &Path, mode: u32) -> io::Result<()>;
    /// Takes an exclusive advisory lock on the lock file `path` (created with `mode` if
    /// missing, never through a symlink) without waiting, and writes this process's id into
    /// it.
    ///
    /// # Errors
    /// [`Locked`] (kind `ResourceBusy`) if another handle holds it, in any process; the I/O
    /// error otherwise.
    fn lock(&self, path: &Path, mode: u32) -> io::Result<FileLock>;
}

/// [`Filesystem::create_dir_all`], then makes each directory it created durable in its parent
/// (`fsync` of the parent after each new entry): a power cut after this returns cannot take the
/// directory, or the files later made durable in it, away. Nothing is synced when `dir` already
/// existed, so the usual call costs one `lstat`.
///
/// # Errors
/// The I/O error from creating a directory or syncing a parent.
pub fn create_dir_all_durably(fs: &dyn Filesystem, dir: &Path, mode: u32) -> io::Result<()> {
    if fs.metadata(dir).is_ok() {
        return Ok(());
    }
    // The directories about to be created, the deepest first.
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.as_os_str().is_empty() || fs.metadata(d).is_ok() {
            break;
        }
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    fs.create_dir_all(dir, mode)?;
    for created in missing.iter().rev() {
        fs.sync_dir(&parent_dir(created))?;
    }
    Ok(())
}

/// Which boot of the machine this is (Linux: `/proc/sys/kernel/random/boot_id`, new at each
/// boot), so that a record left by a writer tells a process that died (the page cache kept its
/// writes) from a machine that went down (what was not synced may be gone). `None` where the
/// platform does not say.
pub fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// Whether `e` says the process has no descriptor left to open a file with (`EMFILE`).
pub fn is_out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::EMFILE)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// The directory a file lives in (`.` for a bare file name), for [`Filesystem::sync_dir`].
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn only_emfile_is_out_of_descriptors() {
        use super::is_out_of_descriptors;
        assert!(is_out_of_descriptors(&std::io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(!is_out_of_descriptors(&std::io::Error::from_raw_os_error(
            libc::ENOENT
        )));
    }

    use super::*;

    #[test]
    fn std_fs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let fs = StdFs;
        let p = dir.path().join("a.log");
        assert!(fs.metadata(&p).is_err());
        let mut f = fs.open_append(&p, DEFAULT_FILE_MODE).unwrap();
        f.write_all(b"hello\n").unwrap();
        f.sync_data().unwrap();
        let id = f.file_id().unwrap();
        drop(f);
        let meta = fs.metadata(&p).unwrap();
        assert_eq!(meta.len, 6);
        assert_eq!(meta.id, id);
        assert!(!meta.is_symlink);
        assert_eq!(fs.last_byte(&p).unwrap(), Some(b'\n'));
        let q = dir.path().join("b.log");
        fs.rename(&p, &q).unwrap();
        fs.sync_dir(dir.path()).unwrap();
        assert_eq!(fs.read_dir(dir.path()).unwrap(), vec!["b.log".to_string()]);
        let mut s = String::new();
        fs.open_read(&q).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello\n");
        let mut r = fs.open_read_file(&q).unwrap();
        r.seek(io::SeekFrom::Start(3)).unwrap();
        let mut end = String::new();
        r.read_to_string(&mut end).unwrap();
        assert_eq!(end, "lo\n");
        fs.remove_file(&q).unwrap();
        // The open file is still there, and says it is the one that was renamed.
        assert_eq!(r.meta().unwrap().id, id);
        assert_eq!(r.meta().unwrap().len, 6);
        assert!(fs.read_dir(dir.path()).unwrap().is_empty());
        let e = fs.create_new(&q, DEFAULT_FILE_MODE).unwrap();
        drop(e);
        assert_eq!(fs.last_byte(&q).unwrap(), None);
        let again = fs.create_new(&q, DEFAULT_FILE_MODE).err().unwrap();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn parent_of_bare_name_is_cwd() {
        assert_eq!(parent_dir(Path::new("a.log")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("/x/a.log")), PathBuf::from("/x"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_never_followed_nor_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"precious\n").unwrap();
        let link = dir.path().join("a.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fs = StdFs;
        let refused = |e: io::Error| {
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<SymlinkRefused>());
            assert_eq!(inner.map(|r| r.path.as_path()), Some(link.as_path()));
            assert!(e.to_string().contains("symbolic link"), "{e}");
        };
        refused(fs.open_append(&link, DEFAULT_FILE_MODE).err().unwrap());
        refused(fs.open_read(&link).err().unwrap());
        refused(fs.open_read_file(&link).err().unwrap());
        refused(fs.last_byte(&link).unwrap_err());
        refused(fs.lock(&link, DEFAULT_FILE_MODE).unwrap_err());
        // O_EXCL: a symlink is "something there", even a dangling one.
        let e = fs.create_new(&link, DEFAULT_FILE_MODE).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let dangling = dir.path().join("b.log");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let e = fs.open_append(&dangling, DEFAULT_FILE_MODE).err().unwrap();
        assert!(e.get_ref().is_some_and(|i| i.is::<SymlinkRefused>()), "{e}");
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"precious\n");
        let meta = fs.metadata(&link).unwrap();
        assert!(meta.is_symlink);
    }

    #[cfg(unix)]
    #[test]
    fn files_and_directories_get_the_requested_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fs = StdFs;
        let sub = dir.path().join("x").join("y");
        fs.create_dir_all(&sub, DEFAULT_DIR_MODE).unwrap();
        let p = sub.join("a.log");
        drop(fs.open_append(&p, DEFAULT_FILE_MODE).unwrap());
        let q = sub.join("b.gz.tmp");
        drop(fs.create_new(&q, 0o600).unwrap());
        // The umask only takes bits away; under the usual 022 these are exact.
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p) & !0o640, 0, "{:o}", mode(&p));
        assert_eq!(mode(&q) & !0o600, 0, "{:o}", mode(&q));
        assert_eq!(mode(&sub) & !0o750, 0, "{:o}", mode(&sub));
        assert_eq!(fs.metadata(&p).unwrap().mode, Some(mode(&p)));
    }

    #[test]
    fn a_lock_is_exclusive_names_its_holder_and_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let fs = StdFs;
        let p = dir.path().join(".a.log.lock");
        let held = fs.lock(&p, DEFAULT_FILE_MODE).unwrap();
        assert_eq!(held.path(), p);
        // A second open file description in the same process is refused, like another process.
        let e = fs.lock(&p, DEFAULT_FILE_MODE).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
        let locked = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<Locked>())
            .unwrap();
        assert_eq!(locked.path, p);
        assert_eq!(locked.pid, Some(std::process::id()));
        assert!(e.to_string().contains("held by another writer"), "{e}");
        drop(held);
        let again = fs.lock(&p, DEFAULT_FILE_MODE).unwrap();
        drop(again);
    }

    #[test]
    fn rename_noreplace_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        std::fs::write(&from, b"ours").unwrap();
        std::fs::write(&to, b"theirs").unwrap();
        let e = StdFs.rename_noreplace(&from, &to).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&to).unwrap(), b"theirs");
        assert_eq!(std::fs::read(&from).unwrap(), b"ours");
        std::fs::remove_file(&to).unwrap();
        StdFs.rename_noreplace(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"ours");
        assert!(!from.exists());
    }
}
