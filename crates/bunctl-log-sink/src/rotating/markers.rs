//! The sink's own marker lines: written between lines, in the file's format, and never torn
//! (what a failed write leaves of one is written first the next time).

use std::io;
use std::time::SystemTime;

use bunctl_log_buffer::{write_marker, Marker};

use super::RotatingSink;
use crate::Sink;

impl RotatingSink {
    /// Writes a marker line of the sink's own, between lines. What a failed write leaves of it
    /// is written first the next time, so a marker is never torn and never glued to a line.
    pub(super) fn write_marker(&mut self, marker: &Marker<'_>) -> io::Result<()> {
        write_marker(
            self.format,
            marker,
            SystemTime::now(),
            &mut self.unwritten_marker,
        );
        self.write_unwritten_marker()
    }

    /// Writes what is left of the last marker line, if anything.
    pub(super) fn write_unwritten_marker(&mut self) -> io::Result<()> {
        while !self.unwritten_marker.is_empty() {
            let tail = std::mem::take(&mut self.unwritten_marker);
            let written = self.live().and_then(|live| live.write(&tail));
            let n = match written {
                Ok(n) => n,
                Err(e) => {
                    self.unwritten_marker = tail;
                    return Err(e);
                }
            };
            if n == 0 {
                self.unwritten_marker = tail;
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the log file took no bytes",
                ));
            }
            self.unwritten_marker = tail[n.min(tail.len())..].to_vec();
        }
        Ok(())
    }
}
