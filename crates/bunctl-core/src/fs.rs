//! The filesystem seam.
//!
//! Every file operation of the log subsystem goes through [`Filesystem`]: the real one is
//! [`StdFs`]; tests wrap it to fail a chosen operation with a real [`std::io::ErrorKind`]
//! (`StorageFull`, `PermissionDenied`, ...) at a chosen moment. The trait is object safe and
//! shared as `Arc<dyn Filesystem>`; it is called once per batch or per rotation, never per line,
//! so dynamic dispatch costs nothing measurable.

mod fault;

pub use fault::{FaultFs, Faults, Op};

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

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
}

/// What the log subsystem needs to know about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Length in bytes.
    pub len: u64,
    /// Last modification time, where the platform has one.
    pub modified: Option<SystemTime>,
}

/// The file operations the log subsystem uses, as a seam for error injection.
pub trait Filesystem: Send + Sync + 'static {
    /// Opens `path` for appending, creating it if missing.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WriteFile>>;
    /// Creates `path` for writing, truncating it if it exists.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>>;
    /// Opens `path` for reading.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// Reads the last byte of `path`, or `None` if it is empty.
    fn last_byte(&self, path: &Path) -> io::Result<Option<u8>>;
    /// Renames `from` to `to`, replacing `to` (atomic on POSIX within one filesystem).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory entries of `dir` durable (`fsync` on the directory); a no-op where
    /// the platform cannot do it.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Length and modification time of `path`.
    fn metadata(&self, path: &Path) -> io::Result<FileMeta>;
    /// The names (not paths) of the entries of `dir`.
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
}

/// The real filesystem, through `std::fs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFs;

impl StdFs {
    /// `StdFs` as the shared trait object the layers take.
    pub fn shared() -> Arc<dyn Filesystem> {
        Arc::new(StdFs)
    }
}

struct StdFile(std::fs::File);

impl Write for StdFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteFile for StdFile {
    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn try_clone(&self) -> io::Result<Box<dyn WriteFile>> {
        Ok(Box::new(StdFile(self.0.try_clone()?)))
    }
}

impl Filesystem for StdFs {
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        Ok(Box::new(StdFile(std::fs::File::create(path)?)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::fs::File::open(path)?))
    }

    fn last_byte(&self, path: &Path) -> io::Result<Option<u8>> {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        if len == 0 {
            return Ok(None);
        }
        f.seek(SeekFrom::Start(len - 1))?;
        let mut b = [0u8; 1];
        f.read_exact(&mut b)?;
        Ok(Some(b[0]))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::fs::File::open(dir)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            Ok(())
        }
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        let m = std::fs::metadata(path)?;
        Ok(FileMeta {
            len: m.len(),
            modified: m.modified().ok(),
        })
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
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
    use super::*;

    #[test]
    fn std_fs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let fs = StdFs;
        let p = dir.path().join("a.log");
        assert!(fs.metadata(&p).is_err());
        let mut f = fs.open_append(&p).unwrap();
        f.write_all(b"hello\n").unwrap();
        f.sync_data().unwrap();
        drop(f);
        assert_eq!(fs.metadata(&p).unwrap().len, 6);
        assert_eq!(fs.last_byte(&p).unwrap(), Some(b'\n'));
        let q = dir.path().join("b.log");
        fs.rename(&p, &q).unwrap();
        fs.sync_dir(dir.path()).unwrap();
        assert_eq!(fs.read_dir(dir.path()).unwrap(), vec!["b.log".to_string()]);
        let mut s = String::new();
        fs.open_read(&q).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello\n");
        fs.remove_file(&q).unwrap();
        assert!(fs.read_dir(dir.path()).unwrap().is_empty());
        let e = fs.create(&q).unwrap();
        drop(e);
        assert_eq!(fs.last_byte(&q).unwrap(), None);
    }

    #[test]
    fn parent_of_bare_name_is_cwd() {
        assert_eq!(parent_dir(Path::new("a.log")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("/x/a.log")), PathBuf::from("/x"));
    }
}
