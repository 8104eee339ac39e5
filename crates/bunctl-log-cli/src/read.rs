//! `files`, `cat`, `tail`, `tail -f` and `tail --since/--until`: the logs read back by
//! bunctl-log-read, printed, for one stream of the app or both.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bunctl_log_read::{Follower, Origin, StreamTags, Window};
use bunctl_logging::{StdFs, Stream};

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// The tags a merged log puts in front of its lines: such a line says its stream itself.
fn tags() -> StreamTags<'static> {
    StreamTags {
        stdout: Stream::Stdout.tag(),
        stderr: Stream::Stderr.tag(),
    }
}

/// What a line read from a stream's files is labelled with when both streams are printed and
/// the line does not say its stream itself.
fn label(origin: Origin) -> &'static [u8] {
    match origin {
        Origin::Stdout => b"stdout: ",
        Origin::Stderr => b"stderr: ",
    }
}

/// The logs to read: the live files of the streams asked for that have files (stdout's
/// first), and whether their lines are labelled with the file's stream (both are printed).
#[derive(Debug, Clone)]
pub struct Logs {
    /// Each stream's live file.
    pub sets: Vec<(Origin, PathBuf)>,
    /// Whether both streams are printed, so that each line says which it came from.
    pub labelled: bool,
}

impl Logs {
    /// The logs of an app whose stdout (or merged) live file is `stdout` and stderr live file
    /// `stderr`; `want` says which to read (`None`: both).
    ///
    /// # Errors
    /// `no logs for app 'APP' in DIR` if the app has no file of either stream; an error of
    /// listing the files.
    pub fn find(
        app: &str,
        dir: &Path,
        stdout: PathBuf,
        stderr: PathBuf,
        want: Option<Origin>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let has_files =
            |live: &Path| bunctl_log_read::list_files(&StdFs, live).map(|f| !f.is_empty());
        let (has_stdout, has_stderr) = (has_files(&stdout)?, has_files(&stderr)?);
        if !has_stdout && !has_stderr {
            return Err(format!("no logs for app '{app}' in {}", dir.display()).into());
        }
        let mut sets = Vec::new();
        if has_stdout && want != Some(Origin::Stderr) {
            sets.push((Origin::Stdout, stdout));
        }
        if has_stderr && want != Some(Origin::Stdout) {
            sets.push((Origin::Stderr, stderr));
        }
        let labelled = sets.len() == 2;
        Ok(Self { sets, labelled })
    }

    /// The label of `origin`'s lines, if they are labelled.
    fn label(&self, origin: Origin) -> &'static [u8] {
        if self.labelled {
            label(origin)
        } else {
            b""
        }
    }
}

/// A writer that puts `label` in front of each line that does not say its stream itself,
/// holding a line until its end (lines reach it in pieces).
struct Labelled<'a, W: Write> {
    out: &'a mut W,
    label: &'static [u8],
    line: Vec<u8>,
}

impl<'a, W: Write> Labelled<'a, W> {
    fn new(out: &'a mut W, label: &'static [u8]) -> Self {
        Self {
            out,
            label,
            line: Vec::new(),
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        if tags().origin(&self.line).is_none() {
            self.out.write_all(self.label)?;
        }
        self.out.write_all(&self.line)?;
        self.line.clear();
        Ok(())
    }

    /// Writes the last piece, a line without its `\n` (none: the readers end every line).
    fn finish(mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.emit()?;
        }
        self.out.flush()
    }
}

impl<W: Write> Write for Labelled<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.label.is_empty() {
            return self.out.write(buf);
        }
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..=end]);
            self.emit()?;
            rest = &rest[end + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A writer that drops the first `skip` lines written to it (`tail -n +N`).
pub struct SkipLines<W: Write> {
    out: W,
    skip: usize,
}

impl<W: Write> SkipLines<W> {
    /// Writes to `out` all but the first `skip` lines.
    pub fn new(out: W, skip: usize) -> Self {
        Self { out, skip }
    }
}

impl<W: Write> Write for SkipLines<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while self.skip > 0 {
            match rest.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    rest = &rest[end + 1..];
                    self.skip -= 1;
                }
                None => return Ok(buf.len()),
            }
        }
        self.out.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Prints the files of the logs, oldest first, the live file last; stdout's files first.
pub fn files(logs: &Logs, out: &mut impl Write) -> io::Result<()> {
    for (_, live) in &logs.sets {
        for f in bunctl_log_read::list_files(&StdFs, live)? {
            writeln!(out, "{}", f.display())?;
        }
    }
    out.flush()
}

/// Prints the logs, oldest first, decompressing rotated files; stdout's, then stderr's.
pub fn cat(logs: &Logs, out: &mut impl Write) -> io::Result<()> {
    for (origin, live) in &logs.sets {
        let mut labelled = Labelled::new(out, logs.label(*origin));
        bunctl_log_read::cat(&StdFs, live, &mut labelled)?;
        labelled.finish()?;
    }
    out.flush()
}

fn print_lines(lines: Vec<Vec<u8>>, label: &'static [u8], out: &mut impl Write) -> io::Result<()> {
    let mut labelled = Labelled::new(out, label);
    for line in lines {
        labelled.write_all(&line)?;
        labelled.write_all(b"\n")?;
    }
    labelled.finish()
}

/// Prints the last `n` lines: of the app as a whole, split by stream (stdout's, then
/// stderr's) when both are printed (see `bunctl_log_read::last_by_stream`).
pub fn tail(logs: &Logs, n: usize, out: &mut impl Write) -> io::Result<()> {
    match logs.sets.as_slice() {
        [(_, stdout), (_, stderr)] => {
            let split = bunctl_log_read::last_by_stream(&StdFs, stdout, stderr, n, &tags())?;
            print_lines(split.stdout, label(Origin::Stdout), out)?;
            print_lines(split.stderr, label(Origin::Stderr), out)?;
        }
        sets => {
            for (_, live) in sets {
                print_lines(bunctl_log_read::last_lines(&StdFs, live, n)?, b"", out)?;
            }
        }
    }
    out.flush()
}

/// Prints the last `n` lines, then every line written after them, forever (until writing to
/// stdout fails); each stream on a thread of its own when both are printed.
pub fn follow(logs: &Logs, n: usize) -> CliResult {
    let out = Arc::new(Mutex::new(io::stdout()));
    let (done, finished) = std::sync::mpsc::channel();
    for (origin, live) in logs.sets.clone() {
        let label = logs.label(origin);
        let out = out.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let _ = done.send(follow_one(&live, n, label, &out));
        });
    }
    drop(done);
    // The first to end (an error; a closed stdout) ends the command.
    match finished.recv() {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Ok(()),
    }
}

fn follow_one(
    live: &Path,
    n: usize,
    label: &'static [u8],
    out: &Mutex<io::Stdout>,
) -> io::Result<()> {
    let mut follower = Follower::new(StdFs::shared(), live, n)?;
    loop {
        // The follower hands out whole lines: each is labelled in one piece.
        let idle = follower.poll(&mut |lines| {
            let mut out = out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut labelled = Labelled::new(&mut *out, label);
            labelled.write_all(lines)?;
            labelled.finish()
        })?;
        for notice in follower.take_notices() {
            eprintln!("bunctl-log: {notice}");
        }
        if idle {
            follower.wait(Duration::MAX);
        }
    }
}

/// Prints the lines whose time is in `window` (the last `n` of them, if given), of each
/// stream in turn.
///
/// # Errors
/// If a file cannot be read, or if the logs have lines but none with a time (raw format).
pub fn window(logs: &Logs, window: &Window, n: Option<usize>, out: &mut impl Write) -> CliResult {
    for (origin, live) in &logs.sets {
        let mut labelled = Labelled::new(out, logs.label(*origin));
        window_of(live, window, n, &mut labelled)?;
        labelled.finish()?;
    }
    Ok(())
}

fn window_of(live: &Path, window: &Window, n: Option<usize>, out: &mut impl Write) -> CliResult {
    let counts = match n {
        None => bunctl_log_read::lines_in_window(&StdFs, live, window, &mut |line| {
            out.write_all(line)?;
            out.write_all(b"\n")
        })
        .map_err(io::Error::from)?,
        Some(n) => {
            let (lines, counts) = bunctl_log_read::last_in_window(&StdFs, live, window, n)
                .map_err(io::Error::from)?;
            for line in lines {
                out.write_all(&line)?;
                out.write_all(b"\n")?;
            }
            counts
        }
    };
    out.flush()?;
    for file in &counts.untimed_files {
        eprintln!(
            "bunctl-log: {}: no line has a time (raw format?): skipped",
            file.display()
        );
    }
    if counts.no_times() {
        return Err(format!(
            "the lines of {} have no times: they were written with --format raw; --since and \
             --until read logs written with --format timestamped or json",
            live.display()
        )
        .into());
    }
    Ok(())
}
