//! Reading logs back: `cat` and `tail`, across rotated (and gzipped) files.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One log file as plain bytes: `.gz` files are decompressed. A plain archive listed a moment
/// ago may have been compressed since (the compressor removes the plain file once its `.gz`
/// is in place): its `.gz` is read then.
fn open_log(path: &Path) -> io::Result<Box<dyn Read>> {
    match open_as_listed(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && !is_gz(path) => {
            let mut gz = path.as_os_str().to_os_string();
            gz.push(".gz");
            open_as_listed(Path::new(&gz)).map_err(|_| with_path(path, e))
        }
        Err(e) => Err(with_path(path, e)),
        Ok(read) => Ok(read),
    }
}

/// [`open_log`], or `None` if the file is gone (an archive that retention removed after it
/// was listed, a live file that was just rotated).
pub fn open_existing(path: &Path) -> io::Result<Option<Box<dyn Read>>> {
    match open_log(path) {
        Ok(read) => Ok(Some(read)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

fn open_as_listed(path: &Path) -> io::Result<Box<dyn Read>> {
    let file = File::open(path)?;
    Ok(if is_gz(path) {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Copies `files`, oldest first, to `out`. The live file `live`, if listed, may be gone by the
/// time it is read (a rotation renames it, then creates the next one): it is skipped then.
pub fn cat(files: &[PathBuf], live: &Path, out: &mut impl Write) -> io::Result<()> {
    for f in files {
        match open_log(f) {
            Ok(mut read) => {
                io::copy(&mut read, out)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && f == live => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes the last `n` lines of `files` (oldest first; the live file `live` last, if it exists)
/// to `out`, as text: archives are decompressed.
pub fn tail(files: &[PathBuf], live: &Path, n: usize, out: &mut impl Write) -> io::Result<()> {
    // The listing ends with the live file only if it exists: otherwise its last entry is the
    // newest archive, which is read like the others (gunzipped).
    let (live_file, archives) = match files.split_last() {
        Some((last, archives)) if last == live => match File::open(live) {
            Ok(file) => (Some(file), archives),
            // Removed since it was listed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => (None, archives),
            Err(e) => return Err(with_path(live, e)),
        },
        _ => (None, files),
    };
    tail_open(archives, live_file, n, out)?;
    Ok(())
}

/// Writes the last `n` lines of the `archives` (oldest first) and of the open live file
/// `live_file`, if any, to `out`. Returns the live file positioned after what was printed, for
/// `tail -f`.
pub fn tail_open(
    archives: &[PathBuf],
    live_file: Option<File>,
    n: usize,
    out: &mut impl Write,
) -> io::Result<Option<File>> {
    // Newest first, until n lines are found.
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut found = 0;
    let mut live_end = None;
    if let Some(mut file) = live_file {
        // Remember where the live file ended: lines written after that are for `follow`, not
        // printed twice.
        let len = file.seek(SeekFrom::End(0))?;
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        (&mut file).take(len).read_to_end(&mut bytes)?;
        let chunk = last_lines(&bytes, n);
        found = count_lines(&chunk);
        chunks.push(chunk);
        file.seek(SeekFrom::Start(len))?;
        live_end = Some(file);
    }
    for archive in archives.iter().rev() {
        if found >= n {
            break;
        }
        let mut data = Vec::new();
        open_log(archive)?.read_to_end(&mut data)?;
        let chunk = last_lines(&data, n - found);
        found += count_lines(&chunk);
        chunks.push(chunk);
    }
    for chunk in chunks.iter().rev() {
        out.write_all(chunk)?;
    }
    out.flush()?;
    Ok(live_end)
}

/// The last `n` lines of `data` (a partial last line counts as one).
fn last_lines(data: &[u8], n: usize) -> Vec<u8> {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    lines[lines.len().saturating_sub(n)..].concat()
}

fn count_lines(data: &[u8]) -> usize {
    data.split_inclusive(|&b| b == b'\n').count()
}
