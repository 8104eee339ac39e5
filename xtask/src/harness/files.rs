//! Reading the log files back: the files `bunctl-log files` lists, and their content sizes
//! (a `.gz`'s uncompressed), to tell which file a line `bunctl-log cat` prints came from.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::binary::bunctl_log;

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
