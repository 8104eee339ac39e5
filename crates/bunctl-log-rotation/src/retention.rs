//! Which archives to delete, and the cleanup after a crash.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bunctl_log_fs::Filesystem;

use crate::naming::{ArchiveNaming, Scan};

/// How many rotated archives of a live file to keep.
///
/// ```
/// use bunctl_log_rotation::Retention;
///
/// use std::time::Duration;
///
/// let keep_ten = Retention::max_files(10);
/// let keep_1_gib = Retention { max_total_bytes: Some(1 << 30), ..Retention::max_files(usize::MAX) };
/// let keep_a_week = Retention {
///     max_age: Some(Duration::from_secs(7 * 86_400)),
///     ..Retention::max_files(usize::MAX)
/// };
/// # let _ = (keep_ten, keep_1_gib);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The most archives kept (the live file does not count).
    pub max_files: usize,
    /// The most bytes the kept archives may take together, if set.
    pub max_total_bytes: Option<u64>,
    /// The oldest an archive may be, if set: archives whose last change (their files'
    /// modification time, when their content ended) is older are deleted.
    pub max_age: Option<Duration>,
}

/// Removes `path`; `Ok(false)` if it was already gone.
fn remove_if_exists(fs: &dyn Filesystem, path: &Path) -> io::Result<bool> {
    match fs.remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

impl Retention {
    /// Keeps at most `max_files` archives and no size limit.
    pub fn max_files(max_files: usize) -> Self {
        Self {
            max_files,
            max_total_bytes: None,
            max_age: None,
        }
    }

    /// Deletes the oldest archives (all forms of that seq: the `.gz` and a plain leftover)
    /// until at most `max_files` remain and, if set, their total size is at most
    /// `max_total_bytes` (the newest archive is kept even if alone it is larger), and none is
    /// older than `max_age`. Returns the deleted paths.
    ///
    /// The size of an archive is that of all its files on disk (`.gz` plus a plain leftover).
    /// A file that vanished meanwhile (`NotFound`) is not an error: it is neither counted nor
    /// reported as deleted. `.gz.tmp` files are left to the sink's crash recovery, as one may belong to a
    /// compression in progress.
    ///
    /// # Errors
    /// Listing the directory fails, or removing or measuring a file fails with another error
    /// than `NotFound`. Deletion goes on past such a file, so that one undeletable archive does
    /// not stop retention; the first error is returned at the end.
    pub fn apply(&self, naming: &ArchiveNaming, fs: &dyn Filesystem) -> io::Result<Vec<PathBuf>> {
        self.apply_scanned(fs, naming.scan(fs)?)
    }

    /// [`apply`](Self::apply) to a [`Scan`] already taken (a writer opening lists its
    /// directory once for recovery, retention and its next sequence number). Files gone since
    /// the scan are skipped.
    ///
    /// # Errors
    /// As [`apply`](Self::apply), but for listing the directory.
    pub fn apply_scanned(&self, fs: &dyn Filesystem, scan: Scan) -> io::Result<Vec<PathBuf>> {
        // Without a byte limit, sizes do not matter: within the count there is nothing to do,
        // and measuring every archive after every compression would cost one `stat` per
        // archive per job (quadratic in a backlog of thousands).
        if self.max_total_bytes.is_none()
            && self.max_age.is_none()
            && scan.archives.len() <= self.max_files
        {
            return Ok(Vec::new());
        }
        let now = SystemTime::now();
        let mut first_err: Option<io::Error> = None;

        // (files of the archive, its size, its last change), oldest first; vanished files are
        // left out.
        let mut archives: Vec<(Vec<PathBuf>, u64, Option<SystemTime>)> =
            Vec::with_capacity(scan.archives.len());
        for a in scan.archives {
            let mut files = Vec::with_capacity(2);
            let mut size = 0u64;
            let mut changed: Option<SystemTime> = None;
            for p in std::iter::once(a.path).chain(a.plain_leftover) {
                match fs.metadata(&p) {
                    Ok(m) => {
                        size = size.saturating_add(m.len);
                        changed = changed.max(m.modified);
                        files.push(p);
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        // Unknown size: keep the file in the count, but its size unknown (0)
                        // errs on the side of keeping data.
                        tracing::warn!(path = %p.display(), error = %e, "log retention: cannot measure archive");
                        first_err.get_or_insert(e);
                        files.push(p);
                    }
                }
            }
            if !files.is_empty() {
                archives.push((files, size, changed));
            }
        }

        let mut remaining = archives.len();
        let mut total: u64 = archives
            .iter()
            .map(|(_, s, _)| *s)
            .fold(0, u64::saturating_add);
        let mut deleted = Vec::new();
        for (files, size, changed) in archives {
            let over_count = remaining > self.max_files;
            let over_bytes = remaining > 1 && self.max_total_bytes.is_some_and(|max| total > max);
            // Unknown times (or times in the future) are never too old: keep data when unsure.
            let too_old = self.max_age.is_some_and(|max| {
                changed.is_some_and(|t| now.duration_since(t).is_ok_and(|age| age > max))
            });
            if !over_count && !over_bytes && !too_old {
                break;
            }
            for p in files {
                match remove_if_exists(fs, &p) {
                    Ok(true) => {
                        tracing::debug!(path = %p.display(), over_count, over_bytes,
                            "log retention: deleted archive");
                        deleted.push(p);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(path = %p.display(), error = %e, "log retention: cannot delete archive");
                        first_err.get_or_insert(e);
                    }
                }
            }
            remaining -= 1;
            total = total.saturating_sub(size);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(deleted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::with_suffix;
    use bunctl_log_fs::{FaultFs, Op, StdFs};
    use chrono::{TimeZone, Utc};

    fn setup() -> (tempfile::TempDir, ArchiveNaming) {
        let dir = tempfile::tempdir().unwrap();
        let n = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
        (dir, n)
    }

    fn make(n: &ArchiveNaming, seq: u64, suffix: &str, len: usize) -> PathBuf {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let p = with_suffix(&n.archive_path(t, seq), suffix);
        std::fs::write(&p, vec![b'x'; len]).unwrap();
        p
    }

    fn seqs(n: &ArchiveNaming) -> Vec<u64> {
        n.scan(&StdFs)
            .unwrap()
            .archives
            .iter()
            .map(|a| a.seq)
            .collect()
    }

    #[test]
    fn by_count() {
        let (dir, n) = setup();
        std::fs::write(dir.path().join("app.log"), b"live").unwrap();
        std::fs::write(
            dir.path().join("app2.20261125T000000Z-000001.log"),
            b"other",
        )
        .unwrap();
        let p1 = make(&n, 1, ".gz", 10);
        let p2 = make(&n, 2, "", 10);
        let p2gz = make(&n, 2, ".gz", 10);
        for s in 3..=5 {
            make(&n, s, "", 10);
        }
        let r = Retention::max_files(3);
        let mut deleted = r.apply(&n, &StdFs).unwrap();
        deleted.sort();
        let mut want = vec![p1, p2, p2gz];
        want.sort();
        assert_eq!(deleted, want);
        assert_eq!(seqs(&n), vec![3, 4, 5]);
        // idempotent
        assert!(r.apply(&n, &StdFs).unwrap().is_empty());
        // others untouched
        assert!(dir.path().join("app.log").exists());
        assert!(dir.path().join("app2.20261125T000000Z-000001.log").exists());
        // zero keeps nothing
        assert_eq!(Retention::max_files(0).apply(&n, &StdFs).unwrap().len(), 3);
        assert!(seqs(&n).is_empty());
    }

    #[test]
    fn by_total_bytes() {
        let (_dir, n) = setup();
        for (s, len) in [(1, 100), (2, 100), (3, 50), (4, 60)] {
            make(&n, s, ".gz", len);
        }
        let r = Retention {
            max_total_bytes: Some(120),
            ..Retention::max_files(10)
        };
        let deleted = r.apply(&n, &StdFs).unwrap();
        assert_eq!(deleted.len(), 2);
        assert_eq!(seqs(&n), vec![3, 4]);

        // the newest is kept even if alone it is too big
        make(&n, 5, "", 1000);
        r.apply(&n, &StdFs).unwrap();
        assert_eq!(seqs(&n), vec![5]);
        // exactly at the limit is fine
        let r = Retention {
            max_total_bytes: Some(1000),
            ..Retention::max_files(10)
        };
        assert!(r.apply(&n, &StdFs).unwrap().is_empty());
    }

    #[test]
    fn by_age() {
        let (_dir, n) = setup();
        let day = Duration::from_secs(86_400);
        for (seq, age_days) in [(1, 10), (2, 8), (3, 3), (4, 0)] {
            let p = make(&n, seq, ".gz", 10);
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(SystemTime::now() - day * age_days).unwrap();
        }
        let r = Retention {
            max_age: Some(7 * day),
            ..Retention::max_files(10)
        };
        assert_eq!(r.apply(&n, &StdFs).unwrap().len(), 2);
        assert_eq!(seqs(&n), vec![3, 4]);
        assert!(r.apply(&n, &StdFs).unwrap().is_empty());
    }

    #[test]
    fn empty_dir_and_missing_dir() {
        let (dir, n) = setup();
        assert!(Retention::max_files(0)
            .apply(&n, &StdFs)
            .unwrap()
            .is_empty());
        let missing = ArchiveNaming::new(&dir.path().join("x/app.log")).unwrap();
        assert!(Retention::max_files(0)
            .apply(&missing, &StdFs)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn not_found_is_tolerated() {
        let (_dir, n) = setup();
        let p1 = make(&n, 1, ".gz", 10);
        let p2 = make(&n, 2, ".gz", 10);
        make(&n, 3, ".gz", 10);
        // p1 is removed by someone else just before retention removes it
        let (fs, faults) = FaultFs::shared();
        faults.vanish_before(Op::RemoveFile, &p1);
        let deleted = Retention::max_files(1).apply(&n, &*fs).unwrap();
        assert_eq!(deleted, vec![p2]);
        assert_eq!(seqs(&n), vec![3]);
        assert!(!p1.exists());

        // seq 3 vanishes between listing and measuring: it no longer counts, so the two
        // archives left (3 gone, 4, 5) fit in max_files 2 and nothing is deleted
        let p3 = n.scan(&StdFs).unwrap().archives[0].path.clone();
        make(&n, 4, ".gz", 10);
        make(&n, 5, ".gz", 10);
        let (fs, faults) = FaultFs::shared();
        faults.vanish_before(Op::Metadata, p3);
        let deleted = Retention::max_files(2).apply(&n, &*fs).unwrap();
        assert!(deleted.is_empty(), "{deleted:?}");
        assert_eq!(seqs(&n), vec![4, 5]);
    }

    #[test]
    fn an_undeletable_archive_does_not_stop_retention() {
        let (_dir, n) = setup();
        let p1 = make(&n, 1, ".gz", 10);
        let p2 = make(&n, 2, ".gz", 10);
        make(&n, 3, ".gz", 10);
        // the first removal, p1's (oldest first), is denied
        let (fs, faults) = FaultFs::shared();
        faults.fail(Op::RemoveFile, io::ErrorKind::PermissionDenied, 1);
        let e = Retention::max_files(1).apply(&n, &*fs).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(p1.exists());
        assert!(!p2.exists());
        assert_eq!(seqs(&n), vec![1, 3]);
    }
}
