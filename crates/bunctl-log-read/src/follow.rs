//! Following: the last lines, then every line written after them, across rotations, each line
//! once, none missed.
//!
//! **No rotation is missed, however fast files rotate.** Rotating renames the live file to an
//! archive with the next sequence number, one above every number before, and then a new file
//! takes the live name. Noticing the new live file and opening it is not enough: by then it
//! may have been rotated too, its lines already in an archive. So the follower keeps a
//! *floor*, a sequence number such that the live file it holds will become the first archive
//! above it:
//!
//! 1. It holds the live file of a [`snapshot`](crate::snapshot): a file that was live while
//!    the archives were listed, so its archive, when it is rotated, will be the first above
//!    the largest number listed, the floor.
//! 2. It reads what is appended to the file it holds. When the live path names another file
//!    (or none), that file was rotated (or removed): it reads the rest of it, which the writer
//!    no longer touches once it has renamed it, then takes a new snapshot and reads every
//!    archive above the floor except the held file's own (the first one above the floor,
//!    recognised by its identity, or by its size once it is compressed) whole, in order:
//!    these were live files that came and went meanwhile. Then it holds the snapshot's live
//!    file, from its start.
//!
//! The snapshot's listing is itself proof against a listing that misses an archive being
//! compressed (see [`files`](crate::files)). An archive deleted by retention before it could be
//! read is missed, with a [`Notice`]: keep enough of them for the follower to catch up.
//!
//! [`Follower`] is the blocking follower (what `bunctl-log tail -f` runs); [`follow`](fn@crate::follow)
//! runs one on a thread of its own as an async [`Stream`](futures_core::Stream) of lines.
//!
//! Over 500 lines with its tests; the code (the follower and its floor, the rules above) is
//! about 500.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use bunctl_log_fs::{FileId, Filesystem, ReadFile};
use bunctl_log_rotation::{Archive, ArchiveNaming, GZ_SUFFIX};

use crate::error::{Context, Error, Result};
use crate::files::{open_archive, same_file, snapshot_above, LiveFile, Snapshot};
use crate::last::{last_lines_of, BLOCK};
use crate::since::{last_in_window_of, lines_in_window_of, Window, WindowCounts};
use crate::watch::Waker;

/// Something a follower wants its user to know, besides lines.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// The file followed shrank below what was read (someone truncated it in place): it is
    /// read again from its start, as `tail -F` does.
    Truncated(PathBuf),
    /// An archive was removed (by retention) before the follower could read it: its lines are
    /// missed.
    Missed(PathBuf),
    /// Archives were removed (by retention) before the follower could even list them: the
    /// lines of the archives numbered `first` to `last` of the live file `live` are missed.
    /// Their names (which hold the times their files were opened) and line counts are gone
    /// with them.
    Gone {
        /// The live file followed.
        live: PathBuf,
        /// The first sequence number missed.
        first: u64,
        /// The last sequence number missed.
        last: u64,
    },
    /// The directory cannot be watched: the follower looks for changes every
    /// [`POLL`](crate::POLL) instead. The text says why.
    Polling(String),
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated(p) => write!(f, "{}: file truncated", p.display()),
            Self::Missed(p) => write!(
                f,
                "{} was removed before it could be read: its lines are missed",
                p.display()
            ),
            Self::Gone { live, first, last } => {
                let count = last - first + 1;
                let (files, were) = if count == 1 {
                    (format!("archive {first}"), "was")
                } else {
                    (format!("{count} archives ({first} to {last})"), "were")
                };
                write!(
                    f,
                    "{files} of {} {were} removed before they could be read: their lines are \
                     missed (keep more files, or read faster)",
                    live.display()
                )
            }
            Self::Polling(why) => f.write_str(why),
        }
    }
}

/// A file being followed.
struct Open {
    path: PathBuf,
    file: Box<dyn ReadFile>,
    id: Option<FileId>,
    /// Bytes read so far.
    pos: u64,
    /// The start of a line whose end is not written yet.
    partial: Vec<u8>,
}

impl Open {
    fn from_live(live: LiveFile, pos: u64) -> Self {
        let (path, id) = (live.path().to_path_buf(), live.id());
        Self {
            path,
            file: live.into_file(),
            id,
            pos,
            partial: Vec::new(),
        }
    }
}

/// What a follower hands out: bytes holding whole lines, each ending in `\n`.
pub type Emit<'a> = dyn FnMut(&[u8]) -> io::Result<()> + 'a;

/// What a follower hands out first: lines (without their `\n`) picked from the snapshot it
/// starts at.
type FirstLines<'a> =
    dyn FnMut(&dyn Filesystem, &ArchiveNaming, &mut Snapshot) -> Result<Vec<Vec<u8>>> + 'a;

/// A blocking follower (see the [module docs](self)).
pub struct Follower {
    fs: Arc<dyn Filesystem>,
    naming: ArchiveNaming,
    /// The held live file becomes the first archive above this number, and every archive up
    /// to it has been read (or was there before the follower started).
    floor: u64,
    cur: Option<Open>,
    /// The last lines, handed out first.
    first: Option<Vec<u8>>,
    notices: Vec<Notice>,
    waker: Waker,
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("live", &self.naming.live_path())
            .field("floor", &self.floor)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// A follower of the logs whose live file is `live`, that first hands out their last `n`
    /// lines, then every line written after them.
    ///
    /// # Errors
    /// If the files cannot be listed or read.
    pub fn new(fs: Arc<dyn Filesystem>, live: &Path, n: usize) -> Result<Self> {
        Self::start(fs, live, true, &mut |fs, _, snap| {
            last_lines_of(fs, snap, n)
        })
    }

    /// A follower that first hands out the lines whose time is at or after `since` (the last
    /// `n` of them, if given: `docker logs --since T --tail N -f`), then every line written
    /// after them. Both come from one snapshot of the files, so no line is handed out twice
    /// or skipped between the two. Without `n` the window's lines go to `emit` as they are
    /// read (a week of logs is never held in memory); with it, the last `n` wait for the
    /// first [`poll`](Self::poll). Also returns what reading the window found (files without
    /// times).
    ///
    /// # Errors
    /// If the files cannot be listed or read, or `emit` fails.
    pub fn since(
        fs: Arc<dyn Filesystem>,
        live: &Path,
        since: DateTime<Utc>,
        n: Option<usize>,
        emit: &mut Emit<'_>,
    ) -> Result<(Self, WindowCounts)> {
        let window = Window {
            since: Some(since),
            until: None,
        };
        let mut counts = WindowCounts::default();
        let follower = Self::start(fs, live, false, &mut |fs, naming, snap| match n {
            Some(n) => {
                let (lines, found) = last_in_window_of(fs, naming, snap, &window, true, n)?;
                counts = found;
                Ok(lines)
            }
            None => {
                // Handed out in pieces of about 64 KiB: whole lines, each with its `\n`.
                let mut piece = Vec::new();
                counts = lines_in_window_of(fs, naming, snap, &window, true, &mut |line| {
                    piece.extend_from_slice(line);
                    piece.push(b'\n');
                    if piece.len() >= 64 << 10 {
                        emit(&piece)?;
                        piece.clear();
                    }
                    Ok(())
                })?;
                if !piece.is_empty() {
                    emit(&piece).map_err(Error::output)?;
                }
                Ok(Vec::new())
            }
        })?;
        Ok((follower, counts))
    }

    /// A follower that first hands out the lines `first` picks from the snapshot it starts
    /// at (its live file read up to its length then), then every line written after them.
    ///
    /// `with_tail`: `first` includes the live file's last line even unfinished (it is taken
    /// off then, to be handed out when it ends).
    fn start(
        fs: Arc<dyn Filesystem>,
        live: &Path,
        with_tail: bool,
        first: &mut FirstLines<'_>,
    ) -> Result<Self> {
        let naming = ArchiveNaming::new(live).context("follow the logs of", live)?;
        let mut snap = snapshot_above(fs.as_ref(), &naming, 0)?;
        let mut lines = first(fs.as_ref(), &naming, &mut snap)?;
        let mut cur = None;
        if let Some(live) = snap.live.take() {
            let len = live.len();
            let mut open = Open::from_live(live, len);
            // A last line still being written is not a line yet: it is handed out when it
            // ends.
            if let Some(tail) = unfinished_tail(&mut open)? {
                if with_tail && lines.last().is_some_and(|l| *l == tail) {
                    lines.pop();
                }
                open.pos = len - tail.len() as u64;
            }
            cur = Some(open);
        }
        let mut first = Vec::new();
        for line in lines {
            first.extend_from_slice(&line);
            first.push(b'\n');
        }
        let mut waker = Waker::new(fs.clone(), &naming);
        let notices = waker
            .take_unwatched()
            .map(Notice::Polling)
            .into_iter()
            .collect();
        Ok(Self {
            fs,
            naming,
            floor: snap.top,
            cur,
            first: Some(first),
            notices,
            waker,
        })
    }

    /// The live file followed.
    pub fn live_path(&self) -> &Path {
        self.naming.live_path()
    }

    /// Hands what is new to `emit` (bytes of whole lines, each ending in `\n`; the first call
    /// starts with the last lines). Returns `true` if there is nothing more until something
    /// changes: then call [`wait`](Self::wait).
    ///
    /// # Errors
    /// If the files cannot be listed or read, or `emit` fails (an [`Error::output`]).
    pub fn poll(&mut self, emit: &mut Emit<'_>) -> Result<bool> {
        if let Some(first) = self.first.take() {
            if !first.is_empty() {
                emit(&first).map_err(Error::output)?;
            }
        }
        let Some(mut open) = self.cur.take() else {
            // No live file: see whether there is one now.
            self.take_snapshot(None, emit)?;
            return Ok(self.cur.is_none());
        };
        self.read_new(&mut open, emit)?;
        if self.is_live(&open)? {
            self.cur = Some(open);
            return Ok(true);
        }
        // Rotated or removed: its last lines (the writer renames only after its last write).
        self.read_new(&mut open, emit)?;
        if !open.partial.is_empty() {
            open.partial.push(b'\n');
            emit(&open.partial).map_err(Error::output)?;
        }
        let len = open
            .file
            .meta()
            .context("look at log file", &open.path)?
            .len;
        self.take_snapshot(Some((open.id, len)), emit)?;
        Ok(false)
    }

    /// Notices since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        if let Some(why) = self.waker.take_unwatched() {
            self.notices.push(Notice::Polling(why));
        }
        std::mem::take(&mut self.notices)
    }

    /// Returns when something may have changed (an inotify event, or [`POLL`](crate::POLL)
    /// where the directory is not watched), or after `max` at most.
    pub fn wait(&mut self, max: Duration) {
        self.waker.wait(max);
    }

    /// Whether the directory is watched for changes (inotify), rather than polled.
    pub fn is_watching(&self) -> bool {
        self.waker.is_watching()
    }

    /// Takes a snapshot above the floor and reads its archives whole, except `rotated`'s own
    /// (the file just followed, with its identity and final length), then holds its live file
    /// from its start.
    fn take_snapshot(
        &mut self,
        rotated: Option<(Option<FileId>, u64)>,
        emit: &mut Emit<'_>,
    ) -> Result<()> {
        let snap = snapshot_above(self.fs.as_ref(), &self.naming, self.floor)?;
        let floor = self.floor;
        let mut above = snap.archives.iter().filter(|a| a.seq > floor).peekable();
        // The next number whose lines are not read yet: the rotated file became `floor + 1`
        // (read already, even if it is gone).
        let mut unread = floor + 1;
        if let Some((id, len)) = rotated {
            unread = floor + 2;
            if let Some(first) = above.peek() {
                if is_archive_of(self.fs.as_ref(), first, id, len) {
                    unread = first.seq + 1;
                    above.next();
                }
            }
        }
        for archive in above {
            if archive.seq > unread {
                self.notices.push(Notice::Gone {
                    live: self.naming.live_path().to_path_buf(),
                    first: unread,
                    last: archive.seq - 1,
                });
            }
            unread = archive.seq + 1;
            self.read_whole(archive, emit)?;
        }
        self.floor = snap.top;
        self.cur = snap.live.map(|live| Open::from_live(live, 0));
        Ok(())
    }

    /// Whether the live path still names `open`.
    fn is_live(&self, open: &Open) -> Result<bool> {
        let live = self.naming.live_path();
        match self.fs.metadata(live) {
            Ok(m) => Ok(same_file(m.id, open.id)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::new("look at log file", live, e)),
        }
    }

    /// Hands out what was appended to `open` since the last call, in whole lines. A file that
    /// shrank below what was read (truncated in place by someone) is read again from its start.
    fn read_new(&mut self, open: &mut Open, emit: &mut Emit<'_>) -> Result<()> {
        let len = open
            .file
            .meta()
            .context("look at log file", &open.path)?
            .len;
        if len < open.pos {
            self.notices.push(Notice::Truncated(open.path.clone()));
            open.pos = 0;
            open.partial.clear();
        }
        if len == open.pos {
            return Ok(());
        }
        open.file
            .seek(SeekFrom::Start(open.pos))
            .context("read log file", &open.path)?;
        let mut left = len - open.pos;
        let mut block = vec![0u8; BLOCK];
        while left > 0 {
            let want = block.len().min(usize::try_from(left).unwrap_or(BLOCK));
            let got = match open.file.read(&mut block[..want]) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::new("read log file", &open.path, e)),
            };
            left -= got as u64;
            open.pos += got as u64;
            emit_lines(&mut open.partial, &block[..got], emit)?;
        }
        Ok(())
    }

    /// Hands out `archive` whole.
    fn read_whole(&mut self, archive: &Archive, emit: &mut Emit<'_>) -> Result<()> {
        let Some(file) = open_archive(self.fs.as_ref(), archive)? else {
            self.notices.push(Notice::Missed(archive.path.clone()));
            return Ok(());
        };
        let mut read = file.into_reader();
        let mut partial = Vec::new();
        let mut block = vec![0u8; BLOCK];
        loop {
            let got = match read.read(&mut block) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::new("read log file", &archive.path, e)),
            };
            emit_lines(&mut partial, &block[..got], emit)?;
        }
        if !partial.is_empty() {
            partial.push(b'\n');
            emit(&partial).map_err(Error::output)?;
        }
        Ok(())
    }
}

/// The unfinished last line of `open` up to `open.pos` (bytes after its last `\n`), if any.
fn unfinished_tail(open: &mut Open) -> Result<Option<Vec<u8>>> {
    if open.pos == 0 {
        return Ok(None);
    }
    let lines = crate::last::last_lines_of_file(open.file.as_mut(), open.pos, 1)
        .context("read log file", &open.path)?;
    open.file
        .seek(SeekFrom::Start(open.pos - 1))
        .context("read log file", &open.path)?;
    let mut last = [0u8; 1];
    open.file
        .read_exact(&mut last)
        .context("read log file", &open.path)?;
    Ok(match lines.into_iter().next() {
        Some(line) if last[0] != b'\n' => Some(line),
        _ => None,
    })
}

/// Hands out the whole lines of `partial` + `data`, keeping the unfinished rest in `partial`.
fn emit_lines(partial: &mut Vec<u8>, data: &[u8], emit: &mut Emit<'_>) -> Result<()> {
    let Some(end) = memchr::memrchr(b'\n', data) else {
        partial.extend_from_slice(data);
        return Ok(());
    };
    if partial.is_empty() {
        emit(&data[..=end]).map_err(Error::output)?;
    } else {
        partial.extend_from_slice(&data[..=end]);
        emit(partial).map_err(Error::output)?;
        partial.clear();
    }
    partial.extend_from_slice(&data[end + 1..]);
    Ok(())
}

/// Whether `archive`, the first archive above the floor, is the rotated file `id`, which held
/// `len` bytes: the same file while it is plain; once compressed, a `.gz` of the same size
/// (gzip's trailer holds the size, modulo 2^32).
fn is_archive_of(fs: &dyn Filesystem, archive: &Archive, id: Option<FileId>, len: u64) -> bool {
    let path = archive.path.to_string_lossy();
    let plain = match path.strip_suffix(GZ_SUFFIX) {
        Some(p) => PathBuf::from(p),
        None => archive.path.clone(),
    };
    if let Ok(m) = fs.metadata(&plain) {
        return id.is_some() && m.id == id;
    }
    let mut gz = plain.into_os_string();
    gz.push(GZ_SUFFIX);
    gzip_size(fs, Path::new(&gz)).is_some_and(|size| u64::from(size) == len & 0xffff_ffff)
}

/// The uncompressed size modulo 2^32 in a gzip file's trailer.
fn gzip_size(fs: &dyn Filesystem, path: &Path) -> Option<u32> {
    let mut f = fs.open_read_file(path).ok()?;
    f.seek(SeekFrom::End(-4)).ok()?;
    let mut size = [0u8; 4];
    f.read_exact(&mut size).ok()?;
    Some(u32::from_le_bytes(size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_fs::StdFs;
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
    fn the_rotated_files_archive_is_known_by_its_identity_then_by_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.20200101T000000Z-000001.log");
        std::fs::write(&plain, b"one\ntwo\n").unwrap();
        let fs = StdFs;
        let id = fs.metadata(&plain).unwrap().id;
        assert!(is_archive_of(&fs, &archive(&plain, false), id, 8));
        // Another file at that name.
        let other = dir.path().join("other");
        std::fs::write(&other, b"one\ntwo\n").unwrap();
        let other_id = fs.metadata(&other).unwrap().id;
        assert!(!is_archive_of(&fs, &archive(&plain, false), other_id, 8));

        // Compressed, the plain file gone: the size in the gzip trailer.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"one\ntwo\n").unwrap();
        let gz_path = dir.path().join("a.20200101T000000Z-000001.log.gz");
        std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
        std::fs::remove_file(&plain).unwrap();
        assert_eq!(gzip_size(&fs, &gz_path), Some(8));
        for listed in [archive(&gz_path, true), archive(&plain, false)] {
            assert!(is_archive_of(&fs, &listed, id, 8));
            assert!(!is_archive_of(&fs, &listed, id, 9));
        }
        // Gone altogether (retention): not the rotated file's.
        std::fs::remove_file(&gz_path).unwrap();
        assert!(!is_archive_of(&fs, &archive(&gz_path, true), id, 8));
    }

    #[test]
    fn whole_lines_come_out_and_the_rest_waits() {
        let mut partial = Vec::new();
        let mut out = Vec::new();
        let mut emit = |b: &[u8]| {
            out.push(String::from_utf8(b.to_vec()).unwrap());
            Ok(())
        };
        emit_lines(&mut partial, b"ab", &mut emit).unwrap();
        emit_lines(&mut partial, b"c\nd\ne", &mut emit).unwrap();
        emit_lines(&mut partial, b"\n", &mut emit).unwrap();
        emit_lines(&mut partial, b"f\n", &mut emit).unwrap();
        assert_eq!(out, ["abc\nd\n", "e\n", "f\n"]);
        assert!(partial.is_empty());
    }
}
