//! How a line read back is printed: a JSON line decoded to its text (its time in front with
//! `--timestamps`) or kept as stored (`--raw`), labelled with its stream when both streams are
//! printed; and `tail -n +N`'s skipping of the first lines.

use std::io::{self, Write};

use bunctl_log_read::{Origin, StreamTags};
use bunctl_logging::{JsonLine, Stream, MARKER_STREAM};

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

/// How lines are printed: JSON lines decoded or as stored, with their times or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Print {
    /// Print the lines as they are stored (`--raw`): JSON objects stay objects.
    pub raw: bool,
    /// Put a decoded JSON line's stored time in front of it (`--timestamps`).
    pub timestamps: bool,
}

/// Writes `line` (ending in `\n`) of a file of stream `origin` as `print` says: a JSON line
/// decoded to its text (its time in front with `--timestamps`), labelled with its stream when
/// `labelled` or when it is not the file's stream (a merged file); any other line as stored,
/// labelled when `labelled` unless it says its stream itself.
pub fn print_line(
    out: &mut impl Write,
    line: &[u8],
    origin: Origin,
    labelled: bool,
    print: Print,
) -> io::Result<()> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    if !print.raw {
        if let Some(json) = JsonLine::parse(body) {
            let stream = match json.stream.as_deref() {
                Some(MARKER_STREAM) => None,
                Some("stderr") => Some(Origin::Stderr),
                _ => Some(Origin::Stdout),
            };
            if let Some(stream) = stream.filter(|s| labelled || *s != origin) {
                out.write_all(label(stream))?;
            }
            if let (true, Some(time)) = (print.timestamps, &json.time) {
                out.write_all(time.as_bytes())?;
                out.write_all(b" ")?;
            }
            out.write_all(json.text())?;
            return out.write_all(b"\n");
        }
    }
    if labelled && tags().origin(line).is_none() {
        out.write_all(label(origin))?;
    }
    out.write_all(line)
}

/// A writer that prints each line written to it with [`print_line`], holding a line until its
/// end (lines reach it in pieces).
pub struct Printer<'a, W: Write> {
    out: &'a mut W,
    origin: Origin,
    labelled: bool,
    print: Print,
    line: Vec<u8>,
}

impl<'a, W: Write> Printer<'a, W> {
    /// Prints to `out` the lines of a file of stream `origin`, as [`print_line`] does.
    pub fn new(out: &'a mut W, origin: Origin, labelled: bool, print: Print) -> Self {
        Self {
            out,
            origin,
            labelled,
            print,
            line: Vec::new(),
        }
    }

    /// Whether lines go through unchanged (raw, unlabelled): then they need no holding.
    fn passes_through(&self) -> bool {
        self.print.raw && !self.labelled
    }

    fn emit(&mut self) -> io::Result<()> {
        print_line(self.out, &self.line, self.origin, self.labelled, self.print)?;
        self.line.clear();
        Ok(())
    }

    /// Writes the last piece, a line without its `\n` (none: the readers end every line).
    pub fn finish(mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.emit()?;
        }
        self.out.flush()
    }
}

impl<W: Write> Write for Printer<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.passes_through() {
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
