//! The crash runs' data lines, `r<run, 5 digits> <seq, 9 digits> <filler>`: written, and
//! recognised exactly.

use std::io::Write;

use crate::harness::lines::{digits, filler};

/// Appends data line `seq` of run `run`, without its `\n`.
pub(super) fn data_line(run: usize, seq: u64, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "r{run:05} {seq:09} ");
    out.extend_from_slice(filler(seq));
}

/// `Some(run, seq)` if `line` is exactly data line `seq` of a run below `runs`.
pub(super) fn parse_data(line: &[u8], runs: usize) -> Option<(usize, u64)> {
    if line.len() < 17 || line[0] != b'r' || line[6] != b' ' || line[16] != b' ' {
        return None;
    }
    let run = usize::try_from(digits(&line[1..6])?).ok()?;
    let seq = digits(&line[7..16])?;
    (run < runs && &line[17..] == filler(seq)).then_some((run, seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn line(run: usize, seq: u64) -> Vec<u8> {
        let mut v = Vec::new();
        data_line(run, seq, &mut v);
        v
    }

    #[test]
    fn lines_round_trip_and_vary_in_length() {
        let lengths: HashSet<usize> = (0..10_000).map(|s| filler(s).len()).collect();
        assert_eq!(lengths.iter().min(), Some(&20));
        assert_eq!(lengths.iter().max(), Some(&200));
        assert_eq!(parse_data(&line(3, 12345), 4), Some((3, 12345)));
        assert_eq!(parse_data(&line(3, 12345), 3), None, "run out of range");
        let mut wrong = line(3, 12345);
        *wrong.last_mut().unwrap() = b' ';
        assert_eq!(parse_data(&wrong, 4), None, "filler of another seq");
        assert_eq!(parse_data(b"r00003 000012345", 4), None);
    }
}
