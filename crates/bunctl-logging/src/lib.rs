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
//! | `bunctl-core` | [`AppId`], the filesystem seam |
//! | `bunctl-log-buffer` | byte chunks → whole, bounded lines |
//! | `bunctl-log-channel` | many producers → one writer thread, bounded by lines and bytes |
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
mod error;
mod manager;
mod writer;

pub use bunctl_core::{AppId, AppIdError};
pub use bunctl_log_buffer::{LineBuffer, LineFormat, Lines};
pub use bunctl_log_metrics::MetricsSnapshot;
pub use bunctl_log_sink::{FullDiskPolicy, RetryConfig};
pub use capture::{CaptureMode, Stream};
pub use config::{
    LogConfig, LogWriterConfig, Period, RotationConfig, RotationRule, RotationStrategy,
    WriterOptions, Zone, MAX_INTERVAL,
};
pub use error::{Error, Result};
pub use manager::{Capture, CaptureSummary, LogManager};
pub use writer::AsyncLogWriter;

#[doc = include_str!("product_readme.md")]
pub mod product_readme {}

/// The layers below the facade, for callers that compose their own stack.
pub mod layers {
    pub use bunctl_core::fs;
    pub use bunctl_log_buffer as buffer;
    pub use bunctl_log_channel as channel;
    pub use bunctl_log_metrics as metrics;
    pub use bunctl_log_rotation as rotation;
    pub use bunctl_log_sink as sink;
}
