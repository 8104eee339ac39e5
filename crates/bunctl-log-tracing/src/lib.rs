//! A [`tracing`](https://docs.rs/tracing) backend over `bunctl-logging`: a
//! [`tracing_subscriber::fmt::MakeWriter`] that writes events to rotated, compressed, bounded
//! log files, lossy or lossless, with a guard that flushes at exit. It replaces
//! `tracing_appender::non_blocking` + `tracing_appender::rolling` with the same two lines:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (writer, _guard) = bunctl_log_tracing::file("logs/app.log")?;
//! tracing_subscriber::fmt().with_writer(writer).init();
//! # Ok(())
//! # }
//! ```
//!
//! `logs/app.log` rotates at 10 MiB, the 10 newest rotated files are kept gzipped, and
//! `_guard` (a [`LogGuard`]) flushes and closes the file when `main` returns. Keep the guard
//! bound to a name: `let (writer, _) = ...` drops it at once. Other rotation and limits:
//! [`file_with`], which takes a [`LogWriterConfig`] and [`WriterOptions`]. No async runtime is
//! needed, and one may be used: the writer is an OS thread of its own. If your
//! `tracing-subscriber` has its `ansi` feature (on by default), add `.with_ansi(false)` so the
//! file gets no colour codes.
//!
//! # Design
//!
//! - **One message per event.** The `fmt` layer makes an [`EventWriter`] per event, writes the
//!   formatted event into it (in as many `write` calls as it likes) and drops it; the whole
//!   event goes to the [`AsyncLogWriter`] in one call at the drop. The writer copies a message
//!   into its buffer under one lock, so an event is never torn and never interleaved with
//!   another thread's, even when it spans several lines (a multi-line message stays
//!   contiguous). The event is collected in a buffer of the thread's own, reused from one
//!   event to the next: in the steady state an event costs no allocation here.
//!   Not even in the writer, for a single-line event: the `fmt` layer's final `\n` is cut (the
//!   writer adds one), and a message without a `\n` is copied straight in.
//! - **Two modes** ([`Mode`]). [`Lossy`](Mode::Lossy), the default as in `tracing-appender`:
//!   an event never waits; when the writer's buffer is full it is dropped, counted in the
//!   writer's metrics and marked in the file (`[bunctl-log] N lines dropped here: ...`).
//!   [`Lossless`](Mode::Lossless): an event waits for room, so every event reaches the file.
//!   It tries the non-blocking write first and blocks only when the buffer is full; on a
//!   worker of a multi-thread tokio runtime it then blocks inside
//!   [`tokio::task::block_in_place`], so the runtime's other tasks keep running on other
//!   threads. On a plain thread or a current-thread runtime it blocks directly (the writer
//!   needs no runtime, so this cannot deadlock). Events of the log subsystem's own threads
//!   (its writer warning about a failing disk) never wait, or the writer would wait for
//!   itself: with the buffer full they are dropped and counted. The modes can be mixed per
//!   level with `tracing_subscriber`'s
//!   [`MakeWriterExt`](tracing_subscriber::fmt::writer::MakeWriterExt): warnings and errors
//!   lossless, the rest lossy (example below).
//! - **The guard** ([`LogGuard`]). Dropping it shuts the writer down: every accepted event is
//!   written and fsynced, a pending compression finishes, and the writer stops,
//!   bounded by the writer's `shutdown_timeout` (10 s by default). An error (a hung disk,
//!   lines lost to I/O errors) goes to stderr; [`LogGuard::shutdown`] returns it instead.
//!
//! # Example
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("app.log");
//!
//! let (writer, guard) = bunctl_log_tracing::file(&path)?;
//! tracing_subscriber::fmt().with_writer(writer).with_ansi(false).init();
//!
//! tracing::info!(user = "ada", "logged in");
//! tracing::warn!("disk almost full:\n  /var at 91%\n  /home at 97%");
//! drop(guard); // everything logged is in the file now
//!
//! let text = std::fs::read_to_string(&path)?;
//! let lines: Vec<&str> = text.lines().collect();
//! assert_eq!(lines.len(), 4);
//! assert!(lines[0].ends_with(r#"logged in user="ada""#));
//! assert!(lines[1].ends_with("disk almost full:"));
//! assert_eq!(&lines[2..], ["  /var at 91%", "  /home at 97%"]);
//! # Ok(())
//! # }
//! ```
//!
//! Rotation by size with a shorter history, errors and warnings lossless, the rest lossy:
//!
//! ```
//! use bunctl_log_tracing::{
//!     LogWriterConfig, Mode, RotationConfig, RotationStrategy, WriterOptions,
//! };
//! use tracing::Level;
//! use tracing_subscriber::fmt::writer::MakeWriterExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let config = LogWriterConfig {
//!     path: dir.path().join("app.log"),
//!     rotation: RotationConfig {
//!         strategy: RotationStrategy::Size(100 << 20),
//!         max_files: 5,
//!         compression: true,
//!     },
//!     ..LogWriterConfig::default()
//! };
//! let (writer, _guard) = bunctl_log_tracing::file_with(config, WriterOptions::default())?;
//! let important = writer.clone().with_mode(Mode::Lossless).with_max_level(Level::WARN);
//! let subscriber = tracing_subscriber::fmt()
//!     .with_writer(important.or_else(writer))
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::error!("never dropped");
//!     tracing::debug!("dropped if the writer is full");
//! });
//! # Ok(())
//! # }
//! ```
//!
//! # Compared with `tracing-appender`
//!
//! What stays the same: the two-line setup, a [`MakeWriter`](tracing_subscriber::fmt::MakeWriter)
//! for the `fmt` layer, a guard to keep until exit, lossy by default with a lossless mode, the
//! file written by a thread of its own so that a lossy event never waits for I/O.
//!
//! | | `tracing_appender::non_blocking` + `rolling` | `bunctl_log_tracing` |
//! |---|---|---|
//! | memory | at most 128,000 messages queued, each a `Vec` of its own: no limit in bytes | one shared buffer bounded in bytes (`max_buffered_bytes`, 2 MiB); no allocation for a single-line event |
//! | an event | each `write` call is one message (the `fmt` layer writes an event with one `write_all`) | one message per event however it is written, never torn or interleaved |
//! | lossy mode, overloaded | drops are counted (`dropped_lines()`), the file shows nothing | drops are counted in the metrics and the file has a marker line with the count at each gap; in the workspace's end-to-end benchmark (README), under the same load, 99.9-100% of lines were kept where `tracing-appender` kept 9.7-18.6% |
//! | lossless mode | blocks the calling thread, a tokio worker included (stalling its other tasks) | non-blocking try first; when full, waits in `block_in_place` on a multi-thread runtime's worker; 5.9-6.9× `tracing-appender`'s lossless throughput in that benchmark |
//! | rotation | by time (minutely, hourly, daily, weekly), a new date-named file per period | by size, or daily or hourly (UTC); the live file keeps its name and is renamed away, so `tail -F` follows it |
//! | compression | none | gzip of rotated files on a thread of its own |
//! | retention | `max_log_files` | `max_files`, and `max_total_bytes` |
//! | shutdown (guard drop) | waits at most about 1 s (fixed); unwritten lines are lost without a word | waits up to `shutdown_timeout` (configurable), fsyncs, finishes compression; an error with the count of unwritten lines |
//! | I/O errors | ignored: the lines are lost silently | retried; then counted and marked in the file; a removed or moved live file is recreated |
//! | crash safety | none | one writer per file (a lock); on restart a line cut by a crash is ended and marked, half-written archives are cleaned up |
//!
//! What `tracing-appender` has and this does not: minutely and weekly periods, files named
//! by date with a chosen prefix and suffix, and a non-blocking wrapper around any
//! `io::Write` (stdout, a socket); this crate writes files only.
//!
//! The benchmark figures compare the writers themselves (`write_line` against
//! `NonBlocking::write`) under the same load; through the `fmt` layer both pay the same cost
//! of formatting the event first.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod blocking;
mod guard;
mod make_writer;

use std::path::PathBuf;
use std::sync::Arc;

pub use bunctl_logging::{
    AsyncLogWriter, Error, LogWriterConfig, Result, RotationConfig, RotationStrategy, WriterOptions,
};
pub use guard::LogGuard;
pub use make_writer::{EventWriter, LogMakeWriter, Mode};

/// Opens `path` for `tracing`: rotated at 10 MiB, the 10 newest rotated files kept gzipped
/// (the defaults of [`LogWriterConfig`] and [`WriterOptions`]), events lossy ([`Mode::Lossy`];
/// `writer.with_mode(Mode::Lossless)` for the other mode). Keep the guard until the program
/// ends: dropping it flushes and closes the file.
///
/// Needs no async runtime. Called on a worker of a multi-thread tokio runtime, the opening
/// (taking the file's lock, recovering from a crash) runs in `block_in_place`.
///
/// # Errors
/// As [`AsyncLogWriter::open_blocking`]: [`Error::Locked`] if another writer has the file,
/// [`Error::Io`] naming the directory or file that could not be created or opened.
pub fn file(path: impl Into<PathBuf>) -> Result<(LogMakeWriter, LogGuard)> {
    file_with(
        LogWriterConfig {
            path: path.into(),
            ..LogWriterConfig::default()
        },
        WriterOptions::default(),
    )
}

/// [`file()`] with the rotation, buffer and limits of `config` and `options`.
///
/// # Errors
/// As [`file()`], and [`Error::InvalidConfig`] naming an unusable field.
pub fn file_with(
    config: LogWriterConfig,
    options: WriterOptions,
) -> Result<(LogMakeWriter, LogGuard)> {
    let writer = blocking::off_the_runtime(|| AsyncLogWriter::open_blocking(config, options))?;
    let writer = Arc::new(writer);
    Ok((LogMakeWriter::new(writer.clone()), LogGuard::new(writer)))
}
