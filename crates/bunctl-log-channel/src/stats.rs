//! [`ChannelStats`]: the channel's counters, read from its metrics and its state.

use crate::state::Shared;

/// Counters the channel keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Lines dropped by [`Sender::send_or_drop`](crate::Sender::send_or_drop) because the
    /// buffer was full (read from the channel's [`LogMetrics`](bunctl_log_metrics::LogMetrics)).
    pub dropped_lines: u64,
    /// Writes that found the buffer full: dropped, refused with `Full`, or made to wait
    /// (read from the channel's [`LogMetrics`](bunctl_log_metrics::LogMetrics)).
    pub overflows: u64,
    /// Lines buffered now.
    pub buffered_lines: usize,
    /// Bytes buffered now.
    pub buffered_bytes: usize,
    /// Times the receiver woke up from waiting (for a byte, a full batch or its deadline):
    /// an idle channel must not add to it.
    pub receiver_wakeups: u64,
}

impl Shared {
    pub(crate) fn stats(&self) -> ChannelStats {
        let counted = self.metrics.snapshot();
        let st = self.lock();
        ChannelStats {
            dropped_lines: counted.dropped_messages,
            overflows: counted.buffer_overflows,
            buffered_lines: st.lines,
            buffered_bytes: st.buf.len(),
            receiver_wakeups: st.receiver_wakeups,
        }
    }
}
