//! The last N lines, read from the end: never a whole file in memory.
//!
//! The live file and plain archives are read **backwards** in blocks of [`BLOCK`] bytes from
//! their end until N line ends are found, so the last 100 lines of a 1 GiB file cost one or two
//! reads. A gzipped archive cannot be read backwards: it is decompressed as a stream and only
//! the last blocks that hold N lines are kept (a ring), so memory stays at N lines plus a block
//! whatever its size. Files are read newest first and only as far back as N lines reach.
//!
//! A line is what ends with `\n`, plus a last piece without one (a line a crash cut short); the
//! lines are returned without their `\n`.

use std::collections::VecDeque;
use std::io::{self, Read, SeekFrom};
use std::path::Path;

use bunctl_log_fs::{Filesystem, ReadFile};

use crate::error::{Context, Result};
use crate::files::{open_archive, snapshot, ArchiveFile, Snapshot};

/// Bytes read at a time.
pub const BLOCK: usize = 64 << 10;

/// The last `n` lines of the logs whose live file is `live`, oldest first, across the live
/// file and its archives (plain or gzipped), as one [`snapshot`] of them holds them.
///
/// # Errors
/// If a file cannot be listed or read. An app without files has no lines: `Ok(vec![])`.
pub fn last_lines(fs: &dyn Filesystem, live: &Path, n: usize) -> Result<Vec<Vec<u8>>> {
    let mut snap = snapshot(fs, live)?;
    last_lines_of(fs, &mut snap, n)
}

/// The last `n` lines of `snap`: of its live file up to the length the snapshot measured, then
/// of its archives, newest first, as far back as needed. An archive removed by retention since
/// the snapshot is passed over.
///
/// # Errors
/// If a file cannot be read.
pub fn last_lines_of(fs: &dyn Filesystem, snap: &mut Snapshot, n: usize) -> Result<Vec<Vec<u8>>> {
    // Newest first; each file's lines oldest first.
    let mut parts: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut found = 0;
    if let Some(live) = snap.live.as_mut() {
        let (path, len) = (live.path().to_path_buf(), live.len());
        let lines = last_lines_of_file(live.file_mut(), len, n).context("read log file", &path)?;
        found += lines.len();
        parts.push(lines);
    }
    for archive in snap.archives.iter().rev() {
        if found >= n {
            break;
        }
        let want = n - found;
        let lines = match open_archive(fs, archive)? {
            None => continue,
            Some(ArchiveFile::Plain(mut f)) => f
                .meta()
                .and_then(|m| last_lines_of_file(f.as_mut(), m.len, want)),
            Some(gz @ ArchiveFile::Gzip(_)) => last_lines_of_stream(gz.into_reader(), want),
        }
        .context("read log file", &archive.path)?;
        found += lines.len();
        parts.push(lines);
    }
    Ok(parts.into_iter().rev().flatten().collect())
}

/// The last `n` lines of the first `end` bytes of `file`, read backwards from `end`.
///
/// # Errors
/// The file's read or seek error.
pub fn last_lines_of_file(file: &mut dyn ReadFile, end: u64, n: usize) -> io::Result<Vec<Vec<u8>>> {
    if n == 0 || end == 0 {
        return Ok(Vec::new());
    }
    // Blocks read, newest first.
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut newlines = 0;
    let mut pos = end;
    let mut ends_with_newline = None;
    while pos > 0 {
        let start = pos.saturating_sub(BLOCK as u64);
        let mut block = vec![0; usize::try_from(pos - start).unwrap_or(BLOCK)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block)?;
        let ends = *ends_with_newline.get_or_insert(block.last() == Some(&b'\n'));
        newlines += memchr::memchr_iter(b'\n', &block).count();
        blocks.push(block);
        pos = start;
        // The line end before the first of the last n lines: the (n+1)-th newline from the
        // end if the file ends with one, the n-th if its last line has none.
        if newlines > n - usize::from(!ends) {
            break;
        }
    }
    let mut data = Vec::with_capacity(blocks.iter().map(Vec::len).sum());
    for block in blocks.iter().rev() {
        data.extend_from_slice(block);
    }
    Ok(last_lines_in(&data, pos == 0, n))
}

/// The last `n` lines of what `read` yields, keeping no more than the blocks that hold them.
///
/// # Errors
/// The reader's error.
pub fn last_lines_of_stream(mut read: impl Read, n: usize) -> io::Result<Vec<Vec<u8>>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // Blocks and their newline counts, oldest first.
    let mut ring: VecDeque<(Vec<u8>, usize)> = VecDeque::new();
    let mut newlines = 0;
    let mut dropped = false;
    let mut spare: Option<Vec<u8>> = None;
    loop {
        let mut block = spare.take().unwrap_or_default();
        block.resize(BLOCK, 0);
        let got = read_full(&mut read, &mut block)?;
        if got == 0 {
            break;
        }
        block.truncate(got);
        let count = memchr::memchr_iter(b'\n', &block).count();
        newlines += count;
        ring.push_back((block, count));
        // The blocks after the oldest still hold n + 1 line ends: the oldest is not needed.
        while let Some(&(_, oldest)) = ring.front() {
            if ring.len() > 1 && newlines - oldest > n {
                newlines -= oldest;
                spare = ring.pop_front().map(|(b, _)| b);
                dropped = true;
            } else {
                break;
            }
        }
    }
    let mut data = Vec::with_capacity(ring.iter().map(|(b, _)| b.len()).sum());
    for (block, _) in &ring {
        data.extend_from_slice(block);
    }
    Ok(last_lines_in(&data, !dropped, n))
}

/// Reads until `buf` is full or the end; returns how many bytes.
fn read_full(read: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match read.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The last `n` lines of `data`, the end of a file; `at_start`: `data` is the whole file (else
/// its first piece, up to the first `\n`, may be part of a line and is left out).
fn last_lines_in(data: &[u8], at_start: bool, n: usize) -> Vec<Vec<u8>> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    if data.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<&[u8]> = body.rsplit(|&b| b == b'\n').take(n + 1).collect();
    if lines.len() > n {
        lines.truncate(n);
    } else if !at_start {
        // Fewer line ends than asked in a piece that does not start the file: the first
        // piece is part of a line whose start was not read (never happens: the callers read
        // until they have enough, or to the start).
        lines.pop();
    }
    lines.iter().rev().map(|l| l.to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<Vec<u8>> {
        text.iter().map(|l| l.as_bytes().to_vec()).collect()
    }

    #[test]
    fn last_lines_of_a_buffer() {
        assert_eq!(last_lines_in(b"a\nb\nc\n", true, 2), lines(&["b", "c"]));
        assert_eq!(last_lines_in(b"a\nb\nc", true, 2), lines(&["b", "c"]));
        assert_eq!(
            last_lines_in(b"a\nb\nc\n", true, 9),
            lines(&["a", "b", "c"])
        );
        assert_eq!(last_lines_in(b"\n\n", true, 9), lines(&["", ""]));
        assert_eq!(last_lines_in(b"", true, 9), lines(&[]));
        assert_eq!(last_lines_in(b"xa\nb\nc\n", false, 2), lines(&["b", "c"]));
        assert_eq!(last_lines_in(b"xa\nb\nc\n", false, 3), lines(&["b", "c"]));
    }

    /// Every n against every file made of short and long lines, with and without a last
    /// newline, read backwards and as a stream, with blocks much smaller than lines too.
    #[test]
    fn backwards_and_streamed_agree_with_splitting_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep").join("f.log");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let long = "x".repeat(BLOCK * 2 + 17);
        for text in [
            String::new(),
            "\n".into(),
            "one".into(),
            "one\n".into(),
            format!("a\n{long}\nb\n"),
            format!("{long}\n{long}"),
            (0..20_000).map(|i| format!("line {i}\n")).collect(),
            format!(
                "{}tail",
                (0..5_000).map(|i| format!("{i}\n")).collect::<String>()
            ),
        ] {
            std::fs::write(&path, &text).unwrap();
            let all: Vec<Vec<u8>> = text
                .strip_suffix('\n')
                .unwrap_or(&text)
                .split('\n')
                .filter(|_| !text.is_empty())
                .map(|l| l.as_bytes().to_vec())
                .collect();
            for n in [0, 1, 2, 3, 10, 4_999, 5_000, 5_001, 19_999, 20_000, 30_000] {
                let want = all[all.len().saturating_sub(n)..].to_vec();
                let mut f = std::fs::File::open(&path).unwrap();
                let back = last_lines_of_file(&mut f, text.len() as u64, n).unwrap();
                assert_eq!(back, want, "backwards, n={n}, {} bytes", text.len());
                let streamed = last_lines_of_stream(text.as_bytes(), n).unwrap();
                assert_eq!(streamed, want, "streamed, n={n}, {} bytes", text.len());
            }
        }
    }

    /// A 1 KiB-per-line stream keeps only the blocks that hold the last lines.
    #[test]
    fn the_stream_keeps_a_ring_not_the_whole_input() {
        struct Counting {
            left: usize,
            line: Vec<u8>,
        }
        impl Read for Counting {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.left == 0 {
                    return Ok(0);
                }
                let k = buf.len().min(self.line.len());
                buf[..k].copy_from_slice(&self.line[..k]);
                self.left -= 1;
                Ok(k)
            }
        }
        let mut line = vec![b'y'; 1023];
        line.push(b'\n');
        // 64 MiB in all.
        let got = last_lines_of_stream(
            Counting {
                left: 64 << 10,
                line,
            },
            3,
        )
        .unwrap();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|l| l.len() == 1023));
    }
}
