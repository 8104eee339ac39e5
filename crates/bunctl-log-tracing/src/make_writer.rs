//! [`LogMakeWriter`], the `MakeWriter`, and [`EventWriter`], the writer of one event.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::sync::Arc;

use bunctl_logging::{AsyncLogWriter, Error};
use tracing_subscriber::fmt::MakeWriter;

use crate::blocking::off_the_runtime;

/// The largest buffer a thread keeps for its next event. A larger event's buffer is freed once
/// the event is handed over, so a single huge event does not pin its memory to the thread.
const MAX_KEPT_CAPACITY: usize = 64 << 10;

thread_local! {
    /// This thread's buffer for its next event: taken when the event's writer is made, put
    /// back (emptied) when the event is handed over. Empty while an event is being written,
    /// so an event nested in it gets a buffer of its own.
    static EVENT_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// This thread's event buffer, or a new empty one if it is in use (a nested event) or the
/// thread is being torn down.
fn take_buffer() -> Vec<u8> {
    EVENT_BUFFER.try_with(Cell::take).unwrap_or_default()
}

/// Gives `buf` back to this thread for its next event, keeping the larger of it and whatever
/// a nested event put back meanwhile.
fn put_back(mut buf: Vec<u8>) {
    if buf.capacity() > MAX_KEPT_CAPACITY {
        return;
    }
    buf.clear();
    // During thread teardown the slot may be gone: the buffer is then just freed.
    let _ = EVENT_BUFFER.try_with(move |slot| {
        let other = slot.take();
        slot.set(if other.capacity() > buf.capacity() {
            other
        } else {
            buf
        });
    });
}

/// What an event does when the writer's buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Never wait ([`AsyncLogWriter::write_line`]): when the buffer is full the event is
    /// dropped, counted (`dropped_messages` in the writer's metrics, one per line of the
    /// event) and a marker line with the count goes into the file at the gap. The default,
    /// as in `tracing-appender`: logging never slows the program down, whatever the disk does.
    #[default]
    Lossy,
    /// Wait for room: every event reaches the file. The event is offered with
    /// [`AsyncLogWriter::try_write_line`] first, which never blocks; only when the buffer is
    /// full does the thread wait, in [`AsyncLogWriter::write_line_blocking`], and on a worker
    /// thread of a multi-thread tokio runtime it waits inside
    /// [`tokio::task::block_in_place`], so the runtime moves the worker's other tasks to
    /// another thread first. On a plain thread, or on a current-thread runtime (where
    /// `block_in_place` is not allowed), it blocks directly: that cannot deadlock, since the
    /// writer is an OS thread of its own and needs no runtime to make room, but on a
    /// current-thread runtime the other tasks wait with it.
    ///
    /// A program that logs faster than the disk writes is slowed down to the disk's speed; a
    /// disk that hangs (a dead NFS server) holds up every thread that logs until it answers.
    ///
    /// An event larger than the writer's whole buffer (`max_buffered_bytes`,
    /// `max_concurrent_writes` lines) cannot go in at once: it is written line by line, so
    /// other events may come between its lines (never inside one).
    ///
    /// One exception: events from the log subsystem's own threads (its writer thread warning
    /// that the disk fails, its compressor) never wait, since the writer thread would be
    /// waiting for room that only it can make. When the buffer is full they are dropped and
    /// counted as in lossy mode.
    Lossless,
}

/// A [`MakeWriter`] that writes each `tracing` event to an [`AsyncLogWriter`] as one message.
///
/// The `fmt` layer asks it for a writer per event ([`EventWriter`]), formats the event into
/// it, and drops it; the event's bytes reach the log writer in one call when it is dropped,
/// so an event is one message in the file, never torn and never interleaved with another
/// thread's, even when it spans several lines. What happens when the log writer's buffer is
/// full depends on the [`Mode`]: [`Lossy`](Mode::Lossy) by default.
///
/// Cloning is cheap (an [`Arc`]); clones write to the same file. Events written after the
/// writer is shut down (after the [`LogGuard`](crate::LogGuard) dropped) are discarded.
///
/// ```
/// use std::sync::Arc;
/// use bunctl_log_tracing::{AsyncLogWriter, LogMakeWriter, LogWriterConfig, Mode, WriterOptions};
///
/// # let dir = tempfile::tempdir()?;
/// let config = LogWriterConfig {
///     path: dir.path().join("app.log"),
///     ..LogWriterConfig::default()
/// };
/// let writer = Arc::new(AsyncLogWriter::open_blocking(config, WriterOptions::default())?);
/// let lossy = LogMakeWriter::new(writer.clone());
/// let lossless = LogMakeWriter::lossless(writer.clone());
/// assert_eq!(lossy.mode(), Mode::Lossy);
/// assert_eq!(lossless.mode(), Mode::Lossless);
/// tracing_subscriber::fmt().with_writer(lossless).finish();
/// writer.shutdown_blocking()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct LogMakeWriter {
    writer: Arc<AsyncLogWriter>,
    mode: Mode,
}

impl fmt::Debug for LogMakeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogMakeWriter")
            .field("path", &self.writer.path())
            .field("mode", &self.mode)
            .finish()
    }
}

impl LogMakeWriter {
    /// Events go to `writer` in the default mode, [`Mode::Lossy`].
    pub fn new(writer: Arc<AsyncLogWriter>) -> Self {
        Self::lossy(writer)
    }

    /// Events go to `writer` and are dropped (counted, marked in the file) when its buffer
    /// is full: [`Mode::Lossy`].
    pub fn lossy(writer: Arc<AsyncLogWriter>) -> Self {
        Self {
            writer,
            mode: Mode::Lossy,
        }
    }

    /// Events go to `writer` and wait for room when its buffer is full: [`Mode::Lossless`].
    pub fn lossless(writer: Arc<AsyncLogWriter>) -> Self {
        Self {
            writer,
            mode: Mode::Lossless,
        }
    }

    /// The same writer in `mode`.
    #[must_use]
    pub fn with_mode(self, mode: Mode) -> Self {
        Self { mode, ..self }
    }

    /// What an event does when the writer's buffer is full.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The log writer events go to: its metrics, its files, its path.
    pub fn writer(&self) -> &Arc<AsyncLogWriter> {
        &self.writer
    }

    /// Hands one event's bytes to the log writer as one message.
    fn hand_over(&self, event: &[u8]) {
        let message = without_terminator(event);
        // `Closed` (the writer was shut down) is the only error left: the event is discarded.
        match self.mode {
            Mode::Lossy => {
                let _ = self.writer.write_line(message);
            }
            Mode::Lossless => {
                // Full now, or larger than the whole buffer (then written line by line): wait,
                // unless this is the log subsystem's own thread.
                if let Err(Error::Full | Error::TooLarge { .. }) =
                    self.writer.try_write_line(message)
                {
                    if on_a_log_thread() {
                        let _ = self.writer.write_line(message);
                    } else {
                        let _ = off_the_runtime(|| self.writer.write_line_blocking(message));
                    }
                }
            }
        }
    }
}

/// Whether this thread is one of the log subsystem's own: a writer thread (`bunctl-log
/// <file>`), the compressor (`bunctl-log-gzip`) or a background sync (`bunctl-log-sync`).
/// They report trouble (a failing disk, a live file removed) through `tracing`, so with this
/// backend as the global subscriber their events come here; a writer thread waiting for room
/// in its own buffer would wait for itself, and every lossless producer with it. Their events
/// never wait: when the buffer is full they are dropped and counted, as in lossy mode.
fn on_a_log_thread() -> bool {
    bunctl_logging::is_log_thread()
}

/// The message to hand to the writer for an event's bytes. The writer ends every message
/// with a `\n` and does not double a trailing one, so the `\n` the `fmt` layer ends an event
/// with could be left on; it is cut here because a message without any `\n` is copied
/// straight into the writer's buffer, while one with a `\n` is first split into lines (an
/// allocation). When the event ends in a blank line (`\n\n`) the bytes are left as they are,
/// and the writer's own rule keeps the blank line.
fn without_terminator(event: &[u8]) -> &[u8] {
    match event {
        [.., b'\n', b'\n'] => event,
        [rest @ .., b'\n'] => rest,
        _ => event,
    }
}

impl<'a> MakeWriter<'a> for LogMakeWriter {
    type Writer = EventWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter {
            target: self,
            buf: take_buffer(),
        }
    }
}

/// The writer of one event, made by [`LogMakeWriter`]: collects what is written to it and
/// hands it to the log writer as one message when dropped (nothing, if nothing was written).
///
/// [`flush`](io::Write::flush) does nothing: an event is handed over whole or not at all.
/// The buffer is the thread's own, reused from one event to the next, so a steady stream of
/// events allocates nothing here; an event written while another is being written on the same
/// thread gets a new one.
pub struct EventWriter<'a> {
    target: &'a LogMakeWriter,
    buf: Vec<u8>,
}

impl fmt::Debug for EventWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWriter")
            .field("target", self.target)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl io::Write for EventWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if !buf.is_empty() {
            self.target.hand_over(&buf);
        }
        put_back(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fmt_layers_newline_is_cut_unless_it_ends_a_blank_line() {
        assert_eq!(without_terminator(b"a\n"), b"a");
        assert_eq!(without_terminator(b"a"), b"a");
        assert_eq!(without_terminator(b"a\nb\n"), b"a\nb");
        assert_eq!(without_terminator(b"a\n\n"), b"a\n\n");
        assert_eq!(without_terminator(b"\n"), b"");
        assert_eq!(without_terminator(b"\n\n"), b"\n\n");
        assert_eq!(without_terminator(b""), b"");
    }

    #[test]
    fn the_buffer_is_reused_and_a_nested_event_gets_its_own() {
        let first = take_buffer();
        let mut first = first;
        first.extend_from_slice(&[0; 100]);
        let cap = first.capacity();
        put_back(first);

        let outer = take_buffer();
        assert_eq!(outer.capacity(), cap, "the same allocation comes back");
        let nested = take_buffer();
        assert_eq!(nested.capacity(), 0, "a nested event does not share it");
        put_back(nested);
        put_back(outer);
        assert_eq!(take_buffer().capacity(), cap, "the larger one is kept");
    }

    #[test]
    fn a_huge_buffer_is_not_kept() {
        put_back(Vec::with_capacity(MAX_KEPT_CAPACITY + 1));
        assert!(take_buffer().capacity() <= MAX_KEPT_CAPACITY);
    }
}
