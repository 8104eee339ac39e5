//! The record that a writer has its live file open: `.<live name>.open`, holding the boot the
//! writer opened it in, removed when it closes cleanly (every line synced).
//!
//! The cut-line repair sees a power cut that fell inside a line; one that fell between two
//! lines leaves a file that ends well and says nothing of the lines it lost. The record does:
//! found by the next writer with another boot's id (or without its bytes, which only a power
//! cut leaves), it means the machine went down while the file was open, and that writer puts
//! [`Marker::SystemWentDown`](bunctl_log_buffer::Marker::SystemWentDown) where the lines may
//! be missing. Found with this boot's id, the last writer's process died but the page cache
//! kept its writes: nothing to say (a cut line still gets its marker).
//!
//! Making the record costs no fsync, and it asks for none: its name becomes durable with the
//! directory's next fsync for another reason (a new live file, a rotation, a `sync` after
//! one) or the kernel's writeback (ext4 commits within seconds). Asking would cost ten
//! thousand quiet writers a directory fsync each at their idle close (`idle10000`'s opens took
//! twice as long). A power cut before then can take the record and its news with it; every
//! failure here is logged and never costs a line.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bunctl_log_fs::{boot_id, Filesystem};
use bunctl_log_rotation::{ArchiveNaming, TMP_SUFFIX};

/// What [`take_over`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TakenOver {
    /// The last writer's record is of another boot: the machine went down with it open.
    pub(crate) went_down: bool,
    /// A record of this boot is in place now, for [`clear`] at a clean close.
    pub(crate) held: bool,
}

/// Reads the record the last writer of `naming`'s live file left, if any; if it is of another
/// boot, calls `mark` (which writes the marker); then leaves a record of this boot in its
/// place. Called at open, holding the lock.
///
/// The old record goes only once the marker is written and the new record is ready to take
/// its name (a rename over it): if either cannot be done, the old record stays, so the next
/// open says what this one could not, and the same crash is not marked twice.
pub(crate) fn take_over(
    fs: &dyn Filesystem,
    naming: &ArchiveNaming,
    mode: u32,
    mark: &mut dyn FnMut() -> io::Result<()>,
) -> TakenOver {
    let Some(boot) = boot_id() else {
        return TakenOver::default();
    };
    let path = naming.open_record_path();
    let previous = match fs.open_read(&path) {
        Ok(file) => {
            let mut text = String::new();
            // A record is one line; a longer file is not one of ours, but is treated alike.
            match file.take(256).read_to_string(&mut text) {
                Ok(_) => Some(text.trim().to_string()),
                // Not text: not a record this boot wrote.
                Err(_) => Some(String::new()),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the open-file record");
            return TakenOver::default();
        }
    };
    if previous.as_deref() == Some(boot.as_str()) {
        return TakenOver {
            held: true,
            ..TakenOver::default()
        };
    }
    let went_down = previous.is_some();
    if !went_down {
        // The usual open, after a clean close: the record is made in place, one create.
        return match write_record(fs, &path, mode, &boot) {
            Ok(()) => TakenOver {
                went_down,
                held: true,
            },
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot record the open file");
                TakenOver::default()
            }
        };
    }
    let mut tmp = path.clone().into_os_string();
    tmp.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    // One left by a crash in the middle of this.
    let _ = fs.remove_file(&tmp);
    if let Err(e) = write_record(fs, &tmp, mode, &boot) {
        tracing::warn!(path = %tmp.display(), error = %e, "cannot record the open file");
        let _ = fs.remove_file(&tmp);
        return TakenOver::default();
    }
    if let Err(e) = mark() {
        tracing::warn!(path = %path.display(), error = %e,
            "cannot mark where lines may be missing after the system went down; the next open \
             tries again");
        let _ = fs.remove_file(&tmp);
        return TakenOver::default();
    }
    if let Err(e) = fs.rename(&tmp, &path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot record the open file");
        let _ = fs.remove_file(&tmp);
        return TakenOver {
            went_down,
            ..TakenOver::default()
        };
    }
    TakenOver {
        went_down,
        held: true,
    }
}

/// A new record of `boot` at `path`.
fn write_record(fs: &dyn Filesystem, path: &Path, mode: u32, boot: &str) -> io::Result<()> {
    let mut file = fs.create_new(path, mode)?;
    file.write_all(format!("{boot}\n").as_bytes())?;
    file.flush()
}

/// Removes the record at a clean close (every line synced).
pub(crate) fn clear(fs: &dyn Filesystem, naming: &ArchiveNaming) {
    let path = naming.open_record_path();
    match fs.remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove the open-file record");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bunctl_log_fs::StdFs;

    #[test]
    fn a_record_of_another_boot_says_the_system_went_down() {
        let Some(boot) = boot_id() else { return };
        let dir = tempfile::tempdir().unwrap();
        let naming = ArchiveNaming::new(&dir.path().join("a/b/app.log")).unwrap();
        std::fs::create_dir_all(naming.dir()).unwrap();
        let record = naming.open_record_path();
        let fs = StdFs;
        let marks = std::cell::Cell::new(0);
        let mut mark = || {
            marks.set(marks.get() + 1);
            Ok(())
        };

        // No record: none before, one now.
        let first = take_over(&fs, &naming, 0o640, &mut mark);
        assert_eq!((first.went_down, first.held), (false, true));
        assert_eq!(
            std::fs::read_to_string(&record).unwrap(),
            format!("{boot}\n")
        );
        // This boot's record (a process that died): nothing to say, the record kept.
        let again = take_over(&fs, &naming, 0o640, &mut mark);
        assert_eq!((again.went_down, again.held), (false, true));
        assert_eq!(marks.get(), 0);
        // Another boot's, or a record without its bytes: the system went down.
        for left in ["00000000-0000-0000-0000-000000000000\n", ""] {
            std::fs::write(&record, left).unwrap();
            let after = take_over(&fs, &naming, 0o640, &mut mark);
            assert_eq!((after.went_down, after.held), (true, true), "{left:?}");
            assert_eq!(
                std::fs::read_to_string(&record).unwrap(),
                format!("{boot}\n")
            );
        }
        assert_eq!(marks.get(), 2);
        // The marker cannot be written (a full disk): the old record stays for the next open,
        // which marks it, once.
        let other = "11111111-1111-1111-1111-111111111111\n";
        std::fs::write(&record, other).unwrap();
        let mut full = || Err(io::Error::from(io::ErrorKind::StorageFull));
        let failed = take_over(&fs, &naming, 0o640, &mut full);
        assert_eq!((failed.went_down, failed.held), (false, false));
        assert_eq!(std::fs::read_to_string(&record).unwrap(), other);
        let later = take_over(&fs, &naming, 0o640, &mut mark);
        assert_eq!((later.went_down, later.held), (true, true));
        assert_eq!(marks.get(), 3);
        let _ = take_over(&fs, &naming, 0o640, &mut mark);
        assert_eq!(marks.get(), 3, "one crash, one marker");
        let mut names: Vec<String> = std::fs::read_dir(naming.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".app.log.open"], "no temporary record left");
        clear(&fs, &naming);
        assert!(!record.exists());
        clear(&fs, &naming);
    }
}
