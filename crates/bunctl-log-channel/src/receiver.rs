//! [`Receiver`], the writer side: waits for batches on a thread of its own ([`Receiver::recv`])
//! or is served by a pool ([`Receiver::try_recv`], a [`Waker`] and a [`DeadlineHandle`]), and
//! reports them written.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Instant;

use crate::state::{ReceiverState, Shared, State};
use crate::{Batch, ChannelStats};

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
        if st.receiver == ReceiverState::Lingering
            && st.deadline.is_some_and(|d| Instant::now() >= d)
        {
            st.receiver = ReceiverState::Busy;
            return true;
        }
        false
    }

    /// If the receiver is still idle (nothing was written since it said [`TryRecv::Idle`]),
    /// marks it busy and returns `true`: the caller must then schedule it, exactly once, as
    /// with [`fire`](Self::fire). For a pool's timer that lets an idle writer close its file;
    /// `false` if a write woke it meanwhile.
    pub fn wake_if_idle(&self) -> bool {
        let mut st = self.shared.lock();
        if st.receiver == ReceiverState::Idle {
            st.receiver = ReceiverState::Busy;
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
            match st.take_due_batch(&self.shared.config, &mut spare) {
                TryRecv::Batch(batch) => return Some(self.hand_out(st, batch)),
                TryRecv::Closed => return None,
                TryRecv::Idle => {
                    st = self
                        .shared
                        .receiver_wake
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                TryRecv::Linger(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    st = self
                        .shared
                        .receiver_wake
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
        match st.take_due_batch(&self.shared.config, spare) {
            TryRecv::Batch(batch) => TryRecv::Batch(self.hand_out(st, batch)),
            linger @ TryRecv::Linger(_) => linger,
            TryRecv::Idle => {
                if st.buf.capacity() > IDLE_KEEP {
                    st.buf = Vec::new();
                }
                if spare.capacity() > IDLE_KEEP {
                    *spare = Vec::new();
                }
                TryRecv::Idle
            }
            TryRecv::Closed => TryRecv::Closed,
        }
    }

    /// Lets go of the lock and wakes the producers waiting for room, now that a batch is
    /// taken out of the buffer.
    fn hand_out(&self, mut st: MutexGuard<'_, State>, batch: Batch) -> Batch {
        let wake_producers = std::mem::take(&mut st.room_waiters) > 0;
        drop(st);
        if wake_producers {
            self.shared.room.notify_waiters();
        }
        batch
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
