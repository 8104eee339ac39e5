//! Reading the log files back: the files `bunctl-log files` lists, and their content sizes
//! (a `.gz`'s uncompressed), to tell which file a line `bunctl-log cat` prints came from.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::binary::bunctl_log;
use super::report::Errors;

/// The uncompressed size of each file `bunctl-log cat` prints: a `.gz`'s from its trailer
/// (ISIZE, the size mod 2^32; the archives these tools make are far smaller), so cat's output can
/// be mapped back to files.
pub(crate) fn content_size(path: &Path) -> io::Result<u64> {
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

/// `app`'s files as `bunctl-log files` lists them (oldest first, the live file last), and the
/// running total of their content sizes (uncompressed), to tell which file a line came from.
pub(crate) fn log_files(
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

/// Archives `gzip -t` checks at once (a failed batch is retested file by file to name them).
const GZIP_BATCH: usize = 200;

/// `gzip -t` on every file, in batches; each failure goes to `errors`, prefixed with `context`
/// (empty, or the state being checked).
pub(crate) fn gzip_test(files: &[PathBuf], context: &str, errors: &mut Errors) {
    let at = if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
    };
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
                            "{at}{}: gzip -t fails: {}",
                            f.display(),
                            String::from_utf8_lossy(&out.stderr).trim()
                        )),
                        Err(e) => errors.push(format!("{at}cannot run gzip -t: {e}")),
                    }
                }
            }
            Err(e) => {
                errors.push(format!(
                    "{at}cannot run gzip -t (needed to check the archives): {e}"
                ));
                return;
            }
        }
    }
}

/// A line of `bunctl-log cat`'s output, with where it came from.
pub(crate) struct CatLine<'a> {
    /// The line, without its `\n`.
    pub(crate) text: &'a [u8],
    /// Its file, an index into what [`log_files`] listed (`ends.len()` past the last end).
    pub(crate) file: usize,
    /// Its line in that file, from 1.
    pub(crate) line_in_file: u64,
    /// Its line in the whole output, from 1.
    pub(crate) cat_line: u64,
}

/// Runs `bunctl-log cat` on `app`'s logs in `dir` and hands `each` every line with its place;
/// `ends` (from [`log_files`]) says where each file's content ends in the output. Returns the
/// bytes and lines read.
pub(crate) fn cat_lines(
    bin: &Path,
    app: &str,
    dir: &Path,
    ends: &[u64],
    mut each: impl FnMut(CatLine<'_>),
) -> Result<(u64, u64), String> {
    let mut cat = bunctl_log(bin, "cat", app, dir)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run bunctl-log cat: {e}"))?;
    let stdout = cat
        .stdout
        .take()
        .ok_or("no stdout pipe from bunctl-log cat")?;
    let mut reader = BufReader::with_capacity(1 << 20, stdout);
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
                each(CatLine {
                    text: buf.strip_suffix(b"\n").unwrap_or(&buf),
                    file,
                    line_in_file,
                    cat_line: line,
                });
            }
            Err(e) => break Err(e),
        }
    };
    let status = cat.wait();
    read.map_err(|e| format!("reading bunctl-log cat's output: {e}"))?;
    match status {
        Ok(s) if s.success() => Ok((offset, line)),
        Ok(s) => Err(format!("bunctl-log cat failed: {s}")),
        Err(e) => Err(format!("cannot wait for bunctl-log cat: {e}")),
    }
}
