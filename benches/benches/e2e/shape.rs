//! The shape each system writes around the 100-byte line, and how the read-back takes the line
//! back out of a line of the file: as it is (bunctl raw, the peers set to a plain message, the
//! ceiling), behind ftlog's delay prefix (which ftlog writes in front of every message and
//! cannot be turned off), behind bunctl's timestamp (`LineFormat::Timestamped`), or as the
//! `log` field of bunctl's Docker-style JSON object (`LineFormat::Json`).

use std::borrow::Cow;

use serde_json::Value;

/// Length of bunctl's timestamp, `2026-11-27T01:23:45.123456Z`.
const TIME_LEN: usize = 27;

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

/// Whether `t` is a time as bunctl writes it: `dddd-dd-ddTdd:dd:dd.ddddddZ`.
fn is_time(t: &[u8]) -> bool {
    t.len() == TIME_LEN
        && t.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'.',
            26 => b == b'Z',
            _ => b.is_ascii_digit(),
        })
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
                let (time, rest) = line.split_at_checked(TIME_LEN)?;
                is_time(time).then_some(())?;
                rest.strip_prefix(b" ").map(Cow::Borrowed)
            }
            Shape::DockerJson => {
                // A whole JSON object with exactly these fields; `log` is the line with its
                // `\n` (a piece of a split line would have none).
                let v: Value = serde_json::from_slice(line).ok()?;
                let object = v.as_object()?;
                let time = object.get("time")?.as_str()?;
                let stream = object.get("stream")?.as_str()?;
                (object.len() == 3 && stream == "stdout" && is_time(time.as_bytes()))
                    .then_some(())?;
                let log = object.get("log")?.as_str()?.strip_suffix('\n')?;
                Some(Cow::Owned(log.as_bytes().to_vec()))
            }
        }
    }
}
