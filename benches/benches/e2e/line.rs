//! The line every producer writes: exactly 100 bytes, `p{producer:03} s{seq:09} ` and a fixed
//! filler, plus the `\n` each system adds; built in place per write and parsed on read-back.

/// Bytes of a line without its `\n`.
pub(crate) const LINE_LEN: usize = 100;
/// Bytes of the `p000 s000000000 ` header.
const HEADER_LEN: usize = 16;

const FILLER: [u8; LINE_LEN - HEADER_LEN] = filler();

const fn filler() -> [u8; LINE_LEN - HEADER_LEN] {
    let mut out = [0u8; LINE_LEN - HEADER_LEN];
    let mut i = 0;
    while i < out.len() {
        out[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    out
}

/// One producer's line: header, filler and `\n`; the sequence digits are rewritten in place.
pub(crate) struct LineBuf([u8; LINE_LEN + 1]);

impl LineBuf {
    pub(crate) fn new(producer: usize) -> Self {
        let mut buf = [0u8; LINE_LEN + 1];
        let header = format!("p{producer:03} s{:09} ", 0);
        buf[..HEADER_LEN].copy_from_slice(header.as_bytes());
        buf[HEADER_LEN..LINE_LEN].copy_from_slice(&FILLER);
        buf[LINE_LEN] = b'\n';
        Self(buf)
    }

    pub(crate) fn set_seq(&mut self, mut seq: u64) {
        for i in (6..15).rev() {
            self.0[i] = b'0' + (seq % 10) as u8;
            seq /= 10;
        }
    }

    /// The line without `\n`.
    pub(crate) fn line(&self) -> &[u8] {
        &self.0[..LINE_LEN]
    }

    /// The line with its `\n`.
    pub(crate) fn with_newline(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.line()).unwrap_or("")
    }
}

pub(crate) fn digits(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// `(producer, seq)` of a valid line (without `\n`).
pub(crate) fn parse_line(line: &[u8]) -> Option<(usize, u64)> {
    if line.len() != LINE_LEN
        || line[0] != b'p'
        || &line[4..6] != b" s"
        || line[15] != b' '
        || line[HEADER_LEN..] != FILLER
    {
        return None;
    }
    let producer = usize::try_from(digits(&line[1..4])?).ok()?;
    Some((producer, digits(&line[6..15])?))
}
