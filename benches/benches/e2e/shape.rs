//! The shape each system writes around the 100-byte line, and how the read-back takes the line
//! back out of a line of the file: as it is (bunctl raw, the peers set to a plain message, the
//! ceiling), or behind ftlog's delay prefix, which ftlog writes in front of every message and
//! cannot be turned off.

/// What a system puts around the line in the file (the final `\n` aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The line itself.
    Raw,
    /// ftlog: `{time} {delay}ms {message}`, with the time format set to an empty description
    /// so that the time is empty: ` 0ms p000 s000000000 ...`. The delay (the milliseconds
    /// between the log call and its formatting on ftlog's thread) is always written.
    Ftlog,
}

impl Shape {
    /// The line inside a line of the file (without its `\n`), or `None` if the line does
    /// not have this shape (then it is counted as torn, or as a marker).
    pub(crate) fn payload(self, line: &[u8]) -> Option<&[u8]> {
        match self {
            Shape::Raw => Some(line),
            Shape::Ftlog => {
                let rest = line.strip_prefix(b" ")?;
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                (digits > 0).then_some(())?;
                rest[digits..].strip_prefix(b"ms ")
            }
        }
    }
}
