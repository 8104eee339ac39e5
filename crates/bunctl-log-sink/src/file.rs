//! [`FileSink`]: appends to one file, one `write(2)` per call.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bunctl_core::fs::{FileMeta, Filesystem, WriteFile};

use crate::Sink;

/// Appends batches to one file: one `write(2)` per [`Sink::write`], no user-space buffer (the
/// channel in front of it already batches), so what `write` accepted is in the page cache.
pub struct FileSink {
    fs: Arc<dyn Filesystem>,
    path: PathBuf,
    file: Box<dyn WriteFile>,
    size: u64,
    meta: FileMeta,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl FileSink {
    /// Opens `path` for appending, creating it if missing.
    ///
    /// An existing file whose last byte is not `\n` (a crash cut its last line) gets a `\n`
    /// first, so the next line is not glued to the torn one.
    ///
    /// # Errors
    /// The I/O error from opening, inspecting or repairing the file.
    pub fn open(fs: Arc<dyn Filesystem>, path: &Path) -> io::Result<Self> {
        let mut file = fs.open_append(path)?;
        let meta = fs.metadata(path)?;
        let mut size = meta.len;
        if size > 0 && fs.last_byte(path)? != Some(b'\n') {
            file.write_all(b"\n")?;
            size += 1;
        }
        Ok(Self {
            fs,
            path: path.to_path_buf(),
            file,
            size,
            meta,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file (as found at open, plus what this sink wrote).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file's metadata as found when it was opened.
    pub fn meta_at_open(&self) -> FileMeta {
        self.meta
    }

    /// The filesystem this sink writes through.
    pub fn filesystem(&self) -> &Arc<dyn Filesystem> {
        &self.fs
    }
}

impl Sink for FileSink {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        let n = self.file.write(batch)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn close(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_core::fs::StdFs;

    #[test]
    fn appends_and_counts_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"old\n").unwrap();
        let mut s = FileSink::open(StdFs::shared(), &p).unwrap();
        assert_eq!(s.size(), 4);
        s.write_all(b"new\n").unwrap();
        s.close().unwrap();
        assert_eq!(s.size(), 8);
        assert_eq!(std::fs::read(&p).unwrap(), b"old\nnew\n");
    }

    #[test]
    fn repairs_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"whole\ntor").unwrap();
        let mut s = FileSink::open(StdFs::shared(), &p).unwrap();
        s.write_all(b"next\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"whole\ntor\nnext\n");
        assert_eq!(s.size(), 15);
    }

    #[test]
    fn open_error_names_nothing_but_returns_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-dir").join("a.log");
        let e = FileSink::open(StdFs::shared(), &p).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
