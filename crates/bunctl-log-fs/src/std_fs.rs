//! [`StdFs`]: the real filesystem, through `std::fs`, keeping the promises of the seam (see the
//! crate docs): no symlink followed at the last component, files created with their mode,
//! advisory locks, identities from device and inode.

use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use crate::{FileId, FileLock, FileMeta, Filesystem, Locked, ReadFile, SymlinkRefused, WriteFile};

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

    fn file_id(&self) -> io::Result<Option<FileId>> {
        Ok(file_id_of(&self.0.metadata()?))
    }
}

impl ReadFile for std::fs::File {
    fn meta(&self) -> io::Result<FileMeta> {
        Ok(meta_of(&self.metadata()?))
    }
}

fn meta_of(m: &std::fs::Metadata) -> FileMeta {
    FileMeta {
        len: m.len(),
        modified: m.modified().ok(),
        id: file_id_of(m),
        mode: mode_of(m),
        is_symlink: m.file_type().is_symlink(),
    }
}

fn file_id_of(m: &std::fs::Metadata) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        None
    }
}

fn mode_of(m: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(m.mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        None
    }
}

/// Options that never follow a symlink at the last component and create files with `mode`.
fn no_follow(mode: u32) -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn symlink_refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        SymlinkRefused {
            path: path.to_path_buf(),
        },
    )
}

/// Opens `path` with `options`, never through a symlink. `O_NOFOLLOW` fails with ELOOP on
/// Linux and EMLINK on the BSDs; rather than decode those, a failed open asks `lstat` whether
/// the path is a symlink. Without `O_NOFOLLOW` (not Unix), the check comes first.
fn open_no_follow(options: &std::fs::OpenOptions, path: &Path) -> io::Result<std::fs::File> {
    if cfg!(not(unix)) && is_symlink(path) {
        return Err(symlink_refused(path));
    }
    options.open(path).map_err(|e| {
        if e.kind() != io::ErrorKind::AlreadyExists && is_symlink(path) {
            symlink_refused(path)
        } else {
            e
        }
    })
}

impl Filesystem for StdFs {
    fn open_append(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>> {
        let f = open_no_follow(no_follow(mode).create(true).append(true), path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn create_new(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>> {
        let f = open_no_follow(no_follow(mode).write(true).create_new(true), path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(open_no_follow(no_follow(0).read(true), path)?))
    }

    fn open_read_file(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        Ok(Box::new(open_no_follow(no_follow(0).read(true), path)?))
    }

    fn last_byte(&self, path: &Path) -> io::Result<Option<u8>> {
        use std::io::SeekFrom;
        let mut f = open_no_follow(no_follow(0).read(true), path)?;
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

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{renameat_with, RenameFlags, CWD};
            match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                // A filesystem without the flag: link and unlink below.
                Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Two steps: a crash between them leaves both names on one file, which a reader of
        // both must tell by the file's id.
        std::fs::hard_link(from, to)?;
        std::fs::remove_file(from)
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
        Ok(meta_of(&std::fs::symlink_metadata(path)?))
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

    fn create_dir_all(&self, dir: &Path, mode: u32) -> io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        builder.create(dir)
    }

    fn lock(&self, path: &Path, mode: u32) -> io::Result<FileLock> {
        use std::io::SeekFrom;
        let mut file = open_no_follow(no_follow(mode).read(true).write(true).create(true), path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    Locked {
                        path: path.to_path_buf(),
                        pid,
                    },
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        // The pid is for the error a second writer gets; the lock itself is what counts, so
        // failing to write it is not an error.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        Ok(FileLock {
            path: path.to_path_buf(),
            id: file.metadata().ok().as_ref().and_then(file_id_of),
            _file: Some(file),
        })
    }
}
