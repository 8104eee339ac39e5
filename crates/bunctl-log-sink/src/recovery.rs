//! Crash recovery: what a writer does to its files when it opens them, before writing.
//!
//! [`recover`] is the one entry point; [`RotatingSink::open`](crate::RotatingSink::open)
//! calls it once, holding the lock (so no other writer's rotation or compression is under
//! way). Each step leaves the directory in a state the next open can recover from again, so a
//! crash during recovery is recovered by the next open.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bunctl_log_buffer::{marker_line, LineFormat, Marker};
use bunctl_log_fs::{parent_dir, Filesystem};
use bunctl_log_rotation::{ArchiveNaming, Scan, SharedListing};
use chrono::{DateTime, Utc};

use crate::open_record::{take_over, TakenOver};
use crate::{FileSink, Sink};

/// What recovery leaves for the open to go on with.
pub(crate) struct Recovered {
    /// The live file, open for appending, ending at a line boundary.
    pub(crate) live: FileSink,
    /// The directory's listing after recovery, for retention and the next sequence number.
    pub(crate) scan: Scan,
    /// Plain archives still to compress, oldest first.
    pub(crate) uncompressed: Vec<PathBuf>,
    /// The open-file record: what the last writer left, and this writer's.
    pub(crate) record: TakenOver,
}

/// Recovers `naming`'s files after a crash, in this order:
///
/// 1. **An interrupted rotation** (`.next` exists): the live file (the rotated one) is fsynced
///    and renamed to the next archive name, then `.next` takes the live name, so the lines stay
///    in order. A symlink at `.next` is removed, never followed.
/// 2. **A cut last line**: the live file is opened ([`FileSink::open_after_crash`]); if its
///    last byte is not `\n`, or it ends in a piece of a split line, the line is ended and a
///    cut-short marker (in `format`) follows it.
/// 3. **A system gone down with the file open** (the last writer's open-file record is of
///    another boot, see [`crate::open_record`]): a `SystemWentDown` marker goes after what is
///    left, where lines lost between two lines would have been, and this writer's record
///    replaces it.
/// 4. **Unfinished compressions**: `.gz.tmp` files of this app are removed (the rename to `.gz`
///    is the commit point, and no compression runs while the lock is held).
/// 5. **Compressed archives still plain too**: the directory is fsynced first (so the `.gz`'s
///    name is durable), then the plain copy is removed.
/// 6. **Plain archives** are returned in [`Recovered::uncompressed`] for the compressor.
///
/// The directory is listed once (for steps 4-6, and returned for retention); with a
/// `listing` shared by the writers opened in the same directory, not even once: its scan comes
/// from that listing (a directory of ten thousand apps read for each writer opened made
/// opening them all quadratic).
///
/// # Errors
/// The I/O error of the step that failed; what is done stays done, and the next open goes on.
pub(crate) fn recover(
    fs: &Arc<dyn Filesystem>,
    naming: &ArchiveNaming,
    file_mode: u32,
    format: LineFormat,
    listing: Option<&SharedListing>,
) -> io::Result<Recovered> {
    // Its archive is found by the listing below, with the other plain archives.
    let archived = finish_interrupted_rotation(fs, naming, file_mode, format)?;
    let scan = match listing {
        Some(listing) => {
            // When the live file last changed before this open touches it: a change after the
            // shared listing was taken (or an archive just made) makes it list afresh.
            let live_changed = match archived {
                Some(_) => Some(std::time::SystemTime::now()),
                None => match fs.metadata(naming.live_path()) {
                    Ok(m) => Some(m.modified.unwrap_or_else(std::time::SystemTime::now)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                    Err(e) => return Err(e),
                },
            };
            Some((listing, live_changed))
        }
        None => None,
    };
    let mut live = FileSink::open_after_crash(fs.clone(), naming.live_path(), file_mode, format)?;
    let record = take_over(fs.as_ref(), naming, file_mode, &mut || {
        // Durable at once, as the cut-line repair is (only after a crash). A failure is
        // logged and the open goes on: the record stays for the next open to mark.
        let marker = marker_line(format, &Marker::SystemWentDown, SystemTime::now());
        live.write_all(&marker).map_err(|p| p.error)?;
        live.sync()?;
        tracing::warn!(live = %naming.live_path().display(),
            "the system went down while this log file was open; marked where lines may be missing");
        Ok(())
    });
    let scan = match scan {
        Some((listing, live_changed)) => listing.scan(naming, live_changed)?,
        None => naming.scan(fs.as_ref())?,
    };
    let uncompressed = clean_archives(fs.as_ref(), naming, &scan)?;
    Ok(Recovered {
        live,
        scan,
        uncompressed,
        record,
    })
}

/// Steps 4-6 of [`recover`] on a listing already taken: returns the plain archives to compress.
fn clean_archives(
    fs: &dyn Filesystem,
    naming: &ArchiveNaming,
    scan: &Scan,
) -> io::Result<Vec<PathBuf>> {
    for tmp in &scan.temp_files {
        if remove_if_exists(fs, tmp)? {
            tracing::info!(path = %tmp.display(), "log recovery: removed unfinished compression");
        }
    }
    let mut dir_synced = false;
    let mut uncompressed = Vec::new();
    for a in &scan.archives {
        if let Some(plain) = &a.plain_leftover {
            // The `.gz` may have got its name just before the crash: make that name durable
            // before the only other copy goes.
            if !dir_synced {
                fs.sync_dir(naming.dir())?;
                dir_synced = true;
            }
            if remove_if_exists(fs, plain)? {
                tracing::info!(path = %plain.display(), "log recovery: removed plain archive already compressed");
            }
        }
        if !a.compressed {
            uncompressed.push(a.path.clone());
        }
    }
    Ok(uncompressed)
}

fn remove_if_exists(fs: &dyn Filesystem, path: &Path) -> io::Result<bool> {
    match fs.remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Finishes a rotation that a crash interrupted, before the live file is opened: if
/// `.next` exists, the live file (the rotated one) is fsynced and renamed to the next archive
/// name, then `.next` is renamed to the live name. Returns the archive made, if any, for the
/// compressor. A symlink at `.next` is removed, never followed.
///
/// # Errors
/// The I/O error of the step that failed; what is done stays done, and the next open goes on.
fn finish_interrupted_rotation(
    fs: &Arc<dyn Filesystem>,
    naming: &ArchiveNaming,
    file_mode: u32,
    format: LineFormat,
) -> io::Result<Option<PathBuf>> {
    let next = naming.next_path();
    match fs.metadata(&next) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
        Ok(m) if m.is_symlink => {
            tracing::warn!(path = %next.display(), "removed a symbolic link posing as a log file");
            fs.remove_file(&next)?;
            return Ok(None);
        }
        Ok(_) => {}
    }
    let live = naming.live_path();
    let next_id = fs.metadata(&next)?.id;
    let mut archived = None;
    match fs.metadata(live) {
        // Both names on one file (a crash inside a rename done as link + unlink): done but
        // for the unlink.
        Ok(m) if m.id.is_some() && m.id == next_id => {
            fs.remove_file(&next)?;
            return Ok(None);
        }
        Ok(m) if !m.is_symlink && m.len > 0 => {
            let mut old = FileSink::open(fs.clone(), live, file_mode, format)?;
            old.sync()?;
            // When its content started is not known any more; when it ended is an upper
            // bound that keeps the archives in order.
            let ended = m.modified.map_or_else(Utc::now, DateTime::<Utc>::from);
            let archive = naming.archive_path(ended, naming.next_seq(fs.as_ref())?);
            fs.rename(live, &archive)?;
            archived = Some(archive);
        }
        // A link is left for the open to refuse; `.next` waits until it is gone.
        Ok(m) if m.is_symlink => return Ok(None),
        // Missing or empty: `.next` takes the name.
        _ => {}
    }
    fs.rename(&next, live)?;
    fs.sync_dir(&parent_dir(live))?;
    tracing::warn!(live = %live.display(), "finished a rotation that was interrupted");
    Ok(archived)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_buffer::CUT_LINE_MARKER;
    use bunctl_log_fs::{FaultFs, Op, StdFs};
    use bunctl_log_rotation::GZ_SUFFIX;
    use chrono::TimeZone;

    fn setup() -> (tempfile::TempDir, ArchiveNaming) {
        let dir = tempfile::tempdir().unwrap();
        let n = ArchiveNaming::new(&dir.path().join("a/b/app.log")).unwrap();
        std::fs::create_dir_all(n.dir()).unwrap();
        (dir, n)
    }

    fn make(n: &ArchiveNaming, seq: u64, suffix: &str, len: usize) -> PathBuf {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let mut p = n.archive_path(t, seq).into_os_string();
        p.push(suffix);
        let p = PathBuf::from(p);
        std::fs::write(&p, vec![b'x'; len]).unwrap();
        p
    }

    #[test]
    fn recovery_cleans_up_and_returns_what_is_left_to_compress() {
        let (_dir, n) = setup();
        std::fs::write(n.live_path(), b"live").unwrap();
        let other_tmp = n.dir().join("app2.20261125T000000Z-000001.log.gz.tmp");
        std::fs::write(&other_tmp, b"x").unwrap();
        let gz1 = make(&n, 1, GZ_SUFFIX, 5);
        let plain1 = make(&n, 1, "", 50); // compressed, but the plain was not removed yet
        let plain2 = make(&n, 2, "", 50);
        let tmp2 = make(&n, 2, ".gz.tmp", 3); // interrupted compression
        let plain3 = make(&n, 3, "", 50);
        let fs = StdFs::shared();
        let got = recover(&fs, &n, 0o640, LineFormat::Raw, None).unwrap();
        assert_eq!(got.uncompressed, vec![plain2.clone(), plain3.clone()]);
        assert!(gz1.exists() && !plain1.exists() && !tmp2.exists());
        assert!(plain2.exists() && plain3.exists());
        assert!(other_tmp.exists(), "another app's temp file is not ours");
        // The cut last line ("live" without its newline) was ended, with the marker.
        drop(got);
        let live = std::fs::read(n.live_path()).unwrap();
        assert_eq!(live, [&b"live\n"[..], CUT_LINE_MARKER].concat());
        // Nothing left to do the second time.
        let again = recover(&fs, &n, 0o640, LineFormat::Raw, None).unwrap();
        assert_eq!(again.uncompressed, vec![plain2, plain3]);
    }

    #[test]
    fn a_foreign_file_at_the_live_name_beside_next_is_kept_as_an_archive_before_our_lines() {
        // 17 suspect 5: a background rotation found someone else's file at the live name and
        // the power went before the writer moved `.next` aside. By names alone recovery cannot
        // tell that file from the rotated one, so it takes it as the rotated one: archived
        // (synced first), `.next` the live file. Nothing is lost or read twice: the foreign
        // lines become an archive of the app, as the writer would have adopted that file as
        // its live file had it gone on.
        let (_dir, n) = setup();
        let older = make(&n, 1, "", 0);
        std::fs::write(&older, b"archived\n").unwrap();
        std::fs::write(n.live_path(), b"foreign\n").unwrap();
        std::fs::write(n.next_path(), b"ours\n").unwrap();
        let fs = StdFs::shared();
        let got = recover(&fs, &n, 0o640, LineFormat::Raw, None).unwrap();
        assert!(!n.next_path().exists());
        drop(got);
        let scan = n.scan(fs.as_ref()).unwrap();
        let archives: Vec<Vec<u8>> = scan
            .archives
            .iter()
            .map(|a| std::fs::read(&a.path).unwrap())
            .collect();
        assert_eq!(archives, [b"archived\n".to_vec(), b"foreign\n".to_vec()]);
        assert_eq!(std::fs::read(n.live_path()).unwrap(), b"ours\n");
        // A second recovery changes nothing.
        drop(recover(&fs, &n, 0o640, LineFormat::Raw, None).unwrap());
        assert_eq!(std::fs::read(n.live_path()).unwrap(), b"ours\n");
        assert_eq!(n.scan(fs.as_ref()).unwrap().archives.len(), 2);
    }

    #[test]
    fn a_plain_copy_stays_until_the_directory_holding_its_gz_is_synced() {
        let (_dir, n) = setup();
        let gz = make(&n, 1, GZ_SUFFIX, 5);
        let plain = make(&n, 1, "", 50);
        let (fs, faults) = FaultFs::shared();
        faults.fail(Op::SyncDir, io::ErrorKind::Other, 1);
        let e = recover(&fs, &n, 0o640, LineFormat::Raw, None)
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::Other);
        assert!(
            plain.exists() && gz.exists(),
            "the only durable copy was removed"
        );
        recover(&fs, &n, 0o640, LineFormat::Raw, None).unwrap();
        assert!(!plain.exists() && gz.exists());
    }

    #[test]
    fn a_cut_line_in_a_json_file_is_ended_with_a_json_marker() {
        let (_dir, n) = setup();
        std::fs::write(n.live_path(), b"{\"log\":\"ok\\n\"}\n{\"log\":\"cu").unwrap();
        let fs = StdFs::shared();
        drop(recover(&fs, &n, 0o640, LineFormat::Json, None).unwrap());
        let text = std::fs::read_to_string(n.live_path()).unwrap();
        let last = text.lines().last().unwrap();
        let v: serde_json::Value = serde_json::from_str(last).unwrap();
        assert_eq!(v["stream"], "bunctl-log");
        assert!(v["log"].as_str().unwrap().contains("cut short"), "{last}");
    }
}
