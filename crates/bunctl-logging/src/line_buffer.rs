//! [`LineBuffer`]: the product's (v2) shareable line splitter.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bunctl_log_buffer::LineSplitter;
use bytes::Bytes;

/// The limits of a [`LineBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineBufferConfig {
    /// The longest line, in bytes, before it is split (at least 1 is used). Default 64 KiB.
    pub max_size: usize,
    /// The most complete lines held; beyond it the oldest are dropped (and counted).
    /// Default 1000.
    pub max_lines: usize,
}

impl Default for LineBufferConfig {
    fn default() -> Self {
        Self {
            max_size: 64 << 10,
            max_lines: 1000,
        }
    }
}

/// What a [`LineBuffer`] holds and has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Complete lines waiting for [`LineBuffer::get_lines`].
    pub pending_lines: usize,
    /// Bytes of the unfinished line (no newline yet), at most `max_size`.
    pub incomplete_bytes: usize,
    /// Bytes given to [`LineBuffer::write`] since the buffer was made.
    pub total_bytes_written: u64,
    /// Complete lines (and pieces of split lines) that came out of those bytes, the dropped
    /// ones included.
    pub total_lines_written: u64,
    /// Complete lines dropped, oldest first, because `max_lines` were already held.
    pub dropped_lines: u64,
}

/// A thread-safe splitter of byte chunks into lines, shared by `&self` (put it in an `Arc`):
/// the product's (v2) `LineBuffer`. Writers do not need it (they split what they are given
/// with the faster [`LineSplitter`], owned by one caller); it is for code that collects lines
/// from several threads and takes them out in batches.
///
/// Bytes are cut at each `\n` by the same rules as everywhere in this crate (the
/// [`LineSplitter`]'s): bytes are kept as they came (`\r`, NUL, invalid UTF-8), and a line longer
/// than `max_size` bytes, whether it arrived whole or is still growing without its newline,
/// comes out in pieces of `max_size` bytes, each but the last ending in
/// [`CONTINUATION_MARKER`](crate::CONTINUATION_MARKER) and a `\n`, so memory stays bounded and a
/// reader can join the pieces. At most `max_lines` complete lines are held: when more come,
/// the oldest are dropped and counted in [`BufferStats::dropped_lines`].
///
/// ```
/// use bunctl_logging::{LineBuffer, LineBufferConfig};
///
/// let buffer = LineBuffer::new(LineBufferConfig::default());
/// buffer.write(b"hello\nwor");
/// buffer.write(b"ld\npartial");
/// let lines = buffer.get_lines();
/// assert_eq!(lines, [&b"hello\n"[..], b"world\n"]);
/// assert_eq!(buffer.flush_incomplete().as_deref(), Some(&b"partial"[..]));
/// assert!(buffer.is_empty());
/// ```
#[derive(Debug)]
pub struct LineBuffer {
    config: LineBufferConfig,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    splitter: LineSplitter,
    lines: VecDeque<Bytes>,
    total_bytes: u64,
    total_lines: u64,
    dropped: u64,
}

impl LineBuffer {
    /// An empty buffer with these limits.
    pub fn new(config: LineBufferConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State {
                splitter: LineSplitter::new(config.max_size),
                lines: VecDeque::new(),
                total_bytes: 0,
                total_lines: 0,
                dropped: 0,
            }),
        }
    }

    /// The limits it was made with.
    pub fn config(&self) -> &LineBufferConfig {
        &self.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Only buffer operations run under the lock, and none of them panics part-way in a
        // way that matters: a poisoned lock still guards whole lines.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `data`: every line it completes is held (each with its `\n`), the rest waits for
    /// its newline. Lines beyond `max_lines` push the oldest out.
    pub fn write(&self, data: &[u8]) {
        let mut guard = self.state();
        let st = &mut *guard;
        st.total_bytes = st.total_bytes.saturating_add(data.len() as u64);
        let (splitter, lines) = (&mut st.splitter, &mut st.lines);
        let mut added = 0u64;
        splitter.push(data, |block| {
            // One allocation per block; each line is a slice of it.
            let block = Bytes::copy_from_slice(block.bytes);
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', &block) {
                lines.push_back(block.slice(start..=nl));
                start = nl + 1;
                added += 1;
            }
        });
        st.total_lines = st.total_lines.saturating_add(added);
        let excess = st.lines.len().saturating_sub(self.config.max_lines);
        if excess > 0 {
            st.lines.drain(..excess);
            st.dropped = st.dropped.saturating_add(excess as u64);
        }
    }

    /// Takes the complete lines held, oldest first, each ending in `\n`.
    pub fn get_lines(&self) -> Vec<Bytes> {
        self.state().lines.drain(..).collect()
    }

    /// Takes the unfinished line (the bytes after the last `\n`), without adding a newline;
    /// `None` if there is none.
    pub fn flush_incomplete(&self) -> Option<Bytes> {
        let mut st = self.state();
        let mut out = Vec::new();
        if st.splitter.finish_into(&mut out) == 0 {
            return None;
        }
        // `finish` ends the line with the newline that never came: leave it out.
        out.pop();
        Some(Bytes::from(out))
    }

    /// Whether nothing is held: no complete line and no unfinished one.
    pub fn is_empty(&self) -> bool {
        let st = self.state();
        st.lines.is_empty() && st.splitter.pending_len() == 0
    }

    /// Discards what is held (complete lines and the unfinished one); the totals stay.
    pub fn clear(&self) {
        let mut st = self.state();
        st.lines.clear();
        st.splitter = LineSplitter::new(self.config.max_size);
    }

    /// What it holds now and has seen since it was made.
    pub fn stats(&self) -> BufferStats {
        let st = self.state();
        BufferStats {
            pending_lines: st.lines.len(),
            incomplete_bytes: st.splitter.pending_len(),
            total_bytes_written: st.total_bytes,
            total_lines_written: st.total_lines,
            dropped_lines: st.dropped,
        }
    }
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new(LineBufferConfig::default())
    }
}
