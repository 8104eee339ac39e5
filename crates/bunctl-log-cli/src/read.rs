//! `files`, `cat`, `tail`, `tail -f` and `tail --since/--until`: the logs read back by
//! bunctl-log-read, printed (as `print` says) for one stream of the app or both.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bunctl_log_read::line::Stamp;
use bunctl_log_read::{Follower, Origin, Window, WindowCounts};
use bunctl_logging::StdFs;
use chrono::{DateTime, Utc};

use crate::print::{print_line, Print, Printer};

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// The logs to read: the live files of the streams asked for that have files (stdout's
/// first), whether their lines are labelled with the file's stream (both are printed), and
/// how lines are printed.
#[derive(Debug, Clone)]
pub struct Logs {
    /// Each stream's live file.
    pub sets: Vec<(Origin, PathBuf)>,
    /// Whether both streams are printed, so that each line says which it came from.
    pub labelled: bool,
    /// How lines are printed.
    pub print: Print,
}

impl Logs {
    /// The logs of an app whose stdout (or merged) live file is `stdout` and stderr live file
    /// `stderr`; `want` says which to read (`None`: both, those that have files).
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
        print: Print,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let has_files =
            |live: &Path| bunctl_log_read::list_files(&StdFs, live).map(|f| !f.is_empty());
        let (has_stdout, has_stderr) = (has_files(&stdout)?, has_files(&stderr)?);
        if !has_stdout && !has_stderr {
            return Err(format!("no logs for app '{app}' in {}", dir.display()).into());
        }
        // The stream asked for even without files yet: `tail -f` waits for them.
        let sets = match want {
            Some(Origin::Stdout) => vec![(Origin::Stdout, stdout)],
            Some(Origin::Stderr) => vec![(Origin::Stderr, stderr)],
            None => [
                (has_stdout, Origin::Stdout, stdout),
                (has_stderr, Origin::Stderr, stderr),
            ]
            .into_iter()
            .filter_map(|(has, origin, live)| has.then_some((origin, live)))
            .collect(),
        };
        let labelled = sets.len() == 2;
        Ok(Self {
            sets,
            labelled,
            print,
        })
    }

    /// A writer printing the lines of `origin`'s files to `out`.
    fn printer<'a, W: Write>(&self, out: &'a mut W, origin: Origin) -> Printer<'a, W> {
        Printer::new(out, origin, self.labelled, self.print)
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

/// Prints the logs, oldest first, decompressing rotated files: stdout's, then stderr's, or
/// when both are printed, interleaved by the times of their lines (see [`interleave`]).
pub fn cat(logs: &Logs, out: &mut impl Write) -> io::Result<()> {
    if let [(_, stdout), (_, stderr)] = logs.sets.as_slice() {
        return interleave(stdout, stderr, logs.print, out);
    }
    for (origin, live) in &logs.sets {
        let mut printer = logs.printer(out, *origin);
        bunctl_log_read::cat(&StdFs, live, &mut printer)?;
        printer.finish()?;
    }
    out.flush()
}

/// The lines of one stream's files, oldest first, read as `bunctl_log_read::cat` reads them
/// (the archives of one snapshot, then the live file to its end).
struct FileLines {
    files: std::collections::VecDeque<(PathBuf, Box<dyn io::Read>)>,
    current: Option<(PathBuf, io::BufReader<Box<dyn io::Read>>)>,
    /// The time of the last line that had one: a line without one (a marker) takes it.
    time: Option<Stamp>,
}

impl FileLines {
    fn open(live: &Path) -> io::Result<Self> {
        let mut snap = bunctl_log_read::snapshot(&StdFs, live)?;
        let mut files: std::collections::VecDeque<(PathBuf, Box<dyn io::Read>)> =
            std::collections::VecDeque::new();
        for archive in &snap.archives {
            if let Some(file) = bunctl_log_read::open_archive(&StdFs, archive)? {
                files.push_back((archive.path.clone(), file.into_reader()));
            }
        }
        if let Some(live) = snap.live.take() {
            let path = live.path().to_path_buf();
            let mut file = live.into_file();
            file.seek(io::SeekFrom::Start(0))
                .map_err(|e| read_error(&path, &e))?;
            files.push_back((path, Box::new(file)));
        }
        Ok(Self {
            files,
            current: None,
            time: None,
        })
    }

    /// The next line, with its `\n` (added to a last line without one), and its time.
    fn next(&mut self) -> io::Result<Option<(Vec<u8>, Option<Stamp>)>> {
        use std::io::BufRead;
        loop {
            let Some((path, reader)) = self.current.as_mut() else {
                match self.files.pop_front() {
                    Some((path, file)) => {
                        self.current = Some((path, io::BufReader::new(file)));
                        continue;
                    }
                    None => return Ok(None),
                }
            };
            let mut line = Vec::new();
            if reader
                .read_until(b'\n', &mut line)
                .map_err(|e| read_error(path, &e))?
                == 0
            {
                self.current = None;
                continue;
            }
            if line.last() != Some(&b'\n') {
                line.push(b'\n');
            }
            if let Some(t) = bunctl_log_read::line::line_time(&line[..line.len() - 1]) {
                self.time = Some(t);
            }
            return Ok(Some((line, self.time)));
        }
    }
}

fn read_error(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("read log file {}: {e}", path.display()))
}

/// Prints stdout's and stderr's lines, labelled, merged by their times (each file's order
/// kept; on a tie, stdout first). Lines without times (raw) sort before every time, so raw
/// logs come out as all of stdout, then all of stderr.
fn interleave(stdout: &Path, stderr: &Path, print: Print, out: &mut impl Write) -> io::Result<()> {
    // Stdout writes each line it is given at once: a block of lines at a time instead.
    let mut out = io::BufWriter::new(out);
    let mut streams = [FileLines::open(stdout)?, FileLines::open(stderr)?];
    let mut heads = [streams[0].next()?, streams[1].next()?];
    loop {
        let pick = match (&heads[0], &heads[1]) {
            (Some((_, a)), Some((_, b))) => usize::from(a > b),
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (None, None) => break,
        };
        if let Some((line, _)) = heads[pick].take() {
            print_line(
                &mut out,
                &line,
                [Origin::Stdout, Origin::Stderr][pick],
                true,
                print,
            )?;
        }
        heads[pick] = streams[pick].next()?;
    }
    out.flush()
}

fn print_lines(
    logs: &Logs,
    lines: Vec<Vec<u8>>,
    origin: Origin,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut printer = logs.printer(out, origin);
    for line in lines {
        printer.write_all(&line)?;
        printer.write_all(b"\n")?;
    }
    printer.finish()
}

/// Prints the last `n` lines. When both streams are printed and their lines carry times
/// (timestamped, json): the last `n` of the app as a whole, interleaved by time; raw lines
/// cannot be interleaved: the last `n` of stdout, then the last `n` of stderr.
pub fn tail(logs: &Logs, n: usize, out: &mut impl Write) -> io::Result<()> {
    match logs.sets.as_slice() {
        [(_, stdout), (_, stderr)] => {
            let stdout = timed(bunctl_log_read::last_lines(&StdFs, stdout, n)?);
            let stderr = timed(bunctl_log_read::last_lines(&StdFs, stderr, n)?);
            if stdout.iter().chain(&stderr).all(|(t, _)| t.is_none()) {
                let lines = |v: Vec<(Option<Stamp>, Vec<u8>)>| v.into_iter().map(|(_, l)| l);
                print_lines(logs, lines(stdout).collect(), Origin::Stdout, out)?;
                print_lines(logs, lines(stderr).collect(), Origin::Stderr, out)?;
            } else {
                let merged = merge_by_time(stdout, stderr);
                for (origin, line) in merged.iter().skip(merged.len().saturating_sub(n)) {
                    let mut line = line.clone();
                    line.push(b'\n');
                    print_line(out, &line, *origin, true, logs.print)?;
                }
            }
        }
        sets => {
            for (origin, live) in sets {
                let lines = bunctl_log_read::last_lines(&StdFs, live, n)?;
                print_lines(logs, lines, *origin, out)?;
            }
        }
    }
    out.flush()
}

/// Each line with its time; a line without one (a marker) takes the time of the line before.
fn timed(lines: Vec<Vec<u8>>) -> Vec<(Option<Stamp>, Vec<u8>)> {
    let mut time = None;
    lines
        .into_iter()
        .map(|line| {
            if let Some(t) = bunctl_log_read::line::line_time(&line) {
                time = Some(t);
            }
            (time, line)
        })
        .collect()
}

/// Stdout's and stderr's lines in one list by time, each stream's order kept (on a tie,
/// stdout's first; lines before any time, first).
fn merge_by_time(
    stdout: Vec<(Option<Stamp>, Vec<u8>)>,
    stderr: Vec<(Option<Stamp>, Vec<u8>)>,
) -> Vec<(Origin, Vec<u8>)> {
    let mut merged = Vec::with_capacity(stdout.len() + stderr.len());
    let mut stdout = stdout.into_iter().peekable();
    let mut stderr = stderr.into_iter().peekable();
    loop {
        let from_stdout = match (stdout.peek(), stderr.peek()) {
            (Some((a, _)), Some((b, _))) => a <= b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        let next = if from_stdout {
            stdout.next().map(|(_, l)| (Origin::Stdout, l))
        } else {
            stderr.next().map(|(_, l)| (Origin::Stderr, l))
        };
        merged.extend(next);
    }
}

/// Prints the last `n` lines, then every line written after them, forever (until writing to
/// stdout fails); each stream on a thread of its own when both are printed.
pub fn follow(logs: &Logs, n: usize) -> CliResult {
    follow_each(logs, Start::Last(n))
}

/// Prints the lines from `since` on (the last `n` of them, if given), then every line written
/// after them, as [`follow`] does.
pub fn follow_since(logs: &Logs, since: DateTime<Utc>, n: Option<usize>) -> CliResult {
    follow_each(logs, Start::Since(since, n))
}

/// Where a follower starts.
#[derive(Clone, Copy)]
enum Start {
    /// The last lines.
    Last(usize),
    /// The lines from a time on (the last of them).
    Since(DateTime<Utc>, Option<usize>),
}

fn follow_each(logs: &Logs, start: Start) -> CliResult {
    let out = Arc::new(Mutex::new(io::stdout()));
    let (done, finished) = std::sync::mpsc::channel();
    for (origin, live) in logs.sets.clone() {
        let logs = logs.clone();
        let out = out.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let _ = done.send(follow_one(&logs, origin, &live, start, &out));
        });
    }
    drop(done);
    // The first to end (an error; a closed stdout) ends the command.
    match finished.recv() {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Ok(()),
    }
}

/// Prints whole lines of `origin`'s files handed out by a follower, labelled in one piece.
fn print_lines_of(
    logs: &Logs,
    origin: Origin,
    lines: &[u8],
    out: &Mutex<io::Stdout>,
) -> io::Result<()> {
    let mut out = out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut printer = logs.printer(&mut *out, origin);
    printer.write_all(lines)?;
    printer.finish()
}

fn follow_one(
    logs: &Logs,
    origin: Origin,
    live: &Path,
    start: Start,
    out: &Mutex<io::Stdout>,
) -> io::Result<()> {
    let mut follower = match start {
        Start::Last(n) => Follower::new(StdFs::shared(), live, n)?,
        Start::Since(since, n) => {
            let (follower, counts) =
                Follower::since(StdFs::shared(), live, since, n, &mut |lines| {
                    print_lines_of(logs, origin, lines, out)
                })?;
            window_notes(live, &counts).map_err(io::Error::other)?;
            follower
        }
    };
    loop {
        // The follower hands out whole lines: each is labelled in one piece.
        let idle = follower.poll(&mut |lines| print_lines_of(logs, origin, lines, out))?;
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
        let mut printer = logs.printer(out, *origin);
        window_of(live, window, n, &mut printer)?;
        printer.finish()?;
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
    Ok(window_notes(live, &counts)?)
}

/// What reading a window of `live`'s logs says on stderr: files without times skipped; an
/// error if no line had one.
fn window_notes(live: &Path, counts: &WindowCounts) -> Result<(), String> {
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
        ));
    }
    Ok(())
}
