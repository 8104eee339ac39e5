//! [`Sender`], the producer side: encodes a message into lines and puts it into the buffer in
//! one of three ways when it is full (drop and count, refuse, or wait for room).

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bunctl_log_buffer::{encode_message, is_single_line, Lines};

use crate::block_on;
use crate::state::Shared;
use crate::{ChannelConfig, ChannelStats, Closed, TrySendError};

/// A message as whole lines, ready to be copied into the buffer.
pub(crate) enum Message<'a> {
    /// One line without its newline: the common case, copied straight in.
    Line(&'a [u8]),
    /// Whole lines, each already ending in `\n`.
    Lines {
        /// The lines.
        bytes: Cow<'a, [u8]>,
        /// How many lines `bytes` holds.
        count: usize,
    },
}

impl Message<'_> {
    /// The bytes and lines the message takes in the buffer.
    pub(crate) fn size(&self) -> (usize, usize) {
        match self {
            Message::Line(line) => (line.len() + 1, 1),
            Message::Lines { bytes, count } => (bytes.len(), *count),
        }
    }
}

/// What [`Sender::push_now`] did with a message.
enum Push {
    Taken,
    /// No room in the buffer now.
    Full,
    /// The send would be past [`ChannelConfig::max_concurrent_sends`].
    NoPlace,
}

/// A send's place among the [`ChannelConfig::max_concurrent_sends`]: taken when it first
/// waits for room, given back (waking a send waiting for one) when it returns or its future
/// is dropped.
struct Place<'a> {
    shared: &'a Shared,
    held: bool,
}

impl<'a> Place<'a> {
    fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            held: false,
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if self.held {
            self.shared.lock().waiting_senders -= 1;
            self.shared.places.notify_one();
        }
    }
}

/// The producer side. Cheap to clone; the channel closes when the last sender is dropped or
/// [`Sender::close`] is called.
///
/// # How sends in progress are counted
///
/// [`ChannelConfig::max_concurrent_sends`] bounds the sends in progress at once, those waiting
/// for room included. A send that finds room copies its lines in under the buffer's lock and
/// returns: it never waits for the writer, and the lock lets one such send hold the buffer at a
/// time. The sends that can pile up are those waiting for room, and those are counted exactly,
/// under the same lock, from their first wait until they return or their future is dropped. A
/// send is admitted when fewer than the limit are waiting, so the waiting ones and the one
/// inside stay within it; past it, the send is treated as if the buffer were full. Counting
/// every call on entry and exit instead would add two atomic read-modify-writes on a shared
/// cache line to every line, for calls that are inside only for the copy of one line.
pub struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    /// The first sender of a new channel (`shared.senders` already counts it).
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close();
        }
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Sender {
    fn encode<'a>(&self, msg: &'a [u8]) -> Message<'a> {
        let max = self.shared.config.max_line_len;
        // One line, with or without its own `\n` (which is not doubled): copied straight in.
        let line = msg.strip_suffix(b"\n").unwrap_or(msg);
        if is_single_line(line, max) {
            Message::Line(line)
        } else {
            let mut out = Vec::with_capacity(msg.len() + 1);
            let n = encode_message(msg, max, &mut out);
            Message::Lines {
                bytes: out.into(),
                count: n,
            }
        }
    }

    /// Takes the message if it fits now and the send has a place (`placed`: it already counts
    /// among the waiting sends, else it needs one of the free places).
    fn push_now(&self, message: &Message<'_>, placed: bool) -> Result<Push, Closed> {
        let (bytes, _) = message.size();
        let mut st = self.shared.lock();
        if st.closed {
            return Err(Closed);
        }
        if !placed && self.shared.no_place(&st) {
            return Ok(Push::NoPlace);
        }
        if !self.shared.fits(&st, bytes) {
            return Ok(Push::Full);
        }
        let wake = self.shared.append(&mut st, message);
        drop(st);
        if wake {
            self.shared.wake_receiver();
        }
        Ok(Push::Taken)
    }

    /// Sends without waiting; a full buffer (or [`ChannelConfig::max_concurrent_sends`] sends
    /// already waiting) drops the message, counts it, and leaves a marker line with the count
    /// in front of the next line that is taken.
    ///
    /// # Errors
    /// [`Closed`] once the channel is closed.
    pub fn send_or_drop(&self, msg: &[u8]) -> Result<(), Closed> {
        self.push_or_drop(&self.encode(msg))
    }

    /// [`send_lines`](Self::send_lines) without waiting: the whole lines (as a
    /// [`bunctl_log_buffer::LineSplitter`] yields them, split pieces included) go in as they
    /// are, or, if there is no room now, are dropped, counted and marked as by
    /// [`send_or_drop`](Self::send_or_drop). Lines that can never fit at once are dropped too:
    /// hand them over in smaller groups.
    ///
    /// # Errors
    /// [`Closed`] once the channel is closed.
    pub fn send_lines_or_drop(&self, lines: Lines<'_>) -> Result<(), Closed> {
        self.push_or_drop(&Message::Lines {
            bytes: lines.bytes.into(),
            count: lines.count,
        })
    }

    /// Takes `message` now, or after one yield, or drops and counts it.
    fn push_or_drop(&self, message: &Message<'_>) -> Result<(), Closed> {
        match self.push_now(message, false)? {
            Push::Taken => return Ok(()),
            // Past the limit: dropped at once, as the limit asks (a yield would not free a
            // place: those are held by sends waiting for the writer).
            Push::NoPlace => {
                self.shared.metrics.record_overflow();
                self.drop_and_count(message);
                return Ok(());
            }
            Push::Full => {}
        }
        // Full. The writer may be runnable but preempted by producers (more busy threads than
        // cores): wake it if it waits, give up the CPU once so it can run, and look again
        // before dropping. This bounds the cost of a full buffer to one `sched_yield`, never
        // a wait for I/O.
        let wake = self.shared.record_overflow(&mut self.shared.lock());
        if wake {
            self.shared.wake_receiver();
        }
        std::thread::yield_now();
        if let Push::Taken = self.push_now(message, false)? {
            return Ok(());
        }
        self.drop_and_count(message);
        Ok(())
    }

    /// Counts `message`'s lines as dropped, for the marker the next accepted line gets.
    fn drop_and_count(&self, message: &Message<'_>) {
        let (_, lines) = message.size();
        let mut st = self.shared.lock();
        st.dropped_since_marker += lines as u64;
        self.shared.metrics.record_dropped(lines as u64);
    }

    /// Sends without waiting, or says why not.
    ///
    /// # Errors
    /// [`TrySendError::Full`] if there is no room now or
    /// [`ChannelConfig::max_concurrent_sends`] sends are already waiting (counted as an
    /// overflow), [`TrySendError::TooLarge`] if there never will be room,
    /// [`TrySendError::Closed`].
    pub fn try_send(&self, msg: &[u8]) -> Result<(), TrySendError> {
        let message = self.encode(msg);
        let (bytes, lines) = message.size();
        if !self.shared.can_ever_fit(bytes) {
            return Err(TrySendError::TooLarge { bytes, lines });
        }
        match self.push_now(&message, false) {
            Ok(Push::Taken) => Ok(()),
            Err(Closed) => Err(TrySendError::Closed),
            Ok(Push::Full | Push::NoPlace) => {
                let wake = self.shared.record_overflow(&mut self.shared.lock());
                if wake {
                    self.shared.wake_receiver();
                }
                Err(TrySendError::Full)
            }
        }
    }

    /// Sends, waiting for room (and, past [`ChannelConfig::max_concurrent_sends`], first for a
    /// place among the waiting sends): loses nothing. A message larger than the whole buffer
    /// is sent line by line (other producers' lines may come between its lines, never inside
    /// one).
    ///
    /// # Errors
    /// [`Closed`] if the channel is closed before the message is taken.
    pub async fn send(&self, msg: &[u8]) -> Result<(), Closed> {
        let message = self.encode(msg);
        let (bytes, _) = message.size();
        let mut place = Place::new(&self.shared);
        if self.shared.can_ever_fit(bytes) {
            return self.push_waiting(&message, &mut place).await;
        }
        let Message::Lines { bytes: block, .. } = message else {
            // A single line always fits an empty buffer (see `ChannelConfig::normalized`).
            return self.push_waiting(&message, &mut place).await;
        };
        self.push_line_by_line(&block, &mut place).await
    }

    /// Sends whole lines (as a [`bunctl_log_buffer::LineSplitter`] yields them), waiting for
    /// room. Used for captured streams: one lock per chunk of lines instead of per line.
    ///
    /// # Errors
    /// [`Closed`] if the channel is closed before the lines are taken.
    pub async fn send_lines(&self, lines: Lines<'_>) -> Result<(), Closed> {
        let mut place = Place::new(&self.shared);
        if self.shared.can_ever_fit(lines.bytes.len()) {
            let message = Message::Lines {
                bytes: lines.bytes.into(),
                count: lines.count,
            };
            self.push_waiting(&message, &mut place).await
        } else {
            self.push_line_by_line(lines.bytes, &mut place).await
        }
    }

    async fn push_line_by_line(&self, block: &[u8], place: &mut Place<'_>) -> Result<(), Closed> {
        let mut start = 0;
        while start < block.len() {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i + 1);
            let message = Message::Lines {
                bytes: block[start..end].into(),
                count: 1,
            };
            self.push_waiting(&message, place).await?;
            start = end;
        }
        Ok(())
    }

    async fn push_waiting(
        &self,
        message: &Message<'_>,
        place: &mut Place<'_>,
    ) -> Result<(), Closed> {
        // Fast path: no wait registration (it takes the Notify's own lock).
        if let Push::Taken = self.push_now(message, place.held)? {
            return Ok(());
        }
        let (bytes, _) = message.size();
        let mut counted = false;
        // Woken by a place given back: a send that then finds room without taking the place
        // passes the wake-up on, or the sends still waiting for a place would sleep while
        // places are free (the place's holder notified only one of them, and it was this one).
        let mut woken_for_place = false;
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            let places = self.shared.places.notified();
            tokio::pin!(places);
            // Registered before the check, so a wake-up between check and await is not lost.
            room.as_mut().enable();
            if !place.held {
                places.as_mut().enable();
            }
            if let Push::Taken = self.push_now(message, place.held)? {
                if woken_for_place && !place.held {
                    self.shared.places.notify_one();
                }
                return Ok(());
            }
            let (wake, wait_for_place) = {
                let mut st = self.shared.lock();
                if st.closed {
                    return Err(Closed);
                }
                let no_place = !place.held && self.shared.no_place(&st);
                if !no_place && self.shared.fits(&st, bytes) {
                    // The writer made room between the two locks: try again rather than wait
                    // for a wake-up that was already sent.
                    continue;
                }
                if !counted {
                    counted = true;
                    self.shared.metrics.record_overflow();
                }
                if no_place {
                    (false, true)
                } else {
                    if !place.held {
                        place.held = true;
                        st.waiting_senders += 1;
                    }
                    st.room_waiters += 1;
                    (self.shared.take_receiver_wake(&mut st), false)
                }
            };
            if wake {
                self.shared.wake_receiver();
            }
            if wait_for_place {
                places.await;
                woken_for_place = true;
            } else {
                room.await;
            }
        }
    }

    /// [`Sender::send`] for plain threads: blocks the calling thread until the message is
    /// taken. Do not call it on an async runtime's worker thread.
    ///
    /// # Errors
    /// [`Closed`] if the channel is closed before the message is taken.
    pub fn send_blocking(&self, msg: &[u8]) -> Result<(), Closed> {
        block_on::block_on(self.send(msg))
    }

    /// Asks the writer to take what is buffered now, and returns the number of the batch that
    /// holds the last line sent so far; [`Sender::flushed`] waits for it.
    pub fn request_flush(&self) -> u64 {
        let (target, wake) = {
            let mut st = self.shared.lock();
            if st.buf.is_empty() {
                (st.generation - 1, false)
            } else {
                st.flush_requested = true;
                (st.generation, self.shared.take_receiver_wake(&mut st))
            }
        };
        if wake {
            self.shared.wake_receiver();
        }
        target
    }

    /// Waits until batch `generation` (from [`Sender::request_flush`]) has been written.
    ///
    /// # Errors
    /// [`Closed`] if the receiver went away before writing it.
    pub async fn flushed(&self, generation: u64) -> Result<(), Closed> {
        loop {
            let notified = self.shared.flushed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.completed.load(Ordering::Acquire) >= generation {
                return Ok(());
            }
            if !self.shared.receiver_alive.load(Ordering::Acquire) {
                return Err(Closed);
            }
            notified.await;
        }
    }

    /// [`Sender::flushed`] for plain threads, waiting at most `timeout`: `Ok(true)` once batch
    /// `generation` is written, `Ok(false)` if the time ran out first. Needs no async runtime.
    ///
    /// # Errors
    /// [`Closed`] if the receiver went away before writing it.
    pub fn flushed_blocking(&self, generation: u64, timeout: Duration) -> Result<bool, Closed> {
        match block_on::block_on_timeout(self.flushed(generation), timeout) {
            Some(flushed) => flushed.map(|()| true),
            None => Ok(false),
        }
    }

    /// Closes the channel: later sends fail with [`Closed`]; what is buffered is still
    /// delivered to the receiver.
    pub fn close(&self) {
        self.shared.close();
    }

    /// Whether the channel is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// The channel's counters.
    pub fn stats(&self) -> ChannelStats {
        self.shared.stats()
    }

    /// The limits in force (after [`ChannelConfig::normalized`]).
    pub fn config(&self) -> &ChannelConfig {
        &self.shared.config
    }
}
