//! The drop marker: the line put where [`Sender::send_or_drop`](crate::Sender::send_or_drop)
//! dropped lines, so the file shows the gap and its size. Its text and shape are
//! `bunctl_log_buffer`'s [`Marker::Dropped`], in the channel's
//! [`format`](crate::ChannelConfig::format).

use std::time::SystemTime;

use bunctl_log_buffer::{write_marker, LineFormat, Marker};

use crate::state::State;

impl State {
    /// Puts the marker line for lines dropped since the last one, if any, into the buffer.
    pub(crate) fn write_drop_marker(&mut self, format: LineFormat) {
        if self.dropped_since_marker > 0 {
            let marker = Marker::Dropped {
                lines: self.dropped_since_marker,
            };
            write_marker(format, &marker, SystemTime::now(), &mut self.buf);
            self.dropped_since_marker = 0;
        }
    }
}
