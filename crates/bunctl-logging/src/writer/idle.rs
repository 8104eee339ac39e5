//! When a quiet writer closes its live file ([`WriterOptions::close_idle_after`]): the clock
//! starts when the writer goes idle after writing, one pool timer brings it back when the time
//! is up, and then [`Sink::close_idle`] closes the file until the next line.

use std::path::Path;
use std::time::{Duration, Instant};

use bunctl_log_sink::Sink;

use crate::pool::{descriptor_pressure, Turn};
#[cfg(doc)]
use crate::WriterOptions;

/// A writer's idle clock.
pub(super) struct IdleClose {
    /// [`WriterOptions::close_idle_after`].
    after: Option<Duration>,
    /// A batch was written since the last idle turn.
    wrote: bool,
    /// When the writer last went idle after writing (or was opened).
    since: Instant,
    /// The sink was told to close its file, and nothing was written since.
    closed: bool,
    /// When the pool's timer for this writer is due, if one was asked for: at most one at a
    /// time, so a writer that goes idle after every batch adds no timer per batch.
    timer: Option<Instant>,
    /// [`descriptor_pressure`] when last looked at: a change closes the file now.
    pressure: u64,
}

impl IdleClose {
    /// A clock for a writer just opened (which counts as having just written: its open read
    /// the file).
    pub(super) fn new(after: Option<Duration>) -> Self {
        Self {
            after,
            wrote: false,
            since: Instant::now(),
            closed: false,
            timer: None,
            pressure: descriptor_pressure(),
        }
    }

    /// A batch was written.
    pub(super) fn wrote(&mut self) {
        self.wrote = true;
    }

    /// The writer found nothing to write: closes the sink's file if it has been idle long
    /// enough, else says when to come back (unless a timer is already due before then).
    pub(super) fn idle(&mut self, sink: &mut dyn Sink, path: &Path) -> Turn {
        let Some(after) = self.after else {
            return Turn::Idle;
        };
        let now = Instant::now();
        if std::mem::take(&mut self.wrote) {
            self.since = now;
            self.closed = false;
        }
        // Out of descriptors: close now; the pool dropped the timer this writer may have had.
        let pressure = descriptor_pressure();
        let pressed = pressure != self.pressure;
        if pressed {
            self.pressure = pressure;
            self.timer = None;
        }
        if self.closed {
            return Turn::Idle;
        }
        let due = self.since + after;
        if pressed || now >= due {
            self.timer = None;
            // Tried once per quiet spell: a file that cannot be synced stays open, and a
            // directory entry that cannot be synced stays due (either error is the next
            // sync's or the close's to report).
            self.closed = true;
            if let Err(e) = sink.close_idle() {
                tracing::debug!(path = %path.display(), error = %e,
                    "cannot make an idle log file durable");
            }
            return Turn::Idle;
        }
        if self.timer.is_some_and(|t| t > now) {
            // That timer comes back first and asks for the next.
            return Turn::Idle;
        }
        self.timer = Some(due);
        Turn::IdleUntil(due)
    }
}
