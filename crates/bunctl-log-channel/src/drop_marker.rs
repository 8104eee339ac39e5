//! The drop marker: the line put where [`Sender::send_or_drop`](crate::Sender::send_or_drop)
//! dropped lines, so the file shows the gap and its size.

use std::io::Write as _;

use crate::state::State;

/// The text of the marker line written where lines were dropped: `<prefix><count><suffix>`.
pub const DROP_MARKER_PREFIX: &[u8] = b"[bunctl-log] ";
/// See [`DROP_MARKER_PREFIX`].
pub const DROP_MARKER_SUFFIX: &[u8] = b" lines dropped here: the writer was full\n";

impl State {
    /// Puts the marker line for lines dropped since the last one, if any, into the buffer.
    pub(crate) fn write_drop_marker(&mut self) {
        if self.dropped_since_marker > 0 {
            self.buf.extend_from_slice(DROP_MARKER_PREFIX);
            // Writing a number into a Vec cannot fail.
            let _ = write!(self.buf, "{}", self.dropped_since_marker);
            self.buf.extend_from_slice(DROP_MARKER_SUFFIX);
            self.dropped_since_marker = 0;
        }
    }
}
