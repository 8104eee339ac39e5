//! Configuration of the manager and of single writers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bunctl_log_rotation::{DailyPolicy, HourlyPolicy, NeverPolicy, RotationPolicy, SizePolicy};
use bunctl_log_sink::RetryConfig;

/// When a live file is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStrategy {
    /// When a write would take the file past this many bytes.
    Size(u64),
    /// At the first write on a new UTC day.
    Daily,
    /// At the first write in a new UTC hour.
    Hourly,
    /// Never: one file grows without bound.
    Never,
}

impl RotationStrategy {
    /// The policy that carries this strategy out.
    pub fn policy(self) -> Box<dyn RotationPolicy> {
        match self {
            Self::Size(n) => Box::new(SizePolicy(n)),
            Self::Daily => Box::new(DailyPolicy),
            Self::Hourly => Box::new(HourlyPolicy),
            Self::Never => Box::new(NeverPolicy),
        }
    }
}

/// Rotation and retention of one writer's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationConfig {
    /// When to rotate. Default: `Size(10 MiB)`.
    pub strategy: RotationStrategy,
    /// Most rotated files kept; the oldest beyond it are deleted. Default 10.
    pub max_files: usize,
    /// Whether rotated files are gzipped. Default true.
    pub compression: bool,
}

impl Default for RotationConfig {
    fn default() -> Self {
        Self {
            strategy: RotationStrategy::Size(10 << 20),
            max_files: 10,
            compression: true,
        }
    }
}

/// Configuration of one [`AsyncLogWriter`](crate::AsyncLogWriter).
#[derive(Debug, Clone, PartialEq)]
pub struct LogWriterConfig {
    /// The live file. Default `app.log`. Its directory is created if missing.
    pub path: PathBuf,
    /// Rotation and retention.
    pub rotation: RotationConfig,
    /// The writer writes as soon as this many bytes are buffered (batches grow larger under
    /// load, while the previous one is being written). Default 64 KiB.
    pub buffer_size: usize,
    /// Buffered lines reach the file at the latest this long after they were written. An idle
    /// writer has no timer. Default 100 ms.
    pub flush_interval: Duration,
    /// Most lines buffered at once; beyond it `write_line` drops, `try_write_line` says
    /// `Full`, `write_line_async` waits. Default 1000.
    pub max_concurrent_writes: usize,
    /// Gzip rotated files (together with `rotation.compression`). Default true.
    pub enable_compression: bool,
    /// Most bytes buffered at once, the memory bound. Default 4 MiB.
    pub max_buffered_bytes: usize,
    /// Lines longer than this are split into marked pieces. Default 1 MiB.
    pub max_line_len: usize,
    /// How long `shutdown` may take before the writer is aborted. Default 10 s.
    pub shutdown_timeout: Duration,
    /// Retries and circuit breaker for I/O errors.
    pub retry: RetryConfig,
    /// gzip level of rotated files, 0 (store) to 9 (smallest). Default 6, gzip's own default;
    /// 1 takes about a third of the CPU for files about 1.6× larger (see the README's gzip
    /// bench).
    pub compression_level: u32,
    /// Most bytes of rotated files kept, if set; the oldest beyond it are deleted (the newest
    /// is kept even if it alone is larger). Default `None`: only `rotation.max_files` applies.
    pub max_total_bytes: Option<u64>,
}

impl Default for LogWriterConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("app.log"),
            rotation: RotationConfig::default(),
            buffer_size: 64 << 10,
            flush_interval: Duration::from_millis(100),
            max_concurrent_writes: 1000,
            enable_compression: true,
            max_buffered_bytes: 4 << 20,
            max_line_len: bunctl_log_buffer::DEFAULT_MAX_LINE_LEN,
            shutdown_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
            compression_level: 6,
            max_total_bytes: None,
        }
    }
}

impl LogWriterConfig {
    pub(crate) fn validate(&self) -> crate::Result<()> {
        let bad = |what: &str| Err(crate::Error::InvalidConfig(what.to_owned()));
        if self.buffer_size == 0 {
            return bad("buffer_size must be at least 1");
        }
        if self.max_concurrent_writes == 0 {
            return bad("max_concurrent_writes must be at least 1");
        }
        if self.max_line_len == 0 {
            return bad("max_line_len must be at least 1");
        }
        if self.path.file_name().is_none() {
            return Err(crate::Error::InvalidConfig(format!(
                "log path {} has no file name",
                self.path.display()
            )));
        }
        if let RotationStrategy::Size(0) = self.rotation.strategy {
            return bad("RotationStrategy::Size must be at least 1 byte");
        }
        if self.compression_level > 9 {
            return bad("compression_level must be 0 to 9");
        }
        Ok(())
    }
}

/// Configuration of a [`LogManager`](crate::LogManager): one directory, one file per app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Where `<app>.log` files go. Default `/var/log/bunctl` (Unix) or
    /// `C:\ProgramData\bunctl\logs` (Windows).
    pub base_dir: PathBuf,
    /// Rotate a file before it grows past this many bytes. Default 10 MiB.
    pub max_file_size: u64,
    /// Rotated files kept per app. Default 10.
    pub max_files: usize,
    /// Gzip rotated files. Default true.
    pub compression: bool,
    /// Bytes buffered before the writer writes (see [`LogWriterConfig::buffer_size`]).
    /// Default 8192.
    pub buffer_size: usize,
    /// Longest time a line stays buffered, in milliseconds. Default 100.
    pub flush_interval_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            base_dir: default_base_dir(),
            max_file_size: 10 << 20,
            max_files: 10,
            compression: true,
            buffer_size: 8192,
            flush_interval_ms: 100,
        }
    }
}

fn default_base_dir() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(r"C:\ProgramData\bunctl\logs")
    } else {
        PathBuf::from("/var/log/bunctl")
    }
}

impl LogConfig {
    /// The live file of `app`: `<base_dir>/<app>.log`. An [`AppId`](crate::AppId) cannot
    /// leave `base_dir`.
    pub fn log_path(&self, app: &crate::AppId) -> PathBuf {
        self.base_dir.join(format!("{app}.log"))
    }

    /// The writer configuration for the file `path` under this manager's settings.
    pub fn writer_config(&self, path: &Path) -> LogWriterConfig {
        LogWriterConfig {
            path: path.to_path_buf(),
            rotation: RotationConfig {
                strategy: RotationStrategy::Size(self.max_file_size),
                max_files: self.max_files,
                compression: self.compression,
            },
            buffer_size: self.buffer_size,
            flush_interval: Duration::from_millis(self.flush_interval_ms),
            enable_compression: self.compression,
            ..LogWriterConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let c = LogConfig::default();
        assert_eq!(c.max_file_size, 10 << 20);
        assert_eq!(c.max_files, 10);
        assert!(c.compression);
        assert_eq!(c.buffer_size, 8192);
        assert_eq!(c.flush_interval_ms, 100);
        #[cfg(unix)]
        assert_eq!(c.base_dir, PathBuf::from("/var/log/bunctl"));
        let w = LogWriterConfig::default();
        assert_eq!(w.path, PathBuf::from("app.log"));
        assert_eq!(w.buffer_size, 64 << 10);
        assert_eq!(w.flush_interval, Duration::from_millis(100));
        assert_eq!(w.max_concurrent_writes, 1000);
        assert!(w.enable_compression);
    }

    /// The product's README writes these two structs out in full, without
    /// `..Default::default()`: a new field would break its users' code. This test stops that.
    #[test]
    fn the_product_readme_shapes_still_compile() {
        let _ = RotationConfig {
            strategy: RotationStrategy::Size(100 << 20),
            max_files: 50,
            compression: true,
        };
        let _ = LogConfig {
            base_dir: PathBuf::from("/var/log/bunctl"),
            max_file_size: 10 << 20,
            max_files: 10,
            compression: true,
            buffer_size: 8192,
            flush_interval_ms: 100,
        };
    }

    #[test]
    fn validation_rejects_unusable_values() {
        for c in [
            LogWriterConfig {
                buffer_size: 0,
                ..Default::default()
            },
            LogWriterConfig {
                max_concurrent_writes: 0,
                ..Default::default()
            },
            LogWriterConfig {
                path: PathBuf::from("/"),
                ..Default::default()
            },
            LogWriterConfig {
                rotation: RotationConfig {
                    strategy: RotationStrategy::Size(0),
                    ..Default::default()
                },
                ..Default::default()
            },
            LogWriterConfig {
                compression_level: 10,
                ..Default::default()
            },
        ] {
            assert!(matches!(c.validate(), Err(crate::Error::InvalidConfig(_))));
        }
        assert!(LogWriterConfig::default().validate().is_ok());
    }
}
