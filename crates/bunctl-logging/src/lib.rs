//! Per-app log files for the `bunctl` process supervisor.
//!
//! Each supervised app's output goes to `<base_dir>/<app>.log`, which rotates, compresses and
//! expires, never fills the disk, never stalls the supervisor, and never loses or tears a line
//! that the caller was told was accepted.
//!
//! This crate is the facade over the layers below it:
//!
//! | crate | job |
//! |---|---|
//! | `bunctl-core` | [`AppId`] (bunctl's own; nothing else of it is used) |
//! | `bunctl-log-fs` | the filesystem seam: no symlink followed, locks, file identity |
//! | `bunctl-log-buffer` | byte chunks → whole, bounded lines |
//! | `bunctl-log-channel` | many producers → one writer, bounded in bytes |
//! | `bunctl-log-rotation` | when to rotate, archive names, retention, compression |
//! | `bunctl-log-sink` | `FileSink` and the rotating, retrying, metered layers |
//! | `bunctl-log-metrics` | lock-free counters, [`MetricsSnapshot`] |
//!
//! ```
//! use bunctl_logging::{AppId, LogConfig, LogManager};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let dir = tempfile::tempdir().unwrap();
//! let manager = LogManager::new(LogConfig {
//!     base_dir: dir.path().to_path_buf(),
//!     ..LogConfig::default()
//! });
//! let app = AppId::new("my-app")?;
//! let writer = manager.get_writer(&app).await?;
//! writer.write_line("[INFO] started")?;              // never blocks; drops when full
//! writer.write_line_async("[INFO] ready").await?;    // waits for room: lossless
//! manager.close_all().await?;                        // everything is in the file now
//!
//! let text = std::fs::read_to_string(dir.path().join("my-app.log"))?;
//! assert_eq!(text, "[INFO] started\n[INFO] ready\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod capture;
mod config;
mod durability;
mod error;
mod line_buffer;
mod losses;
mod manager;
mod metrics;
mod pool;
mod read;
mod rotation;
mod writer;

pub use bunctl_core::AppId;
pub use bunctl_log_buffer::{
    is_marker, marker_text, JsonLine, Marker, CONTINUATION_MARKER, CUT_LINE_MARKER, MARKER_PREFIX,
    MARKER_STREAM, ROTATION_FAILED_MARKER, ROTATION_RESUMED_MARKER,
};
pub use bunctl_log_buffer::{LineFormat, LineSplitter, Lines};
pub use bunctl_log_fs::{is_log_thread, Filesystem, StdFs};
/// The names of the metrics the writers record through the `metrics` facade.
pub use bunctl_log_metrics::names as metric_names;
pub use bunctl_log_metrics::MetricsSnapshot;
pub use bunctl_log_rotation::{check_app_name, AppNameError};
pub use bunctl_log_rotation::{Clock, SystemClock};
pub use bunctl_log_sink::{FullDiskPolicy, RetryConfig};
pub use capture::{CaptureMode, Stream};
pub use config::{
    LogConfig, LogWriterConfig, Period, RotationConfig, RotationRule, RotationStrategy,
    WriterOptions, Zone, MAX_INTERVAL,
};
pub use error::{Error, Result};
pub use line_buffer::{BufferStats, LineBuffer, LineBufferConfig};
pub use manager::{Capture, CaptureSummary, LogManager};
pub use metrics::LogMetrics;
pub use read::{LogLines, StructuredLogs};
pub use rotation::LogRotation;
pub use writer::{AsyncLogWriter, LogWriter};

#[doc = include_str!("product_readme.md")]
pub mod product_readme {}

/// Test tooling for your own tests of code that logs through this crate (feature
/// `testing`): a filesystem that fails on command with real error kinds, and a clock you move
/// by hand for time-based rotation. Not for production builds.
#[cfg(feature = "testing")]
pub mod testing {
    pub use bunctl_log_fs::{CrashFs, CrashLog, CrashState, Cut, DirOrder, FaultFs, Faults, Op};
    pub use bunctl_log_rotation::ManualClock;
}

/// An app's (or any live file's) files, oldest first: its rotated files, compressed or not,
/// then the live file itself if it exists. What `tail`-like readers need, without parsing
/// names; [`AsyncLogWriter::log_files`] is the same for an open writer.
///
/// # Errors
/// [`Error::Io`] if the directory cannot be read.
pub fn list_log_files(live: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    bunctl_log_sink::list_log_files(&StdFs, live).map_err(|source| Error::Io {
        action: "list log files in",
        path: bunctl_log_fs::parent_dir(live),
        source,
    })
}
