//! Verification: the files of a run are listed, read back (plain and gzip) and every line is
//! checked: valid (the system's [`Shape`] around a well-formed line), torn (anything else, or
//! no final `\n`), duplicate, or a drop marker with its count; lost lines are the expected
//! ones never seen.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::line::parse_line;
use crate::shape::Shape;
use crate::Res;

#[derive(Default)]
pub(crate) struct Readback {
    pub(crate) valid: u64,
    pub(crate) distinct: u64,
    pub(crate) torn: u64,
    pub(crate) duplicates: u64,
    pub(crate) markers: u64,
    pub(crate) marker_dropped: u64,
    pub(crate) bytes: u64,
}

/// The lines a set of files should hold: those of producers `first_producer..first_producer +
/// producers`, each with sequence numbers `0..per_producer`. A well-formed line of any other
/// producer or sequence number is counted as torn (it has no business in these files).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected {
    pub(crate) first_producer: usize,
    pub(crate) producers: usize,
    pub(crate) per_producer: u64,
}

impl Expected {
    /// Producers `0..producers`.
    pub(crate) fn producers(producers: usize, per_producer: u64) -> Self {
        Self {
            first_producer: 0,
            producers,
            per_producer,
        }
    }
}

pub(crate) fn read_back(files: &[PathBuf], shape: Shape, expect: Expected) -> Res<Readback> {
    let Expected {
        first_producer,
        producers,
        per_producer,
    } = expect;
    let expected = producers as u64 * per_producer;
    let mut seen = vec![0u64; usize::try_from(expected.div_ceil(64))?];
    let mut r = Readback::default();
    let mut buf = Vec::with_capacity(256);
    for path in files {
        let file = File::open(path)?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            r.bytes += n as u64;
            let Some(line) = buf.strip_suffix(b"\n") else {
                r.torn += 1; // no newline before the end of the file
                continue;
            };
            match shape.payload(line).as_deref().and_then(parse_line) {
                Some((p, s))
                    if (first_producer..first_producer + producers).contains(&p)
                        && s < per_producer =>
                {
                    r.valid += 1;
                    let i = usize::try_from((p - first_producer) as u64 * per_producer + s)?;
                    let (word, bit) = (i / 64, 1u64 << (i % 64));
                    if seen[word] & bit == 0 {
                        seen[word] |= bit;
                        r.distinct += 1;
                    } else {
                        r.duplicates += 1;
                    }
                }
                _ => {
                    if let Some(count) = bunctl_log_buffer::Marker::dropped_lines(line) {
                        r.markers += 1;
                        r.marker_dropped += count;
                    } else {
                        r.torn += 1;
                    }
                }
            }
        }
    }
    Ok(r)
}

pub(crate) fn files_in(dir: &Path) -> Res<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}
