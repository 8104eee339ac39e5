//! The names of an app's files in a shared log directory, and which app a file belongs to.
//!
//! An app `web.v2` keeps, in the directory it shares with every other app:
//!
//! | file | name |
//! |---|---|
//! | live (stdout, or both streams merged) | `web.v2.log` |
//! | live stderr, when streams are kept apart | `web.v2.err.log` |
//! | archives of either | `web.v2[.err].<ts>-<seq>.log[.gz[.tmp]]` ([`ArchiveNaming`](crate::ArchiveNaming)) |
//! | lock and background rotation | `.web.v2[.err].log.lock`, `.web.v2[.err].log.next` |
//!
//! **The layout rule.** Every name is the app id, then `[.err]`, then `[.<ts>-<seq>]`, then
//! `.log`. Reading a name from its end (strip `.log`, then an archive stamp, then `.err`) gives
//! back the app id, so two apps share no file as long as no app id itself ends with what the
//! reading strips: an id whose last `.`-separated part is `err` or an archive stamp
//! (`a.err`, `a.20200101T000000Z-000001`) is refused by [`check_app_name`]. Every other id of
//! `[A-Za-z0-9._-]` is accepted, dots included (`web.v2`, `com.example.api`, `a.log`, `a.b.c`).

use std::fmt;

use crate::naming::{is_archive_stamp, GZ_SUFFIX, TMP_SUFFIX};

/// The extension of every log file an app has.
pub const LOG_EXTENSION: &str = "log";
/// What a stderr file adds after the app id: `<app>.err.log`.
pub const STDERR_TAG: &str = "err";
/// The longest app name accepted, in bytes (every accepted character is ASCII). With the
/// longest suffix added (`.err.<ts>-<seq>.log.gz.tmp`, under 60 bytes) a name stays far below
/// the 255-byte limit of file names.
pub const MAX_APP_NAME_LEN: usize = 128;

/// Names Windows reserves for devices, in any case and with any extension (`nul.txt` is `nul`).
const WINDOWS_DEVICE_NAMES: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Why an app name cannot name files in a shared directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppNameError {
    /// The name refused.
    pub name: String,
    /// The rule it breaks, as a sentence fragment ("it starts with '.'").
    pub reason: String,
}

impl fmt::Display for AppNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid app id {:?}: {}", self.name, self.reason)
    }
}

impl std::error::Error for AppNameError {}

/// Checks that `name` can be the id of an app's files in a shared directory.
///
/// The layout rule: every file name of an app is the id, then `.err` for stderr kept apart,
/// then `.<ts>-<seq>` for an archive, then `.log`; read from its end, a name gives back its
/// app. So an id whose last `.`-part is `err` or an archive stamp is refused: its files would
/// be another app's.
///
/// # Errors
/// [`AppNameError`] with the rule broken: empty, too long, a character outside
/// `[A-Za-z0-9._-]`, a leading `.` or `-` (`.` and `..` included), a Windows device name, or a
/// last part that the layout reserves (`err`, an archive stamp).
pub fn check_app_name(name: &str) -> Result<(), AppNameError> {
    let refuse = |reason: String| {
        Err(AppNameError {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("it is empty".into());
    }
    if name.len() > MAX_APP_NAME_LEN {
        return refuse(format!(
            "it is {} bytes long, the limit is {MAX_APP_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return refuse(format!(
            "it contains {c:?}; only letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    if let Some(c @ ('.' | '-')) = name.chars().next() {
        return refuse(format!("it starts with {c:?}"));
    }
    let first = name.split('.').next().unwrap_or(name);
    if WINDOWS_DEVICE_NAMES.contains(&first.to_ascii_lowercase().as_str()) {
        return refuse(format!("{first:?} is a reserved device name on Windows"));
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if name.contains('.') && last.eq_ignore_ascii_case(STDERR_TAG) {
        return refuse(format!(
            "its last part is {last:?}: `{name}.log` would be the stderr file of the app before it"
        ));
    }
    if name.contains('.') && is_archive_stamp(last) {
        return refuse(format!(
            "its last part {last:?} is an archive stamp: `{name}.log` would be an archive of the app before it"
        ));
    }
    Ok(())
}

/// The live file name of `app`'s stdout (or merged streams): `<app>.log`.
pub fn live_file_name(app: &str) -> String {
    format!("{app}.{LOG_EXTENSION}")
}

/// The live file name of `app`'s stderr kept apart: `<app>.err.log`.
pub fn stderr_file_name(app: &str) -> String {
    format!("{app}.{STDERR_TAG}.{LOG_EXTENSION}")
}

/// What a file name in a log directory says of the app it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFile {
    /// The app id.
    pub app: String,
    /// Whether it is one of the app's stderr files (`<app>.err…`).
    pub stderr: bool,
    /// Whether it is an archive (`….<ts>-<seq>.log[.gz]`) rather than a live file.
    pub archive: bool,
}

/// The app a log file belongs to: its live files, its archives (plain or `.gz`), nothing else
/// (not `.gz.tmp`, `.next`, locks or other files). The inverse of the layout rule of [`check_app_name`].
pub fn app_of_file(file_name: &str) -> Option<AppFile> {
    if file_name.ends_with(TMP_SUFFIX) || file_name.starts_with('.') {
        return None;
    }
    let name = file_name.strip_suffix(GZ_SUFFIX).unwrap_or(file_name);
    let compressed = name.len() != file_name.len();
    let mut rest = name.strip_suffix(LOG_EXTENSION)?.strip_suffix('.')?;
    let mut archive = false;
    if let Some((head, last)) = rest.rsplit_once('.') {
        if is_archive_stamp(last) {
            rest = head;
            archive = true;
        }
    }
    if compressed && !archive {
        return None; // a live file is never compressed
    }
    let mut stderr = false;
    if let Some(head) = rest
        .strip_suffix(STDERR_TAG)
        .and_then(|h| h.strip_suffix('.'))
    {
        rest = head;
        stderr = true;
    }
    check_app_name(rest).ok()?;
    Some(AppFile {
        app: rest.to_string(),
        stderr,
        archive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArchiveNaming;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use std::path::Path;

    #[test]
    fn dotted_names_are_accepted() {
        for ok in [
            "web.v2",
            "com.example.api",
            "a.log",
            "a.b.c",
            "a.gz",
            "a.err.x",
            "a_b-c",
        ] {
            assert_eq!(check_app_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn names_the_layout_cannot_hold_are_refused() {
        for (bad, why) in [
            ("", "empty"),
            (".", "starts with '.'"),
            ("..", "starts with '.'"),
            (".hidden", "starts with '.'"),
            ("-rf", "starts with '-'"),
            ("a/b", "'/'"),
            ("a b", "' '"),
            ("nul", "device"),
            ("NUL.x", "device"),
            ("a.err", "stderr file"),
            ("a.ERR", "stderr file"),
            ("a.20200101T000000Z-000001", "archive stamp"),
        ] {
            let e = check_app_name(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad:?}: {e}");
            assert!(e.to_string().contains("invalid app id"), "{e}");
        }
        assert!(check_app_name(&"x".repeat(MAX_APP_NAME_LEN + 1)).is_err());
        assert!(check_app_name(&"x".repeat(MAX_APP_NAME_LEN)).is_ok());
    }

    #[test]
    fn files_name_their_app() {
        let cases = [
            ("web.v2.log", Some(("web.v2", false, false))),
            ("web.v2.err.log", Some(("web.v2", true, false))),
            ("a.20200101T000000Z-000001.log", Some(("a", false, true))),
            (
                "a.b.err.20200101T000000Z-000001.log.gz",
                Some(("a.b", true, true)),
            ),
            ("a.log.log", Some(("a.log", false, false))),
            ("a.log.gz", None),
            ("a.20200101T000000Z-000001.log.gz.tmp", None),
            (".a.log.lock", None),
            (".a.log.next", None),
            ("notes.txt", None),
            (".log", None),
        ];
        for (file, want) in cases {
            let got = app_of_file(file).map(|f| (f.app, f.stderr, f.archive));
            let want = want.map(|(a, s, r)| (a.to_string(), s, r));
            assert_eq!(got, want, "{file}");
        }
    }

    /// Every file one app can have, as the writers name them.
    fn files_of(app: &str) -> Vec<String> {
        let started = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        let mut files = Vec::new();
        for live in [live_file_name(app), stderr_file_name(app)] {
            let naming = ArchiveNaming::new(&Path::new("/d").join(&live)).unwrap();
            let archive = naming.archive_name(started, 1);
            files.push(format!("{archive}.gz.tmp"));
            files.push(format!("{archive}.gz"));
            files.push(archive);
            files.push(format!(".{live}.next"));
            files.push(format!(".{live}.lock"));
            files.push(live);
        }
        files
    }

    /// Ids built from parts that look like the layout's own (`err`, `log`, stamps).
    fn dotted_id() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("err".to_string()),
            Just("log".to_string()),
            Just("gz".to_string()),
            Just("20200101T000000Z-000001".to_string()),
            "[a-z0-9_-]{1,4}",
        ];
        proptest::collection::vec(part, 1..4).prop_map(|p| p.join("."))
    }

    #[test]
    fn the_named_pairs_share_no_file() {
        for (a, b) in [
            ("a", "a.b"),
            ("a", "a.log"),
            ("a.b", "a.b.c"),
            ("a", "a.err.x"),
            ("web", "web.v2"),
        ] {
            let fa = files_of(a);
            assert!(files_of(b).iter().all(|f| !fa.contains(f)), "{a} / {b}");
        }
    }

    proptest! {
        #[test]
        fn two_accepted_ids_share_no_file(a in dotted_id(), b in dotted_id()) {
            prop_assume!(a != b);
            prop_assume!(check_app_name(&a).is_ok() && check_app_name(&b).is_ok());
            let fa = files_of(&a);
            for f in files_of(&b) {
                prop_assert!(!fa.contains(&f), "{} is a file of both {} and {}", f, a, b);
            }
        }

        #[test]
        fn every_file_names_its_own_app(a in dotted_id()) {
            prop_assume!(check_app_name(&a).is_ok());
            for f in files_of(&a) {
                if let Some(owner) = app_of_file(&f) {
                    prop_assert_eq!(&owner.app, &a, "{}", f);
                }
            }
            let live = app_of_file(&live_file_name(&a));
            prop_assert_eq!(live.map(|f| f.app), Some(a.clone()));
        }
    }
}
