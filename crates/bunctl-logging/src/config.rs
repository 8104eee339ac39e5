//! Configuration of the manager and of single writers.
//!
//! One job in about 570 lines of code, 150 of them docs: every public type of the
//! configuration, its defaults and its validation, which name the same fields (`Error::InvalidConfig`
//! names the field), so a field and its check stay side by side. Its tests follow.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bunctl_log_buffer::LineFormat;
use bunctl_log_fs::{DEFAULT_DIR_MODE, DEFAULT_FILE_MODE};

use crate::capture::Stream;
use bunctl_log_rotation::{
    AnyOf, DailyIn, DailyPolicy, HourlyIn, HourlyPolicy, NeverPolicy, RotationPolicy, SizePolicy,
};
use bunctl_log_sink::{FullDiskPolicy, RetryConfig};

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

/// The clock that daily and hourly periods follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zone {
    /// UTC: every day is 24 hours. The default.
    #[default]
    Utc,
    /// The machine's local time (`TZ`, else `/etc/localtime`): a day is a calendar day, so
    /// the days daylight saving makes 23 or 25 hours long rotate once, at local midnight.
    Local,
}

/// A rotation period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// At the first write on a new day.
    Daily,
    /// At the first write in a new hour.
    Hourly,
}

/// When a live file rotates, with every choice the product's [`RotationStrategy`] lacks:
/// by size, by period, by size or period whichever comes first, in UTC or local time. Set it
/// in [`WriterOptions::rotation`] (for a [`LogManager`](crate::LogManager): for all apps, or
/// one app with [`LogManager::set_app_options`](crate::LogManager::set_app_options)); it then
/// replaces `rotation.strategy` (or `LogConfig::max_file_size`).
///
/// ```
/// use bunctl_logging::{Period, RotationRule};
///
/// let nightly_or_100_mib = RotationRule::size_or_every(100 << 20, Period::Daily).in_local_time();
/// # let _ = nightly_or_100_mib;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationRule {
    /// Rotate before the file grows past this many bytes.
    pub max_size: Option<u64>,
    /// Rotate when a new period starts.
    pub every: Option<Period>,
    /// The clock periods follow.
    pub zone: Zone,
}

impl RotationRule {
    /// Rotate by size only.
    pub fn size(max_size: u64) -> Self {
        Self {
            max_size: Some(max_size),
            every: None,
            zone: Zone::Utc,
        }
    }

    /// Rotate at each new period only (UTC unless [`in_local_time`](Self::in_local_time)).
    pub fn every(period: Period) -> Self {
        Self {
            max_size: None,
            every: Some(period),
            zone: Zone::Utc,
        }
    }

    /// Rotate at each new period, and before the file grows past `max_size` bytes.
    pub fn size_or_every(max_size: u64, period: Period) -> Self {
        Self {
            max_size: Some(max_size),
            every: Some(period),
            zone: Zone::Utc,
        }
    }

    /// Never rotate.
    pub fn never() -> Self {
        Self {
            max_size: None,
            every: None,
            zone: Zone::Utc,
        }
    }

    /// Periods on the machine's local clock instead of UTC.
    #[must_use]
    pub fn in_local_time(mut self) -> Self {
        self.zone = Zone::Local;
        self
    }

    /// The policy that carries this rule out.
    pub fn policy(self) -> Box<dyn RotationPolicy> {
        let period: Option<Box<dyn RotationPolicy>> = match (self.every, self.zone) {
            (None, _) => None,
            (Some(Period::Daily), Zone::Utc) => Some(Box::new(DailyPolicy)),
            (Some(Period::Hourly), Zone::Utc) => Some(Box::new(HourlyPolicy)),
            (Some(Period::Daily), Zone::Local) => Some(Box::new(DailyIn::local())),
            (Some(Period::Hourly), Zone::Local) => Some(Box::new(HourlyIn::local())),
        };
        match (self.max_size, period) {
            (None, None) => Box::new(NeverPolicy),
            (Some(size), None) => Box::new(SizePolicy(size)),
            (None, Some(period)) => period,
            (Some(size), Some(period)) => Box::new(AnyOf(vec![Box::new(SizePolicy(size)), period])),
        }
    }
}

impl From<RotationStrategy> for RotationRule {
    fn from(s: RotationStrategy) -> Self {
        match s {
            RotationStrategy::Size(n) => Self::size(n),
            RotationStrategy::Daily => Self::every(Period::Daily),
            RotationStrategy::Hourly => Self::every(Period::Hourly),
            RotationStrategy::Never => Self::never(),
        }
    }
}

/// Rotation and retention of one writer's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationConfig {
    /// When to rotate. Default: `Size(10 MiB)`.
    pub strategy: RotationStrategy,
    /// Most rotated files kept; the oldest beyond it are deleted. Default 10.
    pub max_files: u32,
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

/// Configuration of one [`AsyncLogWriter`](crate::AsyncLogWriter): exactly the product's
/// fields, so its struct literals compile as written. Every other knob is in
/// [`WriterOptions`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogWriterConfig {
    /// The live file. Default `app.log`. Its directory is created if missing. A path with a
    /// `..` component is refused: a writer never ends up outside the directory its
    /// configuration names.
    pub path: PathBuf,
    /// Rotation and retention.
    pub rotation: RotationConfig,
    /// The size of one write to the file: the writer writes as soon as this many bytes are
    /// buffered (a batch grows larger under load, while the previous one is being written, up
    /// to everything buffered: at most [`WriterOptions::max_buffered_bytes`]). Default 64 KiB.
    pub buffer_size: usize,
    /// Buffered lines reach the file at the latest this long after they were written. An idle
    /// writer has no timer. Default 100 ms; at most [`MAX_INTERVAL`].
    pub flush_interval: Duration,
    /// Most write calls in progress at once, those waiting for room included (as the v2
    /// crate's semaphore bounded them; what is buffered is bounded in bytes, by
    /// [`WriterOptions::max_buffered_bytes`]). Past it `write_line` drops and counts,
    /// `try_write_line` says `Full`, `write_line_async` and `write_line_blocking` wait for one
    /// of the calls to be done. A call whose line fits goes in under the buffer's lock and
    /// never waits, so what is counted is the calls waiting for room: see
    /// [`bunctl_log_channel::Sender`] for why that honours the limit at no cost to a call
    /// that finds room. Default 1000.
    pub max_concurrent_writes: usize,
    /// Gzip rotated files (together with `rotation.compression`). Default true.
    pub enable_compression: bool,
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
        }
    }
}

/// The longest `flush_interval` (and `flush_interval_ms`, and retry delay) accepted: one hour.
/// Longer ones are configuration mistakes (`u64::MAX` milliseconds), refused with a clear
/// error rather than left to overflow a clock.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

fn invalid(field: &'static str, reason: impl Into<String>) -> crate::Result<()> {
    Err(crate::Error::InvalidConfig {
        field,
        reason: reason.into(),
    })
}

/// Whether `path` has a `..` component (`a/../b`, `../x`): such a path may lead out of the
/// directory it seems to name, so log paths are refused with one.
fn has_parent_component(path: &Path) -> bool {
    path.components()
        .any(|c| c == std::path::Component::ParentDir)
}

fn at_most_max_interval(field: &'static str, d: Duration) -> crate::Result<()> {
    if d > MAX_INTERVAL {
        return invalid(field, format!("{d:?} is longer than the limit of one hour"));
    }
    Ok(())
}

impl LogWriterConfig {
    /// Checks every value, naming the first unusable one.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) with the field and the reason.
    pub fn validate(&self) -> crate::Result<()> {
        if has_parent_component(&self.path) {
            return invalid(
                "path",
                format!(
                    "{} has a `..` component; name the log file without one (a writer \
                     never leaves the directory its configuration names)",
                    self.path.display()
                ),
            );
        }
        match self.path.file_name() {
            None => return invalid("path", format!("{} has no file name", self.path.display())),
            Some(name) if name.to_str().is_none() => {
                return invalid(
                    "path",
                    format!("the file name of {} is not UTF-8", self.path.display()),
                )
            }
            Some(_) => {}
        }
        if let RotationStrategy::Size(0) = self.rotation.strategy {
            return invalid("rotation.strategy", "Size must be at least 1 byte");
        }
        if self.buffer_size == 0 {
            return invalid("buffer_size", "must be at least 1");
        }
        at_most_max_interval("flush_interval", self.flush_interval)?;
        if self.max_concurrent_writes == 0 {
            return invalid("max_concurrent_writes", "must be at least 1");
        }
        Ok(())
    }
}

/// Everything about a writer beyond the product's [`LogWriterConfig`] and [`LogConfig`]:
/// memory bounds, timeouts, retries, file modes, what to do on a full disk. Start from
/// [`WriterOptions::default()`] and set fields; new fields may be added in any release
/// (`#[non_exhaustive]`), so code that sets some of them keeps compiling.
///
/// ```
/// use std::time::Duration;
/// use bunctl_logging::{FullDiskPolicy, WriterOptions};
///
/// let mut options = WriterOptions::default();
/// options.file_mode = 0o600;
/// options.shutdown_timeout = Duration::from_secs(5);
/// options.full_disk = FullDiskPolicy::DeleteOldestArchives { min_archives: 2 };
/// # assert!(options.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WriterOptions {
    /// Most bytes buffered at once, the memory bound; a batch takes everything buffered, so it
    /// is at most this large too. Default 2 MiB: a busy writer then holds at most the buffer
    /// being filled and the batch being written (2 × 2 MiB) plus two written buffers resting
    /// before reuse (at most 256 KiB each), 4.5 MiB in all, under the product's "<5 MB per
    /// writer"; an idle writer gives its buffers back (it keeps at most 16 KiB).
    pub max_buffered_bytes: usize,
    /// Lines longer than this are split into marked pieces. Default 1 MiB.
    pub max_line_len: usize,
    /// How long `shutdown` waits for the writer before giving up on it. Default 10 s.
    pub shutdown_timeout: Duration,
    /// How long `flush` waits for the writer before giving up. Default 10 s.
    pub flush_timeout: Duration,
    /// Retries and circuit breaker for I/O errors.
    pub retry: RetryConfig,
    /// gzip level of rotated files, 0 (store) to 9 (smallest). Default 3: on realistic log
    /// lines (the README's gzip bench) it compresses twice as fast as gzip's own default of 6
    /// (157 against 80 MB/s) into files 8% larger (4.5× against 4.9×); 1 is faster still
    /// (266 MB/s) but its files are 1.6× those of 6.
    pub compression_level: u32,
    /// Most bytes of rotated files kept, if set; the oldest beyond it are deleted (the newest
    /// is kept even if it alone is larger). Default `None`: only `max_files` applies.
    pub max_total_bytes: Option<u64>,
    /// Oldest rotated files kept, if set: files whose content ended longer ago are deleted.
    /// Default `None`.
    pub max_age: Option<Duration>,
    /// When files rotate, if set: replaces `rotation.strategy` (single writers) and
    /// `max_file_size` (a manager's apps) with any [`RotationRule`]. Default `None`.
    pub rotation: Option<RotationRule>,
    /// How lines are written: [`LineFormat::Raw`] (the default: the bytes as they came),
    /// [`LineFormat::Timestamped`] (an RFC 3339 UTC time with microseconds in front) or
    /// [`LineFormat::Json`] (one object per line as Docker's json-file driver writes them, for
    /// Vector, Fluent Bit, Promtail and `jq`). The time is when the line was accepted. See
    /// [`bunctl_log_buffer::LineFormat`] for the exact shapes and how bytes that are not UTF-8
    /// are kept.
    pub format: LineFormat,
    /// The `stream` a JSON line names: [`Stream::Stdout`] by default; a manager's writer of an
    /// app's `.err.log` says [`Stream::Stderr`].
    pub stream: Stream,
    /// Permission bits of the files created (live files, lock files; archives keep their live
    /// file's), before the umask. Default `0o640`: logs hold tokens and user data, so they are
    /// not world-readable. Must give the owner read and write.
    pub file_mode: u32,
    /// Permission bits of the directories created, before the umask. Default `0o750`. Must
    /// give the owner read, write and search.
    pub dir_mode: u32,
    /// What to do when the disk is full. Default [`FullDiskPolicy::KeepArchives`]: lines that
    /// do not fit are retried, then counted as lost and marked in the file.
    pub full_disk: FullDiskPolicy,
    /// Least time between two checks (one `lstat`, at the start of a batch) that the live
    /// path still names the open file, so a file removed or moved by someone else is noticed
    /// and recreated; a rotation always checks first. Default 10 ms.
    pub reopen_check_interval: Duration,
    /// If set, the writer makes its lines durable on its own at this pace while it has lines
    /// not yet synced, as [`AsyncLogWriter::sync`](crate::AsyncLogWriter::sync) does, off the
    /// producers' path (one thread syncs every writer that sets it; writers at rest cost no
    /// wake-up). A power cut then loses at most about this much of a writer's lines. Default
    /// `None`: lines reach the disk when the kernel writes them back, at a rotation and at
    /// shutdown (journald's default is 5 minutes).
    pub sync_interval: Option<Duration>,
    /// If set, a writer that has written nothing for this long makes its lines durable
    /// (`fdatasync`, and the directory's entry) and closes its live file, keeping only its
    /// lock: a quiet writer holds one descriptor, a busy one two. The next line opens the file
    /// again (one `open`). Default 2 s: 10,000 apps a supervisor just started fit in a
    /// 16,384-descriptor limit once they are quiet, and a writer busier than one batch every
    /// 2 s never closes. `None` keeps the file open.
    pub close_idle_after: Option<Duration>,
}

/// [`WriterOptions::close_idle_after`]'s default.
const DEFAULT_CLOSE_IDLE_AFTER: Duration = Duration::from_secs(2);

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            max_buffered_bytes: 2 << 20,
            max_line_len: bunctl_log_buffer::DEFAULT_MAX_LINE_LEN,
            shutdown_timeout: Duration::from_secs(10),
            flush_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
            compression_level: 3,
            max_total_bytes: None,
            max_age: None,
            rotation: None,
            format: LineFormat::Raw,
            stream: Stream::Stdout,
            file_mode: DEFAULT_FILE_MODE,
            dir_mode: DEFAULT_DIR_MODE,
            full_disk: FullDiskPolicy::KeepArchives,
            reopen_check_interval: Duration::from_millis(10),
            sync_interval: None,
            close_idle_after: Some(DEFAULT_CLOSE_IDLE_AFTER),
        }
    }
}

impl WriterOptions {
    /// Checks every value, naming the first unusable one. Durations without a limit here
    /// (timeouts, the reopen check) saturate instead of overflowing.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) with the field and the reason.
    pub fn validate(&self) -> crate::Result<()> {
        if self.max_buffered_bytes == 0 {
            return invalid("max_buffered_bytes", "must be at least 1");
        }
        if self.max_line_len == 0 {
            return invalid("max_line_len", "must be at least 1");
        }
        if self.compression_level > 9 {
            return invalid(
                "compression_level",
                format!("{} is not a gzip level (0 to 9)", self.compression_level),
            );
        }
        if self.file_mode & !0o7777 != 0 || self.file_mode & 0o600 != 0o600 {
            return invalid(
                "file_mode",
                format!(
                    "{:#o} must be permission bits giving the owner read and write",
                    self.file_mode
                ),
            );
        }
        if self.dir_mode & !0o7777 != 0 || self.dir_mode & 0o700 != 0o700 {
            return invalid(
                "dir_mode",
                format!(
                    "{:#o} must be permission bits giving the owner read, write and search",
                    self.dir_mode
                ),
            );
        }
        if let Some(RotationRule {
            max_size: Some(0), ..
        }) = self.rotation
        {
            return invalid("rotation.max_size", "must be at least 1 byte");
        }
        let r = &self.retry;
        if r.max_attempts == 0 || r.max_attempts > 100 {
            return invalid("retry.max_attempts", "must be 1 to 100");
        }
        if r.breaker_threshold == 0 {
            return invalid("retry.breaker_threshold", "must be at least 1");
        }
        if self.sync_interval == Some(Duration::ZERO) {
            return invalid(
                "sync_interval",
                "must be more than 0 (use None for no periodic sync)",
            );
        }
        if self.close_idle_after == Some(Duration::ZERO) {
            return invalid(
                "close_idle_after",
                "must be more than 0 (use None to keep the file open)",
            );
        }
        if let Some(after) = self.close_idle_after {
            at_most_max_interval("close_idle_after", after)?;
        }
        at_most_max_interval("retry.initial_delay", r.initial_delay)?;
        at_most_max_interval("retry.probe_interval", r.probe_interval)?;
        at_most_max_interval("retry.max_probe_interval", r.max_probe_interval)?;
        Ok(())
    }
}

/// Configuration of a [`LogManager`](crate::LogManager): one directory, one file per app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Where `<app>.log` files go. Default `/var/log/bunctl` (Unix) or
    /// `C:\ProgramData\bunctl\logs` (Windows). A path with a `..` component is refused.
    pub base_dir: PathBuf,
    /// Rotate a file before it grows past this many bytes. Default 10 MiB.
    pub max_file_size: u64,
    /// Rotated files kept per app. Default 10.
    pub max_files: u32,
    /// Gzip rotated files. Default true.
    pub compression: bool,
    /// Bytes buffered before the writer writes (see [`LogWriterConfig::buffer_size`]).
    /// Default 8192.
    pub buffer_size: usize,
    /// Longest time a line stays buffered, in milliseconds. Default 100; at most an hour.
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
        self.base_dir
            .join(bunctl_log_rotation::live_file_name(app.as_str()))
    }

    /// The live file of `app`'s stderr when streams are kept apart: `<base_dir>/<app>.err.log`.
    pub fn err_log_path(&self, app: &crate::AppId) -> PathBuf {
        self.base_dir
            .join(bunctl_log_rotation::stderr_file_name(app.as_str()))
    }

    /// Checks every value, naming the first unusable one (with this struct's field names).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) with the field and the reason.
    pub fn validate(&self) -> crate::Result<()> {
        if has_parent_component(&self.base_dir) {
            return invalid(
                "base_dir",
                format!(
                    "{} has a `..` component; name the log directory without one",
                    self.base_dir.display()
                ),
            );
        }
        if self.max_file_size == 0 {
            return invalid("max_file_size", "must be at least 1 byte");
        }
        if self.buffer_size == 0 {
            return invalid("buffer_size", "must be at least 1");
        }
        at_most_max_interval(
            "flush_interval_ms",
            Duration::from_millis(self.flush_interval_ms),
        )
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
        let _ = LogWriterConfig {
            path: PathBuf::from("high-perf.log"),
            rotation: RotationConfig {
                strategy: RotationStrategy::Size(100 * 1024 * 1024),
                max_files: 50,
                compression: true,
            },
            buffer_size: 128 * 1024,
            flush_interval: Duration::from_millis(200),
            max_concurrent_writes: 10000,
            enable_compression: true,
        };
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
                flush_interval: Duration::MAX,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                c.validate(),
                Err(crate::Error::InvalidConfig { .. })
            ));
        }
        assert!(LogWriterConfig::default().validate().is_ok());
        let o = WriterOptions {
            compression_level: 10,
            ..WriterOptions::default()
        };
        let e = o.validate().unwrap_err();
        assert!(matches!(
            e,
            crate::Error::InvalidConfig {
                field: "compression_level",
                ..
            }
        ));
        assert!(e.to_string().contains("compression_level"), "{e}");
        for (mode, ok) in [
            (0o640, true),
            (0o600, true),
            (0o440, false),
            (0o10640, false),
        ] {
            let o = WriterOptions {
                file_mode: mode,
                ..WriterOptions::default()
            };
            assert_eq!(o.validate().is_ok(), ok, "{mode:o}");
        }
        let c = LogConfig {
            flush_interval_ms: u64::MAX,
            ..LogConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("flush_interval_ms"), "{e}");
    }
}
