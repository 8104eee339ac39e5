//! [`Receiver`], the writer side: takes batches, on a thread of its own ([`Receiver::recv`])
//! or served by a pool ([`Receiver::try_recv`], a [`Waker`] and a [`DeadlineHandle`]), and
//! reports them written.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use crate::state::{Shared, State, WriterState};
use crate::{ChannelConfig, ChannelStats};

/// A batch of whole lines for the writer.
#[derive(Debug)]
pub struct Batch {
    /// The lines, each ending in `\n`, including any drop markers.
    pub bytes: Vec<u8>,
    /// How many producer lines `bytes` holds (drop markers not counted).
    pub lines: u64,
    /// The batch's number; pass it to [`Receiver::complete`] once it is written.
    pub generation: u64,
}

/// What wakes a receiver that is not waiting in [`Receiver::recv`]: see
/// [`Receiver::set_waker`].
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// The writer side.
pub struct Receiver {
    shared: Arc<Shared>,
}

impl Receiver {
    /// The receiver of a new channel.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// What [`Receiver::try_recv`] found.
#[derive(Debug)]
pub enum TryRecv {
    /// A batch to write.
    Batch(Batch),
    /// Bytes are buffered but not due before this instant: come back then (or when woken).
    Linger(Instant),
    /// Nothing buffered: the waker fires at the next write.
    Idle,
    /// Closed and everything handed out.
    Closed,
}

/// A way to tell a lingering receiver that its deadline passed, from another thread (a
/// pool's timer): see [`Receiver::deadline_handle`].
#[derive(Clone)]
pub struct DeadlineHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for DeadlineHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadlineHandle").finish_non_exhaustive()
    }
}

impl DeadlineHandle {
    /// If the receiver still lingers and its deadline has passed, marks it busy and returns
    /// `true`: the caller must then schedule it (exactly one scheduling per wake, as with the
    /// waker). `false` for a stale timer: it was woken otherwise meanwhile.
    pub fn fire(&self) -> bool {
        let mut st = self.shared.lock();
        if st.writer == WriterState::Lingering && st.deadline.is_some_and(|d| Instant::now() >= d) {
            st.writer = WriterState::Busy;
            return true;
        }
        false
    }
}

/// Largest buffer an idle receiver keeps, in bytes: beyond it the memory is given back, so
/// thousands of idle writers cost little.
const IDLE_KEEP: usize = 16 << 10;

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// One look at the buffer, under its lock.
enum Poll {
    Batch(Batch),
    Linger(Instant),
    Idle,
    Closed,
}

impl Receiver {
    /// Waits for the next batch; `spare` is an emptied buffer to swap in (its allocation is
    /// reused). Returns `None` once the channel is closed and everything was handed out.
    ///
    /// Blocks the calling thread: the receiver runs on a thread of its own, which is what lets
    /// it write a batch the moment the previous one is done, without a hand-over to another
    /// thread. While the buffer is empty it waits with no timeout at all.
    pub fn recv(&mut self, mut spare: Vec<u8>) -> Option<Batch> {
        spare.clear();
        let mut st = self.shared.lock();
        loop {
            match Self::poll(&self.shared.config, &mut st, &mut spare) {
                Poll::Batch(batch) => {
                    let wake_producers = std::mem::take(&mut st.room_waiters) > 0;
                    drop(st);
                    if wake_producers {
                        self.shared.room.notify_waiters();
                    }
                    return Some(batch);
                }
                Poll::Closed => return None,
                Poll::Idle => {
                    st = self
                        .shared
                        .writer_wake
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Poll::Linger(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    st = self
                        .shared
                        .writer_wake
                        .wait_timeout(st, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
            st.receiver_wakeups += 1;
        }
    }

    /// [`recv`](Self::recv) without waiting, for a receiver served by a pool of threads: a
    /// batch if one is due, else when to come back. After [`TryRecv::Idle`] the
    /// [waker](Self::set_waker) fires at the next write; after [`TryRecv::Linger`] it fires if
    /// the batch fills up or a flush is asked for before then, and otherwise the caller comes
    /// back at the deadline ([`DeadlineHandle::fire`]). An idle receiver gives back buffer
    /// memory beyond a few KiB (`spare` included).
    pub fn try_recv(&mut self, spare: &mut Vec<u8>) -> TryRecv {
        spare.clear();
        let mut st = self.shared.lock();
        match Self::poll(&self.shared.config, &mut st, spare) {
            Poll::Batch(batch) => {
                let wake_producers = std::mem::take(&mut st.room_waiters) > 0;
                drop(st);
                if wake_producers {
                    self.shared.room.notify_waiters();
                }
                TryRecv::Batch(batch)
            }
            Poll::Linger(deadline) => TryRecv::Linger(deadline),
            Poll::Idle => {
                if st.buf.capacity() > IDLE_KEEP {
                    st.buf = Vec::new();
                }
                if spare.capacity() > IDLE_KEEP {
                    *spare = Vec::new();
                }
                TryRecv::Idle
            }
            Poll::Closed => TryRecv::Closed,
        }
    }

    /// For a pool's timer: see [`DeadlineHandle`].
    pub fn deadline_handle(&self) -> DeadlineHandle {
        DeadlineHandle {
            shared: self.shared.clone(),
        }
    }

    /// Makes producers call `wake` instead of notifying a thread waiting in
    /// [`recv`](Self::recv): for a receiver served by a pool, `wake` schedules it. It is
    /// called exactly once each time the receiver goes from idle or lingering to busy (a
    /// first byte, a full batch, a flush, room wanted, close), never while it is busy. Set it
    /// once, before the first [`try_recv`](Self::try_recv); later calls do nothing.
    pub fn set_waker(&self, wake: Waker) {
        let _ = self.shared.waker.set(wake);
    }

    /// The state machine behind [`recv`](Self::recv) and [`try_recv`](Self::try_recv), under
    /// the lock: take a due batch, or say how long to wait and mark the receiver waiting.
    fn poll(cfg: &ChannelConfig, st: &mut State, spare: &mut Vec<u8>) -> Poll {
        if st.closed {
            // Lines dropped after the last accepted one still get their marker.
            st.write_drop_marker();
        }
        if st.buf.is_empty() {
            st.flush_requested = false;
            st.deadline = None;
            if st.closed {
                return Poll::Closed;
            }
            st.writer = WriterState::Idle;
            return Poll::Idle;
        }
        let now = Instant::now();
        // A flush interval too long for the clock (`Duration::MAX`) means "no deadline":
        // a year from now, which the batch threshold, a flush or close come before.
        let deadline = *st.deadline.get_or_insert_with(|| {
            now.checked_add(cfg.flush_interval)
                .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
                .unwrap_or(now)
        });
        let due = st.closed
            || st.flush_requested
            || st.buf.len() >= cfg.batch_bytes
            || st.lines >= cfg.max_lines
            || st.room_waiters > 0
            || now >= deadline;
        if due {
            std::mem::swap(&mut st.buf, spare);
            let batch = Batch {
                bytes: std::mem::take(spare),
                lines: st.lines as u64,
                generation: st.generation,
            };
            st.lines = 0;
            st.generation += 1;
            st.flush_requested = false;
            st.writer = WriterState::Busy;
            st.deadline = None;
            return Poll::Batch(batch);
        }
        st.writer = WriterState::Lingering;
        Poll::Linger(deadline)
    }

    /// Reports that batch `generation` (and every earlier one) is written; wakes flushers.
    pub fn complete(&self, generation: u64) {
        self.shared
            .completed
            .fetch_max(generation, Ordering::AcqRel);
        self.shared.flushed.notify_waiters();
    }

    /// Closes the channel from the writer's side (for example when the writer must stop).
    pub fn close(&self) {
        self.shared.close();
    }

    /// The channel's counters.
    pub fn stats(&self) -> ChannelStats {
        self.shared.stats()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.receiver_alive.store(false, Ordering::Release);
        self.shared.close();
    }
}
