//! Reporting: violations (the first few in full, the rest counted), lines quoted shortened,
//! numbers with thousands separators.

/// Violations printed in full; the rest are counted.
pub(crate) const MAX_REPORTED: usize = 20;

/// Violations: the first few in full, the rest counted.
#[derive(Default)]
pub(crate) struct Errors {
    pub(crate) shown: Vec<String>,
    pub(crate) count: usize,
}

impl Errors {
    pub(crate) fn push(&mut self, msg: String) {
        self.count += 1;
        if self.shown.len() < MAX_REPORTED {
            self.shown.push(msg);
        }
    }
}

/// A line as text for a message, shortened.
pub(crate) fn excerpt(line: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&line[..line.len().min(MAX)]);
    if line.len() > MAX {
        format!("{text:?}... ({} bytes)", line.len())
    } else {
        format!("{text:?}")
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
