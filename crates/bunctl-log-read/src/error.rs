//! The one error of reading: what was being done, to which file, and the OS error.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

const OUTPUT_ACTION: &str = "write the lines to";

/// A file operation of a reader failed. The facade turns it into its own `Error::Io` with the
/// same three fields; the CLI prints it.
#[derive(Debug)]
pub struct Error {
    /// What was being done, e.g. "read log file".
    pub action: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The OS error.
    pub source: io::Error,
}

impl Error {
    /// An error of `action` on `path`.
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            action,
            path: path.into(),
            source,
        }
    }

    /// A failure to write the lines out (to the caller's `Write`), not to read them.
    pub fn output(source: io::Error) -> Self {
        Self::new(OUTPUT_ACTION, "the output", source)
    }

    /// Whether this is an [`output`](Self::output) error: the reader of the lines went away
    /// (`bunctl-log cat | head`), not a log file.
    pub fn is_output(&self) -> bool {
        self.action == OUTPUT_ACTION
    }

    /// The kind of the OS error.
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.action,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl From<Error> for io::Error {
    /// The same kind, the message naming the file (for callers that speak `io::Error`).
    fn from(e: Error) -> Self {
        io::Error::new(e.source.kind(), e)
    }
}

/// `Result` with the reader's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds what was being done and to which file to an I/O result.
pub(crate) trait Context<T> {
    /// The error, if any, as an [`Error`] of `action` on `path`.
    fn context(self, action: &'static str, path: &Path) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, action: &'static str, path: &Path) -> Result<T> {
        self.map_err(|source| Error::new(action, path, source))
    }
}
