//! The errors a send can return: [`TrySendError`] and [`Closed`].

use std::fmt;

/// Why [`Sender::try_send`](crate::Sender::try_send) did not take a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySendError {
    /// The buffer has no room now; the message was not taken.
    Full,
    /// The channel is closed.
    Closed,
    /// The message can never fit at once: it is larger than the whole buffer. Use
    /// [`Sender::send`](crate::Sender::send), which writes it piece by piece.
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
