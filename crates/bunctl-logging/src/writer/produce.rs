//! Producers' side of the handle: the write methods, which format lines (into the thread's
//! [`Scratch`]) and hand them to the channel, and [`write`](AsyncLogWriter::write)'s partial
//! line.

use std::time::SystemTime;

use bunctl_log_buffer::{format_lines, format_message, LineFormat, Lines};
use bunctl_log_channel::TrySendError;
use bytes::Bytes;

use super::scratch::Scratch;
use super::{lock, stream_name, AsyncLogWriter};
use crate::{Error, Result, Stream};

impl AsyncLogWriter {
    /// Runs `send` on `line` as this writer's format has it: the line itself when raw, else
    /// formatted into a per-thread buffer (no allocation once it has grown).
    fn formatted<R>(&self, line: &[u8], send: impl FnOnce(&[u8]) -> R) -> R {
        if self.options.format == LineFormat::Raw {
            return send(line);
        }
        let mut scratch = Scratch::take();
        self.format_into(line, &mut scratch);
        let result = send(&scratch.formatted);
        scratch.give_back();
        result
    }

    fn format_into(&self, line: &[u8], scratch: &mut Scratch) {
        scratch.formatted.clear();
        format_message(
            self.options.format,
            line,
            self.stream,
            SystemTime::now(),
            self.options.max_line_len,
            &mut scratch.time_cache,
            &mut scratch.formatted,
        );
    }

    /// Writes raw bytes: a chunk of a stream, cut anywhere. They are split into lines as any
    /// input is (at each `\n`; a line longer than `max_line_len` in marked pieces); the complete
    /// lines go in as [`write_line`](Self::write_line) would take them, never blocking (when
    /// the buffer is full they are dropped, counted and marked in the file). A partial last line
    /// is held, with no newline added, until more bytes come or the writer closes
    /// ([`shutdown`](Self::shutdown), [`close`](Self::close), or dropping it), when it is written
    /// with a newline. Lines written meanwhile with the other methods do not wait for it.
    ///
    /// ```
    /// use bunctl_logging::{AsyncLogWriter, LogWriterConfig};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("app.log");
    /// let writer = AsyncLogWriter::new(LogWriterConfig { path: path.clone(), ..Default::default() })
    ///     .await?;
    /// writer.write(&b"GET /a 200\nGET /b"[..])?;
    /// writer.write(" 404\nstarting up...")?;
    /// writer.close().await?;
    /// assert_eq!(std::fs::read_to_string(&path)?, "GET /a 200\nGET /b 404\nstarting up...\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Closed`] once the writer is shut down; nothing else.
    pub fn write(&self, data: impl Into<Bytes>) -> Result<()> {
        let data: Bytes = data.into();
        if self.tx.is_closed() {
            return Err(Error::Closed);
        }
        let mut splitter = lock(&self.partial);
        let mut block = Vec::new();
        if splitter.push_into(&data, &mut block) == 0 {
            return Ok(());
        }
        self.hand_over_or_drop(&block)
    }

    /// Hands whole lines (each ending in `\n`, as the splitter cut them) to the buffer without
    /// waiting, formatted, in groups that fit it at once.
    fn hand_over_or_drop(&self, lines: &[u8]) -> Result<()> {
        if self.options.format == LineFormat::Raw {
            return self.send_groups_or_drop(lines);
        }
        let mut scratch = Scratch::take();
        scratch.formatted.clear();
        format_lines(
            self.options.format,
            lines,
            self.stream,
            SystemTime::now(),
            &mut scratch.time_cache,
            &mut scratch.formatted,
        );
        let sent = self.send_groups_or_drop(&scratch.formatted);
        scratch.give_back();
        sent
    }

    /// Sends whole lines in groups of at most the buffer's size (a group larger than the
    /// whole buffer could never go in at once, and would be dropped whole).
    fn send_groups_or_drop(&self, bytes: &[u8]) -> Result<()> {
        let max_bytes = self.tx.config().max_bytes;
        let send = |bytes: &[u8], count: usize| {
            self.tx
                .send_lines_or_drop(Lines { bytes, count })
                .map_err(|_| Error::Closed)
        };
        let (mut start, mut end, mut count) = (0, 0, 0);
        for nl in memchr::memchr_iter(b'\n', bytes) {
            let next = nl + 1;
            if count > 0 && next - start > max_bytes {
                send(&bytes[start..end], count)?;
                (start, count) = (end, 0);
            }
            (end, count) = (next, count + 1);
        }
        if count > 0 {
            send(&bytes[start..end], count)?;
        }
        Ok(())
    }

    /// Takes the partial line [`write`](Self::write) holds, if any (without a newline).
    pub(super) fn take_partial(&self) -> Option<Vec<u8>> {
        let mut splitter = lock(&self.partial);
        if splitter.pending_len() == 0 {
            return None;
        }
        let mut tail = Vec::new();
        splitter.finish_into(&mut tail);
        tail.pop(); // the newline `finish_into` ends it with: `write_line` adds it again
        Some(tail)
    }

    /// Writes one line (a `\n` is added; a trailing one is not doubled). Never blocks: when
    /// the buffer is full, or [`max_concurrent_writes`](crate::LogWriterConfig::max_concurrent_writes)
    /// callers already wait for room, the line is dropped and counted (`dropped_messages`,
    /// `buffer_overflows`), and the file gets a marker line with the count at the gap.
    ///
    /// Takes anything that is bytes: `&str`, `String`, `&String`, `&[u8]`, `Vec<u8>`.
    ///
    /// # Errors
    /// [`Error::Closed`] once the writer is shut down; nothing else.
    pub fn write_line(&self, line: impl AsRef<[u8]>) -> Result<()> {
        self.formatted(line.as_ref(), |msg| self.tx.send_or_drop(msg))
            .map_err(|_| Error::Closed)
    }

    /// Writes one line if there is room now. Never blocks.
    ///
    /// # Errors
    /// [`Error::Full`] if the buffer is full or
    /// [`max_concurrent_writes`](crate::LogWriterConfig::max_concurrent_writes) callers
    /// already wait for room (counted in `buffer_overflows`; the line was not taken), [`Error::TooLarge`] if it never fits at once, [`Error::Closed`].
    pub fn try_write_line(&self, line: impl AsRef<[u8]>) -> Result<()> {
        self.formatted(line.as_ref(), |msg| self.tx.try_send(msg))
            .map_err(|e| match e {
                TrySendError::Full => Error::Full,
                TrySendError::Closed => Error::Closed,
                TrySendError::TooLarge { bytes, lines } => Error::TooLarge { bytes, lines },
            })
    }

    /// Writes one line, waiting for room: lossless. Past
    /// [`max_concurrent_writes`](crate::LogWriterConfig::max_concurrent_writes) callers waiting
    /// for room, it first waits (asleep, not spinning) for one of them to be done. A line
    /// larger than the whole buffer is written in marked pieces.
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down before the line is taken.
    pub async fn write_line_async(&self, line: impl AsRef<[u8]>) -> Result<()> {
        if self.options.format == LineFormat::Raw {
            return self.tx.send(line.as_ref()).await.map_err(|_| Error::Closed);
        }
        // The buffer travels with the future (it may resume on another thread).
        let mut scratch = Scratch::take();
        self.format_into(line.as_ref(), &mut scratch);
        let sent = self.tx.send(&scratch.formatted).await;
        scratch.give_back();
        sent.map_err(|_| Error::Closed)
    }

    /// [`write_line_async`](Self::write_line_async) for plain threads: blocks the calling
    /// thread until the line is taken (waiting first for a place among the
    /// [`max_concurrent_writes`](crate::LogWriterConfig::max_concurrent_writes), as it does). Do not call it on an async runtime's worker thread.
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down before the line is taken.
    pub fn write_line_blocking(&self, line: impl AsRef<[u8]>) -> Result<()> {
        self.formatted(line.as_ref(), |msg| self.tx.send_blocking(msg))
            .map_err(|_| Error::Closed)
    }

    /// Writes whole lines as a [`LineSplitter`](bunctl_log_buffer::LineSplitter) yields them,
    /// waiting for room: the lossless path for captured streams (one lock per chunk).
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down before the lines are taken.
    pub async fn write_lines(&self, lines: Lines<'_>) -> Result<()> {
        self.write_lines_from(lines, self.options.stream).await
    }

    /// [`write_lines`](Self::write_lines) for lines of `stream`: in JSON, their `stream`
    /// field (stdout and stderr merged into one file); in the other formats the same as
    /// `write_lines`.
    ///
    /// # Errors
    /// [`Error::Closed`] if the writer is shut down before the lines are taken.
    pub async fn write_lines_from(&self, lines: Lines<'_>, stream: Stream) -> Result<()> {
        if self.options.format == LineFormat::Raw {
            return self.tx.send_lines(lines).await.map_err(|_| Error::Closed);
        }
        let mut scratch = Scratch::take();
        scratch.formatted.clear();
        let count = format_lines(
            self.options.format,
            lines.bytes,
            stream_name(stream),
            SystemTime::now(),
            &mut scratch.time_cache,
            &mut scratch.formatted,
        );
        let sent = self
            .tx
            .send_lines(Lines {
                bytes: &scratch.formatted,
                count,
            })
            .await;
        scratch.give_back();
        sent.map_err(|_| Error::Closed)
    }
}
