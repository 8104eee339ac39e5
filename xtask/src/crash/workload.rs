//! The runs of `bunctl-log pipe` on the crash directory: each fed its numbered lines as fast as
//! the pipe takes them and killed (SIGKILL) at a random moment, the last one fed a fixed number
//! and left to exit by itself, then starts with no input until the compression backlog is gone.

use std::io::{self, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::dir::inspect;
use super::lines::data_line;
use super::APP;
use crate::harness::lines::mix;
use crate::harness::process::{killed_by_sigkill, pipe_command, read_on_the_side, wait_or_kill};
use crate::harness::report::Errors;

/// Small, so that every run rotates and compresses many times and kills land mid-rotation.
/// Every other run rotates at 1M instead: files that large are fsynced and renamed by a
/// thread of their own while writing goes on in `.crash.log.next`, so kills land in that too.
pub(super) fn max_size(run: usize) -> &'static str {
    if run.is_multiple_of(2) {
        "64K"
    } else {
        "1M"
    }
}
/// Large, so that retention never deletes a line the verifier looks for.
pub(super) const KEEP: &str = "100000";
/// Lines fed to the last run, which must end cleanly.
pub(super) const CLEAN_RUN_LINES: u64 = 20_000;
/// How long the clean run may take before it counts as hung: its own lines need well under a
/// second, but it first compresses every archive the kills left plain (here rotation outruns
/// compression, which fsyncs twice and runs a retention pass per file: hundreds pile up per kill).
pub(super) const CLEAN_RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Added to [`CLEAN_RUN_TIMEOUT`] per plain archive pending before the clean run.
pub(super) const CLEAN_RUN_TIMEOUT_PER_PENDING: Duration = Duration::from_millis(100);
/// Most starts with no input after the clean run to compress what it left plain.
pub(super) const MAX_DRAIN_STARTS: usize = 200;
/// Bytes of lines written to the pipe per `write`.
pub(super) const FEED_CHUNK: usize = 64 << 10;

/// SplitMix64: the kill times, reproducible from the seed.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0) % n
    }

    /// One kill in eight lands in the first 5 ms (startup and recovery), the rest in 5-400 ms.
    pub(super) fn kill_delay(&mut self) -> Duration {
        if self.below(8) == 0 {
            Duration::from_micros(self.below(5_000))
        } else {
            Duration::from_micros(5_000 + self.below(395_000))
        }
    }
}

/// Writes run `run`'s lines to `stdin` as fast as the pipe takes them: `limit` lines then EOF,
/// or until the pipe breaks (the reader was killed). Returns the lines written whole.
pub(super) fn feed(mut stdin: ChildStdin, run: usize, limit: Option<u64>) -> u64 {
    let mut chunk = Vec::with_capacity(FEED_CHUNK + 256);
    let mut seq = 0;
    let mut fed = 0;
    loop {
        chunk.clear();
        let first = seq;
        while chunk.len() < FEED_CHUNK && limit.is_none_or(|l| seq < l) {
            data_line(run, seq, &mut chunk);
            chunk.push(b'\n');
            seq += 1;
        }
        if chunk.is_empty() {
            return fed; // dropping stdin closes the pipe: EOF
        }
        let mut written = 0;
        while written < chunk.len() {
            match stdin.write(&chunk[written..]) {
                Ok(n) if n > 0 => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EPIPE (Rust ignores SIGPIPE): only the lines wholly in the pipe count as fed.
                _ => {
                    let whole = chunk[..written].iter().filter(|&&b| b == b'\n').count();
                    return fed + whole as u64;
                }
            }
        }
        fed += seq - first;
    }
}

pub(super) fn spawn_pipe(
    bin: &Path,
    dir: &Path,
    run: usize,
    stderr: Stdio,
) -> Result<Child, String> {
    pipe_command(bin, APP, dir, max_size(run), KEEP)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))
}

/// Starts `bunctl-log pipe` with no input until no plain archive is left; each must exit 0 and
/// compress some (a start spends at most half its shutdown timeout on the backlog). Returns how
/// many starts it took; [`MAX_DRAIN_STARTS`] at most.
pub(super) fn drain(bin: &Path, dir: &Path, errors: &mut Errors) -> Result<usize, String> {
    let mut left = usize::MAX;
    for starts in 0..=MAX_DRAIN_STARTS {
        let state = inspect(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        if state.plain.is_empty() || starts == MAX_DRAIN_STARTS {
            return Ok(starts);
        }
        if state.plain.len() >= left {
            errors.push(format!(
                "drain start {starts}: no progress, {} plain archives still pending",
                state.plain.len()
            ));
            return Ok(starts);
        }
        left = state.plain.len();
        let mut child = spawn_pipe(bin, dir, 0, Stdio::inherit())?;
        drop(child.stdin.take()); // EOF at once: only the startup's work
        let status = child
            .wait()
            .map_err(|e| format!("drain start {starts}: cannot wait: {e}"))?;
        if !status.success() {
            errors.push(format!(
                "drain start {starts} ({} plain archives pending): bunctl-log pipe failed ({status})",
                state.plain.len()
            ));
            return Ok(starts + 1);
        }
    }
    Ok(MAX_DRAIN_STARTS)
}

/// Run `run`, killed after `delay`. Returns the lines fed to it.
pub(super) fn killed_run(
    bin: &Path,
    dir: &Path,
    run: usize,
    delay: Duration,
) -> Result<u64, String> {
    let started = Instant::now();
    let mut child = spawn_pipe(bin, dir, run, Stdio::inherit())?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let feeder = thread::spawn(move || feed(stdin, run, None));
    thread::sleep(delay.saturating_sub(started.elapsed()));
    // Child::kill sends SIGKILL; on a child that already exited it does nothing.
    let killed = child.kill();
    let status = child
        .wait()
        .map_err(|e| format!("run {run}: cannot wait for bunctl-log pipe: {e}"))?;
    let fed = feeder
        .join()
        .map_err(|_| format!("run {run}: the feeding thread panicked"))?;
    if !killed_by_sigkill(status) {
        return Err(format!(
            "run {run}: bunctl-log pipe stopped by itself before the kill at {delay:?} ({status}; kill: {killed:?})"
        ));
    }
    Ok(fed)
}

/// The last run: `CLEAN_RUN_LINES` lines, EOF, and it must exit 0 by itself. Returns the lines
/// fed; a failure that still leaves files to check (it exited non-zero, hung, stopped reading)
/// goes to `errors`, so the checks after it still run. `pending`: plain archives it starts with.
pub(super) fn clean_run(
    bin: &Path,
    dir: &Path,
    run: usize,
    pending: usize,
    errors: &mut Errors,
) -> Result<u64, String> {
    let per = u32::try_from(pending).unwrap_or(u32::MAX);
    let timeout =
        CLEAN_RUN_TIMEOUT.saturating_add(CLEAN_RUN_TIMEOUT_PER_PENDING.saturating_mul(per));
    let mut child = spawn_pipe(bin, dir, run, Stdio::piped())?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let feeder = thread::spawn(move || feed(stdin, run, Some(CLEAN_RUN_LINES)));
    // Read its stderr on the side: its summary, or why it failed, for the report.
    let reader = read_on_the_side(stderr);
    let (status, hung) = wait_or_kill(&mut child, Instant::now(), timeout)
        .map_err(|e| format!("run {run} (clean): cannot wait: {e}"))?;
    let fed = feeder
        .join()
        .map_err(|_| format!("run {run}: the feeding thread panicked"))?;
    let said = reader.join().unwrap_or_default();
    let said = said.trim();
    if !said.is_empty() {
        eprintln!("{said}");
    }
    let context =
        format!("it started with {pending} plain archives to compress; it said: {said:?}");
    if hung {
        errors.push(format!(
            "run {run} (clean): bunctl-log pipe did not exit within {timeout:?} and was killed; {context}"
        ));
    } else if !status.success() {
        errors.push(format!(
            "run {run} (clean): bunctl-log pipe failed ({status}) instead of exiting 0; {context}"
        ));
    } else if fed != CLEAN_RUN_LINES {
        errors.push(format!(
            "run {run} (clean): bunctl-log pipe took {fed} of its {CLEAN_RUN_LINES} lines and exited 0"
        ));
    }
    Ok(fed)
}
