//! `cargo xtask crash [N] [--seed S]`: kill `bunctl-log pipe` with SIGKILL at random moments,
//! N times on one directory, then check that the files hold every written line once, in order,
//! whole (or cut and marked), and that every archive is a valid gzip.
//!
//! The library promises (ARCHITECTURE.md, invariants 1 and 2) that a restart repairs what a crash
//! left: a half-written `.gz.tmp` is removed, an archive not yet compressed is compressed, a torn
//! last line is ended and marked, and nothing is repeated or reordered. Unit tests inject faults
//! through the `Filesystem` seam; this runs the real binary and kills it for real, constantly
//! mid-rotation (64 KiB files) and mid-compression. A SIGKILL keeps the page cache, so this
//! tests process crashes, not power loss: the fsync ordering is not exercised.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{cargo, run, target_dir};

/// The app name: the live file is `crash.log`.
const APP: &str = "crash";
/// Small, so that every run rotates and compresses many times and kills land mid-rotation.
/// Every other run rotates at 1M instead: files that large are fsynced and renamed by a
/// thread of their own while writing goes on in `.crash.log.next`, so kills land in that too.
fn max_size(run: usize) -> &'static str {
    if run.is_multiple_of(2) {
        "64K"
    } else {
        "1M"
    }
}
/// Large, so that retention never deletes a line the verifier looks for.
const KEEP: &str = "100000";
/// Lines fed to the last run, which must end cleanly.
const CLEAN_RUN_LINES: u64 = 20_000;
/// How long the clean run may take before it counts as hung: its own lines need well under a
/// second, but it first compresses every archive the kills left plain (here rotation outruns
/// compression, which fsyncs twice and runs a retention pass per file: hundreds pile up per kill).
const CLEAN_RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Added to [`CLEAN_RUN_TIMEOUT`] per plain archive pending before the clean run.
const CLEAN_RUN_TIMEOUT_PER_PENDING: Duration = Duration::from_millis(100);
/// Most starts with no input after the clean run to compress what it left plain.
const MAX_DRAIN_STARTS: usize = 200;
/// Bytes of lines written to the pipe per `write`.
const FEED_CHUNK: usize = 64 << 10;
/// What the writer appends after a last line a kill left without its `\n`.
const CUT_MARKER: &[u8] =
    b"[bunctl-log] the line above was cut short: the previous writer stopped in the middle of it";
/// Every line the tool writes itself starts with this.
const MARKER_PREFIX: &[u8] = b"[bunctl-log] ";
/// Violations printed in full; the rest are counted.
const MAX_REPORTED: usize = 20;
/// Files per `gzip -t` process.
const GZIP_BATCH: usize = 200;

/// The filler's alphabet, repeated so that any 200-byte window from an offset below 64 fits.
const FILLER_SOURCE: [u8; 320] = {
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    let mut out = [0u8; 320];
    let mut i = 0;
    while i < out.len() {
        out[i] = alphabet[i % alphabet.len()];
        i += 1;
    }
    out
};

const USAGE: &str = "usage: cargo xtask crash [N] [--seed S]   (N runs, default 100)";

/// `cargo xtask crash`: exit code 0 if every check passed, 1 on a violation, 2 on bad arguments.
pub fn crash(args: &[OsString]) -> Result<(), i32> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let (runs, seed) = parse_args(args).map_err(|e| {
        eprintln!("xtask crash: {e}\n{USAGE}");
        2
    })?;
    let seed = seed.unwrap_or_else(seed_from_clock);
    let mut build = cargo();
    build.args(["build", "--release", "-p", "bunctl-log-cli"]);
    run(build)?;
    let start = Instant::now();
    let target = target_dir();
    let bin = target
        .join("release")
        .join(format!("bunctl-log{}", std::env::consts::EXE_SUFFIX));
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = target
        .join("crash")
        .join(format!("{stamp}-{}", std::process::id()));
    if let Err(e) = fs::create_dir_all(&dir) {
        eprintln!("xtask crash: cannot create {}: {e}", dir.display());
        return Err(1);
    }
    eprintln!(
        "xtask crash: {runs} runs on {}, seed {seed} (replay the kill times: cargo xtask crash {runs} --seed {seed})",
        dir.display()
    );
    let report = campaign(&bin, &dir, runs, seed);
    report.print(seed, start.elapsed());
    if report.errors.count == 0 {
        println!("xtask crash: passed, every check held");
        if let Err(e) = fs::remove_dir_all(&dir) {
            eprintln!("xtask crash: cannot remove {}: {e}", dir.display());
        }
        Ok(())
    } else {
        eprintln!(
            "xtask crash: FAILED, {} violation(s); the files are kept in {}; seed {seed}",
            report.errors.count,
            dir.display()
        );
        Err(1)
    }
}

/// `[N] [--seed S]`, in any order.
fn parse_args(args: &[OsString]) -> Result<(usize, Option<u64>), String> {
    let mut runs = None;
    let mut seed = None;
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        if arg == "--seed" {
            let v = it.next().ok_or("--seed needs a value")?;
            seed = Some(
                v.parse()
                    .map_err(|_| format!("--seed takes a whole number, not {v:?}"))?,
            );
        } else if runs.is_none() {
            let n: usize = arg
                .parse()
                .map_err(|_| format!("N must be a whole number, not {arg:?}"))?;
            // Run numbers are written with five digits.
            if !(1..=100_000).contains(&n) {
                return Err(format!("N must be between 1 and 100000, not {n}"));
            }
            runs = Some(n);
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
    }
    Ok((runs.unwrap_or(100), seed))
}

fn seed_from_clock() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    mix(nanos ^ (u64::from(std::process::id()) << 32))
}

/// SplitMix64's finalizer: a well-spread hash of `x`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: the kill times, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0) % n
    }

    /// One kill in eight lands in the first 5 ms (startup and recovery), the rest in 5-400 ms.
    fn kill_delay(&mut self) -> Duration {
        if self.below(8) == 0 {
            Duration::from_micros(self.below(5_000))
        } else {
            Duration::from_micros(5_000 + self.below(395_000))
        }
    }
}

/// The filler of line `seq`: 20-200 bytes, a window of [`FILLER_SOURCE`] chosen by a hash.
pub(super) fn filler(seq: u64) -> &'static [u8] {
    let h = mix(seq);
    let len = 20 + (h % 181) as usize;
    let offset = ((h >> 32) % 64) as usize;
    &FILLER_SOURCE[offset..offset + len]
}

/// Appends data line `seq` of run `run`, without its `\n`.
fn data_line(run: usize, seq: u64, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "r{run:05} {seq:09} ");
    out.extend_from_slice(filler(seq));
}

/// `Some(run, seq)` if `line` is exactly data line `seq` of a run below `runs`.
fn parse_data(line: &[u8], runs: usize) -> Option<(usize, u64)> {
    if line.len() < 17 || line[0] != b'r' || line[6] != b' ' || line[16] != b' ' {
        return None;
    }
    let run = usize::try_from(digits(&line[1..6])?).ok()?;
    let seq = digits(&line[7..16])?;
    (run < runs && &line[17..] == filler(seq)).then_some((run, seq))
}

/// Writes run `run`'s lines to `stdin` as fast as the pipe takes them: `limit` lines then EOF,
/// or until the pipe breaks (the reader was killed). Returns the lines written whole.
fn feed(mut stdin: ChildStdin, run: usize, limit: Option<u64>) -> u64 {
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

fn spawn_pipe(bin: &Path, dir: &Path, run: usize, stderr: Stdio) -> Result<Child, String> {
    Command::new(bin)
        .args(["pipe", "--app", APP, "--dir"])
        .arg(dir)
        .args(["--max-size", max_size(run), "--keep", KEEP])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))
}

/// Starts `bunctl-log pipe` with no input until no plain archive is left; each must exit 0 and
/// compress some (a start spends at most half its shutdown timeout on the backlog). Returns how
/// many starts it took; [`MAX_DRAIN_STARTS`] at most.
fn drain(bin: &Path, dir: &Path, errors: &mut Errors) -> Result<usize, String> {
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

#[cfg(unix)]
fn killed_by_sigkill(status: ExitStatus) -> bool {
    std::os::unix::process::ExitStatusExt::signal(&status) == Some(9)
}

#[cfg(not(unix))]
fn killed_by_sigkill(status: ExitStatus) -> bool {
    !status.success()
}

/// Run `run`, killed after `delay`. Returns the lines fed to it.
fn killed_run(bin: &Path, dir: &Path, run: usize, delay: Duration) -> Result<u64, String> {
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
fn clean_run(
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
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let feeder = thread::spawn(move || feed(stdin, run, Some(CLEAN_RUN_LINES)));
    // Read its stderr on the side: its summary, or why it failed, for the report.
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
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

/// Which form of an archive a file name is, if it is one of `crash.log`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Plain,
    Gzip,
    GzipTemp,
}

/// `crash.<YYYYMMDDTHHMMSSZ>-<seq, 6+ digits>.log[.gz[.tmp]]`.
fn archive_form(name: &str) -> Option<Form> {
    let rest = name.strip_prefix("crash.")?;
    let (middle, form) = if let Some(m) = rest.strip_suffix(".log.gz.tmp") {
        (m, Form::GzipTemp)
    } else if let Some(m) = rest.strip_suffix(".log.gz") {
        (m, Form::Gzip)
    } else {
        (rest.strip_suffix(".log")?, Form::Plain)
    };
    let b = middle.as_bytes();
    let digit = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() >= 23
        && digit(0..8)
        && b[8] == b'T'
        && digit(9..15)
        && b[15] == b'Z'
        && b[16] == b'-'
        && digit(17..b.len());
    ok.then_some(form)
}

/// What is in the directory (hidden files, such as the lock file, are ignored).
#[derive(Default)]
struct DirState {
    live: Option<PathBuf>,
    gz: Vec<PathBuf>,
    tmp: Vec<PathBuf>,
    plain: Vec<PathBuf>,
    /// Plain archives whose `.gz` exists: compressed, the plain file not yet removed.
    plain_leftover: usize,
    /// `.crash.log.next` exists: a rotation finishing in the background was interrupted.
    next: bool,
    other: Vec<PathBuf>,
}

fn inspect(dir: &Path) -> io::Result<DirState> {
    let mut state = DirState::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.') {
            state.next |= name == format!(".{APP}.log.next");
            continue;
        }
        match (name == format!("{APP}.log"), archive_form(&name)) {
            (true, _) => state.live = Some(path),
            (_, Some(Form::Gzip)) => state.gz.push(path),
            (_, Some(Form::GzipTemp)) => state.tmp.push(path),
            (_, Some(Form::Plain)) => state.plain.push(path),
            (_, None) => state.other.push(path),
        }
    }
    let gz: HashSet<&Path> = state.gz.iter().map(PathBuf::as_path).collect();
    state.plain_leftover = state
        .plain
        .iter()
        .filter(|p| {
            let mut s = p.as_os_str().to_owned();
            s.push(".gz");
            gz.contains(Path::new(&s))
        })
        .count();
    state.gz.sort();
    state.tmp.sort();
    state.plain.sort();
    Ok(state)
}

/// Whether `path` is non-empty and its last byte is not `\n`.
fn ends_mid_line(path: &Path) -> io::Result<bool> {
    let mut f = File::open(path)?;
    if f.metadata()?.len() == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    f.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// What one kill left.
struct Kill {
    delay: Duration,
    fed: u64,
    tmp: usize,
    plain: usize,
    plain_leftover: usize,
    next: bool,
    torn_tail: bool,
}

/// Violations: the first few in full, the rest counted.
#[derive(Default)]
pub(super) struct Errors {
    pub(super) shown: Vec<String>,
    pub(super) count: usize,
}

impl Errors {
    pub(super) fn push(&mut self, msg: String) {
        self.count += 1;
        if self.shown.len() < MAX_REPORTED {
            self.shown.push(msg);
        }
    }
}

#[derive(Default)]
struct Report {
    runs: usize,
    kills: Vec<Kill>,
    /// Lines fed to each run, and found in the files.
    fed: Vec<u64>,
    found: Vec<u64>,
    archives: usize,
    markers: u64,
    cut_partial: u64,
    cut_whole: u64,
    torn_unmarked: u64,
    runs_time: Duration,
    /// The clean run alone (its startup compresses what the kills left plain).
    clean_time: Duration,
    /// Starts with no input after the clean run until no archive was left plain: a shutdown
    /// spends at most half its timeout on a compression backlog and leaves the rest, as
    /// valid plain archives, to the next start.
    drain_starts: usize,
    check_time: Duration,
    errors: Errors,
}

/// Runs, kills, inspects, verifies. Every failure ends up in `report.errors`.
fn campaign(bin: &Path, dir: &Path, runs: usize, seed: u64) -> Report {
    let mut report = Report {
        runs,
        ..Report::default()
    };
    let mut rng = Rng(seed);
    let started = Instant::now();
    for r in 0..runs {
        let outcome = if r + 1 < runs {
            let delay = rng.kill_delay();
            killed_run(bin, dir, r, delay).and_then(|fed| {
                let state = inspect(dir)
                    .map_err(|e| format!("after run {r}: cannot list {}: {e}", dir.display()))?;
                let torn_tail = match &state.live {
                    Some(live) => ends_mid_line(live).map_err(|e| {
                        format!("after run {r}: cannot read {}: {e}", live.display())
                    })?,
                    None => false,
                };
                report.kills.push(Kill {
                    delay,
                    fed,
                    tmp: state.tmp.len(),
                    plain: state.plain.len(),
                    plain_leftover: state.plain_leftover,
                    next: state.next,
                    torn_tail,
                });
                Ok(fed)
            })
        } else {
            let pending = report.kills.last().map_or(0, |k| k.plain);
            let clean_start = Instant::now();
            let fed = clean_run(bin, dir, r, pending, &mut report.errors);
            report.clean_time = clean_start.elapsed();
            fed.and_then(|fed| {
                report.drain_starts = drain(bin, dir, &mut report.errors)?;
                Ok(fed)
            })
        };
        match outcome {
            Ok(fed) => report.fed.push(fed),
            Err(e) => {
                report.errors.push(e);
                report.runs_time = started.elapsed();
                return report;
            }
        }
    }
    report.runs_time = started.elapsed();
    let started = Instant::now();
    check_files(bin, dir, &mut report);
    report.check_time = started.elapsed();
    report
}

/// The checks after the clean run: the files present, gzip's test, every line.
fn check_files(bin: &Path, dir: &Path, report: &mut Report) {
    let state = match inspect(dir) {
        Ok(s) => s,
        Err(e) => {
            report
                .errors
                .push(format!("cannot list {}: {e}", dir.display()));
            return;
        }
    };
    // One message per kind of leftover: after a failed clean run there can be thousands.
    if let Some(first) = state.tmp.first() {
        report.errors.push(format!(
            "{} .gz.tmp file(s) left after the clean run (a compression it did not finish, or a leftover its startup did not remove), e.g. {}",
            state.tmp.len(),
            first.display()
        ));
    }
    if state.next {
        report.errors.push(format!(
            ".{APP}.log.next left after the clean run: an interrupted rotation was not finished"
        ));
    }
    if let Some(first) = state.plain.first() {
        report.errors.push(format!(
            "{} rotated file(s) left uncompressed after the clean run, e.g. {}",
            state.plain.len(),
            first.display()
        ));
    }
    for other in &state.other {
        report.errors.push(format!(
            "{}: unexpected file (not crash.log, nor one of its archives)",
            other.display()
        ));
    }
    match &state.live {
        None => report
            .errors
            .push(format!("{}: no live file crash.log", dir.display())),
        Some(live) => {
            if ends_mid_line(live).unwrap_or(true) {
                report.errors.push(format!(
                    "{}: unreadable, or does not end with a newline after the clean run",
                    live.display()
                ));
            }
        }
    }
    report.archives = state.gz.len();
    gzip_test(&state.gz, &mut report.errors);
    if let Err(e) = check_lines(bin, dir, report) {
        report.errors.push(e);
    }
}

/// `gzip -t` on every archive, in batches; a failed batch is retested file by file to name them.
fn gzip_test(files: &[PathBuf], errors: &mut Errors) {
    let test = |files: &[PathBuf]| {
        Command::new("gzip")
            .arg("-t")
            .arg("--")
            .args(files)
            .stdout(Stdio::null())
            .output()
    };
    for batch in files.chunks(GZIP_BATCH) {
        match test(batch) {
            Ok(out) if out.status.success() => {}
            Ok(_) => {
                for f in batch {
                    match test(std::slice::from_ref(f)) {
                        Ok(out) if out.status.success() => {}
                        Ok(out) => errors.push(format!(
                            "{}: gzip -t fails: {}",
                            f.display(),
                            String::from_utf8_lossy(&out.stderr).trim()
                        )),
                        Err(e) => errors.push(format!("cannot run gzip -t: {e}")),
                    }
                }
            }
            Err(e) => {
                errors.push(format!(
                    "cannot run gzip -t (needed to check the archives): {e}"
                ));
                return;
            }
        }
    }
}

/// The uncompressed size of each file `bunctl-log cat` prints: a `.gz`'s from its trailer
/// (ISIZE, the size mod 2^32; the archives these tools make are far smaller), so cat's output can
/// be mapped back to files.
pub(super) fn content_size(path: &Path) -> io::Result<u64> {
    if path.extension().is_some_and(|e| e == "gz") {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::End(-4))?;
        let mut isize = [0u8; 4];
        f.read_exact(&mut isize)?;
        Ok(u64::from(u32::from_le_bytes(isize)))
    } else {
        Ok(fs::metadata(path)?.len())
    }
}

/// Waits for `child` until `timeout` after `started`, then kills it (SIGKILL) and reaps it.
/// Returns its status and whether it had to be killed.
pub(super) fn wait_or_kill(
    child: &mut Child,
    started: Instant,
    timeout: Duration,
) -> io::Result<(ExitStatus, bool)> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            return Ok((child.wait()?, true));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// `bunctl-log COMMAND --app APP --dir DIR`, ready to run.
pub(super) fn bunctl_log(bin: &Path, command: &str, app: &str, dir: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([command, "--app", app, "--dir"]).arg(dir);
    c
}

/// `app`'s files as `bunctl-log files` lists them (oldest first, the live file last), and the
/// running total of their content sizes (uncompressed), to tell which file a line came from.
pub(super) fn log_files(
    bin: &Path,
    app: &str,
    dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<u64>), String> {
    let out = bunctl_log(bin, "files", app, dir)
        .output()
        .map_err(|e| format!("cannot run bunctl-log files: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "bunctl-log files failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let files: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect();
    let mut ends = Vec::with_capacity(files.len());
    let mut total = 0;
    for f in &files {
        total += content_size(f).map_err(|e| format!("{}: cannot read: {e}", f.display()))?;
        ends.push(total);
    }
    Ok((files, ends))
}

/// The number written in ASCII digits in `b` (no sign, no separators).
pub(super) fn digits(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}

/// Reads every line back through `bunctl-log cat` and checks it.
fn check_lines(bin: &Path, dir: &Path, report: &mut Report) -> Result<(), String> {
    let tool = |command: &str| bunctl_log(bin, command, APP, dir);
    let (files, ends) = log_files(bin, APP, dir)?;
    let total = ends.last().copied().unwrap_or(0);

    let mut cat = tool("cat")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run bunctl-log cat: {e}"))?;
    let stdout = cat
        .stdout
        .take()
        .ok_or("no stdout pipe from bunctl-log cat")?;
    let mut reader = BufReader::with_capacity(1 << 20, stdout);
    let mut v = Verifier::new(report.runs);
    let mut buf = Vec::new();
    let (mut offset, mut file, mut line_in_file, mut line) = (0u64, 0usize, 0u64, 0u64);
    let read = loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                while file < ends.len() && offset >= ends[file] {
                    file += 1;
                    line_in_file = 0;
                }
                line += 1;
                line_in_file += 1;
                offset += n as u64;
                let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
                let at = Pos {
                    file,
                    line: line_in_file,
                    cat_line: line,
                };
                v.line(text, at);
            }
            Err(e) => break Err(e),
        }
    };
    let status = cat.wait();
    read.map_err(|e| format!("reading bunctl-log cat's output: {e}"))?;
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(format!("bunctl-log cat failed: {s}")),
        Err(e) => return Err(format!("cannot wait for bunctl-log cat: {e}")),
    }
    v.finish();
    if offset != total {
        eprintln!(
            "xtask crash: warning: bunctl-log cat printed {offset} bytes, the files hold {total}: the file names below may be off"
        );
    }
    let name = |p: &Pos| {
        files
            .get(p.file)
            .map_or_else(|| "?".to_string(), |f| f.display().to_string())
    };
    for (at, msg) in v.errors.drain(..) {
        report.errors.push(format!(
            "{}:{} (line {} of bunctl-log cat): {msg}",
            name(&at),
            at.line,
            at.cat_line
        ));
    }
    report.errors.count += v.unshown;
    for (r, &k) in v.found.iter().enumerate() {
        let fed = report.fed.get(r).copied().unwrap_or(0);
        if k > fed {
            report.errors.push(format!(
                "run {r}: {k} lines in the files, but only {fed} were fed to it"
            ));
        } else if r + 1 == report.runs && k != fed {
            report.errors.push(format!(
                "run {r} (clean): {k} of its {fed} lines in the files"
            ));
        }
    }
    report.found = v.found;
    report.markers = v.markers;
    report.cut_partial = v.cut_partial;
    report.cut_whole = v.cut_whole;
    report.torn_unmarked = v.torn_unmarked;
    Ok(())
}

/// Where a line is: its file (index in `bunctl-log files`), its line there, its line in `cat`.
#[derive(Clone, Copy)]
struct Pos {
    file: usize,
    line: u64,
    cat_line: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    Start,
    Data,
    Marker,
    Other,
}

/// Checks lines one at a time, with one line of look-ahead for the cut-short marker.
struct Verifier {
    runs: usize,
    /// Lines of each run found so far: its next expected seq.
    found: Vec<u64>,
    /// The run whose lines are being read; earlier runs are done.
    current: Option<usize>,
    /// The current run's last line was cut by its kill: no more lines of it may follow.
    cut: bool,
    prev: Prev,
    /// A line that is neither data nor marker, waiting to see whether the cut marker follows.
    pending: Option<(Vec<u8>, Pos)>,
    markers: u64,
    /// Cut-short markers after a partial line, and after a line that lacked only its `\n`.
    cut_partial: u64,
    cut_whole: u64,
    torn_unmarked: u64,
    errors: Vec<(Pos, String)>,
    unshown: usize,
}

impl Verifier {
    fn new(runs: usize) -> Self {
        Self {
            runs,
            found: vec![0; runs],
            current: None,
            cut: false,
            prev: Prev::Start,
            pending: None,
            markers: 0,
            cut_partial: 0,
            cut_whole: 0,
            torn_unmarked: 0,
            errors: Vec::new(),
            unshown: 0,
        }
    }

    fn error(&mut self, at: Pos, msg: String, line: &[u8]) {
        if self.errors.len() < MAX_REPORTED {
            self.errors.push((at, format!("{msg}: {}", excerpt(line))));
        } else {
            self.unshown += 1;
        }
    }

    fn line(&mut self, line: &[u8], at: Pos) {
        if let Some((bad, bad_at)) = self.pending.take() {
            if line == CUT_MARKER {
                self.markers += 1;
                self.prev = Prev::Marker;
                if self.cut_prefix(&bad) {
                    self.cut_partial += 1;
                } else {
                    let msg = "line before the cut-short marker is not the start of the line expected next".to_string();
                    self.error(bad_at, msg, &bad);
                }
                return;
            }
            self.unmarked(&bad, bad_at);
        }
        if line.starts_with(MARKER_PREFIX) {
            self.markers += 1;
            if line == CUT_MARKER && self.prev == Prev::Data {
                // The kill cut exactly the `\n`: the line is whole, its run ends here.
                self.cut_whole += 1;
                self.cut = true;
            }
            self.prev = Prev::Marker;
            return;
        }
        match parse_data(line, self.runs) {
            Some((run, seq)) => self.data(run, seq, at, line),
            None => self.pending = Some((line.to_vec(), at)),
        }
    }

    fn finish(&mut self) {
        if let Some((bad, at)) = self.pending.take() {
            self.unmarked(&bad, at);
        }
    }

    fn data(&mut self, run: usize, seq: u64, at: Pos, line: &[u8]) {
        self.prev = Prev::Data;
        match self.current {
            Some(c) if run == c => {
                if self.cut {
                    let msg = format!("run {run} goes on after its line cut short by the kill");
                    self.error(at, msg, line);
                }
                let next = self.found[run];
                if seq == next {
                    self.found[run] += 1;
                } else if seq < next {
                    let msg = format!("duplicate: run {run} seq {seq} again (seq {next} expected)");
                    self.error(at, msg, line);
                } else {
                    let msg = format!(
                        "gap: run {run} seq {next}..{} missing before it (a kill may lose only the tail of a run)",
                        seq - 1
                    );
                    self.error(at, msg, line);
                    self.found[run] = seq + 1;
                }
            }
            Some(c) if run < c => {
                let msg = format!("out of order: run {run}'s line after run {c}'s lines");
                self.error(at, msg, line);
            }
            _ => {
                if seq != 0 {
                    let msg = format!(
                        "run {run} starts at seq {seq}: its lines 0..{} are missing",
                        seq - 1
                    );
                    self.error(at, msg, line);
                }
                self.current = Some(run);
                self.cut = false;
                self.found[run] = seq + 1;
            }
        }
    }

    /// Whether `bad` is the start of the line expected next: the current run's next line, or
    /// the first line of a later run (a run killed before it wrote a whole line). If so, that
    /// run is cut there.
    fn cut_prefix(&mut self, bad: &[u8]) -> bool {
        let mut expected = Vec::with_capacity(256);
        if let (Some(c), false) = (self.current, self.cut) {
            data_line(c, self.found[c], &mut expected);
            if expected.starts_with(bad) {
                self.cut = true;
                return true;
            }
        }
        let from = self.current.map_or(0, |c| c + 1);
        // With its run number readable, only that run can match; otherwise the first that does.
        let candidates = match bad.get(1..6).and_then(digits) {
            Some(r) if bad[0] == b'r' => {
                let r = usize::try_from(r).unwrap_or(usize::MAX);
                r.max(from)..(r + 1).min(self.runs)
            }
            _ => from..self.runs,
        };
        for r in candidates {
            expected.clear();
            data_line(r, 0, &mut expected);
            if expected.starts_with(bad) {
                self.current = Some(r);
                self.cut = true;
                return true;
            }
        }
        false
    }

    /// A line that is neither data nor marker and not followed by the cut marker. Today's
    /// writer appends the next run's first line right after a torn one: if a data line is
    /// glued to it, it is checked as such so one torn line does not cascade into gaps.
    fn unmarked(&mut self, bad: &[u8], at: Pos) {
        let glued = (1..bad.len()).find(|&i| parse_data(&bad[i..], self.runs).is_some());
        let head = glued.map_or(bad, |i| &bad[..i]);
        let msg = if self.cut_prefix(head) {
            self.torn_unmarked += 1;
            match glued {
                Some(_) => "torn line, no cut-short marker: a line cut by a kill, the next run's line glued to it",
                None => "torn line, no cut-short marker: a line cut by a kill",
            }
        } else {
            "malformed line: not a data line, not a marker, not the start of the line expected next"
        };
        self.error(at, msg.to_string(), bad);
        self.prev = Prev::Other;
        if let Some(i) = glued {
            if let Some((run, seq)) = parse_data(&bad[i..], self.runs) {
                self.data(run, seq, at, &bad[i..]);
            }
        }
    }
}

/// A line as text for a message, shortened.
pub(super) fn excerpt(line: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&line[..line.len().min(MAX)]);
    if line.len() > MAX {
        format!("{text:?}... ({} bytes)", line.len())
    } else {
        format!("{text:?}")
    }
}

/// `1234567` as `1,234,567`.
pub(super) fn thousands(n: u64) -> String {
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

impl Report {
    fn print(&self, seed: u64, total: Duration) {
        let kills = self.kills.len();
        let early = self
            .kills
            .iter()
            .filter(|k| k.delay < Duration::from_millis(5))
            .count();
        let fed: u64 = self.fed.iter().sum();
        let found: u64 = self.found.iter().sum();
        let mut lost: Vec<u64> = self
            .kills
            .iter()
            .enumerate()
            .map(|(r, k)| {
                k.fed
                    .saturating_sub(self.found.get(r).copied().unwrap_or(0))
            })
            .collect();
        lost.sort_unstable();
        let left = |f: fn(&Kill) -> usize| {
            let files: usize = self.kills.iter().map(f).sum();
            let kills_with = self.kills.iter().filter(|k| f(k) > 0).count();
            let max = self.kills.iter().map(f).max().unwrap_or(0);
            format!("{kills_with}/{kills} kills ({files} files summed over the kills, at most {max} at once)")
        };
        let secs = |d: Duration| d.as_secs_f64();
        println!(
            "xtask crash: {} runs, {kills} killed ({early} in their first 5 ms), seed {seed}",
            self.runs
        );
        println!(
            "  time          {:.1} s (build excluded): runs {:.1} s (the clean one {:.1} s), checks {:.1} s",
            secs(total),
            secs(self.runs_time),
            secs(self.clean_time),
            secs(self.check_time)
        );
        println!(
            "  backlog       {} start(s) with no input after the clean run to compress what its shutdown left plain",
            self.drain_starts
        );
        println!(
            "  lines         fed {}, found {}, lost {} (at kills: still in the pipe or not yet written)",
            thousands(fed),
            thousands(found),
            thousands(fed.saturating_sub(found))
        );
        if let (Some(min), Some(max)) = (lost.first(), lost.last()) {
            println!(
                "  lost per kill min {}, median {}, max {}",
                thousands(*min),
                thousands(lost[lost.len() / 2]),
                thousands(*max)
            );
        }
        println!(
            "  rotations     {} archives (.gz) at the end",
            thousands(self.archives as u64)
        );
        println!(
            "  markers       {} lines starting \"[bunctl-log] \"; cut-short marks: {} after a partial line, {} after a line missing only its newline",
            self.markers, self.cut_partial, self.cut_whole
        );
        println!(
            "  torn lines    {} without the cut-short marker",
            self.torn_unmarked
        );
        println!("  after a kill  .gz.tmp: {}", left(|k| k.tmp));
        println!(
            "                plain archives pending: {}",
            left(|k| k.plain)
        );
        println!(
            "                plain archive next to its .gz: {}",
            left(|k| k.plain_leftover)
        );
        println!(
            "                rotation finishing (.next present): {}/{kills} kills",
            self.kills.iter().filter(|k| k.next).count()
        );
        println!(
            "                live file ending mid-line: {}/{kills} kills",
            self.kills.iter().filter(|k| k.torn_tail).count()
        );
        for e in &self.errors.shown {
            eprintln!("xtask crash: {e}");
        }
        if self.errors.count > self.errors.shown.len() {
            eprintln!(
                "xtask crash: ... and {} more violations",
                self.errors.count - self.errors.shown.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(run: usize, seq: u64) -> Vec<u8> {
        let mut v = Vec::new();
        data_line(run, seq, &mut v);
        v
    }

    /// Feeds `lines` to a verifier of `runs` runs; returns it finished.
    fn verify(runs: usize, lines: &[Vec<u8>]) -> Verifier {
        let mut v = Verifier::new(runs);
        for (i, l) in lines.iter().enumerate() {
            let at = Pos {
                file: 0,
                line: i as u64 + 1,
                cat_line: i as u64 + 1,
            };
            v.line(l, at);
        }
        v.finish();
        v
    }

    fn messages(v: &Verifier) -> Vec<&str> {
        v.errors.iter().map(|(_, m)| m.as_str()).collect()
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

    #[test]
    fn archive_names() {
        let ts = "crash.20261125T163918Z-000042";
        assert_eq!(archive_form(&format!("{ts}.log")), Some(Form::Plain));
        assert_eq!(archive_form(&format!("{ts}.log.gz")), Some(Form::Gzip));
        assert_eq!(
            archive_form(&format!("{ts}.log.gz.tmp")),
            Some(Form::GzipTemp)
        );
        assert_eq!(
            archive_form("crash.20261125T163918Z-0001234567.log"),
            Some(Form::Plain)
        );
        for other in [
            "crash.log",
            "crash.err.log",
            "crash.20261125T163918Z-42.log",
            "x.log",
        ] {
            assert_eq!(archive_form(other), None, "{other}");
        }
    }

    #[test]
    fn runs_in_order_with_lost_tails_and_markers_pass() {
        let lines = vec![
            line(0, 0),
            line(0, 1),
            b"[bunctl-log] 3 lines dropped here: the writer was full".to_vec(),
            line(2, 0), // run 1 wrote nothing
            line(2, 1),
            line(3, 0),
        ];
        let v = verify(4, &lines);
        assert!(v.errors.is_empty(), "{:?}", messages(&v));
        assert_eq!(v.found, [2, 0, 2, 1]);
        assert_eq!(v.markers, 1);
    }

    #[test]
    fn gap_duplicate_order_and_late_start_fail() {
        let v = verify(2, &[line(0, 0), line(0, 2)]);
        assert!(
            messages(&v)[0].starts_with("gap: run 0 seq 1..1"),
            "{:?}",
            messages(&v)
        );
        let v = verify(2, &[line(0, 0), line(0, 1), line(0, 1)]);
        assert!(
            messages(&v)[0].starts_with("duplicate"),
            "{:?}",
            messages(&v)
        );
        let v = verify(2, &[line(1, 0), line(0, 0)]);
        assert!(
            messages(&v)[0].starts_with("out of order"),
            "{:?}",
            messages(&v)
        );
        let v = verify(2, &[line(0, 0), line(1, 5)]);
        assert!(
            messages(&v)[0].starts_with("run 1 starts at seq 5"),
            "{:?}",
            messages(&v)
        );
    }

    #[test]
    fn marked_cut_line_passes_and_ends_its_run() {
        let cut = line(0, 2)[..30].to_vec();
        let v = verify(
            2,
            &[
                line(0, 0),
                line(0, 1),
                cut.clone(),
                CUT_MARKER.to_vec(),
                line(1, 0),
            ],
        );
        assert!(v.errors.is_empty(), "{:?}", messages(&v));
        assert_eq!((v.cut_partial, v.found[0]), (1, 2));
        // The cut line must be the start of the line expected next.
        let v = verify(
            2,
            &[line(0, 0), line(0, 2)[..30].to_vec(), CUT_MARKER.to_vec()],
        );
        assert_eq!(v.errors.len(), 1, "{:?}", messages(&v));
        // Nothing of the run may follow its cut.
        let v = verify(
            2,
            &[line(0, 0), line(0, 1), cut, CUT_MARKER.to_vec(), line(0, 3)],
        );
        assert!(
            messages(&v)[0].starts_with("run 0 goes on"),
            "{:?}",
            messages(&v)
        );
        // A run killed in its very first line, and a cut that took only the newline.
        let v = verify(
            3,
            &[
                line(0, 0),
                b"r0000".to_vec(),
                CUT_MARKER.to_vec(),
                line(2, 0),
            ],
        );
        assert!(v.errors.is_empty(), "{:?}", messages(&v));
        let v = verify(2, &[line(0, 0), CUT_MARKER.to_vec(), line(1, 0)]);
        assert!(v.errors.is_empty(), "{:?}", messages(&v));
        assert_eq!(v.cut_whole, 1);
    }

    #[test]
    fn unmarked_torn_lines_fail_without_cascading() {
        let cut = line(0, 1)[..25].to_vec();
        let v = verify(2, &[line(0, 0), cut.clone(), line(1, 0), line(1, 1)]);
        assert_eq!(v.torn_unmarked, 1);
        assert_eq!(v.errors.len(), 1, "{:?}", messages(&v));
        // Glued to the next run's first line: that line still counts.
        let mut glued = cut;
        glued.extend_from_slice(&line(1, 0));
        let v = verify(2, &[line(0, 0), glued, line(1, 1)]);
        assert_eq!(v.errors.len(), 1, "{:?}", messages(&v));
        assert!(messages(&v)[0].contains("glued"));
        assert_eq!(v.found, [1, 2]);
        // A torn last line, and garbage.
        let v = verify(1, &[line(0, 0), line(0, 1)[..20].to_vec()]);
        assert_eq!(v.torn_unmarked, 1);
        let v = verify(1, &[b"hello".to_vec()]);
        assert!(
            messages(&v)[0].starts_with("malformed"),
            "{:?}",
            messages(&v)
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
