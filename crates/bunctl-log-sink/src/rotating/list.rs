//! Listing a live file's files, archives oldest first, for readers ([`list_log_files`]).

use std::io;
use std::path::{Path, PathBuf};

use bunctl_log_fs::Filesystem;
use bunctl_log_rotation::ArchiveNaming;

/// The files of the live file `live`: its archives oldest first (compressed or not), then the
/// live file itself if it exists. Readers use this instead of parsing names.
///
/// # Errors
/// The I/O error from reading the directory.
pub fn list_log_files(fs: &dyn Filesystem, live: &Path) -> io::Result<Vec<PathBuf>> {
    let naming = ArchiveNaming::new(live)?;
    let mut files: Vec<PathBuf> = naming
        .scan(fs)?
        .archives
        .into_iter()
        .map(|a| a.path)
        .collect();
    if fs.metadata(live).is_ok() {
        files.push(live.to_path_buf());
    }
    Ok(files)
}
