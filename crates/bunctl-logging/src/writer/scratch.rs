//! The per-thread scratch space producers format lines into: a buffer and a time cache, kept
//! between lines so that formatting allocates nothing once the buffer has grown.

use bunctl_log_buffer::TimeCache;

/// A formatting buffer and time cache, one per thread, reused by every writer.
#[derive(Default)]
pub(super) struct Scratch {
    /// The formatted lines, ready to hand to the channel.
    pub(super) formatted: Vec<u8>,
    /// The date and time of the last line formatted, to the second, reused within it.
    pub(super) time_cache: TimeCache,
}

/// Buffers that grew beyond this (a 100 MB line) are not kept for the next line.
const KEPT_MAX: usize = 1 << 20;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

impl Scratch {
    /// The thread's scratch space (a fresh one if it is in use: a nested write).
    pub(super) fn take() -> Scratch {
        // `try_with`: a writer dropped while its thread's locals are torn down gets a fresh one.
        SCRATCH.try_with(std::cell::Cell::take).unwrap_or_default()
    }

    /// Gives the scratch space back to the thread, keeping its allocation for the next line.
    /// A buffer that grew huge is not kept.
    pub(super) fn give_back(mut self) {
        if self.formatted.capacity() <= KEPT_MAX {
            self.formatted.clear();
            let _ = SCRATCH.try_with(|cell| cell.set(self));
        }
    }
}
