//! Reading an app's logs back through the manager: the last lines of an app, split by stream,
//! for one app or every app in the directory (what bunctl's daemon answers `bunctl logs` with).
//!
//! The last `n` lines are read from the end: a plain file backwards in 64 KiB blocks, a `.gz`
//! archive streamed through a ring of `n` lines, newest file first, stopping as soon as `n`
//! lines are found, so a 1 GiB live file costs a few blocks, not a gigabyte. Every file is
//! opened through the manager's filesystem seam (never through a symlink).

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bunctl_core::AppId;
use bunctl_log_fs::{parent_dir, Filesystem};
use bunctl_log_rotation::{app_of_file, GZ_SUFFIX};

use crate::capture::Stream;
use crate::{Error, LogManager, Result};

/// An app's lines split by the stream they came from, as bunctl's daemon serves them
/// (JSON `{"errors":[…],"output":[…]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StructuredLogs {
    /// stderr lines, oldest first.
    pub errors: Vec<String>,
    /// stdout lines, oldest first.
    pub output: Vec<String>,
}

/// The size of a block read backwards from the end of a plain file.
const BLOCK: u64 = 64 << 10;

/// Whether `line` came from stderr: a JSON line with `"stream":"stderr"`, or a text line with
/// the `[stderr]` tag among its first three fields (merged capture puts it first or after the
/// time; bunctl's daemon writes `[app] [time] [stderr] text`).
fn is_stderr(line: &str) -> bool {
    let tag = String::from_utf8_lossy(Stream::Stderr.tag());
    let tag = tag.trim_end();
    if line.starts_with('{') {
        return line.contains("\"stream\":\"stderr\"");
    }
    line.split(' ').take(3).any(|field| field == tag)
}

/// The last `n` lines of `files` (oldest first), reading from the newest file backwards.
fn last_lines(fs: &dyn Filesystem, files: &[PathBuf], n: usize) -> io::Result<Vec<String>> {
    let mut found: VecDeque<String> = VecDeque::new();
    for file in files.iter().rev() {
        if found.len() >= n {
            break;
        }
        let want = n - found.len();
        let lines = match last_of_file(fs, file, want) {
            Ok(lines) => lines,
            // Rotated, compressed or expired since it was listed: its .gz, or nothing.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let gz = PathBuf::from(format!("{}{GZ_SUFFIX}", file.display()));
                match last_of_file(fs, &gz, want) {
                    Ok(lines) => lines,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        for line in lines.into_iter().rev() {
            found.push_front(line);
        }
    }
    Ok(found.into())
}

/// The last `n` lines of one file, oldest first, without their newlines.
fn last_of_file(fs: &dyn Filesystem, file: &Path, n: usize) -> io::Result<Vec<String>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let name = file.file_name().and_then(|s| s.to_str()).unwrap_or("");
    if name.ends_with(GZ_SUFFIX) {
        let gz = flate2::read::MultiGzDecoder::new(fs.open_read(file)?);
        let mut ring: VecDeque<String> = VecDeque::with_capacity(n.min(1 << 16));
        for line in io::BufReader::new(gz).split(b'\n') {
            if ring.len() == n {
                ring.pop_front();
            }
            ring.push_back(String::from_utf8_lossy(&line?).into_owned());
        }
        return Ok(ring.into());
    }
    let mut f = fs.open_read_file(file)?;
    let len = f.meta()?.len;
    let mut end = len;
    let mut tail: Vec<u8> = Vec::new();
    // Enough blocks from the end to hold n whole lines (n + 1 newlines, or the file's start).
    while end > 0 && tail.iter().filter(|&&b| b == b'\n').count() <= n {
        let start = end.saturating_sub(BLOCK);
        let mut block = vec![0; usize::try_from(end - start).unwrap_or(0)];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
        end = start;
    }
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    if end > 0 {
        lines.remove(0); // begins mid-line: the block boundary cut it
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines[skip..]
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect())
}

impl LogManager {
    /// The files of the live file `live`, oldest first (none if the directory is missing).
    fn files_of(&self, live: &Path) -> Result<Vec<PathBuf>> {
        match bunctl_log_sink::list_log_files(&*self.fs, live) {
            Ok(files) => Ok(files),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(Error::Io {
                action: "list log files in",
                path: parent_dir(live),
                source,
            }),
        }
    }

    fn read_last(&self, live: &Path, lines: usize) -> Result<Vec<String>> {
        let files = self.files_of(live)?;
        last_lines(&*self.fs, &files, lines).map_err(|source| Error::Io {
            action: "read log files of",
            path: live.to_path_buf(),
            source,
        })
    }

    /// The last `lines` lines of `app` (its `<app>.log` and the archives of it, gzipped or
    /// not), oldest first, without their newlines. An app with no file yet has none. Reads
    /// from the end: it never loads a whole file.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file or directory that could not be read.
    pub async fn read_logs(&self, app: &AppId, lines: usize) -> Result<Vec<String>> {
        self.read_last(&self.log_path(app), lines)
    }

    /// The last `lines` lines of each of `app`'s streams: stdout lines in `output`, stderr
    /// lines in `errors`, each oldest first and at most `lines` long. stderr is found however
    /// it was written: in `<app>.err.log` (streams kept apart), tagged `[stderr]` or with
    /// `"stream":"stderr"` in a merged file, or as bunctl's daemon writes it,
    /// `[app] [time] [stderr] text`.
    ///
    /// # Errors
    /// As [`LogManager::read_logs`].
    pub async fn read_structured_logs(&self, app: &AppId, lines: usize) -> Result<StructuredLogs> {
        let mut logs = StructuredLogs::default();
        for line in self.read_last(&self.log_path(app), lines)? {
            if is_stderr(&line) {
                logs.errors.push(line);
            } else {
                logs.output.push(line);
            }
        }
        let separate = self.read_last(&self.err_log_path(app), lines)?;
        if !separate.is_empty() {
            logs.errors.extend(separate);
        }
        let keep = |v: &mut Vec<String>| {
            let skip = v.len().saturating_sub(lines);
            v.drain(..skip);
        };
        keep(&mut logs.errors);
        keep(&mut logs.output);
        Ok(logs)
    }

    /// [`LogManager::read_structured_logs`] of every app with a file in `base_dir` (live,
    /// stderr or archive), sorted by app name; one entry per app.
    ///
    /// # Errors
    /// [`Error::Io`] if the directory cannot be listed (a missing one has no apps), or as
    /// [`LogManager::read_logs`].
    pub async fn read_all_apps_logs(&self, lines: usize) -> Result<Vec<(String, StructuredLogs)>> {
        let dir = &self.config.base_dir;
        let names = match self.fs.read_dir(dir) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(Error::Io {
                    action: "list log directory",
                    path: dir.clone(),
                    source,
                })
            }
        };
        let apps: BTreeSet<String> = names
            .iter()
            .filter_map(|n| app_of_file(n))
            .map(|f| f.app)
            .collect();
        let mut all = Vec::with_capacity(apps.len());
        for name in apps {
            let Ok(app) = AppId::new(name.clone()) else {
                continue;
            };
            let logs = self.read_structured_logs(&app, lines).await?;
            all.push((name, logs));
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_fs::StdFs;

    #[test]
    fn stderr_is_told_by_tag_or_json_field() {
        assert!(is_stderr("[web] [2026-12-03T10:00:00Z] [stderr] boom"));
        assert!(is_stderr("[stderr] boom"));
        assert!(is_stderr("2026-12-03T10:00:00.000000Z [stderr] boom"));
        assert!(is_stderr(
            r#"{"log":"boom\n","stream":"stderr","time":"t"}"#
        ));
        assert!(!is_stderr("[web] [t] [stdout] fine"));
        assert!(!is_stderr("a line that mentions [stderr] later on"));
        assert!(!is_stderr(r#"{"log":"x","stream":"stdout"}"#));
    }

    #[test]
    fn last_lines_cross_block_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a/b/x.log");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        let text: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&f, &text).unwrap();
        for n in [0, 1, 7, 10_000, 50_000, 60_000] {
            let got = last_of_file(&StdFs, &f, n).unwrap();
            let want: Vec<String> = (50_000usize.saturating_sub(n)..50_000)
                .map(|i| format!("line {i}"))
                .collect();
            assert_eq!(got, want, "n = {n}");
        }
    }
}
