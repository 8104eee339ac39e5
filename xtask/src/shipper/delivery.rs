//! Waiting for the delivery: `delivered.log` polled until it holds every line and settles, stops
//! growing, or rsyslogd dies.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::config::Paths;
use super::daemon::Rsyslogd;

/// How often `delivered.log` is looked at.
pub(super) const POLL: Duration = Duration::from_millis(100);
/// Delivery is over when `delivered.log` has not grown for this long...
pub(super) const STALL: Duration = Duration::from_secs(10);
/// ...or, once it has every line, for this long (a late duplicate would still show up).
pub(super) const SETTLE: Duration = Duration::from_secs(1);
/// Longest wait for the delivery after the writer finished, growing or not.
pub(super) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(300);

/// How the delivery ended.
pub(super) struct Delivery {
    /// From the writer's exit to the last time `delivered.log` grew.
    pub(super) lag: Duration,
    /// Why the waiting stopped.
    pub(super) end: &'static str,
}

/// Lines (`\n`) in `delivered.log`, counted incrementally.
pub(super) struct LineCounter {
    pub(super) path: PathBuf,
    pub(super) offset: u64,
    pub(super) lines: u64,
    pub(super) buf: Vec<u8>,
}

impl LineCounter {
    pub(super) fn update(&mut self) -> io::Result<u64> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        io::Seek::seek(&mut f, io::SeekFrom::Start(self.offset))?;
        loop {
            let n = f.read(&mut self.buf)?;
            if n == 0 {
                return Ok(self.lines);
            }
            self.offset += n as u64;
            self.lines += self.buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
}

/// Polls `delivered.log` until it has `lines` lines and has not grown for [`SETTLE`], or has
/// not grown for [`STALL`], or rsyslogd died.
pub(super) fn await_delivery(
    rsyslogd: &mut Rsyslogd,
    paths: &Paths,
    lines: u64,
    writer_done: Instant,
) -> Result<Delivery, String> {
    let mut counter = LineCounter {
        path: paths.delivered.clone(),
        offset: 0,
        lines: 0,
        buf: vec![0; 1 << 20],
    };
    let mut last = (0, writer_done);
    loop {
        let n = counter
            .update()
            .map_err(|e| format!("cannot read {}: {e}", paths.delivered.display()))?;
        let now = Instant::now();
        if n != last.0 {
            last = (n, now);
        }
        let quiet = now - last.1;
        let lag = last.1 - writer_done;
        let end = if n >= lines && quiet >= SETTLE {
            Some("all lines there")
        } else if quiet >= STALL {
            Some("delivered.log stopped growing")
        } else if now - writer_done >= DELIVERY_TIMEOUT {
            Some("gave up waiting")
        } else if let Some(status) = rsyslogd.exited() {
            return Err(format!(
                "rsyslogd exited during the delivery ({status}), {n} lines delivered"
            ));
        } else {
            None
        };
        if let Some(end) = end {
            return Ok(Delivery { lag, end });
        }
        thread::sleep(POLL);
    }
}
