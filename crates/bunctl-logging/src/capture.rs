//! Capturing a child process's output: its pipes → whole lines → writers, losslessly.
//!
//! A pump reads a pipe in chunks, cuts them into whole lines with a
//! [`LineSplitter`] and hands them to a writer with the waiting
//! write. When the disk is slower than the child, the pump stops reading, the pipe fills up, and
//! the child waits on its next write, as with s6-log: nothing is lost and memory stays bounded.
//! A partial last line (no newline before EOF) is written with a newline. [`pump_until`] also
//! stops on a signal of the caller's (a future), handing over what it has read.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bunctl_log_buffer::{LineFormat, LineSplitter, Lines};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::{AsyncLogWriter, Error, Result};

/// Which of a child's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// The tag put in front of each line when streams are merged into one file in the raw or
    /// timestamped format (JSON lines say their stream in their `stream` field instead).
    pub fn tag(self) -> &'static [u8] {
        match self {
            Self::Stdout => b"[stdout] ",
            Self::Stderr => b"[stderr] ",
        }
    }
}

/// How a child's stdout and stderr are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaptureMode {
    /// stdout to `<app>.log`, stderr to `<app>.err.log`.
    #[default]
    Separate,
    /// Both to `<app>.log`, each line tagged `[stdout] ` or `[stderr] ` (after the time in
    /// the timestamped format); in the JSON format each line's `stream` field says it instead.
    Merged,
}

/// What one pump moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpSummary {
    /// Bytes read from the stream.
    pub bytes_read: u64,
    /// Lines handed to the writer.
    pub lines: u64,
}

/// Reads `reader` until EOF into `writer`, line by line, waiting for room (lossless). Lines
/// longer than the writer's limit are split into marked pieces. A partial last line (no
/// newline before EOF) is written with a newline.
///
/// `merged`: the stream `reader` is, when it shares `writer`'s file with another stream
/// ([`CaptureMode::Merged`]). Each line then says which: in the JSON format in its `stream`
/// field (through [`AsyncLogWriter::write_lines_from`]), in the raw and timestamped formats,
/// which have no such field, with the stream's [`tag`](Stream::tag) in front of the line.
/// `None`: lines are written as they came (a JSON line's `stream` is then the writer's own,
/// [`WriterOptions::stream`](crate::WriterOptions::stream)).
///
/// This is [`pump_until`] with a `stop` that never fires.
///
/// # Errors
/// [`Error::Io`] if reading fails, [`Error::Closed`] if the writer is shut down first.
pub async fn pump<R>(
    reader: R,
    writer: Arc<AsyncLogWriter>,
    merged: Option<Stream>,
    max_line_len: usize,
) -> Result<PumpSummary>
where
    R: AsyncRead + Unpin,
{
    pump_until(reader, writer, merged, max_line_len, std::future::pending()).await
}

/// At most this many reads after the stop, so that a reader that always has data ready (a
/// producer faster than the disk) cannot keep a stopped pump going: 1 MiB in 64 KiB reads.
const READS_AFTER_STOP: usize = 16;

/// [`pump`] that can be stopped: reads `reader` into `writer` until EOF or until `stop`
/// completes, whichever comes first. `merged` is as for [`pump`].
///
/// When `stop` completes, the pump stops waiting on the reader. It still takes what the reader
/// has ready at once (for example bytes that `tokio::io::stdin` already read on its background
/// thread), at most 16 reads of 64 KiB, then hands every line it holds to the writer, the
/// partial last line included (ended with a newline), and returns its summary. It reads nothing
/// more: what the reader has not delivered stays with it. The lines are handed over, not yet
/// written: shut the writer down (or flush it) to have them in the file.
///
/// `stop` is polled before each read, so a reader that is always ready cannot delay it; it is
/// not polled while the pump waits for room in the writer (a slow disk delays the stop as it
/// delays the reading). The pump keeps reading while `stop` is pending, so a `stop` that first
/// tells a background reader to stop and then waits for it lets the pump take everything that
/// reader took out of its source, as long as it buffers less than 1 MiB (`bunctl-log pipe`
/// works that way).
///
/// ```
/// use std::sync::Arc;
/// use bunctl_logging::{capture::pump_until, AsyncLogWriter, LogWriterConfig};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let dir = tempfile::tempdir().unwrap();
/// let writer = Arc::new(AsyncLogWriter::new(LogWriterConfig {
///     path: dir.path().join("app.log"),
///     ..LogWriterConfig::default()
/// }).await?);
/// // A pipe whose writer stays open and silent after a partial line.
/// let (mut input, output) = tokio::io::duplex(64);
/// tokio::io::AsyncWriteExt::write_all(&mut input, b"one\ntw").await?;
/// let stop = tokio::time::sleep(std::time::Duration::from_millis(50));
/// let summary = pump_until(output, writer.clone(), None, 1 << 20, stop).await?;
/// assert_eq!(summary.lines, 2);
/// writer.shutdown().await?;
/// assert_eq!(std::fs::read_to_string(dir.path().join("app.log"))?, "one\ntw\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// [`Error::Io`] if reading fails, [`Error::Closed`] if the writer is shut down first.
pub async fn pump_until<R, S>(
    mut reader: R,
    writer: Arc<AsyncLogWriter>,
    merged: Option<Stream>,
    max_line_len: usize,
    stop: S,
) -> Result<PumpSummary>
where
    R: AsyncRead + Unpin,
    S: Future<Output = ()>,
{
    let mut stop = std::pin::pin!(stop);
    // JSON lines carry their stream in a field; the other formats in a tag.
    let tag = merged
        .filter(|_| writer.options().format != LineFormat::Json)
        .map(Stream::tag);
    // `None` until the stop; then how many reads are left.
    let mut reads_left: Option<usize> = None;
    let mut buffer = LineSplitter::new(max_line_len);
    let mut chunk = vec![0u8; 64 << 10];
    let mut block = Vec::with_capacity(128 << 10);
    let mut tagged = Vec::new();
    let mut summary = PumpSummary::default();
    loop {
        let read = match reads_left.as_mut() {
            None => {
                tokio::select! {
                    // Stop first: a reader that is always ready must not starve it.
                    biased;
                    () = &mut stop => {
                        reads_left = Some(READS_AFTER_STOP);
                        continue;
                    }
                    read = reader.read(&mut chunk) => read,
                }
            }
            // Stopped: only what is ready now; nothing left or not ready counts as EOF.
            Some(0) => Ok(0),
            Some(left) => {
                *left -= 1;
                read_ready(&mut reader, &mut chunk).await.unwrap_or(Ok(0))
            }
        };
        let n = read.map_err(|source| Error::Io {
            action: "read the output of",
            path: writer.path().to_path_buf(),
            source,
        })?;
        summary.bytes_read += n as u64;
        let count = if n == 0 {
            buffer.finish_into(&mut block)
        } else {
            buffer.push_into(&chunk[..n], &mut block)
        };
        if count > 0 {
            let bytes = match tag {
                None => &block,
                Some(tag) => {
                    tag_lines(&block, tag, &mut tagged);
                    &tagged
                }
            };
            let lines = Lines { bytes, count };
            match merged {
                Some(stream) => writer.write_lines_from(lines, stream).await?,
                None => writer.write_lines(lines).await?,
            }
            summary.lines += count as u64;
            block.clear();
        }
        if n == 0 {
            return Ok(summary);
        }
    }
}

/// One read of what `reader` has ready now: `None` if it would have to wait.
async fn read_ready<R>(reader: &mut R, buf: &mut [u8]) -> Option<std::io::Result<usize>>
where
    R: AsyncRead + Unpin,
{
    // Unconstrained: tokio's cooperative budget would otherwise make a ready reader look
    // not ready once the task has done enough work, and its data would be left behind.
    tokio::task::coop::unconstrained(std::future::poll_fn(|cx| {
        let mut read_buf = ReadBuf::new(&mut *buf);
        Poll::Ready(match Pin::new(&mut *reader).poll_read(cx, &mut read_buf) {
            Poll::Ready(Ok(())) => Some(Ok(read_buf.filled().len())),
            Poll::Ready(Err(e)) => Some(Err(e)),
            Poll::Pending => None,
        })
    }))
    .await
}

/// Copies the whole lines of `block` into `out`, each prefixed with `tag`.
fn tag_lines(block: &[u8], tag: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', block) {
        out.extend_from_slice(tag);
        out.extend_from_slice(&block[start..=nl]);
        start = nl + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_every_line() {
        let mut out = Vec::new();
        tag_lines(b"a\n\nb\r\n", b"[x] ", &mut out);
        assert_eq!(out, b"[x] a\n[x] \n[x] b\r\n");
    }
}
