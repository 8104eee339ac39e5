//! The one error type of the facade.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use bunctl_log_rotation::AppNameError;

/// Everything that can go wrong in the log subsystem. Messages name the file or directory and
/// the OS error where there is one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An app id cannot name files in the log directory: it breaks the
    /// [layout rule](bunctl_log_rotation::check_app_name) that keeps apps' files apart.
    InvalidAppId(AppNameError),
    /// A configuration value is unusable.
    InvalidConfig {
        /// The field, as named in the config struct (`flush_interval_ms`, `retry.initial_delay`).
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// Another writer, in this process or another, already writes this log file: one writer
    /// per file, enforced with an exclusive lock on a lock file next to it. The lock goes away
    /// with its holder, however it ends.
    Locked {
        /// The live file.
        path: PathBuf,
        /// The lock file (`.<file name>.lock` next to it).
        lock_file: PathBuf,
        /// The holder's process id, where it could be read.
        pid: Option<u32>,
    },
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
    /// The writer is closed (shut down, or its thread ended).
    Closed,
    /// Lines accepted earlier could not be written (after retries, or while the circuit breaker
    /// was open). The file has a marker line at the gap.
    WriteFailed {
        /// The live file.
        path: PathBuf,
        /// How many lines were lost.
        lines_lost: u64,
        /// The last I/O error seen (its kind and message).
        source: io::Error,
    },
    /// Shutdown did not finish in time. A writer thread stuck in a system call cannot be
    /// stopped: it is left to finish on its own, and the lines it still writes are counted in
    /// `lines_written`, those it cannot in `lines_lost` (each line once).
    ShutdownTimeout {
        /// The live file.
        path: PathBuf,
        /// The timeout that expired.
        timeout: Duration,
        /// Lines accepted but not yet written when it expired.
        unwritten_lines: u64,
    },
    /// `flush` did not finish in time (a hung disk); the lines stay buffered and the writer
    /// keeps trying.
    FlushTimeout {
        /// The live file.
        path: PathBuf,
        /// The timeout that expired.
        timeout: Duration,
        /// Lines accepted but not yet written when it expired.
        unwritten_lines: u64,
    },
    /// Several writers failed to close; one error per writer.
    Multiple(Vec<Error>),
    /// A thread or task of the log subsystem panicked (a bug: please report it).
    TaskFailed {
        /// The file it served.
        path: PathBuf,
        /// Which one: "writer thread", "open", "shutdown", "capture pump".
        task: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidAppId(e) => e.fmt(f),
            Self::InvalidConfig { field, reason } => {
                write!(f, "invalid log configuration: {field}: {reason}")
            }
            Self::Locked {
                path,
                lock_file,
                pid,
            } => {
                write!(
                    f,
                    "log file {} is already being written by another writer",
                    path.display()
                )?;
                match pid {
                    Some(pid) if *pid == std::process::id() => {
                        write!(f, " in this process (pid {pid})")?
                    }
                    Some(pid) => write!(f, " (pid {pid})")?,
                    None => {}
                }
                write!(f, "; it holds the lock {}", lock_file.display())
            }
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
                source,
            } => write!(
                f,
                "{lines_lost} lines could not be written to {}: {source}",
                path.display()
            ),
            Self::ShutdownTimeout {
                path,
                timeout,
                unwritten_lines,
            } => write!(
                f,
                "log writer for {} did not shut down within {timeout:?}; \
                 {unwritten_lines} lines were not written yet (its thread goes on and counts \
                 each as written or lost)",
                path.display()
            ),
            Self::FlushTimeout {
                path,
                timeout,
                unwritten_lines,
            } => write!(
                f,
                "log writer for {} did not flush within {timeout:?}; \
                 {unwritten_lines} lines are not written yet",
                path.display()
            ),
            Self::TaskFailed { path, task } => write!(
                f,
                "the log {task} for {} panicked (a bug in bunctl-logging: please report it)",
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
            Self::Io { source, .. } | Self::WriteFailed { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Error {
    /// A copy of this error, for an outcome reported more than once (a repeated `shutdown`).
    /// An I/O error keeps its kind and message; its inner error type is not kept.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::InvalidAppId(e) => Self::InvalidAppId(e.clone()),
            Self::InvalidConfig { field, reason } => Self::InvalidConfig {
                field,
                reason: reason.clone(),
            },
            Self::Locked {
                path,
                lock_file,
                pid,
            } => Self::Locked {
                path: path.clone(),
                lock_file: lock_file.clone(),
                pid: *pid,
            },
            Self::Io {
                action,
                path,
                source,
            } => Self::Io {
                action,
                path: path.clone(),
                source: copy_io(source),
            },
            Self::Full => Self::Full,
            Self::TooLarge { bytes, lines } => Self::TooLarge {
                bytes: *bytes,
                lines: *lines,
            },
            Self::Closed => Self::Closed,
            Self::WriteFailed {
                path,
                lines_lost,
                source,
            } => Self::WriteFailed {
                path: path.clone(),
                lines_lost: *lines_lost,
                source: copy_io(source),
            },
            Self::ShutdownTimeout {
                path,
                timeout,
                unwritten_lines,
            } => Self::ShutdownTimeout {
                path: path.clone(),
                timeout: *timeout,
                unwritten_lines: *unwritten_lines,
            },
            Self::FlushTimeout {
                path,
                timeout,
                unwritten_lines,
            } => Self::FlushTimeout {
                path: path.clone(),
                timeout: *timeout,
                unwritten_lines: *unwritten_lines,
            },
            Self::Multiple(errors) => Self::Multiple(errors.iter().map(Self::duplicate).collect()),
            Self::TaskFailed { path, task } => Self::TaskFailed {
                path: path.clone(),
                task,
            },
        }
    }
}

/// An I/O error with the same kind and message (`io::Error` is not `Clone`).
pub(crate) fn copy_io(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

impl From<AppNameError> for Error {
    fn from(e: AppNameError) -> Self {
        Self::InvalidAppId(e)
    }
}

/// `Result` with the facade's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
