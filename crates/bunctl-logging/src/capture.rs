//! Capturing a child process's output: its pipes → whole lines → writers, losslessly.
//!
//! A pump reads a pipe in chunks, cuts them into whole lines with a
//! [`LineBuffer`] and hands them to a writer with the waiting
//! write. When the disk is slower than the child, the pump stops reading, the pipe fills up, and
//! the child waits on its next write, as with s6-log: nothing is lost and memory stays bounded.
//! A partial last line (no newline before EOF) is written with a newline.

use std::sync::Arc;

use bunctl_log_buffer::{LineBuffer, Lines};
use tokio::io::{AsyncRead, AsyncReadExt};

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
    /// The tag put in front of each line when streams are merged into one file.
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
    /// Both to `<app>.log`, each line tagged `[stdout] ` or `[stderr] `.
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

/// Reads `reader` until EOF into `writer`, line by line, waiting for room (lossless). With a
/// `tag`, every line starts with it. Lines longer than the writer's limit are split into marked
/// pieces.
///
/// # Errors
/// [`Error::Io`] if reading fails, [`Error::Closed`] if the writer is shut down first.
pub async fn pump<R>(
    mut reader: R,
    writer: Arc<AsyncLogWriter>,
    tag: Option<&'static [u8]>,
    max_line_len: usize,
) -> Result<PumpSummary>
where
    R: AsyncRead + Unpin,
{
    let mut buffer = LineBuffer::new(max_line_len);
    let mut chunk = vec![0u8; 64 << 10];
    let mut block = Vec::with_capacity(128 << 10);
    let mut tagged = Vec::new();
    let mut summary = PumpSummary::default();
    loop {
        let n = reader.read(&mut chunk).await.map_err(|source| Error::Io {
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
            writer.write_lines(Lines { bytes, count }).await?;
            summary.lines += count as u64;
            block.clear();
        }
        if n == 0 {
            return Ok(summary);
        }
    }
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
