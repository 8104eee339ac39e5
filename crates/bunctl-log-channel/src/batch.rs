//! [`Batch`] and the rule for when one is due: the buffer is cut into a batch at the batch
//! size, a flush, room wanted, close, or the flush interval after its first byte.

use std::time::{Duration, Instant};

use crate::state::{ReceiverState, State};
use crate::{ChannelConfig, TryRecv};

/// A batch of whole lines for the writer.
#[derive(Debug)]
pub struct Batch {
    /// The lines, each ending in `\n`, including any drop markers.
    pub bytes: Vec<u8>,
    /// How many producer lines `bytes` holds (drop markers not counted).
    pub lines: u64,
    /// The batch's number; pass it to [`Receiver::complete`](crate::Receiver::complete) once it
    /// is written.
    pub generation: u64,
}

impl State {
    /// The state machine behind [`Receiver::recv`](crate::Receiver::recv) and
    /// [`Receiver::try_recv`](crate::Receiver::try_recv), under the lock: takes the buffer as a
    /// batch if one is due (swapping `spare` in), or says how long to wait and marks the
    /// receiver idle or lingering.
    pub(crate) fn take_due_batch(&mut self, cfg: &ChannelConfig, spare: &mut Vec<u8>) -> TryRecv {
        if self.closed {
            // Lines dropped after the last accepted one still get their marker.
            self.write_drop_marker(cfg.format);
        }
        if self.buf.is_empty() {
            self.flush_requested = false;
            self.deadline = None;
            if self.closed {
                return TryRecv::Closed;
            }
            self.receiver = ReceiverState::Idle;
            return TryRecv::Idle;
        }
        let now = Instant::now();
        // A flush interval too long for the clock (`Duration::MAX`) means "no deadline":
        // a year from now, which the batch threshold, a flush or close come before.
        let deadline = *self.deadline.get_or_insert_with(|| {
            now.checked_add(cfg.flush_interval)
                .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
                .unwrap_or(now)
        });
        let due = self.closed
            || self.flush_requested
            || self.buf.len() >= cfg.batch_bytes
            || self.room_waiters > 0
            || now >= deadline;
        if due {
            std::mem::swap(&mut self.buf, spare);
            let batch = Batch {
                bytes: std::mem::take(spare),
                lines: self.lines as u64,
                generation: self.generation,
            };
            self.lines = 0;
            self.generation += 1;
            self.flush_requested = false;
            self.receiver = ReceiverState::Busy;
            self.deadline = None;
            return TryRecv::Batch(batch);
        }
        self.receiver = ReceiverState::Lingering;
        TryRecv::Linger(deadline)
    }
}
