//! `tail -f`: prints the last lines, then every line written after them, following the live
//! file across rotations, woken by inotify (polling only where it is unavailable).
//!
//! **No rotation is missed, however fast files rotate.** Rotating renames the live file to an
//! archive with the next sequence number, always larger than any before, and creates a new
//! live file. Noticing the new live file and opening it is not enough: by then it may have been
//! rotated too, its lines already in an archive. So the follower keeps a *floor*, a sequence
//! number such that the live file it has open will become the first archive above it:
//!
//! 1. The live file is opened between two listings of the archives that find the same largest
//!    sequence number (else a rotation happened in between, and it tries again). The file it
//!    opened was then the live file, and no rotation had happened since the first listing: its
//!    archive, when it is rotated, will be the first above that number, the floor.
//! 2. It prints what is appended to the open file. When the path names another file (or none),
//!    the open file was rotated (or removed): it prints the rest of the open file, which the
//!    writer no longer touches once it has renamed it, and then every archive above the floor
//!    except the open file's own (the first one above the floor, recognised by its inode, or
//!    by its size once it is compressed), fully and in order: these are live files that
//!    came and went while it was reading. Then it opens the new live file as in 1.
//!
//! An archive deleted by retention before it could be read is missed (with a warning): keep
//! enough of them (`--keep`) for the follower to catch up.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use bunctl_log_rotation::{Archive, ArchiveNaming};
use bunctl_logging::StdFs;
use notify::Watcher;

/// How long to wait for an inotify event before looking anyway (a safety net, and the time
/// it takes to notice a directory that was removed and created again).
const WATCH_TIMEOUT: Duration = Duration::from_secs(1);

/// How often to look for new lines where inotify is unavailable.
const POLL: Duration = Duration::from_millis(100);

/// Prints the last `n` lines of the logs whose live file is `live`, then follows it, forever
/// (until writing to `out` fails).
///
/// # Errors
/// If the files cannot be read or `out` cannot be written.
pub fn follow(live: &Path, n: usize, out: &mut impl Write) -> io::Result<()> {
    let naming = ArchiveNaming::new(live)?;
    let mut waker = Waker::new(&naming);
    let mut follower = Follower {
        live: live.to_path_buf(),
        naming,
        floor: 0,
        cur: None,
    };
    let (archives, file, floor) = follower.open_live()?;
    let paths: Vec<PathBuf> = archives.into_iter().map(|a| a.path).collect();
    let file = crate::read::tail_open(&paths, file, n, out)?;
    follower.floor = floor;
    follower.cur = file.map(Open::new).transpose()?;
    loop {
        if follower.step(out)? {
            waker.wait();
        }
    }
}

/// A file being followed.
struct Open {
    file: File,
    id: FileId,
}

impl Open {
    fn new(file: File) -> io::Result<Self> {
        let id = file_id(&file.metadata()?);
        Ok(Self { file, id })
    }
}

struct Follower {
    live: PathBuf,
    naming: ArchiveNaming,
    /// The open live file becomes the first archive above this sequence number, and every
    /// archive up to it has been printed (or was there before `tail` started).
    floor: u64,
    cur: Option<Open>,
}

impl Follower {
    /// Prints what is new; returns `true` if there is nothing more to do until something
    /// changes.
    fn step(&mut self, out: &mut impl Write) -> io::Result<bool> {
        let Some(mut open) = self.cur.take() else {
            // No live file: see whether there is one now.
            let (archives, file, floor) = self.open_live()?;
            self.print_archives(&archives, out)?;
            self.floor = floor;
            self.cur = file.map(Open::new).transpose()?;
            return Ok(self.cur.is_none());
        };
        copy_new(&mut open, &self.live, out)?;
        if self.is_live(&open)? {
            self.cur = Some(open);
            return Ok(true);
        }
        // Rotated or removed: its last lines (the writer renames only after its last write).
        copy_new(&mut open, &self.live, out)?;
        let len = open.file.metadata()?.len();
        let above: Vec<Archive> = self
            .scan()?
            .into_iter()
            .filter(|a| a.seq > self.floor)
            .collect();
        if let Some(first) = above.first() {
            if is_archive_of(first, open.id, len) {
                self.floor = first.seq;
            }
        }
        Ok(false)
    }

    /// Whether the live path still names `open`.
    fn is_live(&self, open: &Open) -> io::Result<bool> {
        match std::fs::symlink_metadata(&self.live) {
            Ok(m) => Ok(file_id(&m) == open.id),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn scan(&self) -> io::Result<Vec<Archive>> {
        Ok(self.naming.scan(&StdFs)?.archives)
    }

    /// Opens the live file (`None` if there is none) between two listings that agree: returns
    /// the archives above the floor as the first listing found them, the file, and the largest
    /// sequence number, which its archive will be the first above.
    fn open_live(&self) -> io::Result<(Vec<Archive>, Option<File>, u64)> {
        let top = |archives: &[Archive]| archives.iter().map(|a| a.seq).fold(self.floor, u64::max);
        loop {
            let before = self.scan()?;
            let file = match File::open(&self.live) {
                Ok(f) => Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            let after = self.scan()?;
            if top(&before) == top(&after) {
                let floor = top(&before);
                let above = before.into_iter().filter(|a| a.seq > self.floor).collect();
                return Ok((above, file, floor));
            }
            // A rotation between the listings: the file may be any generation. Again.
        }
    }

    /// Prints `archives` whole, oldest first.
    fn print_archives(&self, archives: &[Archive], out: &mut impl Write) -> io::Result<()> {
        for a in archives {
            match crate::read::open_existing(&a.path)? {
                Some(mut read) => {
                    io::copy(&mut read, out)?;
                }
                None => eprintln!(
                    "bunctl-log: {} was removed before tail could read it: its lines are missed",
                    a.path.display()
                ),
            }
        }
        out.flush()
    }
}

/// Prints what was appended to `open` since the last call. A file that shrank below what was
/// printed (truncated in place by someone) is printed again from its start, as `tail -F` does.
fn copy_new(open: &mut Open, live: &Path, out: &mut impl Write) -> io::Result<()> {
    let pos = open.file.stream_position()?;
    if open.file.metadata()?.len() < pos {
        eprintln!("bunctl-log: {}: file truncated", live.display());
        open.file.seek(SeekFrom::Start(0))?;
    }
    io::copy(&mut open.file, out)?;
    out.flush()
}

/// Whether `archive`, the first archive above the floor, is the rotated `open` file, which
/// held `len` bytes: the same inode while it is plain; once compressed, a `.gz` of the same
/// size (gzip's trailer holds the size, modulo 2^32).
fn is_archive_of(archive: &Archive, id: FileId, len: u64) -> bool {
    let plain = match archive.path.to_str().and_then(|p| p.strip_suffix(".gz")) {
        Some(p) => PathBuf::from(p),
        None => archive.path.clone(),
    };
    if let Ok(m) = std::fs::symlink_metadata(&plain) {
        return file_id(&m) == id;
    }
    let mut gz = plain.into_os_string();
    gz.push(".gz");
    gzip_size(Path::new(&gz)).is_some_and(|size| size == len as u32)
}

/// The uncompressed size modulo 2^32 in a gzip file's trailer.
fn gzip_size(path: &Path) -> Option<u32> {
    let mut f = File::open(path).ok()?;
    f.seek(SeekFrom::End(-4)).ok()?;
    let mut size = [0u8; 4];
    f.read_exact(&mut size).ok()?;
    Some(u32::from_le_bytes(size))
}

/// What tells two files apart: device and inode.
#[cfg(unix)]
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// What tells two files apart without inodes: the creation time.
#[cfg(not(unix))]
type FileId = Option<std::time::SystemTime>;

#[cfg(not(unix))]
fn file_id(m: &std::fs::Metadata) -> FileId {
    m.created().ok()
}

/// Wakes the follower when something happens to the app's files: an inotify watch on their
/// directory, or a timer where there is none.
struct Waker {
    dir: PathBuf,
    /// Events about names starting with this (`app.`), and about the directory.
    prefix: String,
    tx: mpsc::SyncSender<()>,
    rx: mpsc::Receiver<()>,
    watch: Option<(notify::RecommendedWatcher, FileId)>,
    /// Why the directory cannot be watched, once said.
    said: bool,
}

impl Waker {
    fn new(naming: &ArchiveNaming) -> Self {
        let live_name = naming
            .live_path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = live_name
            .rsplit_once('.')
            .map_or(live_name.as_str(), |(stem, _)| stem);
        // One pending wake-up is enough: the follower looks at everything when it wakes.
        let (tx, rx) = mpsc::sync_channel(1);
        let mut waker = Self {
            dir: naming.dir().to_path_buf(),
            prefix: format!("{stem}."),
            tx,
            rx,
            watch: None,
            said: false,
        };
        waker.ensure_watch();
        waker
    }

    /// Watches the directory if it exists and is not watched yet (or was replaced).
    fn ensure_watch(&mut self) {
        let Ok(meta) = std::fs::metadata(&self.dir) else {
            self.watch = None; // not there (yet): poll until it is
            return;
        };
        let id = file_id(&meta);
        if self
            .watch
            .as_ref()
            .is_some_and(|(_, watched)| *watched == id)
        {
            return;
        }
        let (tx, prefix, dir) = (self.tx.clone(), self.prefix.clone(), self.dir.clone());
        let handler = move |event: notify::Result<notify::Event>| {
            let relevant = event.as_ref().map_or(true, |e| {
                e.need_rescan()
                    || e.paths.iter().any(|p| {
                        *p == dir
                            || p.file_name()
                                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                    })
            });
            if relevant {
                // Full: a wake-up is pending already.
                let _ = tx.try_send(());
            }
        };
        let watched = notify::recommended_watcher(handler).and_then(|mut w| {
            w.watch(&self.dir, notify::RecursiveMode::NonRecursive)?;
            Ok(w)
        });
        match watched {
            Ok(w) => {
                self.watch = Some((w, id));
                // Something may have happened before the watch: look once more.
                let _ = self.tx.try_send(());
            }
            Err(e) => {
                self.watch = None;
                if !self.said {
                    eprintln!(
                        "bunctl-log: cannot watch {} ({e}): looking for changes every {} ms",
                        self.dir.display(),
                        POLL.as_millis()
                    );
                    self.said = true;
                }
            }
        }
    }

    /// Returns when something may have changed.
    fn wait(&mut self) {
        let timeout = if self.watch.is_some() {
            WATCH_TIMEOUT
        } else {
            POLL
        };
        if self.rx.recv_timeout(timeout).is_err() {
            // Nothing for a while: is the watch still on the directory that is there?
            self.ensure_watch();
        }
        while self.rx.try_recv().is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn archive(path: &Path, compressed: bool) -> Archive {
        Archive {
            seq: 1,
            path: path.to_path_buf(),
            compressed,
            plain_leftover: None,
        }
    }

    #[test]
    fn the_open_files_archive_is_known_by_its_inode_then_by_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.20200101T000000Z-000001.log");
        std::fs::write(&plain, b"one\ntwo\n").unwrap();
        let open = Open::new(File::open(&plain).unwrap()).unwrap();
        assert!(is_archive_of(&archive(&plain, false), open.id, 8));
        // Another file at that name.
        let other = dir.path().join("other");
        std::fs::write(&other, b"one\ntwo\n").unwrap();
        let other_id = file_id(&std::fs::metadata(&other).unwrap());
        assert!(!is_archive_of(&archive(&plain, false), other_id, 8));

        // Compressed, the plain file gone: the size in the gzip trailer.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"one\ntwo\n").unwrap();
        let gz_path = dir.path().join("a.20200101T000000Z-000001.log.gz");
        std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
        std::fs::remove_file(&plain).unwrap();
        assert_eq!(gzip_size(&gz_path), Some(8));
        for listed in [archive(&gz_path, true), archive(&plain, false)] {
            assert!(is_archive_of(&listed, open.id, 8));
            assert!(!is_archive_of(&listed, open.id, 9));
        }
        // Gone altogether (retention): not the open file's.
        std::fs::remove_file(&gz_path).unwrap();
        assert!(!is_archive_of(&archive(&gz_path, true), open.id, 8));
    }
}
