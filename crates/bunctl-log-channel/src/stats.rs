//! [`ChannelStats`]: the channel's counters, read from its metrics and its state.

use crate::state::Shared;

/// Counters the channel keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Lines dropped by [`Sender::send_or_drop`](crate::Sender::send_or_drop) because the
    /// buffer was full or the send was past the limit of sends in progress (read from the channel's [`LogMetrics`](bunctl_log_metrics::LogMetrics)).
    pub dropped_lines: u64,
    /// Writes that found the buffer full or were past
    /// [`ChannelConfig::max_concurrent_sends`](crate::ChannelConfig::max_concurrent_sends):
    /// dropped, refused with `Full`, or made to wait (read from the channel's [`LogMetrics`](bunctl_log_metrics::LogMetrics)).
    pub overflows: u64,
    /// Lines buffered now.
    pub buffered_lines: usize,
    /// Bytes buffered now.
    pub buffered_bytes: usize,
    /// Sends now waiting for room: at most
    /// [`ChannelConfig::max_concurrent_sends`](crate::ChannelConfig::max_concurrent_sends).
    pub waiting_sends: usize,
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
            waiting_sends: st.waiting_senders,
            receiver_wakeups: st.receiver_wakeups,
        }
    }
}
