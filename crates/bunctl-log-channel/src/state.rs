//! The state producers and the receiver share: the buffer and its counts under one mutex,
//! the receiver's wait state, and the decisions taken under the lock (does it fit, must the
//! receiver be woken).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use bunctl_log_metrics::LogMetrics;
use crossbeam_utils::CachePadded;
use tokio::sync::Notify;

use crate::sender::Message;
use crate::{ChannelConfig, Waker};

/// What the receiver is doing, which decides whether a write must wake it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReceiverState {
    /// Writing, or about to look at the buffer: needs no wake-up.
    Busy,
    /// Waiting for the first byte: wake on any write.
    Idle,
    /// Waiting for a batch to fill up: wake when `batch_bytes` are buffered or room is short.
    Lingering,
}

/// The buffer and everything decided with it, guarded by [`Shared::state`].
pub(crate) struct State {
    pub(crate) buf: Vec<u8>,
    pub(crate) lines: usize,
    pub(crate) closed: bool,
    pub(crate) receiver: ReceiverState,
    /// Producers that waited for room since the receiver last took a batch (it cuts a batch
    /// early for them and wakes them all when it does).
    pub(crate) room_waiters: usize,
    /// Sends now waiting for room (each counted once, from its first wait until it returns or
    /// is cancelled): what [`ChannelConfig::max_concurrent_sends`] bounds.
    pub(crate) waiting_senders: usize,
    pub(crate) flush_requested: bool,
    /// Number of the batch now accumulating in `buf`.
    pub(crate) generation: u64,
    /// Lines dropped since the last marker was written.
    pub(crate) dropped_since_marker: u64,
    pub(crate) receiver_wakeups: u64,
    /// When the batch now accumulating must be taken at the latest (set while lingering).
    pub(crate) deadline: Option<Instant>,
}

/// What the senders and the receiver of one channel hold in common.
pub(crate) struct Shared {
    pub(crate) config: ChannelConfig,
    /// On cache lines of its own: every send writes it, and the fields read on every send
    /// (`config`) or written by the receiver (`completed`) would otherwise share its line, so
    /// each send on one core would miss on them after a send or the receiver on another.
    pub(crate) state: CachePadded<Mutex<State>>,
    /// Wakes a receiver waiting in `recv` (on `state`).
    pub(crate) receiver_wake: Condvar,
    /// Instead of `receiver_wake`, if set: schedules a receiver served by a pool.
    pub(crate) waker: OnceLock<Waker>,
    /// Wakes producers waiting for room.
    pub(crate) room: Notify,
    /// Wakes a send waiting for one of the `max_concurrent_sends` places.
    pub(crate) places: Notify,
    /// Wakes flush waiters.
    pub(crate) flushed: Notify,
    /// Highest batch number written (all below it are written too).
    pub(crate) completed: AtomicU64,
    pub(crate) senders: AtomicUsize,
    pub(crate) receiver_alive: AtomicBool,
    /// Where drops and overflows are counted (the writer's counters, when it passes them).
    pub(crate) metrics: Arc<LogMetrics>,
}

impl Shared {
    /// The state of a new channel with one sender and a live receiver; `config` is normalized
    /// here, so every limit the channel checks is consistent.
    pub(crate) fn new(config: ChannelConfig, metrics: Arc<LogMetrics>) -> Self {
        Self {
            config: config.normalized(),
            state: CachePadded::new(Mutex::new(State {
                buf: Vec::new(),
                lines: 0,
                closed: false,
                receiver: ReceiverState::Busy,
                room_waiters: 0,
                waiting_senders: 0,
                flush_requested: false,
                generation: 1,
                dropped_since_marker: 0,
                receiver_wakeups: 0,
                deadline: None,
            })),
            receiver_wake: Condvar::new(),
            waker: OnceLock::new(),
            room: Notify::new(),
            places: Notify::new(),
            flushed: Notify::new(),
            completed: AtomicU64::new(0),
            senders: AtomicUsize::new(1),
            receiver_alive: AtomicBool::new(true),
            metrics,
        }
    }

    /// Locks the state.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a thread panicked while appending bytes; the state is
        // still a valid buffer, so carry on rather than spread the panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `bytes` fit now; the drop marker is allowed to overshoot.
    pub(crate) fn fits(&self, st: &State, bytes: usize) -> bool {
        st.buf.len() + bytes <= self.config.max_bytes
    }

    /// Whether a message of `bytes` can ever fit at once.
    pub(crate) fn can_ever_fit(&self, bytes: usize) -> bool {
        bytes <= self.config.max_bytes
    }

    /// Whether a send not yet counted among the waiting ones is past
    /// [`ChannelConfig::max_concurrent_sends`]: it would be one more than the limit allows.
    pub(crate) fn no_place(&self, st: &State) -> bool {
        st.waiting_senders >= self.config.max_concurrent_sends
    }

    /// Appends a message's lines under the lock (after any pending drop marker) and says
    /// whether the receiver must be woken.
    pub(crate) fn append(&self, st: &mut State, message: &Message<'_>) -> bool {
        st.write_drop_marker(self.config.format);
        let (bytes, lines) = message.size();
        reserve_within(&mut st.buf, bytes, self.config.max_bytes);
        match message {
            Message::Line(line) => {
                st.buf.extend_from_slice(line);
                st.buf.push(b'\n');
            }
            Message::Lines { bytes, .. } => st.buf.extend_from_slice(bytes),
        }
        st.lines += lines;
        self.take_receiver_wake(st)
    }

    /// If the receiver waits for what just happened, marks it busy and returns true: the caller
    /// must then wake it, once, after letting go of the lock.
    pub(crate) fn take_receiver_wake(&self, st: &mut State) -> bool {
        let wake = match st.receiver {
            ReceiverState::Busy => false,
            ReceiverState::Idle => true,
            ReceiverState::Lingering => {
                st.buf.len() >= self.config.batch_bytes
                    || st.room_waiters > 0
                    || st.flush_requested
                    || st.closed
            }
        };
        if wake {
            st.receiver = ReceiverState::Busy;
        }
        wake
    }

    /// A write found no room: counts it, and returns true if the receiver was lingering and
    /// must now be woken to take the buffer.
    pub(crate) fn record_overflow(&self, st: &mut State) -> bool {
        self.metrics.record_overflow();
        if st.receiver == ReceiverState::Lingering {
            st.receiver = ReceiverState::Busy;
            return true;
        }
        false
    }

    /// Wakes the receiver: its pool's waker if it has one, else the thread waiting in `recv`.
    pub(crate) fn wake_receiver(&self) {
        match self.waker.get() {
            Some(wake) => wake(),
            None => self.receiver_wake.notify_one(),
        }
    }

    /// Closes the channel and wakes everyone who waits on it.
    pub(crate) fn close(&self) {
        let wake = {
            let mut st = self.lock();
            st.closed = true;
            self.take_receiver_wake(&mut st)
        };
        if wake {
            self.wake_receiver();
        }
        self.room.notify_waiters();
        self.places.notify_waiters();
        self.flushed.notify_waiters();
    }
}

/// Makes room in `buf` for `extra` more bytes, growing it as `Vec` does (doubling) but never
/// past `max` unless the bytes need it: a buffer filled to `max_bytes` then holds at most
/// `max_bytes`, not the up to twice as much that plain doubling can leave allocated.
fn reserve_within(buf: &mut Vec<u8>, extra: usize, max: usize) {
    if buf.capacity() - buf.len() >= extra {
        return;
    }
    let needed = buf.len() + extra;
    let wanted = buf.capacity().saturating_mul(2).max(needed).max(256);
    buf.reserve_exact(wanted.min(max).max(needed) - buf.len());
}
