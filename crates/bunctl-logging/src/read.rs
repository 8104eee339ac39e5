//! Reading an app's logs back through the manager: the last lines of an app, split by stream,
//! for one app or every app in the directory (what bunctl's daemon answers `bunctl logs` with),
//! and following them as they are written (`bunctl logs -f`).
//!
//! The reading is `bunctl-log-read`'s, the same code `bunctl-log cat/tail/tail -f` runs, through
//! the manager's filesystem seam (never through a symlink), on tokio's blocking pool (file I/O
//! never runs on an async worker):
//!
//! * the last `n` lines are read from the end: a plain file backwards in 64 KiB blocks, a `.gz`
//!   archive streamed through a ring of blocks, newest file first, stopping as soon as `n`
//!   lines are found, so a 1 GiB live file costs a few blocks, not a gigabyte;
//! * the files are listed so that a writer rotating, compressing or expiring files meanwhile
//!   makes no reader miss a line or read one twice (`bunctl_log_read::files`).

use std::pin::Pin;
use std::task::{Context, Poll};

use bunctl_core::AppId;
use bunctl_log_fs::Filesystem;
use bunctl_log_read::{ByStream, StreamTags};

use crate::capture::Stream;
use crate::{Error, LogManager, Result};

/// An app's lines split by the stream they came from, as bunctl's daemon serves them
/// (JSON `{"errors":[…],"output":[…]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StructuredLogs {
    /// stderr lines, oldest first.
    pub errors: Vec<String>,
    /// stdout lines, oldest first.
    pub output: Vec<String>,
}

impl From<ByStream> for StructuredLogs {
    fn from(s: ByStream) -> Self {
        Self {
            errors: text(s.stderr),
            output: text(s.stdout),
        }
    }
}

/// The tags the capture puts on merged lines, as the reader looks for them.
fn tags() -> StreamTags<'static> {
    StreamTags {
        stdout: Stream::Stdout.tag(),
        stderr: Stream::Stderr.tag(),
    }
}

/// A line as text: invalid UTF-8 becomes U+FFFD (the bytes are in the file as they came).
fn line_text(line: Vec<u8>) -> String {
    String::from_utf8(line).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn text(lines: Vec<Vec<u8>>) -> Vec<String> {
    lines.into_iter().map(line_text).collect()
}

fn io_error(e: bunctl_log_read::Error) -> Error {
    Error::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    }
}

impl LogManager {
    /// Runs `read` with the manager's filesystem on tokio's blocking pool.
    async fn read_blocking<T: Send + 'static>(
        &self,
        read: impl FnOnce(&dyn Filesystem) -> bunctl_log_read::Result<T> + Send + 'static,
    ) -> Result<T> {
        let fs = self.fs.clone();
        match tokio::task::spawn_blocking(move || read(fs.as_ref())).await {
            Ok(result) => result.map_err(io_error),
            Err(_) => Err(Error::TaskFailed {
                path: self.config.base_dir.clone(),
                task: "reader",
            }),
        }
    }

    /// The last `lines` lines of `app` (its `<app>.log` and the archives of it, gzipped or
    /// not), oldest first, without their newlines (invalid UTF-8 as U+FFFD). An app with no
    /// file yet has none. Reads from the end: it never loads a whole file.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file or directory that could not be read.
    pub async fn read_logs(&self, app: &AppId, lines: usize) -> Result<Vec<String>> {
        let live = self.log_path(app);
        let got = self
            .read_blocking(move |fs| bunctl_log_read::last_lines(fs, &live, lines))
            .await?;
        Ok(text(got))
    }

    /// The last `lines` lines of `app` as a whole, split by stream: stdout lines in `output`,
    /// stderr lines in `errors`, each oldest first, at most `lines` in both together. stderr is
    /// found however it was written: in `<app>.err.log` (streams kept apart), tagged `[stderr]`
    /// or with `"stream":"stderr"` in a merged file, or as bunctl's daemon writes it,
    /// `[app] [time] [stderr] text`. When the streams are in separate files, their last lines
    /// are interleaved by the times in them (timestamped or JSON lines); without times (raw
    /// lines) they cannot be, and each list holds the last `lines` of its own files. See
    /// `bunctl_log_read::structured`.
    ///
    /// # Errors
    /// As [`LogManager::read_logs`].
    pub async fn read_structured_logs(&self, app: &AppId, lines: usize) -> Result<StructuredLogs> {
        let (live, err) = (self.log_path(app), self.err_log_path(app));
        let split = self
            .read_blocking(move |fs| {
                bunctl_log_read::last_by_stream(fs, &live, &err, lines, &tags())
            })
            .await?;
        Ok(split.into())
    }

    /// [`LogManager::read_structured_logs`] of every app with a file in `base_dir` (live,
    /// stderr or archive, plain or gzipped), sorted by app name; one entry per app.
    ///
    /// # Errors
    /// [`Error::Io`] if the directory cannot be listed (a missing one has no apps), or as
    /// [`LogManager::read_logs`].
    pub async fn read_all_apps_logs(&self, lines: usize) -> Result<Vec<(String, StructuredLogs)>> {
        let config = self.config.clone();
        self.read_blocking(move |fs| {
            let mut all = Vec::new();
            for name in bunctl_log_read::apps(fs, &config.base_dir)?.into_keys() {
                // A file name of an app the layout accepts but bunctl's id does not: not an
                // app of this manager.
                let Ok(app) = AppId::new(name.clone()) else {
                    continue;
                };
                let (live, err) = (config.log_path(&app), config.err_log_path(&app));
                let split = bunctl_log_read::last_by_stream(fs, &live, &err, lines, &tags())?;
                all.push((name, StructuredLogs::from(split)));
            }
            Ok(all)
        })
        .await
    }

    /// Follows `app`'s `<app>.log` (`bunctl logs -f`): a stream of its last `lines` lines,
    /// then of every line written after them, across rotations (each line once, none missed),
    /// until it is dropped. It reads on a thread of its own, woken by inotify.
    ///
    /// # Errors
    /// [`Error::Io`] if the follower cannot be started; the stream's items are errors if the
    /// files cannot be read (the stream ends after one).
    pub fn follow_logs(&self, app: &AppId, lines: usize) -> Result<LogLines> {
        let stream = bunctl_log_read::follow(self.fs.clone(), &self.log_path(app), lines)
            .map_err(io_error)?;
        Ok(LogLines(stream))
    }
}

/// The lines of [`LogManager::follow_logs`], as text (invalid UTF-8 as U+FFFD): a
/// [`futures_core::Stream`], or [`next_line`](Self::next_line) without a `StreamExt`.
#[derive(Debug)]
pub struct LogLines(bunctl_log_read::LineStream);

impl LogLines {
    /// The next line; `None` once the stream has ended (after an error).
    pub async fn next_line(&mut self) -> Option<Result<String>> {
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *self), cx)).await
    }
}

impl futures_core::Stream for LogLines {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|item| item.map(|line| line.map(line_text).map_err(io_error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readers_tags_are_the_captures() {
        let t = tags();
        let (out, err) = (Stream::Stdout.tag(), Stream::Stderr.tag());
        for (line, want) in [
            (b"[web] [2026-12-03T10:00:00Z] [stderr] boom".to_vec(), true),
            ([err, b"boom"].concat(), true),
            (
                [b"2026-12-03T10:00:00.000000Z ", err, b"boom"].concat(),
                true,
            ),
            (
                br#"{"log":"boom\n","stream":"stderr","time":"t"}"#.to_vec(),
                true,
            ),
            ([out, b"fine"].concat(), false),
            (b"a line that mentions [stderr] later on".to_vec(), false),
            (br#"{"log":"x","stream":"stdout"}"#.to_vec(), false),
        ] {
            let got = t.origin(&line) == Some(bunctl_log_read::Origin::Stderr);
            assert_eq!(got, want, "{}", String::from_utf8_lossy(&line));
        }
    }
}
