//! What `bunctl-log pipe` left in the crash directory: the live file, each archive's form (plain,
//! `.gz`, `.gz.tmp`), an interrupted rotation's `.next`, a live file ending mid-line; and
//! `gzip -t` on the archives.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bunctl_log_rotation::{ArchiveForm, ArchiveNaming, GZ_SUFFIX};

use super::APP;

/// What is in the directory (hidden files, such as the lock file, are ignored).
#[derive(Default)]
pub(super) struct DirState {
    pub(super) live: Option<PathBuf>,
    pub(super) gz: Vec<PathBuf>,
    pub(super) tmp: Vec<PathBuf>,
    pub(super) plain: Vec<PathBuf>,
    /// Plain archives whose `.gz` exists: compressed, the plain file not yet removed.
    pub(super) plain_leftover: usize,
    /// `.crash.log.next` exists: a rotation finishing in the background was interrupted.
    pub(super) next: bool,
    pub(super) other: Vec<PathBuf>,
}

pub(super) fn inspect(dir: &Path) -> io::Result<DirState> {
    let naming = ArchiveNaming::new(&dir.join(format!("{APP}.log")))?;
    let mut state = DirState::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.') {
            state.next |= path == naming.next_path();
            continue;
        }
        if path == naming.live_path() {
            state.live = Some(path);
            continue;
        }
        match naming.parse(&name).map(|a| a.form) {
            Some(ArchiveForm::Gzip) => state.gz.push(path),
            Some(ArchiveForm::GzipTemp) => state.tmp.push(path),
            Some(ArchiveForm::Plain) => state.plain.push(path),
            None => state.other.push(path),
        }
    }
    let gz: HashSet<&Path> = state.gz.iter().map(PathBuf::as_path).collect();
    state.plain_leftover = state
        .plain
        .iter()
        .filter(|p| {
            let mut s = p.as_os_str().to_owned();
            s.push(GZ_SUFFIX);
            gz.contains(Path::new(&s))
        })
        .count();
    state.gz.sort();
    state.tmp.sort();
    state.plain.sort();
    Ok(state)
}

/// Whether `path` is non-empty and its last byte is not `\n`.
pub(super) fn ends_mid_line(path: &Path) -> io::Result<bool> {
    let mut f = File::open(path)?;
    if f.metadata()?.len() == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    f.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_is_sorted_by_what_its_name_says() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/c");
        fs::create_dir_all(&dir).unwrap();
        let ts = "crash.20261125T163918Z-000042";
        for name in [
            "crash.log".to_string(),
            format!("{ts}.log"),
            format!("{ts}.log.gz"),
            "crash.20261125T163918Z-000043.log.gz.tmp".to_string(),
            ".crash.log.next".to_string(),
            ".crash.log.lock".to_string(),
            "crash.20261125T163918Z-42.log".to_string(),
            "x.log".to_string(),
        ] {
            fs::write(dir.join(name), b"").unwrap();
        }
        let state = inspect(&dir).unwrap();
        assert_eq!(state.live, Some(dir.join("crash.log")));
        assert_eq!(state.plain, [dir.join(format!("{ts}.log"))]);
        assert_eq!(state.gz, [dir.join(format!("{ts}.log.gz"))]);
        assert_eq!(state.tmp.len(), 1);
        assert_eq!(state.plain_leftover, 1);
        assert!(state.next);
        let mut other = state.other.clone();
        other.sort();
        assert_eq!(
            other,
            [dir.join("crash.20261125T163918Z-42.log"), dir.join("x.log")]
        );
    }
}
