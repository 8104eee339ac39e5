//! [`FileSink`]: appends to one file, one `write(2)` per call.
//!
//! Over 500 lines with its tests; the code (the sink, and how a file a crash cut is ended) is
//! about 390.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::time::SystemTime;

use bunctl_log_buffer::{
    cut_short_rest, ends_in_piece, marker_line, write_marker, LineFormat, Marker,
};
use bunctl_log_fs::{FileId, FileMeta, Filesystem, WriteFile};

use crate::Sink;

/// How a file's last line ends, as [`FileSink::open_after_crash`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LastLine {
    /// With its `\n`, and not a piece of a split line.
    Whole,
    /// Without its `\n`.
    Cut,
    /// With its `\n`, but a piece of a split line whose next pieces never came.
    Piece,
}

/// How the last line of the file of `size` bytes at `path` ends. Reads the last 4 KiB (more
/// than a raw piece's marker and a JSON line's fields after `log`), or 64 KiB for a JSON line
/// whose fields were not in them (a long `log_base64`).
fn last_line(
    fs: &dyn Filesystem,
    path: &Path,
    size: u64,
    format: LineFormat,
) -> io::Result<LastLine> {
    let mut file = fs.open_read_file(path)?;
    let mut tail = Vec::new();
    for len in [4u64 << 10, 64 << 10] {
        tail.clear();
        file.seek(SeekFrom::Start(size.saturating_sub(len)))?;
        (&mut file).take(len).read_to_end(&mut tail)?;
        let fields_seen = memchr::memmem::rfind(&tail, b"\",\"stream\":\"").is_some();
        if format != LineFormat::Json || fields_seen || size <= len {
            break;
        }
    }
    Ok(if tail.last() != Some(&b'\n') {
        LastLine::Cut
    } else if ends_in_piece(format, &tail) {
        LastLine::Piece
    } else {
        LastLine::Whole
    })
}

/// The rest of a cut-short marker that a crash tore at the end of the file of `size` bytes at
/// `path` (see [`cut_short_rest`]), if its last line is one.
fn torn_marker_rest(
    fs: &dyn Filesystem,
    path: &Path,
    size: u64,
    format: LineFormat,
    now: SystemTime,
) -> io::Result<Option<Vec<u8>>> {
    // More than any cut-short marker line's length in any format.
    const LONGEST: u64 = 512;
    let mut file = fs.open_read_file(path)?;
    let from = size.saturating_sub(LONGEST);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::new();
    file.take(LONGEST).read_to_end(&mut tail)?;
    let torn = match memchr::memrchr(b'\n', &tail) {
        Some(end) => &tail[end + 1..],
        None if from == 0 => &tail[..],
        None => return Ok(None),
    };
    Ok(cut_short_rest(format, torn, now))
}

/// How the path of a [`FileSink`] no longer names the file it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathChange {
    /// Nothing is at the path any more (`rm app.log`, or `mv app.log elsewhere`).
    Removed,
    /// Another file is at the path (moved away, then recreated by someone else).
    Replaced,
    /// A symbolic link is at the path.
    Symlink,
}

impl PathChange {
    /// Whether `path` still names the file `id`: `None` if it does, else how it changed.
    /// One `lstat(2)`.
    ///
    /// # Errors
    /// The error of `lstat` other than `NotFound` (it cannot be told then).
    pub fn at(fs: &dyn Filesystem, path: &Path, id: FileId) -> io::Result<Option<Self>> {
        match fs.metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(Self::Removed)),
            Err(e) => Err(e),
            Ok(m) if m.is_symlink => Ok(Some(Self::Symlink)),
            Ok(m) if m.id != Some(id) => Ok(Some(Self::Replaced)),
            Ok(_) => Ok(None),
        }
    }

    /// What happened, for log messages and marker lines: "removed", ...
    pub fn describe(self) -> &'static str {
        match self {
            Self::Removed => "removed or renamed",
            Self::Replaced => "replaced by another file",
            Self::Symlink => "replaced by a symbolic link",
        }
    }
}

/// Appends batches to one file: one `write(2)` per [`Sink::write`], no user-space buffer (the
/// channel in front of it already batches), so what `write` accepted is in the page cache.
///
/// With [`with_background_sync`](Self::with_background_sync), every so many bytes a short-lived
/// thread `fdatasync`s a second handle on the file while writing goes on, so the fsync that
/// rotation and close must wait for finds little left to do.
pub struct FileSink {
    fs: Arc<dyn Filesystem>,
    path: PathBuf,
    file: Box<dyn WriteFile>,
    size: u64,
    /// `size` at the last successful sync: nothing to sync at close if it still is.
    synced: u64,
    meta: FileMeta,
    /// Which file the handle has open, to notice the path naming another one.
    id: Option<FileId>,
    background_sync: Option<BackgroundSync>,
}

/// State of [`FileSink::with_background_sync`].
struct BackgroundSync {
    every: u64,
    /// File size when the last background sync started.
    last: u64,
    /// Whether one is running: never more than one per file.
    running: Arc<AtomicBool>,
    /// The error of a background sync not yet reported. Held by the background thread while
    /// it syncs, so a foreground sync waits for it before it says whether the data is durable.
    failure: Arc<Mutex<Option<io::Error>>>,
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
    /// Opens `path` for appending, creating it with `mode` if missing, never through a
    /// symlink (a symlink at `path` is an error naming it,
    /// [`SymlinkRefused`](bunctl_log_fs::SymlinkRefused)).
    ///
    /// An existing file whose last byte is not `\n` (a crash cut its last line) gets a `\n`
    /// and the [`Marker::CutShort`] line (in the file's `format`) first, so the next line is
    /// not glued to the cut one and a reader sees why it is short.
    ///
    /// # Errors
    /// The I/O error from opening, inspecting or repairing the file.
    pub fn open(
        fs: Arc<dyn Filesystem>,
        path: &Path,
        mode: u32,
        format: LineFormat,
    ) -> io::Result<Self> {
        Self::open_repairing(fs, path, mode, format, false)
    }

    /// [`open`](Self::open) for the live file after a crash: a file that ends in a piece of a
    /// split line (a writer stopped between two pieces) gets the cut-short marker too, so the
    /// next writer's first line does not read as that line's continuation. Only here: a
    /// rotation may end a file between two pieces, the rest going on in the next file.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_after_crash(
        fs: Arc<dyn Filesystem>,
        path: &Path,
        mode: u32,
        format: LineFormat,
    ) -> io::Result<Self> {
        Self::open_repairing(fs, path, mode, format, true)
    }

    fn open_repairing(
        fs: Arc<dyn Filesystem>,
        path: &Path,
        mode: u32,
        format: LineFormat,
        pieces: bool,
    ) -> io::Result<Self> {
        let mut file = fs.open_append(path, mode)?;
        let meta = fs.metadata(path)?;
        let id = file.file_id()?;
        let mut size = meta.len;
        let last = match size {
            0 => LastLine::Whole,
            _ if pieces => last_line(fs.as_ref(), path, size, format)?,
            _ if fs.last_byte(path)? == Some(b'\n') => LastLine::Whole,
            _ => LastLine::Cut,
        };
        let mut synced = meta.len;
        if last != LastLine::Whole {
            let now = SystemTime::now();
            let repair = match last {
                LastLine::Cut => match torn_marker_rest(fs.as_ref(), path, size, format, now)? {
                    // A power cut tore the marker an earlier recovery wrote: its rest ends it.
                    Some(rest) => rest,
                    None => {
                        let mut repair = b"\n".to_vec();
                        write_marker(format, &Marker::CutShort, now, &mut repair);
                        repair
                    }
                },
                _ => marker_line(format, &Marker::CutShort, now),
            };
            file.write_all(&repair)?;
            size += repair.len() as u64;
            // Durable at once (a rare fdatasync: only after a crash), so that a power cut
            // soon after cannot tear the marker itself.
            file.sync_data()?;
            synced = size;
            tracing::warn!(path = %path.display(), "log file ended in the middle of a line; ended it with a marker");
        }
        Ok(Self {
            fs,
            path: path.to_path_buf(),
            file,
            size,
            // What was there before is taken as it is (another process wrote it).
            synced,
            meta,
            id,
            background_sync: None,
        })
    }

    /// Whether the path still names the file this sink writes: `None` if it does (or the
    /// platform cannot tell), else how it changed. One `lstat(2)`.
    ///
    /// # Errors
    /// The error of `lstat` other than `NotFound` (the sink cannot tell then).
    pub fn path_change(&self) -> io::Result<Option<PathChange>> {
        match self.id {
            Some(id) => PathChange::at(self.fs.as_ref(), &self.path, id),
            None => Ok(None),
        }
    }

    /// The identity of the file this sink writes, where the platform has one: what
    /// [`PathChange::at`] compares the path with once the sink is closed.
    pub fn file_id(&self) -> Option<FileId> {
        self.id
    }

    /// Starts a background `fdatasync` each time `every` more bytes were written (0 turns it
    /// off). It is an optimisation only: errors are left for the foreground fsync to report,
    /// and if no thread can be started the sync is simply skipped.
    pub fn with_background_sync(mut self, every: u64) -> Self {
        self.background_sync = (every > 0).then(|| BackgroundSync {
            every,
            last: self.size,
            running: Arc::new(AtomicBool::new(false)),
            failure: Arc::new(Mutex::new(None)),
        });
        self
    }

    fn maybe_sync_in_background(&mut self) {
        let Some(bg) = self.background_sync.as_mut() else {
            return;
        };
        if self.size - bg.last < bg.every || bg.running.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut handle) = self.file.try_clone() else {
            return;
        };
        bg.last = self.size;
        bg.running.store(true, Ordering::Release);
        let running = bg.running.clone();
        let failure = bg.failure.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{}-sync", bunctl_log_fs::THREAD_NAME_PREFIX))
            .stack_size(64 << 10)
            .spawn(move || {
                let mut failed = failure.lock().unwrap_or_else(PoisonError::into_inner);
                if let Err(e) = handle.sync_data() {
                    // Linux reports a writeback error once per open file description, which
                    // this handle shares with the sink's: kept, or the next fsync would say
                    // the lost pages are on disk.
                    tracing::warn!(error = %e, "background fdatasync failed");
                    failed.get_or_insert(e);
                }
                drop(failed);
                running.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            bg.running.store(false, Ordering::Release);
        }
    }

    /// The failure of a background sync not reported yet, as an error naming the file; waits
    /// for a background sync still running.
    fn take_background_failure(&mut self) -> io::Result<()> {
        let Some(bg) = &self.background_sync else {
            return Ok(());
        };
        let taken = bg
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match taken {
            None => Ok(()),
            Some(e) => Err(io::Error::new(
                e.kind(),
                format!(
                    "a background fdatasync of {} failed ({e}): lines written before it may not \
                     be on disk",
                    self.path.display()
                ),
            )),
        }
    }

    /// Records that the file is now at `path` (the caller renamed it): later
    /// [`path_change`](Self::path_change) checks compare `path` with the open file.
    pub fn renamed_to(&mut self, path: &Path) {
        self.path = path.to_path_buf();
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
        self.maybe_sync_in_background();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// `fdatasync`, then the error of a background sync since the last call, if one failed:
    /// what it was syncing may never have reached the disk, whatever this sync says.
    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        self.take_background_failure()?;
        self.synced = self.size;
        Ok(())
    }

    /// Flushes, and syncs unless nothing was written since the last sync: closing a thousand
    /// idle writers costs no fsync each.
    fn close(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.size == self.synced {
            return self.take_background_failure();
        }
        self.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_buffer::CUT_LINE_MARKER;
    use bunctl_log_fs::StdFs;

    #[test]
    fn appends_and_counts_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        std::fs::write(&p, b"old\n").unwrap();
        let mut s = FileSink::open(StdFs::shared(), &p, 0o640, LineFormat::Raw).unwrap();
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
        let mut s = FileSink::open(StdFs::shared(), &p, 0o640, LineFormat::Raw).unwrap();
        s.write_all(b"next\n").unwrap();
        let want = [&b"whole\ntor\n"[..], CUT_LINE_MARKER, b"next\n"].concat();
        assert_eq!(std::fs::read(&p).unwrap(), want);
        assert_eq!(s.size(), want.len() as u64);
    }

    #[test]
    fn a_torn_cut_short_marker_is_ended_by_its_rest_not_by_a_second_marker() {
        // 17 suspect 6: a power cut tore the marker the last recovery wrote after a cut line.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/c/a.log");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        for open in [FileSink::open, FileSink::open_after_crash] {
            let torn = [&b"whole\ntor\n"[..], &CUT_LINE_MARKER[..30]].concat();
            std::fs::write(&p, &torn).unwrap();
            let mut s = open(StdFs::shared(), &p, 0o640, LineFormat::Raw).unwrap();
            s.write_all(b"next\n").unwrap();
            let want = [&b"whole\ntor\n"[..], CUT_LINE_MARKER, b"next\n"].concat();
            assert_eq!(std::fs::read(&p).unwrap(), want);
            assert_eq!(s.size(), want.len() as u64);
        }
    }

    #[test]
    fn a_file_ending_in_a_piece_of_a_split_line_gets_the_cut_short_marker() {
        // A writer killed between two pieces of a long line: the piece on disk is whole, the
        // line is not, and the next writer's first line must not read as its continuation.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let piece = [
            &b"first\nabcd"[..],
            bunctl_log_buffer::CONTINUATION_MARKER,
            b"\n",
        ]
        .concat();
        std::fs::write(&p, &piece).unwrap();
        // A rotation may end a file between two pieces: a plain open leaves it as it is.
        drop(FileSink::open(StdFs::shared(), &p, 0o640, LineFormat::Raw).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), piece);
        let mut s =
            FileSink::open_after_crash(StdFs::shared(), &p, 0o640, LineFormat::Raw).unwrap();
        s.write_all(b"next-writer-line\n").unwrap();
        let want = [&piece[..], CUT_LINE_MARKER, b"next-writer-line\n"].concat();
        assert_eq!(std::fs::read(&p).unwrap(), want);
        // A whole last line is left as it is.
        drop(s);
        let s = FileSink::open_after_crash(StdFs::shared(), &p, 0o640, LineFormat::Raw).unwrap();
        assert_eq!(s.size(), want.len() as u64);
    }

    #[test]
    fn background_sync_runs_every_so_many_bytes_off_the_writing_thread() {
        use bunctl_log_fs::{FaultFs, Op};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let (fs, faults) = FaultFs::shared();
        let mut s = FileSink::open(fs, &p, 0o640, LineFormat::Raw)
            .unwrap()
            .with_background_sync(100);
        s.write_all(&[b'x'; 99]).unwrap();
        assert_eq!(faults.calls(Op::SyncData), 0, "not due before 100 bytes");
        s.write_all(b"\n").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while faults.calls(Op::SyncData) == 0 {
            assert!(std::time::Instant::now() < deadline, "no background sync");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // A failing background sync is not this sink's error: writing goes on.
        faults.fail_always(Op::SyncData, io::ErrorKind::Other);
        s.write_all(&[b'y'; 200]).unwrap();
        assert_eq!(std::fs::read(&p).unwrap().len(), 300);
    }

    #[test]
    fn a_failed_background_sync_is_reported_by_the_next_sync_not_lost() {
        // 17 suspect 2: the kernel reports a writeback error once per open file description,
        // which the background handle shares; the sink's own next fdatasync would succeed.
        use bunctl_log_fs::{FaultFs, Op};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let (fs, faults) = FaultFs::shared();
        let mut s = FileSink::open(fs, &p, 0o640, LineFormat::Raw)
            .unwrap()
            .with_background_sync(100);
        faults.fail(Op::SyncData, io::ErrorKind::Other, 1);
        s.write_all(&[b'x'; 100]).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while faults.failures(Op::SyncData) == 0 {
            assert!(std::time::Instant::now() < deadline, "no background sync");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let e = s.sync().unwrap_err();
        assert!(e.to_string().contains("background fdatasync"), "{e}");
        // Reported once; what is written after it syncs as usual.
        s.write_all(b"\n").unwrap();
        s.sync().unwrap();
        s.close().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn notices_the_path_removed_moved_replaced_or_symlinked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let s = FileSink::open(StdFs::shared(), &p, 0o640, LineFormat::Raw).unwrap();
        assert_eq!(s.path_change().unwrap(), None);
        std::fs::rename(&p, dir.path().join("a.old")).unwrap();
        assert_eq!(s.path_change().unwrap(), Some(PathChange::Removed));
        std::fs::write(&p, b"").unwrap();
        assert_eq!(s.path_change().unwrap(), Some(PathChange::Replaced));
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(dir.path().join("a.old"), &p).unwrap();
        assert_eq!(s.path_change().unwrap(), Some(PathChange::Symlink));
    }

    #[test]
    fn open_error_names_nothing_but_returns_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-dir").join("a.log");
        let e = FileSink::open(StdFs::shared(), &p, 0o640, LineFormat::Raw).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
