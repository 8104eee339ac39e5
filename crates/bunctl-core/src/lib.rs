//! The workspace's stand-in for bunctl's own core crate (app config, processes, the
//! supervisor). Of it the log subsystem uses [`AppId`] alone (`new`, `as_str`, `Display`,
//! `Debug`, `Clone`, `Eq`, `Hash`), so that inside bunctl the real crate takes its place.
//! Whether an id can be a file name is decided by the logging crates, not here.
//!
//! ```
//! use bunctl_core::AppId;
//!
//! let app = AppId::new("web-1").unwrap();
//! assert_eq!(app.as_str(), "web-1");
//! assert!(AppId::new("../etc/passwd").is_err());
//! assert!(AppId::new("web.v2").is_ok());
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::fmt;

/// The longest app id accepted, in bytes (all accepted characters are ASCII).
pub const MAX_APP_ID_LEN: usize = 128;

/// The name of a supervised app: 1 to [`MAX_APP_ID_LEN`] characters of `[A-Za-z0-9._-]`,
/// not starting with `.` or `-` (so never `.` or `..`), as bunctl's own ids are (`web.v2`,
/// `com.example.api`). Whether it can name files in a log directory shared with other apps
/// is for the log subsystem to say: `bunctl_logging`'s writers refuse the ids their file
/// layout cannot hold apart from another app's.
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
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(AppIdErrorKind::InvalidChar(c));
    }
    if id.starts_with(['-', '.']) {
        return Err(AppIdErrorKind::BadStart);
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
    /// The id contains a character outside `[A-Za-z0-9._-]`.
    InvalidChar(char),
    /// The id starts with `-` or `.`.
    BadStart,
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
                "it contains {c:?}; only letters, digits, '.', '_' and '-' are allowed"
            ),
            AppIdErrorKind::BadStart => f.write_str("it starts with '-' or '.'"),
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
            "web.v2",
            "com.example.api",
            "A_b-c_d",
            "0-9",
            "x".repeat(MAX_APP_ID_LEN).as_str(),
        ] {
            assert!(AppId::new(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn rejects_unsafe_names() {
        let long = "x".repeat(MAX_APP_ID_LEN + 1);
        let cases: &[(&str, AppIdErrorKind)] = &[
            ("", AppIdErrorKind::Empty),
            (".", AppIdErrorKind::BadStart),
            ("..", AppIdErrorKind::BadStart),
            (".hidden", AppIdErrorKind::BadStart),
            ("-rf", AppIdErrorKind::BadStart),
            ("a/b", AppIdErrorKind::InvalidChar('/')),
            ("a\\b", AppIdErrorKind::InvalidChar('\\')),
            ("../etc", AppIdErrorKind::InvalidChar('/')),
            ("etc/passwd", AppIdErrorKind::InvalidChar('/')),
            ("a\0b", AppIdErrorKind::InvalidChar('\0')),
            ("a\nb", AppIdErrorKind::InvalidChar('\n')),
            ("a b", AppIdErrorKind::InvalidChar(' ')),
            ("a:b", AppIdErrorKind::InvalidChar(':')),
            ("é", AppIdErrorKind::InvalidChar('é')),
            (long.as_str(), AppIdErrorKind::TooLong(MAX_APP_ID_LEN + 1)),
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
                prop_assert!(!id.as_str().contains(['/', '\\', '\0']));
                prop_assert!(!id.as_str().starts_with('.'));
            }
        }
    }
}
