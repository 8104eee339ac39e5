//! [`ChannelConfig`]: the channel's limits and timing, and how they are made consistent.

use std::time::Duration;

use bunctl_log_buffer::{LineFormat, CONTINUATION_MARKER};

/// Limits and timing of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Most bytes buffered at once (not counting the batch being written): the memory bound.
    /// A batch takes everything buffered, so a batch is at most this large too.
    pub max_bytes: usize,
    /// Most sends in progress at once, counting those waiting for room. A send past it is
    /// treated as if the buffer were full: [`Sender::send_or_drop`](crate::Sender::send_or_drop)
    /// drops and counts, [`Sender::try_send`](crate::Sender::try_send) returns
    /// [`TrySendError::Full`](crate::TrySendError::Full), [`Sender::send`](crate::Sender::send)
    /// waits (without spinning) until one of the waiting sends is done. See
    /// [`Sender`](crate::Sender) for how it is counted.
    pub max_concurrent_sends: usize,
    /// The writer takes a batch as soon as this many bytes are buffered.
    pub batch_bytes: usize,
    /// The writer takes a batch at the latest this long after its first byte arrived.
    pub flush_interval: Duration,
    /// Lines longer than this are split into marked pieces.
    pub max_line_len: usize,
    /// The format of the lines sent: the drop marker is written in it, so the file stays in
    /// one format. Default [`LineFormat::Raw`].
    pub format: LineFormat,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            max_bytes: 2 << 20,
            max_concurrent_sends: 1000,
            batch_bytes: 64 << 10,
            flush_interval: Duration::from_millis(100),
            max_line_len: bunctl_log_buffer::DEFAULT_MAX_LINE_LEN,
            format: LineFormat::Raw,
        }
    }
}

impl ChannelConfig {
    /// The config with its limits made consistent: every piece of a split line must fit into an
    /// empty buffer, so `max_bytes` is raised to at least one maximal piece, and every count is
    /// at least 1.
    pub fn normalized(mut self) -> Self {
        self.max_line_len = self.max_line_len.max(1);
        self.max_concurrent_sends = self.max_concurrent_sends.max(1);
        let piece = self
            .max_line_len
            .saturating_add(CONTINUATION_MARKER.len() + 1);
        self.max_bytes = self.max_bytes.max(piece);
        self.batch_bytes = self.batch_bytes.clamp(1, self.max_bytes);
        self
    }
}
