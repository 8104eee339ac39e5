//! [`SharedListing`]: one listing of a shared log directory, taken once and shared by the
//! writers opened in it just after, so that opening n writers reads the directory a few times,
//! not n times (each read costing n: quadratic in the number of apps).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bunctl_log_fs::Filesystem;

use crate::naming::{archive_stems, ArchiveNaming, Scan};

/// How long a listing serves the opens that follow it, by default.
pub const DEFAULT_LISTING_MAX_AGE: Duration = Duration::from_secs(1);

/// How much earlier than the listing a live file's last change must be for the listing to be
/// trusted for it: file times come from a coarser clock than [`SystemTime::now`] (the
/// kernel's tick, a few milliseconds), so a change just after the listing may bear a time
/// just before it.
const CHANGE_MARGIN: Duration = Duration::from_millis(50);

/// [`CHANGE_MARGIN`] for a time in whole seconds: a filesystem that keeps only seconds (FAT
/// keeps two) may date a change just after the listing up to two seconds before it.
const COARSE_CHANGE_MARGIN: Duration = Duration::from_secs(2);

/// Whether a live file changed at `changed` may have changed after a listing taken at
/// `taken` (see [`CHANGE_MARGIN`]).
fn changed_since(changed: SystemTime, taken: SystemTime) -> bool {
    let whole_seconds = changed
        .duration_since(SystemTime::UNIX_EPOCH)
        .is_ok_and(|d| d.subsec_nanos() == 0);
    let margin = if whole_seconds {
        COARSE_CHANGE_MARGIN
    } else {
        CHANGE_MARGIN
    };
    changed + margin >= taken
}

/// One listing of a directory, its archive names grouped by the stem they belong to.
struct Listing {
    taken: Instant,
    taken_wall: SystemTime,
    /// Archive names (every form, `.gz.tmp` included) by [`archive_stems`].
    by_stem: HashMap<String, Vec<String>>,
    /// Live files whose share was handed out (or whose writer closed since): a second open of
    /// one of them lists afresh.
    served: HashSet<String>,
}

/// A listing of one log directory shared by the writers opened in it: each writer's
/// [`Scan`] at open comes from it instead of a listing of its own.
///
/// **Why a listing up to a second old is safe.** A writer asks for its scan holding its live
/// file's lock, and only the lock's holder changes a live file's archives (rotation,
/// compression, retention, recovery), so for the app about to be opened the listing is stale
/// only if a writer of that file was still at work after it was taken. That is ruled out or
/// caught:
///
/// * each live file gets its share **once**: a second open of it, or one after its writer
///   in this process closed ([`forget`](Self::forget)), lists afresh;
/// * a live file changed since the listing (`mtime` up to 50 ms before it, for the coarser clock of file times, or 2 s for times in whole seconds: a
///   writer of another process wrote or rotated after it) lists afresh, and so does an open
///   that just finished an interrupted rotation (it made an archive);
/// * a listing older than its `max_age` is never used;
/// * what others may still do is harmless: an operator moving or deleting archives leaves
///   names of files gone since, which recovery and retention skip (`NotFound`), as they do for
///   a fresh listing raced by the same operator; a live file moved away is noticed by the
///   sink's reopen check as today.
///
/// What is left: a writer of another process still running when the listing was taken, whose
/// last act before it exits (within the second, and before this open takes the lock) is a
/// compression, or a background rotation with no line written after its start. The scan then
/// misses that one archive: retention keeps one archive too many until its next run, and a
/// rotation may reuse a sequence number (names still differ by their time).
///
/// A new listing is taken when none is fresh, so opening n writers costs about one listing a
/// second, each of the whole directory.
pub struct SharedListing {
    fs: Arc<dyn Filesystem>,
    dir: PathBuf,
    max_age: Duration,
    current: Mutex<Option<Listing>>,
    listings_taken: AtomicU64,
}

impl fmt::Debug for SharedListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedListing")
            .field("dir", &self.dir)
            .field("max_age", &self.max_age)
            .field("listings_taken", &self.listings_taken())
            .finish_non_exhaustive()
    }
}

impl SharedListing {
    /// Listings of `dir` (taken when first needed), each serving for `max_age`.
    pub fn new(fs: Arc<dyn Filesystem>, dir: impl Into<PathBuf>, max_age: Duration) -> Self {
        Self {
            fs,
            dir: dir.into(),
            max_age,
            current: Mutex::new(None),
            listings_taken: AtomicU64::new(0),
        }
    }

    /// The directory listed.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The filesystem it lists through.
    pub fn fs(&self) -> &Arc<dyn Filesystem> {
        &self.fs
    }

    /// How many times the directory was read.
    pub fn listings_taken(&self) -> u64 {
        self.listings_taken.load(Ordering::Relaxed)
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<Listing>> {
        // Only map operations run under the lock once a listing is in: a poisoned one is
        // still consistent.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `naming`'s archives, as [`ArchiveNaming::scan`] would find them. Call it holding the
    /// live file's lock; `live_changed` is the live file's modification time before this
    /// open touched it (`None` if it did not exist). From the current listing if it is fresh,
    /// this live file's share was not handed out yet and the file has not changed since the
    /// listing was taken (see [`SharedListing`]); otherwise from a new listing, which then
    /// serves the opens that follow. A live file of another directory is scanned on its own.
    ///
    /// # Errors
    /// The error of [`Filesystem::read_dir`], other than `NotFound` (a missing directory has
    /// no archives).
    pub fn scan(
        &self,
        naming: &ArchiveNaming,
        live_changed: Option<SystemTime>,
    ) -> io::Result<Scan> {
        if naming.dir() != self.dir {
            return naming.scan(self.fs.as_ref());
        }
        let live = live_name(naming);
        let mut current = self.current();
        let usable = current.as_ref().is_some_and(|l| {
            l.taken.elapsed() < self.max_age
                && !l.served.contains(&live)
                && !live_changed.is_some_and(|t| changed_since(t, l.taken_wall))
        });
        if !usable {
            *current = Some(self.take()?);
        }
        let Some(listing) = current.as_mut() else {
            return naming.scan(self.fs.as_ref());
        };
        listing.served.insert(live);
        let names = listing
            .by_stem
            .get(naming.stem())
            .cloned()
            .unwrap_or_default();
        Ok(naming.scan_names(names))
    }

    /// Marks `naming`'s share of the current listing as handed out: its writer is closing
    /// (and may have changed its files since the listing), so its next open lists afresh.
    pub fn forget(&self, naming: &ArchiveNaming) {
        if naming.dir() != self.dir {
            return;
        }
        if let Some(listing) = self.current().as_mut() {
            listing.served.insert(live_name(naming));
        }
    }

    /// Reads the directory and groups its archive names by stem.
    fn take(&self) -> io::Result<Listing> {
        let taken_wall = SystemTime::now();
        let taken = Instant::now();
        let names = match self.fs.read_dir(&self.dir) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        self.listings_taken.fetch_add(1, Ordering::Relaxed);
        let mut by_stem: HashMap<String, Vec<String>> = HashMap::new();
        for name in names {
            let stems: Vec<&str> = archive_stems(&name).collect();
            for stem in &stems {
                by_stem
                    .entry((*stem).to_string())
                    .or_default()
                    .push(name.clone());
            }
        }
        Ok(Listing {
            taken,
            taken_wall,
            by_stem,
            served: HashSet::new(),
        })
    }
}

/// The live file's name, the key of its share.
fn live_name(naming: &ArchiveNaming) -> String {
    naming
        .live_path()
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_fs::{FaultFs, Op, StdFs};
    use chrono::{TimeZone, Utc};

    fn dir() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("a/b/logs");
        std::fs::create_dir_all(&d).unwrap();
        (tmp, d)
    }

    /// Every form of archive for `live`, seqs 1..=3, and its live file.
    fn fill(d: &Path, live: &str) -> ArchiveNaming {
        let n = ArchiveNaming::new(&d.join(live)).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let a1 = n.archive_path(t, 1);
        std::fs::write(format!("{}.gz", a1.display()), b"gz").unwrap();
        std::fs::write(&a1, b"plain").unwrap();
        std::fs::write(n.archive_path(t, 2), b"plain").unwrap();
        std::fs::write(format!("{}.gz.tmp", n.archive_path(t, 3).display()), b"").unwrap();
        std::fs::write(n.live_path(), b"live\n").unwrap();
        n
    }

    #[test]
    fn a_shared_listing_gives_the_same_scan_as_a_fresh_one() {
        let (_tmp, d) = dir();
        // Names that nest in one another's: a stem that is another's prefix, dots, no
        // extension, a stamp-shaped part inside an app id.
        let lives = [
            "app.log",
            "app.err.log",
            "app2.log",
            "a.b.log",
            "web.20200101T000000Z-000001.x.log",
            "bare",
            "other.txt",
        ];
        let namings: Vec<_> = lives.iter().map(|l| fill(&d, l)).collect();
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        let (fs, faults) = FaultFs::shared();
        let shared = SharedListing::new(fs.clone(), &d, Duration::from_secs(3600));
        for n in &namings {
            let fresh = n.scan(&StdFs).unwrap();
            assert!(!fresh.archives.is_empty(), "{}", n.live_path().display());
            assert_eq!(
                shared.scan(n, None).unwrap(),
                fresh,
                "{}",
                n.live_path().display()
            );
        }
        assert_eq!(shared.listings_taken(), 1);
        assert_eq!(faults.calls(Op::ReadDir), 1);
    }

    #[test]
    fn a_second_open_or_a_changed_file_lists_afresh() {
        let (_tmp, d) = dir();
        let app = fill(&d, "app.log");
        let other = fill(&d, "other.log");
        let third = fill(&d, "third.log");
        let shared = SharedListing::new(StdFs::shared(), &d, Duration::from_secs(3600));
        let before = shared.scan(&app, None).unwrap();
        assert_eq!(before.archives.len(), 2);
        // Its own writer rotates: the next open of it sees the new archive.
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        std::fs::write(app.archive_path(t, 4), b"new").unwrap();
        let again = shared.scan(&app, None).unwrap();
        assert_eq!(again, app.scan(&StdFs).unwrap());
        assert_eq!(again.next_seq(), 5);
        assert_eq!(shared.listings_taken(), 2);
        // Another writer (another process) rotated `other` after the listing: its live
        // file's time says so.
        std::fs::write(other.archive_path(t, 4), b"new").unwrap();
        let got = shared.scan(&other, Some(SystemTime::now())).unwrap();
        assert_eq!(got.next_seq(), 5);
        assert_eq!(shared.listings_taken(), 3);
        // A writer closing: its next open lists afresh.
        shared.forget(&third);
        std::fs::write(third.archive_path(t, 4), b"new").unwrap();
        assert_eq!(shared.scan(&third, None).unwrap().next_seq(), 5);
        assert_eq!(shared.listings_taken(), 4);
    }

    #[test]
    fn a_change_just_before_the_listing_may_be_after_it() {
        let taken = SystemTime::UNIX_EPOCH + Duration::new(1_800_000_000, 500_000_000);
        // Nanosecond times: within 50 ms counts as after.
        assert!(changed_since(taken - Duration::from_millis(10), taken));
        assert!(!changed_since(taken - Duration::from_millis(100), taken));
        // Whole seconds (a coarse filesystem): up to 2 s before counts as after.
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(1_799_999_999);
        assert!(changed_since(whole, taken));
        assert!(!changed_since(whole - Duration::from_secs(2), taken));
    }

    #[test]
    fn an_old_listing_is_not_used() {
        let (_tmp, d) = dir();
        let a = fill(&d, "a.log");
        let b = fill(&d, "b.log");
        let shared = SharedListing::new(StdFs::shared(), &d, Duration::ZERO);
        shared.scan(&a, None).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        std::fs::write(b.archive_path(t, 9), b"new").unwrap();
        assert_eq!(shared.scan(&b, None).unwrap().next_seq(), 10);
        assert_eq!(shared.listings_taken(), 2);
    }

    #[test]
    fn a_missing_directory_has_no_archives_and_errors_are_returned() {
        let (_tmp, d) = dir();
        let gone = ArchiveNaming::new(&d.join("nope/app.log")).unwrap();
        let shared = SharedListing::new(StdFs::shared(), d.join("nope"), DEFAULT_LISTING_MAX_AGE);
        assert_eq!(shared.scan(&gone, None).unwrap(), Scan::default());
        let (fs, faults) = FaultFs::shared();
        faults.fail(Op::ReadDir, io::ErrorKind::PermissionDenied, 1);
        let shared = SharedListing::new(fs, &d, DEFAULT_LISTING_MAX_AGE);
        let n = fill(&d, "app.log");
        let e = shared.scan(&n, None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(shared.scan(&n, None).unwrap().archives.len(), 2);
    }
}
