//! What `bunctl-log pipe` left in the crash directory: the live file, each archive's form (plain,
//! `.gz`, `.gz.tmp`), an interrupted rotation's `.next`, a live file ending mid-line; and
//! `gzip -t` on the archives.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::APP;

/// Which form of an archive a file name is, if it is one of `crash.log`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    Plain,
    Gzip,
    GzipTemp,
}

/// `crash.<YYYYMMDDTHHMMSSZ>-<seq, 6+ digits>.log[.gz[.tmp]]`.
pub(super) fn archive_form(name: &str) -> Option<Form> {
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
}
