//! The writer: `bunctl-log pipe` fed the numbered lines `ship <seq, 9 digits> <filler>`, as fast
//! as the pipe takes them or paced; the lines written, and recognised exactly.

use std::io::{self, Write};
use std::path::Path;
use std::process::{ChildStdin, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::config::Paths;
use super::{Opts, APP};
use crate::harness::lines::{digits, filler};
use crate::harness::process::{pipe_command, read_on_the_side, wait_or_kill};

/// Large, so that retention never deletes a file before the checks read it.
pub(super) const KEEP: &str = "1000";
/// Bytes of lines written to the pipe per `write`.
pub(super) const FEED_CHUNK: usize = 64 << 10;
/// Longest run of `bunctl-log pipe` beyond the time `--rate` asks for.
pub(super) const WRITER_TIMEOUT: Duration = Duration::from_secs(120);

/// Appends line `seq`, without its `\n`.
pub(super) fn data_line(seq: u64, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{APP} {seq:09} ");
    out.extend_from_slice(filler(seq));
}

/// `Some(seq)` if `line` is exactly line `seq` (below `lines`).
pub(super) fn parse_line(line: &[u8], lines: u64) -> Option<u64> {
    let rest = line.strip_prefix(APP.as_bytes())?.strip_prefix(b" ")?;
    if rest.len() < 10 || rest[9] != b' ' {
        return None;
    }
    let seq = digits(&rest[..9])?;
    (seq < lines && &rest[10..] == filler(seq)).then_some(seq)
}

/// Writes lines `0..lines` to `stdin`, as fast as the pipe takes them or at `rate` lines per
/// second, then closes it. Returns the lines written, or how many were before the pipe broke.
pub(super) fn feed(
    mut stdin: ChildStdin,
    lines: u64,
    rate: Option<u64>,
) -> Result<u64, (u64, io::Error)> {
    let started = Instant::now();
    // Paced: chunks of 10 ms worth of lines.
    let per_chunk = rate.map_or(u64::MAX, |r| (r / 100).max(1));
    let mut chunk = Vec::with_capacity(FEED_CHUNK + 256);
    let mut seq = 0;
    while seq < lines {
        chunk.clear();
        let first = seq;
        while chunk.len() < FEED_CHUNK && seq < lines && seq - first < per_chunk {
            data_line(seq, &mut chunk);
            chunk.push(b'\n');
            seq += 1;
        }
        stdin.write_all(&chunk).map_err(|e| (first, e))?;
        if let Some(r) = rate {
            let due = Duration::from_secs_f64(seq as f64 / r as f64);
            thread::sleep(due.saturating_sub(started.elapsed()));
        }
    }
    Ok(seq) // dropping stdin closes the pipe: EOF
}

/// What `bunctl-log pipe` did.
pub(super) struct Writer {
    pub(super) time: Duration,
    /// Its summary line on stderr.
    pub(super) said: String,
}

pub(super) fn write_logs(bin: &Path, paths: &Paths, opts: &Opts) -> Result<Writer, String> {
    let started = Instant::now();
    let mut command = pipe_command(bin, APP, &paths.logs, &opts.max_size, KEEP);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    eprintln!("xtask shipper: running {command:?}");
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (lines, rate) = (opts.lines, opts.rate);
    let feeder = thread::spawn(move || feed(stdin, lines, rate));
    let reader = read_on_the_side(stderr);
    let paced = rate.map_or(Duration::ZERO, |r| {
        Duration::from_secs_f64(lines as f64 / r as f64)
    });
    let timeout = WRITER_TIMEOUT + paced;
    let (status, hung) = wait_or_kill(&mut child, started, timeout)
        .map_err(|e| format!("cannot wait for bunctl-log pipe: {e}"))?;
    let time = started.elapsed();
    let fed = feeder
        .join()
        .map_err(|_| "the feeding thread panicked".to_string())?;
    let said = reader.join().unwrap_or_default().trim().to_string();
    if hung {
        return Err(format!(
            "bunctl-log pipe did not exit within {timeout:?} and was killed; it said: {said:?}"
        ));
    }
    if !status.success() {
        return Err(format!(
            "bunctl-log pipe failed ({status}) instead of exiting 0; it said: {said:?}"
        ));
    }
    match fed {
        Ok(n) if n == lines => Ok(Writer { time, said }),
        Ok(n) => Err(format!("only {n} of {lines} lines were fed")),
        Err((n, e)) => Err(format!(
            "bunctl-log pipe stopped reading after {n} lines ({e}) and exited 0; it said: {said:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64) -> Vec<u8> {
        let mut v = Vec::new();
        data_line(seq, &mut v);
        v
    }

    #[test]
    fn lines_round_trip() {
        assert_eq!(parse_line(&line(123_456), 300_000), Some(123_456));
        assert_eq!(parse_line(&line(123_456), 100), None, "beyond --lines");
        assert!(line(7).starts_with(b"ship 000000007 "));
        let mut l = line(7);
        l.push(b'x');
        assert_eq!(parse_line(&l, 10), None);
    }
}
