//! The shape each system writes around the 100-byte line, and how the read-back takes the line
//! back out of a line of the file: as it is (bunctl raw, the peers set to a plain message, the
//! ceiling), behind ftlog's delay prefix (which ftlog writes in front of every message and
//! cannot be turned off), behind bunctl's timestamp (`LineFormat::Timestamped`), or as the
//! `log` field of bunctl's Docker-style JSON object (`LineFormat::Json`).

use std::borrow::Cow;

use bunctl_log_buffer::{is_time, leading_time, JsonLine};

/// What a system puts around the line in the file (the final `\n` aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The line itself.
    Raw,
    /// ftlog: `{time} {delay}ms {message}`, with the time format set to an empty description
    /// so that the time is empty: ` 0ms p000 s000000000 ...`. The delay (the milliseconds
    /// between the log call and its formatting on ftlog's thread) is always written.
    Ftlog,
    /// bunctl's `LineFormat::Timestamped`: an RFC 3339 UTC time with microseconds, a space,
    /// the line.
    Timestamped,
    /// bunctl's `LineFormat::Json`: `{"log":"<line>\n","stream":"stdout","time":"<time>"}`.
    DockerJson,
}

impl Shape {
    /// The line inside a line of the file (without its `\n`), or `None` if the line does
    /// not have this shape (then it is counted as torn, or as a marker).
    pub(crate) fn payload(self, line: &[u8]) -> Option<Cow<'_, [u8]>> {
        match self {
            Shape::Raw => Some(Cow::Borrowed(line)),
            Shape::Ftlog => {
                let rest = line.strip_prefix(b" ")?;
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                (digits > 0).then_some(())?;
                rest[digits..].strip_prefix(b"ms ").map(Cow::Borrowed)
            }
            Shape::Timestamped => {
                let time = leading_time(line)?;
                line[time.len()..].strip_prefix(b" ").map(Cow::Borrowed)
            }
            Shape::DockerJson => {
                // An app's line (not a marker) with its time; `log` is the line with its
                // `\n` (a piece of a split line would have none).
                let json = JsonLine::parse(line)?;
                (json.stream.as_deref() == Some("stdout")
                    && json.time.as_deref().is_some_and(|t| is_time(t.as_bytes())))
                .then_some(())?;
                let mut log = json.log;
                log.pop_if(|b| *b == b'\n')?;
                Some(Cow::Owned(log))
            }
        }
    }
}
