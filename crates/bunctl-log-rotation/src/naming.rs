//! What rotated files are named, and how to find them again.
//!
//! Over 500 lines with its tests; the code (the names and their parsers, which must agree) is
//! about 400 of them.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use bunctl_log_fs::{parent_dir, Filesystem};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// `strftime` format of the timestamp in an archive's name.
pub const TIMESTAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// Length of a formatted timestamp: `20261125T163918Z`.
const TIMESTAMP_LEN: usize = 16;
/// The fewest digits a sequence number is written with (zero-padded).
pub const SEQ_MIN_DIGITS: usize = 6;
/// Suffix of a compressed archive.
pub const GZ_SUFFIX: &str = ".gz";
/// Suffix of a compression in progress (`.gz` + this).
pub const TMP_SUFFIX: &str = ".tmp";
/// Suffix of the hidden file writing goes on in while a rotation finishes in the background
/// ([`ArchiveNaming::next_path`]).
pub const NEXT_SUFFIX: &str = ".next";
/// Suffix of the hidden lock file ([`ArchiveNaming::lock_path`]).
pub const LOCK_SUFFIX: &str = ".lock";
/// Suffix of the hidden record that a writer has the live file open
/// ([`ArchiveNaming::open_record_path`]).
pub const OPEN_SUFFIX: &str = ".open";

/// Naming of a live file's rotated archives.
///
/// Live `/d/app.log` -> archives `/d/app.20261125T163918Z-000042.log`, compressed
/// `/d/app.20261125T163918Z-000042.log.gz`, in-progress compression `...log.gz.tmp`.
///
/// * stem = the file name up to the **last** `.` (after it is the extension, here `log`); a
///   live name without extension (`/d/app`) gives `/d/app.20261125T163918Z-000042`. A name
///   whose only `.` is the first character (`.app`) or the last one (`app.`) has no extension.
/// * timestamp = the time the archive's content started, UTC, [`TIMESTAMP_FORMAT`]; times
///   outside the years 0000–9999 are clamped into them so the timestamp keeps its width.
/// * seq = a sequence number that never repeats for this live file, written with at least
///   [`SEQ_MIN_DIGITS`] digits, zero-padded, so names sort oldest first.
///
/// The archives sit in the live file's directory. [`parse`](Self::parse) recognizes exactly the
/// names [`archive_path`](Self::archive_path) produces (in their plain, `.gz` and `.gz.tmp`
/// forms) and nothing else, so `app.err.log`'s archives or `app2.log`'s are never mistaken for
/// `app.log`'s, and retention never deletes another app's files.
///
/// ```
/// use bunctl_log_rotation::{ArchiveForm, ArchiveNaming};
/// use chrono::{TimeZone, Utc};
/// use std::path::Path;
///
/// let naming = ArchiveNaming::new(Path::new("/d/app.log")).unwrap();
/// let started = Utc.with_ymd_and_hms(2026, 11, 25, 16, 39, 18).unwrap();
/// let p = naming.archive_path(started, 42);
/// assert_eq!(p, Path::new("/d/app.20261125T163918Z-000042.log"));
///
/// let f = naming.parse("app.20261125T163918Z-000042.log.gz").unwrap();
/// assert_eq!((f.seq, f.form), (42, ArchiveForm::Gzip));
/// assert!(naming.parse("app.err.20261125T163918Z-000001.log").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveNaming {
    live: PathBuf,
    dir: PathBuf,
    stem: String,
    ext: Option<String>,
}

/// Which form of an archive a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveForm {
    /// Not compressed: `app.<ts>-<seq>.log`.
    Plain,
    /// Compressed: `app.<ts>-<seq>.log.gz`.
    Gzip,
    /// A compression in progress or interrupted: `app.<ts>-<seq>.log.gz.tmp`.
    GzipTemp,
}

/// What an archive's file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// The sequence number.
    pub seq: u64,
    /// The timestamp text, as in the name (`20261125T163918Z`).
    pub started: String,
    /// Which form the file is.
    pub form: ArchiveForm,
}

impl ArchiveFile {
    /// The timestamp as a time (always `Some` for a name that [`ArchiveNaming::parse`] accepted).
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        NaiveDateTime::parse_from_str(&self.started, TIMESTAMP_FORMAT)
            .ok()
            .map(|t| t.and_utc())
    }
}

/// One rotated archive of a live file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// The sequence number.
    pub seq: u64,
    /// The file that holds the archive: the `.gz` if there is one, else the plain file.
    pub path: PathBuf,
    /// Whether `path` is the `.gz` form.
    pub compressed: bool,
    /// A plain file of the same seq left next to the `.gz` (a compression interrupted after its
    /// commit point); it is redundant and the sink's crash recovery (`bunctl-log-sink`'s `recovery.rs`) removes it.
    pub plain_leftover: Option<PathBuf>,
}

/// A live file's archives, as found in its directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The archives, oldest first (ascending seq, then name). A `.gz` and a plain file are one
    /// archive only if the `.gz` is named after the plain file.
    pub archives: Vec<Archive>,
    /// `.gz.tmp` files: compressions in progress or interrupted, sorted by name.
    pub temp_files: Vec<PathBuf>,
}

impl Scan {
    /// The next unused seq after the archives found: 1 + the largest, 1 if none. (A `.gz.tmp`
    /// always has its plain archive, or its `.gz`, next to it.)
    pub fn next_seq(&self) -> u64 {
        self.archives
            .iter()
            .map(|a| a.seq)
            .max()
            .map_or(1, |m| m.saturating_add(1))
    }
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The timestamp text for `t`, clamped into the years 0000–9999 so it is always 16 characters.
fn format_timestamp(t: DateTime<Utc>) -> String {
    let lo = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).single();
    let hi = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single();
    let t = match (lo, hi) {
        (Some(lo), _) if t < lo => lo,
        (_, Some(hi)) if t > hi => hi,
        _ => t,
    };
    t.format(TIMESTAMP_FORMAT).to_string()
}

/// Whether `ts` has the shape `DDDDDDDDTDDDDDDZ` and is a real date and time.
fn valid_timestamp(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() == TIMESTAMP_LEN
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && NaiveDateTime::parse_from_str(ts, TIMESTAMP_FORMAT).is_ok()
}

/// Whether `seq_text` is the one spelling of a seq: at least [`SEQ_MIN_DIGITS`] digits, no
/// padding beyond that, so one seq has exactly one name.
fn canonical_seq(seq_text: &str) -> bool {
    seq_text.len() >= SEQ_MIN_DIGITS
        && seq_text.bytes().all(|b| b.is_ascii_digit())
        && !(seq_text.len() > SEQ_MIN_DIGITS && seq_text.starts_with('0'))
        && seq_text.parse::<u64>().is_ok()
}

/// Whether `text` is the stamp an archive adds to a name: `<ts>-<seq>`.
pub(crate) fn is_archive_stamp(text: &str) -> bool {
    text.split_once('-')
        .is_some_and(|(ts, seq)| valid_timestamp(ts) && canonical_seq(seq))
}

impl ArchiveNaming {
    /// The naming for the live file `live`.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] if `live` has no file name (`/`, `..`) or its name is not
    /// UTF-8.
    pub fn new(live: &Path) -> io::Result<Self> {
        let name = live.file_name().ok_or_else(|| {
            invalid_input(format!("log path {} has no file name", live.display()))
        })?;
        let name = name.to_str().ok_or_else(|| {
            invalid_input(format!(
                "log file name {} is not valid UTF-8",
                live.display()
            ))
        })?;
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 && i + 1 < name.len() => {
                (name[..i].to_string(), Some(name[i + 1..].to_string()))
            }
            _ => (name.to_string(), None),
        };
        Ok(Self {
            live: live.to_path_buf(),
            dir: parent_dir(live),
            stem,
            ext,
        })
    }

    /// The live file.
    pub fn live_path(&self) -> &Path {
        &self.live
    }

    /// The live file's name up to its extension (`app` of `app.log`): what every archive
    /// name starts with.
    pub(crate) fn stem(&self) -> &str {
        &self.stem
    }

    /// The directory of the live file and its archives (`.` for a bare file name).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock file that makes one writer the only one of this live file: `.<live name>.lock`
    /// next to it (`/d/.app.log.lock`). Hidden, so it is never listed as a log file, and never
    /// an archive name of any live file: those start with the live file's stem.
    pub fn lock_path(&self) -> PathBuf {
        let name = match &self.ext {
            Some(ext) => format!(".{}.{ext}{LOCK_SUFFIX}", self.stem),
            None => format!(".{}{LOCK_SUFFIX}", self.stem),
        };
        self.dir.join(name)
    }

    /// The record that a writer has this live file open: `.<live name>.open` next to it
    /// (`/d/.app.log.open`), holding the boot it was opened in, removed by a clean close.
    /// Hidden, so listing, recovery and retention never take it for a log file.
    pub fn open_record_path(&self) -> PathBuf {
        let name = match &self.ext {
            Some(ext) => format!(".{}.{ext}{OPEN_SUFFIX}", self.stem),
            None => format!(".{}{OPEN_SUFFIX}", self.stem),
        };
        self.dir.join(name)
    }

    /// Where writing goes on while a rotated file is fsynced in the background:
    /// `.<live name>.next` next to it (`/d/.app.log.next`), renamed to the live name once the
    /// rotated file is durable and renamed to its archive name. Hidden like the lock file, so
    /// listing, recovery and retention of any app never take it for a log file.
    pub fn next_path(&self) -> PathBuf {
        let name = match &self.ext {
            Some(ext) => format!(".{}.{ext}{NEXT_SUFFIX}", self.stem),
            None => format!(".{}{NEXT_SUFFIX}", self.stem),
        };
        self.dir.join(name)
    }

    /// The file name of the plain archive whose content started at `started`, number `seq`.
    pub fn archive_name(&self, started: DateTime<Utc>, seq: u64) -> String {
        let ts = format_timestamp(started);
        match &self.ext {
            Some(ext) => format!("{}.{ts}-{seq:06}.{ext}", self.stem),
            None => format!("{}.{ts}-{seq:06}", self.stem),
        }
    }

    /// The path of the plain archive whose content started at `started`, number `seq`.
    pub fn archive_path(&self, started: DateTime<Utc>, seq: u64) -> PathBuf {
        self.dir.join(self.archive_name(started, seq))
    }

    /// Parses a file name (not a path) in [`dir`](Self::dir); `None` if it is not one of this
    /// live file's archives (in any of its forms).
    pub fn parse(&self, file_name: &str) -> Option<ArchiveFile> {
        let rest = file_name
            .strip_prefix(self.stem.as_str())?
            .strip_prefix('.')?;
        let ts = rest.get(..TIMESTAMP_LEN)?;
        if !valid_timestamp(ts) {
            return None;
        }
        let rest = rest.get(TIMESTAMP_LEN..)?.strip_prefix('-')?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (seq_text, mut rest) = rest.split_at(digits);
        if !canonical_seq(seq_text) {
            return None;
        }
        let seq: u64 = seq_text.parse().ok()?;
        if let Some(ext) = &self.ext {
            rest = rest.strip_prefix('.')?.strip_prefix(ext.as_str())?;
        }
        let form = match rest.strip_prefix(GZ_SUFFIX) {
            None if rest.is_empty() => ArchiveForm::Plain,
            Some("") => ArchiveForm::Gzip,
            Some(TMP_SUFFIX) => ArchiveForm::GzipTemp,
            _ => return None,
        };
        Some(ArchiveFile {
            seq,
            started: ts.to_string(),
            form,
        })
    }

    /// This live file's archives, oldest first (by seq), one entry per seq: if both the plain
    /// and the `.gz` file exist, the `.gz` counts as the archive and `plain_leftover` is set.
    /// `.gz.tmp` files are reported in `temp_files`. A missing directory has no archives.
    ///
    /// # Errors
    /// The error of [`Filesystem::read_dir`], other than `NotFound`.
    pub fn scan(&self, fs: &dyn Filesystem) -> io::Result<Scan> {
        match fs.read_dir(&self.dir) {
            Ok(names) => Ok(self.scan_names(names)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Scan::default()),
            Err(e) => Err(e),
        }
    }

    /// [`scan`](Self::scan) of file names already listed (names in [`dir`](Self::dir), not
    /// paths): other files among them are ignored, so any superset of this live file's names
    /// (the whole directory, or a [`SharedListing`](crate::SharedListing)'s share of it)
    /// gives the same [`Scan`].
    pub fn scan_names(&self, mut names: Vec<String>) -> Scan {
        #[derive(Default)]
        struct Forms {
            plain: Option<String>,
            gz: Option<String>,
        }
        // Sorted so that the (never expected) case of two names for one archive resolves the same
        // way every time: the first name wins.
        names.sort_unstable();
        // Keyed by seq and the plain name (a `.gz`'s name less its suffix): a `.gz` and a plain
        // file are one archive only if the `.gz` is that file's compressed copy, not merely of
        // the same seq (its time may differ).
        let mut by_seq: BTreeMap<(u64, String), Forms> = BTreeMap::new();
        let mut scan = Scan::default();
        for name in names {
            let Some(file) = self.parse(&name) else {
                continue;
            };
            match file.form {
                ArchiveForm::GzipTemp => scan.temp_files.push(self.dir.join(&name)),
                ArchiveForm::Plain => {
                    by_seq
                        .entry((file.seq, name.clone()))
                        .or_default()
                        .plain
                        .get_or_insert(name);
                }
                ArchiveForm::Gzip => {
                    let plain = name.strip_suffix(GZ_SUFFIX).unwrap_or(&name).to_owned();
                    by_seq
                        .entry((file.seq, plain))
                        .or_default()
                        .gz
                        .get_or_insert(name);
                }
            }
        }
        scan.archives = by_seq
            .into_iter()
            .filter_map(|((seq, _), forms)| match (forms.gz, forms.plain) {
                (Some(gz), plain) => Some(Archive {
                    seq,
                    path: self.dir.join(gz),
                    compressed: true,
                    plain_leftover: plain.map(|p| self.dir.join(p)),
                }),
                (None, Some(plain)) => Some(Archive {
                    seq,
                    path: self.dir.join(plain),
                    compressed: false,
                    plain_leftover: None,
                }),
                (None, None) => None,
            })
            .collect();
        scan
    }

    /// The next unused seq: 1 + the largest seq found in any form (including `.gz.tmp`), 1 if
    /// none. A missing directory gives 1.
    ///
    /// # Errors
    /// The error of [`Filesystem::read_dir`], other than `NotFound`.
    pub fn next_seq(&self, fs: &dyn Filesystem) -> io::Result<u64> {
        let names = match fs.read_dir(&self.dir) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(1),
            Err(e) => return Err(e),
        };
        Ok(names
            .iter()
            .filter_map(|n| self.parse(n))
            .map(|f| f.seq)
            .max()
            .map_or(1, |m| m.saturating_add(1)))
    }
}

/// The stems `file_name` could be an archive of: the text before each `.<ts>-<seq>` in it
/// (one, but for a stem that itself holds something shaped like a stamp). Every name that
/// [`ArchiveNaming::parse`] accepts yields its naming's stem, so grouping a listing by these
/// keys loses none of a live file's archives.
pub(crate) fn archive_stems(file_name: &str) -> impl Iterator<Item = &str> {
    file_name.match_indices('.').filter_map(move |(i, _)| {
        let rest = &file_name[i + 1..];
        let ts = rest.get(..TIMESTAMP_LEN)?;
        let seq = rest.get(TIMESTAMP_LEN..)?.strip_prefix('-')?;
        let digits = seq.find(|c: char| !c.is_ascii_digit()).unwrap_or(seq.len());
        (valid_timestamp(ts) && canonical_seq(&seq[..digits])).then(|| &file_name[..i])
    })
}

/// `path` with `suffix` appended to its file name (`a.log` + `.gz` = `a.log.gz`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_fs::StdFs;
    use proptest::prelude::*;

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn app_log() -> ArchiveNaming {
        ArchiveNaming::new(Path::new("/d/app.log")).unwrap()
    }

    #[test]
    fn archive_names() {
        let n = app_log();
        assert_eq!(n.live_path(), Path::new("/d/app.log"));
        assert_eq!(n.dir(), Path::new("/d"));
        let t = ts(2026, 11, 25, 16, 39, 18);
        assert_eq!(
            n.archive_path(t, 42),
            PathBuf::from("/d/app.20261125T163918Z-000042.log")
        );
        assert_eq!(
            n.archive_path(t, 1_234_567),
            PathBuf::from("/d/app.20261125T163918Z-1234567.log")
        );
        let f = n.parse("app.20261125T163918Z-000042.log").unwrap();
        assert_eq!(
            f,
            ArchiveFile {
                seq: 42,
                started: "20261125T163918Z".into(),
                form: ArchiveForm::Plain
            }
        );
        assert_eq!(f.started_at(), Some(t));
        assert_eq!(
            n.parse("app.20261125T163918Z-000042.log.gz").unwrap().form,
            ArchiveForm::Gzip
        );
        assert_eq!(
            n.parse("app.20261125T163918Z-000042.log.gz.tmp")
                .unwrap()
                .form,
            ArchiveForm::GzipTemp
        );
    }

    #[test]
    fn live_without_extension() {
        let n = ArchiveNaming::new(Path::new("/d/app")).unwrap();
        let t = ts(2026, 11, 25, 16, 39, 18);
        let p = n.archive_path(t, 42);
        assert_eq!(p, PathBuf::from("/d/app.20261125T163918Z-000042"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(n.parse(name).unwrap().seq, 42);
        assert_eq!(
            n.parse("app.20261125T163918Z-000042.gz").unwrap().form,
            ArchiveForm::Gzip
        );
        assert_eq!(
            n.parse("app.20261125T163918Z-000042.gz.tmp").unwrap().form,
            ArchiveForm::GzipTemp
        );
        // app.log's archives are not app's
        assert!(n.parse("app.20261125T163918Z-000042.log").is_none());
        assert!(n.parse("app").is_none());
        // and app's are not app.log's
        assert!(app_log().parse("app.20261125T163918Z-000042").is_none());
        assert!(app_log().parse("app.20261125T163918Z-000042.gz").is_none());
    }

    #[test]
    fn odd_live_names() {
        let hidden = ArchiveNaming::new(Path::new("/d/.app")).unwrap();
        let t = ts(2026, 1, 2, 3, 4, 5);
        assert_eq!(
            hidden.archive_path(t, 1),
            PathBuf::from("/d/.app.20260102T030405Z-000001")
        );
        let dotted = ArchiveNaming::new(Path::new("/d/app.err.log")).unwrap();
        let p = dotted.archive_path(t, 3);
        assert_eq!(p, PathBuf::from("/d/app.err.20260102T030405Z-000003.log"));
        assert_eq!(
            dotted
                .parse("app.err.20260102T030405Z-000003.log")
                .unwrap()
                .seq,
            3
        );
        let bare = ArchiveNaming::new(Path::new("app.log")).unwrap();
        assert_eq!(bare.dir(), Path::new("."));
        assert_eq!(
            bare.archive_path(t, 1),
            PathBuf::from("./app.20260102T030405Z-000001.log")
        );
    }

    #[test]
    fn rejects_bad_live_paths() {
        for p in ["/", "..", "/d/.."] {
            let e = ArchiveNaming::new(Path::new(p)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{p}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let p = Path::new(std::ffi::OsStr::from_bytes(b"/d/\xffapp.log"));
            let e = ArchiveNaming::new(p).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn parse_rejects_other_files() {
        let n = app_log();
        for name in [
            "app.log",
            "app.log.gz",
            "app.err.20261125T163918Z-000001.log",
            "app.err.log",
            "app2.20261125T163918Z-000001.log",
            "other.20261125T163918Z-000001.log",
            "xapp.20261125T163918Z-000001.log",
            "app.20261125T163918Z-000001.log.bak",
            "app.20261125T163918Z-000001.log.gz.tmp.x",
            "app.20261125T163918Z-000001.txt",
            "app.20261125T163918Z-000001",
            "app.20261125T163918Z-00001.log",   // too few digits
            "app.20261125T163918Z-0000001.log", // non-canonical padding
            "app.20261125T163918Z-.log",
            "app.20261125T163918Z000001.log",
            "app.20261125T163918-000001.log",
            "app.2026112XT163918Z-000001.log",
            "app.20261325T163918Z-000001.log", // month 13
            "app.20261125T256018Z-000001.log", // hour 25
            "app.20261125T163918Z-99999999999999999999.log", // overflows u64
            "app.20261125T163918Z-000001.logx",
            "app.20261125T163918Z-000001.log.GZ",
            "app.२०२६1125T163918Z-000001.log",
            "",
            ".",
            "random",
            "app",
            "app.",
        ] {
            assert_eq!(n.parse(name), None, "{name:?}");
        }
    }

    #[test]
    fn names_sort_in_seq_order() {
        let n = app_log();
        let t0 = ts(2026, 11, 25, 16, 39, 18);
        let names: Vec<String> = (1..=120u64)
            .map(|seq| n.archive_name(t0 + chrono::TimeDelta::minutes(seq as i64 / 7), seq))
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        // same timestamp: the zero-padded seq orders them
        let same: Vec<String> = [1u64, 9, 10, 99, 100, 999_999]
            .iter()
            .map(|&s| n.archive_name(t0, s))
            .collect();
        let mut sorted = same.clone();
        sorted.sort();
        assert_eq!(same, sorted);
    }

    #[test]
    fn timestamps_keep_their_width() {
        let n = app_log();
        let far = DateTime::<Utc>::MAX_UTC;
        let name = n.archive_name(far, 5);
        assert_eq!(name, "app.99991231T235959Z-000005.log");
        assert_eq!(n.parse(&name).unwrap().seq, 5);
        let early = DateTime::<Utc>::MIN_UTC;
        let name = n.archive_name(early, 6);
        assert_eq!(name, "app.00000101T000000Z-000006.log");
        assert_eq!(n.parse(&name).unwrap().seq, 6);
    }

    fn touch(p: &Path, content: &[u8]) {
        std::fs::write(p, content).unwrap();
    }

    #[test]
    fn scan_merges_forms_and_ignores_others() {
        let dir = tempfile::tempdir().unwrap();
        let n = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
        let t = ts(2026, 11, 25, 16, 0, 0);
        let fs = StdFs;
        assert_eq!(n.scan(&fs).unwrap(), Scan::default());
        assert_eq!(n.next_seq(&fs).unwrap(), 1);

        let a1 = n.archive_path(t, 1);
        let a2 = n.archive_path(t, 2);
        let a3 = n.archive_path(t, 3);
        touch(&with_suffix(&a1, ".gz"), b"gz1");
        touch(&a2, b"plain2");
        touch(&with_suffix(&a2, ".gz"), b"gz2");
        touch(&a3, b"plain3");
        touch(&with_suffix(&a3, ".gz.tmp"), b"partial");
        touch(&dir.path().join("app.log"), b"live");
        touch(
            &dir.path().join("app.err.20261125T160000Z-000009.log"),
            b"x",
        );
        touch(&dir.path().join("app2.20261125T160000Z-000010.log"), b"x");
        touch(&dir.path().join("notes.txt"), b"x");

        let scan = n.scan(&fs).unwrap();
        assert_eq!(
            scan.archives,
            vec![
                Archive {
                    seq: 1,
                    path: with_suffix(&a1, ".gz"),
                    compressed: true,
                    plain_leftover: None
                },
                Archive {
                    seq: 2,
                    path: with_suffix(&a2, ".gz"),
                    compressed: true,
                    plain_leftover: Some(a2.clone())
                },
                Archive {
                    seq: 3,
                    path: a3.clone(),
                    compressed: false,
                    plain_leftover: None
                },
            ]
        );
        assert_eq!(scan.temp_files, vec![with_suffix(&a3, ".gz.tmp")]);
        assert_eq!(n.next_seq(&fs).unwrap(), 4);

        // a lone temp file still reserves its seq
        touch(&with_suffix(&n.archive_path(t, 7), ".gz.tmp"), b"");
        assert_eq!(n.next_seq(&fs).unwrap(), 8);
    }

    #[test]
    fn a_gz_pairs_only_with_the_plain_file_it_was_made_from() {
        // Same seq, another time: not the compressed copy, so the plain file is no leftover
        // (recovery would have removed the only copy of its lines).
        let dir = tempfile::tempdir().unwrap();
        let n = ArchiveNaming::new(&dir.path().join("app.log")).unwrap();
        let plain = n.archive_path(ts(2026, 11, 25, 16, 0, 0), 1);
        let other_gz = with_suffix(&n.archive_path(ts(2026, 11, 24, 9, 0, 0), 1), ".gz");
        touch(&plain, b"plain");
        touch(&other_gz, b"gz");
        let scan = n.scan(&StdFs).unwrap();
        assert_eq!(scan.archives.len(), 2, "{:?}", scan.archives);
        assert!(scan.archives.iter().all(|a| a.plain_leftover.is_none()));
        assert!(scan
            .archives
            .iter()
            .any(|a| a.path == plain && !a.compressed));
        assert!(scan
            .archives
            .iter()
            .any(|a| a.path == other_gz && a.compressed));
    }

    #[test]
    fn scan_of_missing_dir_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let n = ArchiveNaming::new(&dir.path().join("nope/app.log")).unwrap();
        assert_eq!(n.scan(&StdFs).unwrap(), Scan::default());
        assert_eq!(n.next_seq(&StdFs).unwrap(), 1);
    }

    proptest! {
        #[test]
        fn round_trip(seq in 0u64..1_000_000_000, secs in 0i64..253_402_300_799i64,
                      stem in "[a-z][a-z0-9_-]{0,12}", ext in proptest::option::of("[a-z]{1,4}")) {
            let live = match &ext {
                Some(e) => format!("/logs/{stem}.{e}"),
                None => format!("/logs/{stem}"),
            };
            let n = ArchiveNaming::new(Path::new(&live)).unwrap();
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            let p = n.archive_path(t, seq);
            prop_assert_eq!(p.parent(), Some(Path::new("/logs")));
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let f = n.parse(&name).unwrap();
            prop_assert_eq!(f.seq, seq);
            prop_assert_eq!(f.form, ArchiveForm::Plain);
            prop_assert_eq!(f.started_at(), Some(t));
            prop_assert_eq!(n.parse(&format!("{name}.gz")).unwrap().form, ArchiveForm::Gzip);
            prop_assert_eq!(n.parse(&format!("{name}.gz.tmp")).unwrap().form, ArchiveForm::GzipTemp);
            // the live file itself is never an archive
            prop_assert!(n.parse(live.trim_start_matches("/logs/")).is_none());
        }

        #[test]
        fn same_width_names_sort_by_seq(a in 0u64..1_000_000, b in 0u64..1_000_000, secs in 0i64..4_000_000_000i64) {
            let n = app_log();
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            let (na, nb) = (n.archive_name(t, a), n.archive_name(t, b));
            prop_assert_eq!(a.cmp(&b), na.cmp(&nb));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,60}") {
            let _ = app_log().parse(&s);
        }
    }
}
