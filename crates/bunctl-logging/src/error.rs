//! The one error type of the facade.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use bunctl_core::AppIdError;

/// Everything that can go wrong in the log subsystem. Messages name the file or directory and
/// the OS error where there is one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An app id was rejected.
    InvalidAppId(AppIdError),
    /// A configuration value is unusable.
    InvalidConfig(String),
    /// A file operation failed.
    Io {
        /// What was being done, e.g. "open log file".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// [`try_write_line`](crate::AsyncLogWriter::try_write_line) found the buffer full; the line
    /// was not taken.
    Full,
    /// The line can never fit the buffer at once; `write_line_async` writes it in pieces.
    TooLarge {
        /// Its size once encoded.
        bytes: usize,
        /// Its lines once encoded.
        lines: usize,
    },
    /// The writer is closed (shut down, or its task ended).
    Closed,
    /// Lines accepted earlier could not be written (after retries, or while the circuit breaker
    /// was open). The file has a marker line at the gap.
    WriteFailed {
        /// The live file.
        path: PathBuf,
        /// How many lines were lost.
        lines_lost: u64,
        /// The last error seen.
        reason: String,
    },
    /// Shutdown did not finish in time; the writer was aborted.
    ShutdownTimeout {
        /// The live file.
        path: PathBuf,
        /// The timeout that expired.
        timeout: Duration,
        /// Lines accepted but not written.
        unwritten_lines: u64,
    },
    /// Several writers failed to close; one error per writer.
    Multiple(Vec<Error>),
    /// A background task of the log subsystem ended abnormally (a bug: please report it).
    TaskFailed {
        /// The file the task served.
        path: PathBuf,
        /// What the runtime said.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidAppId(e) => e.fmt(f),
            Self::InvalidConfig(what) => write!(f, "invalid log configuration: {what}"),
            Self::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Self::Full => f.write_str("the log buffer is full; the line was not taken"),
            Self::TooLarge { bytes, lines } => write!(
                f,
                "the message ({bytes} bytes, {lines} lines) is larger than the whole log buffer; \
                 write it with write_line_async"
            ),
            Self::Closed => f.write_str("the log writer is closed"),
            Self::WriteFailed {
                path,
                lines_lost,
                reason,
            } => write!(
                f,
                "{lines_lost} lines could not be written to {}: {reason}",
                path.display()
            ),
            Self::ShutdownTimeout {
                path,
                timeout,
                unwritten_lines,
            } => write!(
                f,
                "log writer for {} did not shut down within {timeout:?}; \
                 {unwritten_lines} lines were not written",
                path.display()
            ),
            Self::TaskFailed { path, reason } => write!(
                f,
                "the log task for {} ended abnormally: {reason}",
                path.display()
            ),
            Self::Multiple(errors) => {
                write!(f, "{} log writers failed:", errors.len())?;
                for e in errors {
                    write!(f, " [{e}]")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidAppId(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<AppIdError> for Error {
    fn from(e: AppIdError) -> Self {
        Self::InvalidAppId(e)
    }
}

/// `Result` with the facade's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
