//! Reading bunctl's logs back while they are written: an app's files, its last N lines, a time
//! window, following across rotations, and stdout apart from stderr.
//!
//! This is what `bunctl-log cat/tail/tail -f/tail --since` run, what the facade's
//! `LogManager::read_logs` and friends call, and what a supervisor's `logs -f` can use
//! in-process. Every file operation goes through [`bunctl_log_fs::Filesystem`], so no symlink
//! is followed and tests inject faults at any step.
//!
//! # The files
//!
//! An app's live file `app.log` rotates to archives `app.<time>-<seq>.log`, gzipped later to
//! `app.<time>-<seq>.log.gz` (see `bunctl_log_rotation`). Sequence numbers order them, oldest
//! first; the live file comes last. A reader has to cope with a writer that moves on while it
//! reads: the live file is renamed to an archive between two of the reader's steps, an archive
//! is compressed (plain file replaced by a `.gz`) while the directory is being listed, the
//! oldest archive is deleted. [`snapshot`] lists the files so that none of that makes a reader
//! miss a line or read one twice: it holds the live file open and proves it stayed live while
//! the archives were listed (see [`mod@files`]).
//!
//! # What to read
//!
//! | want | call | cost |
//! |---|---|---|
//! | every line | [`cat`] | the whole logs, streamed |
//! | the last `n` lines | [`last_lines`] | reads backwards from the end: a few blocks for `n = 100`, even of a 1 GiB file; a `.gz` is streamed through a ring of `n` lines |
//! | lines in a time window (timestamped or JSON logs) | [`lines_in_window`], [`last_in_window`] | only the files that can hold such lines, by the times in their names |
//! | the last `n` lines, stdout and stderr apart | [`last_by_stream`] | two [`last_lines`] |
//! | the last `n` lines, then every new one | [`Follower`] (blocking), [`follow`](fn@follow) (async [`Stream`](futures_core::Stream)) | a thread waiting on inotify |
//! | which apps have logs | [`apps`] | one directory listing |
//!
//! ```
//! use bunctl_log_fs::StdFs;
//! use bunctl_log_read::{last_lines, list_files};
//!
//! let dir = tempfile::tempdir()?;
//! let live = dir.path().join("web.log");
//! std::fs::write(dir.path().join("web.20260101T000000Z-000001.log"), "one\ntwo\n")?;
//! std::fs::write(&live, "three\nfour\n")?;
//!
//! assert_eq!(list_files(&StdFs, &live)?.len(), 2);
//! let lines = last_lines(&StdFs, &live, 3)?;
//! assert_eq!(lines, [&b"two"[..], b"three", b"four"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Following, in-process (the lines written after the stream started come too, across
//! rotations):
//!
//! ```
//! use bunctl_log_fs::StdFs;
//! use std::io::Write;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let live = dir.path().join("web.log");
//! std::fs::write(&live, "old\nlast\n")?;
//! let mut lines = bunctl_log_read::follow(StdFs::shared(), &live, 1)?;
//! // Or any `Stream` combinator (`StreamExt::next` of futures or tokio-stream).
//! assert_eq!(lines.next_line().await.transpose()?, Some(b"last".to_vec()));
//! std::fs::OpenOptions::new().append(true).open(&live)?.write_all(b"new\n")?;
//! assert_eq!(lines.next_line().await.transpose()?, Some(b"new".to_vec()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Lines
//!
//! A line is what ends with `\n` (plus a last piece without one, a line a crash cut short);
//! lines are handed out without their `\n`, bytes as they are in the file (not necessarily
//! UTF-8). Times and streams are read from lines as the writer's formats put them there
//! ([`mod@line`]).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod cat;
mod error;
pub mod files;
pub mod follow;
pub mod last;
pub mod line;
pub mod since;
mod stream;
pub mod structured;
mod watch;

pub use cat::cat;
pub use error::{Error, Result};
pub use files::{
    apps, list_files, open_archive, snapshot, AppFiles, ArchiveFile, LiveFile, Snapshot,
};
pub use follow::{Emit, Follower, Notice};
pub use last::{last_lines, last_lines_of, last_lines_of_file, last_lines_of_stream, BLOCK};
pub use line::{Origin, StreamTags};
pub use since::{
    last_in_window, lines_in_window, parse_time, parse_time_at, Window, WindowCounts, BUFFERED_LAG,
};
pub use stream::{follow, LineStream};
pub use structured::{last_by_stream, split, ByStream};
pub use watch::{POLL, WATCH_TIMEOUT};
