//! Every line, oldest first: what `bunctl-log cat` prints.

use std::io::{self, Write};
use std::path::Path;

use bunctl_log_fs::Filesystem;

use crate::error::{Context, Error, Result};
use crate::files::{open_archive, snapshot};

/// Copies the logs whose live file is `live` to `out`, oldest first: the archives of one
/// [`snapshot`] (decompressed), then its live file to its end. An archive removed by retention
/// after the listing is passed over (its lines were the oldest, and are gone).
///
/// # Errors
/// If a file cannot be listed or read, or `out` cannot be written ([`Error::is_output`]).
pub fn cat(fs: &dyn Filesystem, live: &Path, out: &mut dyn Write) -> Result<()> {
    let mut snap = snapshot(fs, live)?;
    for archive in &snap.archives {
        if let Some(file) = open_archive(fs, archive)? {
            copy(&mut file.into_reader(), out, &archive.path)?;
        }
    }
    if let Some(live) = snap.live.as_mut() {
        let path = live.path().to_path_buf();
        let file = live.file_mut();
        file.seek(io::SeekFrom::Start(0))
            .context("read log file", &path)?;
        copy(file, out, &path)?;
    }
    out.flush().map_err(Error::output)
}

/// Copies `read` (the file `path`) to `out`, telling a read error from a write error.
pub(crate) fn copy(read: &mut dyn io::Read, out: &mut dyn Write, path: &Path) -> Result<u64> {
    let mut buf = vec![0u8; crate::last::BLOCK];
    let mut total = 0u64;
    loop {
        let n = match read.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::new("read log file", path, e)),
        };
        out.write_all(&buf[..n]).map_err(Error::output)?;
        total += n as u64;
    }
}
