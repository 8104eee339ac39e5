//! An app's files, listed so that nothing the writer does meanwhile makes a reader miss one.
//!
//! A writer changes the directory under a reader's feet in three ways, and a listing that is
//! simply read and then used goes wrong in each:
//!
//! 1. **It rotates**: the live file is renamed to the next archive and a new live file is
//!    created. A reader that listed the archives and then opened the live file *by name* gets
//!    the new file, and the one that was live when it listed (now an archive it never saw) is
//!    missed whole.
//! 2. **It compresses**: `x.log` becomes `x.log.gz` (written aside, renamed, then the plain
//!    file removed). A directory is read in several system calls (`getdents`), so a listing
//!    that passes the place of `.gz` before it exists and the place of the plain file after
//!    it was removed holds neither: the archive is missing from the listing.
//! 3. **It applies retention**: the oldest archives are removed, possibly after being listed.
//!
//! [`snapshot`] guards against each:
//!
//! * It **opens the live file first** and holds it by its identity (device and inode), lists
//!   the archives **twice**, and then checks that the live name still names the file it holds.
//!   If not, the file was rotated during the listing, and it starts again. So the file it holds
//!   was live during the whole listing: every archive older than it had its name before the
//!   first listing began, and none newer existed before the last one ended.
//! * The two listings are **merged**: an archive missing from one listing because it was being
//!   compressed then (its transition from plain to `.gz` happens once) is in the other. The
//!   merged sequence numbers must be consecutive (a writer numbers its archives one after the
//!   other, retention removes only the oldest), or the two listings must agree (a gap someone
//!   made by hand); otherwise it lists again.
//! * Reading an archive **follows it to its `.gz`**: a plain archive listed and compressed
//!   before it is opened is read from its `.gz` ([`open_archive`]). One that retention removed
//!   meanwhile is skipped ([`open_archive`] says `None`): its lines are gone for every reader,
//!   and they were the oldest.
//!
//! A snapshot is a consistent prefix of the logs: every line written before the live file's
//! length was measured, nothing after, no line twice.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bunctl_log_fs::{FileId, FileMeta, Filesystem, ReadFile};
use bunctl_log_rotation::{app_of_file, Archive, ArchiveNaming, GZ_SUFFIX};

use crate::error::{Context, Error, Result};

/// The live file of a [`Snapshot`], held open.
pub struct LiveFile {
    path: PathBuf,
    file: Box<dyn ReadFile>,
    id: Option<FileId>,
    len: u64,
}

impl std::fmt::Debug for LiveFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFile")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl LiveFile {
    /// The live path (the file may have been rotated away from it since the snapshot).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its length when the snapshot was taken: the snapshot's lines end there.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it was empty when the snapshot was taken.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Which file it is, where the platform can tell.
    pub fn id(&self) -> Option<FileId> {
        self.id
    }

    /// The open file, to read it (from any offset).
    pub fn file_mut(&mut self) -> &mut dyn ReadFile {
        self.file.as_mut()
    }

    /// The open file.
    pub fn into_file(self) -> Box<dyn ReadFile> {
        self.file
    }
}

/// A live file's archives and the live file itself, as they were at one moment (see the
/// [module docs](self)).
#[derive(Debug)]
pub struct Snapshot {
    /// The archives, oldest first (ascending sequence number, then name), as the writer's scan
    /// lists them.
    pub archives: Vec<Archive>,
    /// The live file, held open, if there was one.
    pub live: Option<LiveFile>,
    /// The largest sequence number among the archives (0 if none): the live file, when it is
    /// rotated, becomes the first archive above it.
    pub top: u64,
}

impl Snapshot {
    /// The files, oldest first, the live file last: what `bunctl-log files` prints.
    pub fn paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self.archives.iter().map(|a| a.path.clone()).collect();
        if let Some(live) = &self.live {
            paths.push(live.path.clone());
        }
        paths
    }
}

/// A snapshot of the logs whose live file is `live` (see the [module docs](self)).
///
/// # Errors
/// If the directory cannot be read or the live file cannot be opened (a symlink at its name is
/// refused); a missing directory or live file is no error.
pub fn snapshot(fs: &dyn Filesystem, live: &Path) -> Result<Snapshot> {
    let naming = ArchiveNaming::new(live).context("read the logs of", live)?;
    snapshot_above(fs, &naming, 0)
}

/// [`snapshot`] whose gap check starts at `floor`: a follower has read every archive up to it,
/// and the next ones are numbered from `floor + 1`.
pub(crate) fn snapshot_above(
    fs: &dyn Filesystem,
    naming: &ArchiveNaming,
    floor: u64,
) -> Result<Snapshot> {
    let live_path = naming.live_path();
    loop {
        let held = open_live(fs, live_path)?;
        let first = scan(fs, naming)?;
        let second = scan(fs, naming)?;
        let now = match fs.metadata(live_path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::new("look at log file", live_path, e)),
        };
        let same_listing = seqs(&first).eq(seqs(&second));
        let stable = match (&held, &now) {
            // Rotated (or replaced) while the archives were listed: its archive may or may not
            // be in the listing. Again.
            (Some((_, held)), Some(now)) => same_file(held.id, now.id),
            (Some(_), None) => false,
            // A live file appeared meanwhile.
            (None, Some(_)) => false,
            // No live file to hold: nothing proves that no rotation happened between the two
            // listings but their agreeing.
            (None, None) => same_listing,
        };
        if !stable {
            std::thread::yield_now();
            continue;
        }
        let archives = merge(first, second);
        if !same_listing && !consecutive(&archives, floor) {
            std::thread::yield_now();
            continue;
        }
        let live = match held {
            Some((file, meta)) => {
                // The length now: lines written up to here are in the snapshot.
                let len = file.meta().context("look at log file", live_path)?.len;
                Some(LiveFile {
                    path: live_path.to_path_buf(),
                    file,
                    id: meta.id,
                    len,
                })
            }
            None => None,
        };
        let top = archives.iter().map(|a| a.seq).fold(floor, u64::max);
        return Ok(Snapshot {
            archives,
            live,
            top,
        });
    }
}

/// The live file, opened, and what it is; `None` if there is none.
fn open_live(fs: &dyn Filesystem, path: &Path) -> Result<Option<(Box<dyn ReadFile>, FileMeta)>> {
    match fs.open_read_file(path) {
        Ok(file) => {
            let meta = file.meta().context("look at log file", path)?;
            Ok(Some((file, meta)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new("open log file", path, e)),
    }
}

/// Whether two identities are one file (where the platform cannot tell, they are taken to be).
pub(crate) fn same_file(a: Option<FileId>, b: Option<FileId>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn scan(fs: &dyn Filesystem, naming: &ArchiveNaming) -> Result<Vec<Archive>> {
    Ok(naming
        .scan(fs)
        .context("list log files in", naming.dir())?
        .archives)
}

fn seqs(archives: &[Archive]) -> impl Iterator<Item = u64> + '_ {
    archives.iter().map(|a| a.seq)
}

/// The archives of both listings, as the writer's scan tells them apart (sequence number,
/// then the plain file's name); the second listing's form wins (it is the newer: a `.gz`
/// where the first saw the plain file).
fn merge(first: Vec<Archive>, second: Vec<Archive>) -> Vec<Archive> {
    let key = |a: &Archive| {
        let name = a.path.file_name().map(|n| n.to_string_lossy().into_owned());
        let mut name = name.unwrap_or_default();
        if a.compressed {
            name.truncate(name.len().saturating_sub(GZ_SUFFIX.len()));
        }
        (a.seq, name)
    };
    let mut by_key: BTreeMap<(u64, String), Archive> =
        first.into_iter().map(|a| (key(&a), a)).collect();
    for a in second {
        by_key.insert(key(&a), a);
    }
    by_key.into_values().collect()
}

/// Whether the sequence numbers above `floor` follow one another (from `floor + 1` on, if
/// `floor` is not 0).
fn consecutive(archives: &[Archive], floor: u64) -> bool {
    let mut prev = (floor > 0).then_some(floor);
    for seq in seqs(archives).filter(|&s| s > floor) {
        if prev.is_some_and(|p| p.checked_add(1) != Some(seq)) {
            return false;
        }
        prev = Some(seq);
    }
    true
}

/// The files of the logs whose live file is `live`, oldest first, the live file last (if it
/// exists): [`snapshot`]'s [`paths`](Snapshot::paths).
///
/// # Errors
/// As [`snapshot`].
pub fn list_files(fs: &dyn Filesystem, live: &Path) -> Result<Vec<PathBuf>> {
    Ok(snapshot(fs, live)?.paths())
}

/// An archive, opened as it is on disk.
pub enum ArchiveFile {
    /// A plain archive: its bytes are its lines.
    Plain(Box<dyn ReadFile>),
    /// A gzipped archive.
    Gzip(Box<dyn ReadFile>),
}

impl ArchiveFile {
    /// Its lines as bytes: a `.gz` is decompressed as it is read (all its members, as `gzip
    /// -d` does).
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        match self {
            Self::Plain(f) => Box::new(f),
            Self::Gzip(f) => Box::new(flate2::read::MultiGzDecoder::new(f)),
        }
    }
}

/// Opens `archive`; a plain archive compressed since it was listed is opened as its `.gz`.
/// `None` if it is gone in both forms (retention removed it).
///
/// # Errors
/// If it cannot be opened for another reason.
pub fn open_archive(fs: &dyn Filesystem, archive: &Archive) -> Result<Option<ArchiveFile>> {
    let compressed = archive.compressed || archive.path.to_string_lossy().ends_with(GZ_SUFFIX);
    match fs.open_read_file(&archive.path) {
        Ok(f) if compressed => return Ok(Some(ArchiveFile::Gzip(f))),
        Ok(f) => return Ok(Some(ArchiveFile::Plain(f))),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !compressed => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::new("open log file", &archive.path, e)),
    }
    let mut gz = archive.path.clone().into_os_string();
    gz.push(GZ_SUFFIX);
    let gz = PathBuf::from(gz);
    match fs.open_read_file(&gz) {
        Ok(f) => Ok(Some(ArchiveFile::Gzip(f))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new("open log file", gz, e)),
    }
}

/// What one app has in a log directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppFiles {
    /// Its `<app>.log` or archives of it (stdout, or both streams merged).
    pub stdout: bool,
    /// Its `<app>.err.log` or archives of it (stderr kept apart).
    pub stderr: bool,
}

/// Every app that has a file in `dir` (live, stderr, archive, plain or gzipped), by name, and
/// which of its files exist. Files of no app (locks, temporaries, other files) are left out. A
/// missing directory has no apps.
///
/// # Errors
/// If the directory cannot be read.
pub fn apps(fs: &dyn Filesystem, dir: &Path) -> Result<BTreeMap<String, AppFiles>> {
    let names = match fs.read_dir(dir) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::new("list log files in", dir, e)),
    };
    let mut apps: BTreeMap<String, AppFiles> = BTreeMap::new();
    for name in names {
        if let Some(file) = app_of_file(&name) {
            let entry = apps.entry(file.app).or_default();
            if file.stderr {
                entry.stderr = true;
            } else {
                entry.stdout = true;
            }
        }
    }
    Ok(apps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(seq: u64) -> Archive {
        Archive {
            seq,
            path: PathBuf::from(format!("a.{seq}")),
            compressed: false,
            plain_leftover: None,
        }
    }

    #[test]
    fn gaps_above_the_floor_are_noticed() {
        let list = |s: &[u64]| s.iter().copied().map(archive).collect::<Vec<_>>();
        assert!(consecutive(&list(&[]), 0));
        assert!(consecutive(&list(&[4, 5, 6]), 0));
        assert!(!consecutive(&list(&[4, 6]), 0));
        assert!(consecutive(&list(&[1, 2, 3, 4]), 2));
        assert!(!consecutive(&list(&[4]), 2));
        assert!(consecutive(&list(&[1, 5, 6]), 4));
    }

    #[test]
    fn merging_keeps_every_seq_once_and_the_newer_form() {
        let mut gz = archive(2);
        gz.compressed = true;
        gz.path = PathBuf::from("a.2.gz");
        let merged = merge(vec![archive(1), archive(2)], vec![gz.clone(), archive(3)]);
        assert_eq!(merged, vec![archive(1), gz, archive(3)]);
    }

    #[test]
    fn two_archives_of_one_seq_and_another_time_are_both_kept() {
        // The writer's scan lists them apart (a .gz pairs only with its own plain file).
        let mut other = archive(2);
        other.path = PathBuf::from("a.2-earlier.gz");
        other.compressed = true;
        let merged = merge(vec![archive(2)], vec![archive(2), other.clone()]);
        assert_eq!(merged.len(), 2, "{merged:?}");
        assert!(merged.contains(&other) && merged.contains(&archive(2)));
    }
}
