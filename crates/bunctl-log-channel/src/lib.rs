//! The backpressure channel: many producers hand whole lines to one writer (a thread of its own,
//! or a task served by a pool of threads).
//!
//! # Design
//!
//! A channel message per line is the pattern to avoid: it costs an allocation and a wake-up per
//! line and hands the writer kilobyte-sized writes. Instead producers append whole lines to one
//! shared byte buffer under a short mutex, and the writer swaps that buffer for an empty one and
//! writes the full one with a single `write(2)` while producers fill the other. The lock is held
//! for a `memcpy` of one line, never across I/O.
//!
//! * **Bounded in bytes.** The buffer accepts a write only if the buffered bytes stay within
//!   [`ChannelConfig::max_bytes`], so a burst of huge lines cannot exhaust memory, and a batch
//!   takes everything buffered (there is no limit in lines). What is in flight is at most one
//!   full buffer plus the batch being written.
//! * **Bounded sends in progress.** At most [`ChannelConfig::max_concurrent_sends`] sends are
//!   in progress at once, those waiting for room included; one past it is treated as if the
//!   buffer were full (see [`Sender`] for how this is counted at no cost to a send that finds
//!   room).
//! * **Three ways to send when full**: [`Sender::send_or_drop`] drops the line and counts it
//!   (the next accepted line is preceded by a marker line giving the count, so the file shows the
//!   gap); [`Sender::try_send`] returns [`TrySendError::Full`]; [`Sender::send`] waits for room
//!   and loses nothing ([`Sender::send_blocking`] does the same on a plain thread).
//! * **Batching.** The writer takes a batch as soon as [`ChannelConfig::batch_bytes`] are
//!   buffered, when a flush is requested, when producers wait for room, at close, or
//!   [`ChannelConfig::flush_interval`] after the first byte of a batch arrived. An idle writer
//!   waits without a timer: nothing wakes it until a byte arrives.
//! * **Few wake-ups.** Producers notify the writer only when it is idle or lingering for more,
//!   and the writer wakes producers only when some are waiting for room.
//!
//! Messages are encoded into lines by [`bunctl_log_buffer::encode_message`]: a trailing `\n` is
//! not doubled, an inner `\n` starts a new line, and lines over `max_line_len` are split with a
//! visible marker. Bytes are otherwise kept as they came.
//!
//! # Where things are
//!
//! * `config.rs`: [`ChannelConfig`], the limits and timing, and how they are made consistent.
//! * `state.rs`: the state senders and receiver share, one mutex over the buffer, and the
//!   decisions taken under it (does a write fit, must the receiver be woken).
//! * `sender.rs`: [`Sender`], the three ways to send when full.
//! * `batch.rs`: [`Batch`] and the rule for when the buffer is cut into one.
//! * `receiver.rs`: [`Receiver`], on a thread ([`Receiver::recv`]) or served by a pool
//!   ([`Receiver::try_recv`], [`Waker`], [`DeadlineHandle`]).
//! * `drop_marker.rs`: the marker line written where lines were dropped.
//! * `error.rs`, `stats.rs`: [`TrySendError`] and [`Closed`]; [`ChannelStats`].
//! * `block_on.rs`: the small executor behind the `_blocking` sends.
//!
//! ```
//! use bunctl_log_channel::{channel, ChannelConfig};
//!
//! let (tx, mut rx) = channel(ChannelConfig::default());
//! // The writer runs on a thread of its own.
//! let writer = std::thread::spawn(move || {
//!     let mut written = Vec::new();
//!     let mut spare = Vec::new();
//!     while let Some(batch) = rx.recv(spare) {
//!         written.extend_from_slice(&batch.bytes); // a real writer: one write(2)
//!         rx.complete(batch.generation);
//!         spare = batch.bytes;
//!     }
//!     written
//! });
//! tx.send_blocking(b"hello").unwrap();   // waits for room: lossless
//! tx.send_or_drop(b"world").unwrap();    // never waits: drops and counts when full
//! tx.close();
//! assert_eq!(writer.join().unwrap(), b"hello\nworld\n");
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod batch;
mod block_on;
mod config;
mod drop_marker;
mod error;
mod receiver;
mod sender;
mod state;
mod stats;

use std::sync::Arc;

use bunctl_log_metrics::LogMetrics;

pub use batch::Batch;
pub use config::ChannelConfig;
pub use error::{Closed, TrySendError};
pub use receiver::{DeadlineHandle, Receiver, TryRecv, Waker};
pub use sender::Sender;
pub use stats::ChannelStats;

use state::Shared;

/// Creates a channel: producers hold the [`Sender`], the writer the [`Receiver`].
pub fn channel(config: ChannelConfig) -> (Sender, Receiver) {
    channel_with_metrics(config, Arc::new(LogMetrics::new()))
}

/// [`channel`] that counts drops and overflows in `metrics`
/// ([`LogMetrics::record_dropped`], [`LogMetrics::record_overflow`]), so a writer keeps all
/// its counters in one place.
pub fn channel_with_metrics(config: ChannelConfig, metrics: Arc<LogMetrics>) -> (Sender, Receiver) {
    let shared = Arc::new(Shared::new(config, metrics));
    (Sender::new(shared.clone()), Receiver::new(shared))
}
