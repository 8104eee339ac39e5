//! The backpressure channel: many producers hand whole lines to one writer thread.
//!
//! # Design
//!
//! A channel message per line is the pattern to avoid: it costs an allocation and a wake-up per
//! line and hands the writer kilobyte-sized writes. Instead producers append whole lines to one
//! shared byte buffer under a short mutex, and the writer swaps that buffer for an empty one and
//! writes the full one with a single `write(2)` while producers fill the other. The lock is held
//! for a `memcpy` of one line, never across I/O.
//!
//! * **Bounded by lines and bytes.** The buffer accepts a write only if the buffered lines stay
//!   within [`ChannelConfig::max_lines`] and the buffered bytes within
//!   [`ChannelConfig::max_bytes`], so a burst of huge lines cannot exhaust memory. What is in
//!   flight is at most one full buffer plus the batch being written.
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

mod block_on;

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bunctl_log_buffer::{encode_message, is_single_line, Lines, CONTINUATION_MARKER};
use bunctl_log_metrics::LogMetrics;
use std::sync::Condvar;
use std::time::Instant;
use tokio::sync::Notify;

/// The text of the marker line written where lines were dropped: `<prefix><count><suffix>`.
pub const DROP_MARKER_PREFIX: &[u8] = b"[bunctl-log] ";
/// See [`DROP_MARKER_PREFIX`].
pub const DROP_MARKER_SUFFIX: &[u8] = b" lines dropped here: the writer was full\n";

/// Limits and timing of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Most lines buffered at once (not counting the batch being written).
    pub max_lines: usize,
    /// Most bytes buffered at once (not counting the batch being written).
    pub max_bytes: usize,
    /// The writer takes a batch as soon as this many bytes are buffered.
    pub batch_bytes: usize,
    /// The writer takes a batch at the latest this long after its first byte arrived.
    pub flush_interval: Duration,
    /// Lines longer than this are split into marked pieces.
    pub max_line_len: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            max_lines: 1000,
            max_bytes: 4 << 20,
            batch_bytes: 64 << 10,
            flush_interval: Duration::from_millis(100),
            max_line_len: bunctl_log_buffer::DEFAULT_MAX_LINE_LEN,
        }
    }
}

impl ChannelConfig {
    /// The config with its limits made consistent: every piece of a split line must fit into an
    /// empty buffer, so `max_bytes` is raised to at least one maximal piece, and every count is
    /// at least 1.
    pub fn normalized(mut self) -> Self {
        self.max_line_len = self.max_line_len.max(1);
        self.max_lines = self.max_lines.max(1);
        let piece = self
            .max_line_len
            .saturating_add(CONTINUATION_MARKER.len() + 1);
        self.max_bytes = self.max_bytes.max(piece);
        self.batch_bytes = self.batch_bytes.clamp(1, self.max_bytes);
        self
    }
}

/// Why [`Sender::try_send`] did not take a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySendError {
    /// The buffer has no room now; the message was not taken.
    Full,
    /// The channel is closed.
    Closed,
    /// The message can never fit at once: it is larger than the whole buffer. Use
    /// [`Sender::send`], which writes it piece by piece.
    TooLarge {
        /// Bytes the message takes once encoded.
        bytes: usize,
        /// Lines the message takes once encoded.
        lines: usize,
    },
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("the log buffer is full"),
            Self::Closed => f.write_str("the log writer is closed"),
            Self::TooLarge { bytes, lines } => write!(
                f,
                "the message ({bytes} bytes, {lines} lines) is larger than the whole log buffer"
            ),
        }
    }
}

impl std::error::Error for TrySendError {}

/// The channel is closed: the message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the log writer is closed")
    }
}

impl std::error::Error for Closed {}

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

/// Counters the channel keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Lines dropped by [`Sender::send_or_drop`] because the buffer was full (read from the
    /// channel's [`LogMetrics`]).
    pub dropped_lines: u64,
    /// Writes that found the buffer full: dropped, refused with `Full`, or made to wait
    /// (read from the channel's [`LogMetrics`]).
    pub overflows: u64,
    /// Lines buffered now.
    pub buffered_lines: usize,
    /// Bytes buffered now.
    pub buffered_bytes: usize,
    /// Times the receiver woke up from waiting (for a byte, a full batch or its deadline):
    /// an idle channel must not add to it.
    pub receiver_wakeups: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterState {
    /// Writing, or about to look at the buffer: needs no wake-up.
    Busy,
    /// Waiting for the first byte: wake on any write.
    Idle,
    /// Waiting for a batch to fill up: wake when `batch_bytes` are buffered or room is short.
    Lingering,
}

struct State {
    buf: Vec<u8>,
    lines: usize,
    closed: bool,
    writer: WriterState,
    room_waiters: usize,
    flush_requested: bool,
    /// Number of the batch now accumulating in `buf`.
    generation: u64,
    /// Lines dropped since the last marker was written.
    dropped_since_marker: u64,
    receiver_wakeups: u64,
    /// When the batch now accumulating must be taken at the latest (set while lingering).
    deadline: Option<Instant>,
}

impl State {
    /// Puts the marker line for lines dropped since the last one, if any, into the buffer.
    fn write_drop_marker(&mut self) {
        if self.dropped_since_marker > 0 {
            self.buf.extend_from_slice(DROP_MARKER_PREFIX);
            // Writing a number into a Vec cannot fail.
            let _ = write!(self.buf, "{}", self.dropped_since_marker);
            self.buf.extend_from_slice(DROP_MARKER_SUFFIX);
            self.dropped_since_marker = 0;
        }
    }
}

/// What wakes a receiver that is not waiting in [`Receiver::recv`]: see
/// [`Receiver::set_waker`].
pub type Waker = Box<dyn Fn() + Send + Sync>;

struct Shared {
    config: ChannelConfig,
    state: Mutex<State>,
    /// Wakes the writer thread (waiting on `state`).
    writer_wake: Condvar,
    /// Instead of `writer_wake`, if set: schedules a receiver served by a pool.
    waker: std::sync::OnceLock<Waker>,
    /// Wakes producers waiting for room.
    room: Notify,
    /// Wakes flush waiters.
    flushed: Notify,
    /// Highest batch number written (all below it are written too).
    completed: AtomicU64,
    senders: AtomicUsize,
    receiver_alive: AtomicBool,
    /// Where drops and overflows are counted (the writer's counters, when it passes them).
    metrics: Arc<LogMetrics>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a thread panicked while appending bytes; the state is
        // still a valid buffer, so carry on rather than spread the panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `bytes`/`lines` fit now; the drop marker is allowed to overshoot.
    fn fits(&self, st: &State, bytes: usize, lines: usize) -> bool {
        st.buf.len() + bytes <= self.config.max_bytes && st.lines + lines <= self.config.max_lines
    }

    /// Whether a message of this size can ever fit at once.
    fn can_ever_fit(&self, bytes: usize, lines: usize) -> bool {
        bytes <= self.config.max_bytes && lines <= self.config.max_lines
    }

    /// Appends whole lines under the lock and says whether the writer must be woken.
    fn append(&self, st: &mut State, bytes: &[u8], newline: bool, lines: usize) -> bool {
        st.write_drop_marker();
        st.buf.extend_from_slice(bytes);
        if newline {
            st.buf.push(b'\n');
        }
        st.lines += lines;
        self.writer_should_wake(st)
    }

    /// Marks the writer busy and returns true if it is waiting for what just happened.
    fn writer_should_wake(&self, st: &mut State) -> bool {
        let wake = match st.writer {
            WriterState::Busy => false,
            WriterState::Idle => true,
            WriterState::Lingering => {
                st.buf.len() >= self.config.batch_bytes
                    || st.lines >= self.config.max_lines
                    || st.room_waiters > 0
                    || st.flush_requested
                    || st.closed
            }
        };
        if wake {
            st.writer = WriterState::Busy;
        }
        wake
    }

    /// A write found no room: count it and make sure the writer takes the buffer now.
    fn overflow(&self, st: &mut State) -> bool {
        self.metrics.record_overflow();
        if st.writer == WriterState::Lingering {
            st.writer = WriterState::Busy;
            return true;
        }
        false
    }

    fn wake_writer(&self) {
        match self.waker.get() {
            Some(wake) => wake(),
            None => self.writer_wake.notify_one(),
        }
    }

    fn stats(&self) -> ChannelStats {
        let counted = self.metrics.snapshot();
        let st = self.lock();
        ChannelStats {
            dropped_lines: counted.dropped_messages,
            overflows: counted.buffer_overflows,
            buffered_lines: st.lines,
            buffered_bytes: st.buf.len(),
            receiver_wakeups: st.receiver_wakeups,
        }
    }

    fn close(&self) {
        let wake = {
            let mut st = self.lock();
            st.closed = true;
            self.writer_should_wake(&mut st)
        };
        if wake {
            self.wake_writer();
        }
        self.room.notify_waiters();
        self.flushed.notify_waiters();
    }
}

/// Creates a channel: producers hold the [`Sender`], the writer thread the [`Receiver`].
pub fn channel(config: ChannelConfig) -> (Sender, Receiver) {
    channel_with_metrics(config, Arc::new(LogMetrics::new()))
}

/// [`channel`] that counts drops and overflows in `metrics`
/// ([`LogMetrics::record_dropped`], [`LogMetrics::record_overflow`]), so a writer keeps all
/// its counters in one place.
pub fn channel_with_metrics(config: ChannelConfig, metrics: Arc<LogMetrics>) -> (Sender, Receiver) {
    let config = config.normalized();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buf: Vec::new(),
            lines: 0,
            closed: false,
            writer: WriterState::Busy,
            room_waiters: 0,
            flush_requested: false,
            generation: 1,
            dropped_since_marker: 0,
            receiver_wakeups: 0,
            deadline: None,
        }),
        config,
        writer_wake: Condvar::new(),
        waker: std::sync::OnceLock::new(),
        room: Notify::new(),
        flushed: Notify::new(),
        completed: AtomicU64::new(0),
        senders: AtomicUsize::new(1),
        receiver_alive: AtomicBool::new(true),
        metrics,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// A message prepared for the buffer.
enum Encoded<'a> {
    /// One line without its newline: the common case, copied straight in.
    Line(&'a [u8]),
    /// Whole lines, already terminated.
    Block(std::borrow::Cow<'a, [u8]>, usize),
}

impl Encoded<'_> {
    fn size(&self) -> (usize, usize) {
        match self {
            Encoded::Line(l) => (l.len() + 1, 1),
            Encoded::Block(b, n) => (b.len(), *n),
        }
    }
}

/// The producer side. Cheap to clone; the channel closes when the last sender is dropped or
/// [`Sender::close`] is called.
pub struct Sender {
    shared: Arc<Shared>,
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
    fn encode<'a>(&self, msg: &'a [u8]) -> Encoded<'a> {
        let max = self.shared.config.max_line_len;
        // One line, with or without its own `\n` (which is not doubled): copied straight in.
        let line = msg.strip_suffix(b"\n").unwrap_or(msg);
        if is_single_line(line, max) {
            Encoded::Line(line)
        } else {
            let mut out = Vec::with_capacity(msg.len() + 1);
            let n = encode_message(msg, max, &mut out);
            Encoded::Block(out.into(), n)
        }
    }

    /// Takes the message if it fits now. Returns `Ok(true)` if taken, `Ok(false)` if full.
    fn push_now(&self, enc: &Encoded<'_>) -> Result<bool, Closed> {
        let (bytes, lines) = enc.size();
        let mut st = self.shared.lock();
        if st.closed {
            return Err(Closed);
        }
        if !self.shared.fits(&st, bytes, lines) {
            return Ok(false);
        }
        let wake = match enc {
            Encoded::Line(l) => self.shared.append(&mut st, l, true, 1),
            Encoded::Block(b, n) => self.shared.append(&mut st, b, false, *n),
        };
        drop(st);
        if wake {
            self.shared.wake_writer();
        }
        Ok(true)
    }

    /// Sends without waiting; a full buffer drops the message, counts it, and leaves a marker
    /// line with the count in front of the next line that is taken.
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
        self.push_or_drop(&Encoded::Block(lines.bytes.into(), lines.count))
    }

    /// Takes `enc` now, or after one yield, or drops and counts it.
    fn push_or_drop(&self, enc: &Encoded<'_>) -> Result<(), Closed> {
        if self.push_now(enc)? {
            return Ok(());
        }
        // Full. The writer may be runnable but preempted by producers (more busy threads than
        // cores): wake it if it waits, give up the CPU once so it can run, and look again
        // before dropping. This bounds the cost of a full buffer to one `sched_yield`, never
        // a wait for I/O.
        let wake = self.shared.overflow(&mut self.shared.lock());
        if wake {
            self.shared.wake_writer();
        }
        std::thread::yield_now();
        if self.push_now(enc)? {
            return Ok(());
        }
        let (_, lines) = enc.size();
        let mut st = self.shared.lock();
        st.dropped_since_marker += lines as u64;
        self.shared.metrics.record_dropped(lines as u64);
        Ok(())
    }

    /// Sends without waiting, or says why not.
    ///
    /// # Errors
    /// [`TrySendError::Full`] if there is no room now (counted as an overflow),
    /// [`TrySendError::TooLarge`] if there never will be, [`TrySendError::Closed`].
    pub fn try_send(&self, msg: &[u8]) -> Result<(), TrySendError> {
        let enc = self.encode(msg);
        let (bytes, lines) = enc.size();
        if !self.shared.can_ever_fit(bytes, lines) {
            return Err(TrySendError::TooLarge { bytes, lines });
        }
        match self.push_now(&enc) {
            Ok(true) => Ok(()),
            Err(Closed) => Err(TrySendError::Closed),
            Ok(false) => {
                let wake = self.shared.overflow(&mut self.shared.lock());
                if wake {
                    self.shared.wake_writer();
                }
                Err(TrySendError::Full)
            }
        }
    }

    /// Sends, waiting for room: loses nothing. A message larger than the whole buffer is sent
    /// line by line (other producers' lines may come between its lines, never inside one).
    ///
    /// # Errors
    /// [`Closed`] if the channel is closed before the message is taken.
    pub async fn send(&self, msg: &[u8]) -> Result<(), Closed> {
        let enc = self.encode(msg);
        let (bytes, lines) = enc.size();
        if self.shared.can_ever_fit(bytes, lines) {
            return self.send_encoded(&enc).await;
        }
        let Encoded::Block(block, _) = enc else {
            // A single line always fits an empty buffer (see `ChannelConfig::normalized`).
            return self.send_encoded(&enc).await;
        };
        self.send_lines_one_by_one(&block).await
    }

    /// Sends whole lines (as a [`bunctl_log_buffer::LineSplitter`] yields them), waiting for
    /// room. Used for captured streams: one lock per chunk of lines instead of per line.
    ///
    /// # Errors
    /// [`Closed`] if the channel is closed before the lines are taken.
    pub async fn send_lines(&self, lines: Lines<'_>) -> Result<(), Closed> {
        if self.shared.can_ever_fit(lines.bytes.len(), lines.count) {
            let enc = Encoded::Block(lines.bytes.into(), lines.count);
            self.send_encoded(&enc).await
        } else {
            self.send_lines_one_by_one(lines.bytes).await
        }
    }

    async fn send_lines_one_by_one(&self, block: &[u8]) -> Result<(), Closed> {
        let mut start = 0;
        while start < block.len() {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i + 1);
            let enc = Encoded::Block(block[start..end].into(), 1);
            self.send_encoded(&enc).await?;
            start = end;
        }
        Ok(())
    }

    async fn send_encoded(&self, enc: &Encoded<'_>) -> Result<(), Closed> {
        // Fast path: no wait registration (it takes the Notify's own lock).
        if self.push_now(enc)? {
            return Ok(());
        }
        let (bytes, lines) = enc.size();
        let mut counted = false;
        loop {
            let notified = self.shared.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake-up between check and await is not lost.
            notified.as_mut().enable();
            if self.push_now(enc)? {
                return Ok(());
            }
            let wake = {
                let mut st = self.shared.lock();
                if st.closed {
                    return Err(Closed);
                }
                if self.shared.fits(&st, bytes, lines) {
                    // The writer made room between the two locks: try again rather than wait
                    // for a wake-up that was already sent.
                    continue;
                }
                st.room_waiters += 1;
                if !counted {
                    counted = true;
                    self.shared.metrics.record_overflow();
                }
                self.shared.writer_should_wake(&mut st)
            };
            if wake {
                self.shared.wake_writer();
            }
            notified.await;
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
                (st.generation, self.shared.writer_should_wake(&mut st))
            }
        };
        if wake {
            self.shared.wake_writer();
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

/// The writer side.
pub struct Receiver {
    shared: Arc<Shared>,
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
