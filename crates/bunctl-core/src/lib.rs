//! Types shared by `bunctl` and every layer of its log subsystem.
//!
//! * [`AppId`]: the name of a supervised app, validated so that it is always safe to use as a
//!   file name: no app id can address a file outside the directory it is joined to.
//! * [`fs`]: the filesystem seam. Every layer that touches files does so through
//!   [`fs::Filesystem`], so tests can inject real error kinds (ENOSPC, EACCES, EIO) at any step
//!   without root and without a full disk.
//!
//! ```
//! use bunctl_core::AppId;
//!
//! let app = AppId::new("web-1").unwrap();
//! assert_eq!(app.as_str(), "web-1");
//! assert!(AppId::new("../etc/passwd").is_err());
//! assert!(AppId::new("nul").is_err()); // a Windows device name
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod fs;

/// Every thread of the log subsystem has a name starting with this: writer threads
/// (`bunctl-log <file>`), the compressor (`bunctl-log-gzip`), background syncs
/// (`bunctl-log-sync`).
pub const THREAD_NAME_PREFIX: &str = "bunctl-log";

/// Whether the calling thread is one of the log subsystem's own (see [`THREAD_NAME_PREFIX`]).
/// A logging backend that waits for room in a writer's buffer must not wait on these: the
/// writer thread would wait for itself.
pub fn is_log_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|name| name.starts_with(THREAD_NAME_PREFIX))
}

use std::fmt;

/// The longest app id accepted, in bytes (all accepted characters are ASCII).
pub const MAX_APP_ID_LEN: usize = 64;

/// Names Windows reserves for devices, in any case and with any extension (`nul.txt` is `nul`).
const WINDOWS_DEVICE_NAMES: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    "conin$", "conout$",
];

/// The validated name of a supervised app.
///
/// An `AppId` is 1 to [`MAX_APP_ID_LEN`] characters of `[A-Za-z0-9_-]`, does not start with
/// `-`, and is not a Windows device name (`con`, `nul`, `com1`, ...). It is therefore safe as a
/// file name on every platform: it contains no separator, cannot be `.` or `..`, and cannot be
/// mistaken for an option on a command line.
///
/// It contains no `.` either, so that no file of one app can be taken for a file of another:
/// every file the log subsystem keeps for an app (`web.log`, `web.err.log`, the archives
/// `web.20261125T163918Z-000042.log.gz`, the lock `.web.log.lock`) starts with the app id
/// followed by a `.` (after the lock's leading `.`), so the text up to the first `.` names the
/// app. With dots allowed, `a.err`'s live file would be `a`'s stderr file, and the live file of
/// `a.20200101T000000Z-000001` would parse as an archive of `a`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(String);

impl AppId {
    /// Validates `id` and wraps it.
    ///
    /// # Errors
    /// [`AppIdError`] saying which rule `id` breaks.
    pub fn new(id: impl Into<String>) -> Result<Self, AppIdError> {
        let id = id.into();
        validate(&id).map_err(|reason| AppIdError {
            id: id.clone(),
            reason,
        })?;
        Ok(Self(id))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate(id: &str) -> Result<(), AppIdErrorKind> {
    if id.is_empty() {
        return Err(AppIdErrorKind::Empty);
    }
    if id.len() > MAX_APP_ID_LEN {
        return Err(AppIdErrorKind::TooLong(id.len()));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return Err(AppIdErrorKind::InvalidChar(c));
    }
    if id.starts_with('-') {
        return Err(AppIdErrorKind::BadStart);
    }
    // Windows also reserves `nul.log`: the files of an app `nul` would be devices there.
    if WINDOWS_DEVICE_NAMES.contains(&id.to_ascii_lowercase().as_str()) {
        return Err(AppIdErrorKind::ReservedName);
    }
    Ok(())
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppId({:?})", self.0)
    }
}

impl AsRef<str> for AppId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for AppId {
    type Err = AppIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for AppId {
    type Error = AppIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<&str> for AppId {
    type Error = AppIdError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

/// Why a string was rejected as an [`AppId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppIdError {
    id: String,
    reason: AppIdErrorKind,
}

impl AppIdError {
    /// The rejected input.
    pub fn input(&self) -> &str {
        &self.id
    }

    /// The rule it breaks.
    pub fn kind(&self) -> &AppIdErrorKind {
        &self.reason
    }
}

/// The rule an invalid app id breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppIdErrorKind {
    /// The id is empty.
    Empty,
    /// The id is longer than [`MAX_APP_ID_LEN`] bytes (the length is given).
    TooLong(usize),
    /// The id contains a character outside `[A-Za-z0-9_-]` (a `.` included: see [`AppId`]).
    InvalidChar(char),
    /// The id starts with `-`.
    BadStart,
    /// The id is a Windows device name such as `con` or `nul`.
    ReservedName,
}

impl fmt::Display for AppIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid app id {:?}: ", self.id)?;
        match &self.reason {
            AppIdErrorKind::Empty => f.write_str("it is empty"),
            AppIdErrorKind::TooLong(n) => {
                write!(f, "it is {n} bytes long, the limit is {MAX_APP_ID_LEN}")
            }
            AppIdErrorKind::InvalidChar(c) => write!(
                f,
                "it contains {c:?}; only letters, digits, '_' and '-' are allowed"
            ),
            AppIdErrorKind::BadStart => f.write_str("it starts with '-'"),
            AppIdErrorKind::ReservedName => f.write_str("it is a reserved device name on Windows"),
        }
    }
}

impl std::error::Error for AppIdError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "a",
            "my-app",
            "web_1",
            "A_b-c_d",
            "0-9",
            "x".repeat(64).as_str(),
            "console",
            "com10",
        ] {
            assert!(AppId::new(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn rejects_unsafe_names() {
        let long = "x".repeat(65);
        let cases: &[(&str, AppIdErrorKind)] = &[
            ("", AppIdErrorKind::Empty),
            (".", AppIdErrorKind::InvalidChar('.')),
            ("..", AppIdErrorKind::InvalidChar('.')),
            (".hidden", AppIdErrorKind::InvalidChar('.')),
            ("a.err", AppIdErrorKind::InvalidChar('.')),
            (
                "a.20200101T000000Z-000001",
                AppIdErrorKind::InvalidChar('.'),
            ),
            ("-rf", AppIdErrorKind::BadStart),
            ("a/b", AppIdErrorKind::InvalidChar('/')),
            ("a\\b", AppIdErrorKind::InvalidChar('\\')),
            ("../etc", AppIdErrorKind::InvalidChar('.')),
            ("etc/passwd", AppIdErrorKind::InvalidChar('/')),
            ("a\0b", AppIdErrorKind::InvalidChar('\0')),
            ("a\nb", AppIdErrorKind::InvalidChar('\n')),
            ("a\x1bb", AppIdErrorKind::InvalidChar('\x1b')),
            ("a b", AppIdErrorKind::InvalidChar(' ')),
            ("a:b", AppIdErrorKind::InvalidChar(':')),
            ("é", AppIdErrorKind::InvalidChar('é')),
            ("con", AppIdErrorKind::ReservedName),
            ("NUL", AppIdErrorKind::ReservedName),
            ("com1", AppIdErrorKind::ReservedName),
            ("Lpt9", AppIdErrorKind::ReservedName),
            ("conIN$", AppIdErrorKind::InvalidChar('$')),
            (long.as_str(), AppIdErrorKind::TooLong(65)),
        ];
        for (bad, kind) in cases {
            let err = AppId::new(*bad).unwrap_err();
            assert_eq!(err.kind(), kind, "{bad:?}");
            assert_eq!(err.input(), *bad);
            assert!(err.to_string().contains("invalid app id"));
        }
    }

    proptest! {
        #[test]
        fn accepted_ids_are_plain_file_names(s in ".{0,80}") {
            if let Ok(id) = AppId::new(s.clone()) {
                let p = std::path::Path::new("/base").join(format!("{id}.log"));
                prop_assert_eq!(p.parent(), Some(std::path::Path::new("/base")));
                prop_assert!(!id.as_str().contains(['/', '\\', '\0', '.']));
                prop_assert!(id.as_str().len() <= MAX_APP_ID_LEN);
            }
        }
    }
}
