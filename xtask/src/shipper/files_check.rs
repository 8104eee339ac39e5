//! The files' side: every line `bunctl-log cat` reads back from the files once, in order (the
//! writer's contract), each file's range of seqs, and where a range of seqs was in the files.

use std::path::Path;

use super::config::Paths;
use super::writer::parse_line;
use super::APP;
use crate::harness::files::{cat_lines, log_files};
use crate::harness::report::{excerpt, thousands, Errors};

/// Files named per missing or duplicated range.
pub(super) const MAX_FILES_PER_RANGE: usize = 4;

/// One log file as `bunctl-log files` lists it, and the lines it holds.
pub(super) struct FileRange {
    pub(super) name: String,
    pub(super) first: u64,
    pub(super) last: u64,
}

/// What the files hold (the contract's side).
#[derive(Default)]
pub(super) struct FilesCheck {
    pub(super) archives: usize,
    /// The files' seq ranges, oldest first; empty if the files are not in order.
    pub(super) ranges: Vec<FileRange>,
    pub(super) errors: Errors,
}

/// Reads every file back through `bunctl-log cat`: each line must be line 0, 1, 2... once.
pub(super) fn check_files(bin: &Path, paths: &Paths, lines: u64) -> FilesCheck {
    let mut check = FilesCheck::default();
    if let Err(e) = read_files(bin, paths, lines, &mut check) {
        check.errors.push(e);
    }
    check
}

pub(super) fn read_files(
    bin: &Path,
    paths: &Paths,
    lines: u64,
    check: &mut FilesCheck,
) -> Result<(), String> {
    let (files, ends) = log_files(bin, APP, &paths.logs)?;
    check.archives = files.len().saturating_sub(1);
    let name = |i: usize| {
        files
            .get(i)
            .and_then(|f| f.file_name())
            .map_or_else(|| "?".into(), |n| n.to_string_lossy().into_owned())
    };
    let mut ranges: Vec<FileRange> = Vec::new();
    let mut next = 0u64;
    let last_file = ends.len().saturating_sub(1);
    cat_lines(bin, APP, &paths.logs, &ends, |l| {
        // Lines past the files' total are taken for the last file's.
        let file = l.file.min(last_file);
        match parse_line(l.text, lines) {
            Some(seq) if seq == next => {
                next += 1;
                let in_last = ranges.len() == file + 1;
                match ranges.last_mut() {
                    Some(r) if in_last => r.last = seq,
                    _ => ranges.push(FileRange {
                        name: name(file),
                        first: seq,
                        last: seq,
                    }),
                }
            }
            Some(seq) => check.errors.push(format!(
                "{}: line {seq} where line {next} was expected",
                name(file)
            )),
            None => check.errors.push(format!(
                "{}: not a line the writer was given: {}",
                name(file),
                excerpt(l.text)
            )),
        }
    })?;
    if next != lines {
        check.errors.push(format!(
            "the files hold lines 0..{next} in order, not all {lines}"
        ));
    }
    if check.errors.count == 0 {
        check.ranges = ranges;
    }
    Ok(())
}

/// Where seqs `first..=last` were in the files: whole files, or which lines of which file.
pub(super) fn locate(first: u64, last: u64, files: &[FileRange]) -> String {
    let hit: Vec<&FileRange> = files
        .iter()
        .filter(|f| f.first <= last && first <= f.last)
        .collect();
    if hit.is_empty() {
        return "in no file".into();
    }
    let mut parts: Vec<String> = hit
        .iter()
        .take(MAX_FILES_PER_RANGE)
        .map(|f| {
            let n = f.last - f.first + 1;
            if first <= f.first && f.last <= last {
                format!("all of {} ({} lines)", f.name, thousands(n))
            } else {
                let from = first.max(f.first) - f.first + 1;
                let to = last.min(f.last) - f.first + 1;
                format!("lines {from}..{to} of {}'s {}", f.name, thousands(n))
            }
        })
        .collect();
    if hit.len() > MAX_FILES_PER_RANGE {
        parts.push(format!(
            "and {} more files",
            hit.len() - MAX_FILES_PER_RANGE
        ));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_located_in_files() {
        let files = [
            FileRange {
                name: "a".into(),
                first: 0,
                last: 9,
            },
            FileRange {
                name: "b".into(),
                first: 10,
                last: 19,
            },
            FileRange {
                name: "c".into(),
                first: 20,
                last: 29,
            },
        ];
        assert_eq!(locate(10, 19, &files), "all of b (10 lines)");
        assert_eq!(
            locate(5, 19, &files),
            "lines 6..10 of a's 10, all of b (10 lines)"
        );
        assert_eq!(locate(22, 23, &files), "lines 3..4 of c's 10");
        assert_eq!(locate(40, 41, &files), "in no file");
    }
}
