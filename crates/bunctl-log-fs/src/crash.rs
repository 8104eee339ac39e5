//! [`CrashFs`]: the real filesystem, recorded, and every state a power cut could leave.
//!
//! A `kill -9` leaves the page cache intact; a power cut does not. `CrashFs` runs on a real
//! directory (the code under test sees ordinary files), records every operation issued through
//! the seam, and for any point of that record builds the states a power cut there could have
//! left, in the spirit of ALICE and CrashMonkey (record, then replay every crash state) and of
//! LazyFS (drop what was not fsynced).
//!
//! # The model
//! At a cut after operation `k` of the [record](CrashLog::len):
//! * **file data**: a file's bytes appended since its last `sync_data` survive only as a
//!   prefix of them: none, some or all ([`Cut`] picks which). Bytes synced survive.
//! * **directory entries** (create, rename, remove, mkdir): those since the directory's last
//!   `sync_dir` survive as a prefix of them, in order ([`DirOrder::InOrder`], the ext4/xfs
//!   journalling behaviour); [`DirOrder::AnySubset`] lets any one of them be lost alone (a
//!   weaker filesystem). So a file created and fsynced whose directory was not fsynced may be
//!   missing. Entries synced survive. A rename belongs to the directory it renames into.
//! * what was there when the `CrashFs` was made counts as durable. (A file made behind the
//!   seam's back later is known only by what is written to it through the seam.)
//!
//! The model is deliberately weaker than ext4's (where an `fsync` of a file also commits the
//! journal, and with it earlier renames): what survives here survives there.
//!
//! One job in about 560 lines of code: the record and the crash states built from it are one
//! model (the rules above), each rule written where the states apply it. Its tests follow.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{FileId, FileLock, FileMeta, Filesystem, StdFs, WriteFile};

/// A file's identity in the record (not an inode: files the record has not seen yet get one
/// when first met).
type Obj = usize;

/// A rule choosing each file's [`Cut`], with its label.
type CutRule = (String, Box<dyn Fn(Obj) -> Cut>);

/// One recorded operation.
#[derive(Debug, Clone)]
enum Event {
    /// A name now refers to a new, empty file.
    Create { path: PathBuf, obj: Obj },
    /// A directory was created.
    Mkdir { path: PathBuf },
    /// `from` now has the name `to` (replacing what `to` named).
    Rename { from: PathBuf, to: PathBuf },
    /// The name is gone.
    Remove { path: PathBuf },
    /// Bytes appended to a file.
    Append { obj: Obj, bytes: Vec<u8> },
    /// A file's data is durable up to here.
    SyncData { obj: Obj },
    /// A directory's entries are durable up to here.
    SyncDir { dir: PathBuf },
    /// A point the test named ([`CrashLog::mark`]).
    Mark,
}

impl Event {
    /// The directory whose entries the event changes.
    fn dir(&self) -> Option<PathBuf> {
        match self {
            Self::Create { path, .. } | Self::Mkdir { path } | Self::Remove { path } => {
                Some(super::parent_dir(path))
            }
            Self::Rename { to, .. } => Some(super::parent_dir(to)),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Record {
    root: PathBuf,
    events: Vec<Event>,
    /// Files present at the start: relative path → their object and content.
    initial: BTreeMap<PathBuf, (Obj, Vec<u8>)>,
    /// Directories present at the start.
    initial_dirs: Vec<PathBuf>,
    /// The file each name refers to now, as the record knows it.
    names: HashMap<PathBuf, Obj>,
    next_obj: Obj,
}

impl Record {
    fn obj_of(&mut self, path: &Path) -> Obj {
        if let Some(&obj) = self.names.get(path) {
            return obj;
        }
        let obj = self.next_obj;
        self.next_obj += 1;
        self.names.insert(path.to_path_buf(), obj);
        obj
    }

    fn push(&mut self, event: Event) {
        match &event {
            Event::Create { path, obj } => {
                self.names.insert(path.clone(), *obj);
            }
            Event::Rename { from, to } => {
                if let Some(obj) = self.names.remove(from) {
                    self.names.insert(to.clone(), obj);
                }
            }
            Event::Remove { path } => {
                self.names.remove(path);
            }
            _ => {}
        }
        self.events.push(event);
    }

    fn new_obj(&mut self) -> Obj {
        let obj = self.next_obj;
        self.next_obj += 1;
        obj
    }
}

/// Which bytes of a file written since its last sync survive a cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// None of them.
    None,
    /// Half of them (rounded down): a write torn in its middle.
    Half,
    /// All of them.
    All,
}

/// How directory entries not yet synced survive a cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirOrder {
    /// As a prefix of them, in order (ext4, xfs).
    InOrder,
    /// Also: every one of them but one (a filesystem that reorders its metadata).
    AnySubset,
}

/// One state a power cut could leave: a [`materialize`](Self::materialize)able description.
#[derive(Debug, Clone)]
pub struct CrashState {
    /// The cut: after this many recorded operations.
    pub at: usize,
    /// What this state kept, for messages: `"dir ops 3 of 5, data cut All"`.
    pub description: String,
    files: BTreeMap<PathBuf, Vec<u8>>,
    dirs: Vec<PathBuf>,
}

impl CrashState {
    /// Writes this state into `into` (an empty directory), as the recorded root would be
    /// after the cut: the same relative names, the surviving bytes.
    ///
    /// # Errors
    /// The I/O error of creating a directory or writing a file.
    pub fn materialize(&self, into: &Path) -> io::Result<()> {
        std::fs::create_dir_all(into)?;
        for d in &self.dirs {
            std::fs::create_dir_all(into.join(d))?;
        }
        for (rel, bytes) in &self.files {
            let path = into.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)?;
        }
        Ok(())
    }

    /// The files of this state, by name relative to the root, with their bytes.
    pub fn files(&self) -> &BTreeMap<PathBuf, Vec<u8>> {
        &self.files
    }
}

/// The test's handle on a [`CrashFs`]: the record, and the crash states it allows.
#[derive(Debug, Clone)]
pub struct CrashLog(Arc<Mutex<Record>>);

impl CrashLog {
    fn lock(&self) -> MutexGuard<'_, Record> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many operations are recorded.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether nothing is recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a point the test names (a `sync()` that returned, say), and returns its
    /// position: a cut at or after it keeps everything the model makes durable by then.
    pub fn mark(&self) -> usize {
        let mut r = self.lock();
        r.events.push(Event::Mark);
        r.events.len()
    }

    /// A line per recorded operation, for a failure message.
    pub fn describe(&self) -> Vec<String> {
        let r = self.lock();
        let rel = |p: &Path| p.strip_prefix(&r.root).unwrap_or(p).display().to_string();
        r.events
            .iter()
            .map(|e| match e {
                Event::Create { path, obj } => format!("create {} (#{obj})", rel(path)),
                Event::Mkdir { path } => format!("mkdir {}", rel(path)),
                Event::Rename { from, to } => format!("rename {} -> {}", rel(from), rel(to)),
                Event::Remove { path } => format!("remove {}", rel(path)),
                Event::Append { obj, bytes } => format!("append #{obj} {} bytes", bytes.len()),
                Event::SyncData { obj } => format!("sync_data #{obj}"),
                Event::SyncDir { dir } => format!("sync_dir {}", rel(dir)),
                Event::Mark => "mark".to_string(),
            })
            .collect()
    }

    /// Every state a power cut right after operation `at` (0: before any) could leave under
    /// `order`: each surviving prefix of the unsynced directory entries (for
    /// [`DirOrder::AnySubset`], also each set missing one of them), combined with each [`Cut`]
    /// applied to every file's unsynced bytes at once, and with each file alone cut to
    /// nothing while the others keep all.
    pub fn states_at(&self, at: usize, order: DirOrder) -> Vec<CrashState> {
        let r = self.lock();
        let at = at.min(r.events.len());
        let events = &r.events[..at];

        // Directory entries: which ones are synced, which are pending.
        let mut last_sync: HashMap<PathBuf, usize> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            if let Event::SyncDir { dir } = e {
                last_sync.insert(dir.clone(), i);
            }
        }
        let pending: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                e.dir()
                    .is_some_and(|d| last_sync.get(&d).is_none_or(|&s| *i > s))
            })
            .map(|(i, _)| i)
            .collect();
        // Each choice is the set of pending entries lost.
        let mut lost_sets: Vec<Vec<usize>> = (0..=pending.len())
            .map(|keep| pending[keep..].to_vec())
            .collect();
        if order == DirOrder::AnySubset {
            for &i in &pending {
                if pending.last() != Some(&i) {
                    lost_sets.push(vec![i]);
                }
            }
        }

        // File data: synced length and written length of every file object.
        let mut written: HashMap<Obj, Vec<u8>> = HashMap::new();
        let mut synced: HashMap<Obj, usize> = HashMap::new();
        let mut initial_obj: BTreeMap<PathBuf, Obj> = BTreeMap::new();
        for (path, (obj, content)) in &r.initial {
            initial_obj.insert(path.clone(), *obj);
            written.insert(*obj, content.clone());
            synced.insert(*obj, content.len());
        }
        for e in events {
            match e {
                Event::Append { obj, bytes } => {
                    written.entry(*obj).or_default().extend_from_slice(bytes)
                }
                Event::SyncData { obj } => {
                    let len = written.get(obj).map_or(0, Vec::len);
                    synced.insert(*obj, len);
                }
                _ => {}
            }
        }
        let objs: Vec<Obj> = {
            let mut v: Vec<Obj> = written.keys().copied().collect();
            v.sort_unstable();
            v
        };
        let mut cuts: Vec<CutRule> = vec![
            ("data cut None".into(), Box::new(|_| Cut::None)),
            ("data cut Half".into(), Box::new(|_| Cut::Half)),
            ("data cut All".into(), Box::new(|_| Cut::All)),
        ];
        for &o in &objs {
            if written.get(&o).map_or(0, Vec::len) > synced.get(&o).copied().unwrap_or(0) {
                cuts.push((
                    format!("file #{o} cut None, the rest All"),
                    Box::new(move |x| if x == o { Cut::None } else { Cut::All }),
                ));
            }
        }

        let mut states = Vec::new();
        for lost in &lost_sets {
            // The namespace after the surviving entries.
            let mut names: BTreeMap<PathBuf, Obj> = initial_obj
                .iter()
                .map(|(p, o)| (r.root.join(p), *o))
                .collect();
            let mut dirs: Vec<PathBuf> = r.initial_dirs.iter().map(|d| r.root.join(d)).collect();
            for (i, e) in events.iter().enumerate() {
                if lost.contains(&i) {
                    continue;
                }
                match e {
                    Event::Create { path, obj } => {
                        names.insert(path.clone(), *obj);
                    }
                    Event::Mkdir { path } => dirs.push(path.clone()),
                    Event::Rename { from, to } => {
                        if let Some(obj) = names.remove(from) {
                            names.insert(to.clone(), obj);
                        }
                    }
                    Event::Remove { path } => {
                        names.remove(path);
                    }
                    _ => {}
                }
            }
            for (label, cut) in &cuts {
                let mut files = BTreeMap::new();
                for (path, obj) in &names {
                    let Ok(rel) = path.strip_prefix(&r.root) else {
                        continue;
                    };
                    let all = written.get(obj).map(Vec::as_slice).unwrap_or_default();
                    let durable = synced.get(obj).copied().unwrap_or(0).min(all.len());
                    let len = match cut(*obj) {
                        Cut::None => durable,
                        Cut::Half => durable + (all.len() - durable) / 2,
                        Cut::All => all.len(),
                    };
                    files.insert(rel.to_path_buf(), all[..len].to_vec());
                }
                let dirs = dirs
                    .iter()
                    .filter_map(|d| d.strip_prefix(&r.root).ok().map(Path::to_path_buf))
                    .collect();
                states.push(CrashState {
                    at,
                    description: format!(
                        "cut after op {at}: {} of {} unsynced directory entries lost ({lost:?}), {label}",
                        lost.len(),
                        pending.len()
                    ),
                    files,
                    dirs,
                });
            }
        }
        states
    }
}

/// [`StdFs`] on a real directory, every operation recorded (see the [model](self)).
#[derive(Debug)]
pub struct CrashFs {
    log: CrashLog,
}

impl CrashFs {
    /// A recording filesystem for the files under `root`, as the shared trait object, and the
    /// handle on its record. What `root` holds now counts as durable.
    ///
    /// # Errors
    /// The I/O error of reading `root`'s files.
    pub fn shared(root: &Path) -> io::Result<(Arc<dyn Filesystem>, CrashLog)> {
        let mut record = Record {
            root: root.to_path_buf(),
            ..Record::default()
        };
        if root.exists() {
            snapshot(root, root, &mut record)?;
        }
        let log = CrashLog(Arc::new(Mutex::new(record)));
        Ok((Arc::new(CrashFs { log: log.clone() }), log))
    }

    fn record(&self, event: Event) {
        self.log.lock().push(event);
    }
}

fn snapshot(root: &Path, dir: &Path, record: &mut Record) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        if entry.file_type()?.is_dir() {
            record.initial_dirs.push(rel);
            snapshot(root, &path, record)?;
        } else {
            let obj = record.new_obj();
            record.names.insert(path.clone(), obj);
            record.initial.insert(rel, (obj, std::fs::read(&path)?));
        }
    }
    Ok(())
}

/// A file opened through [`CrashFs`]: its writes and syncs are recorded.
struct CrashFile {
    inner: Box<dyn WriteFile>,
    obj: Obj,
    log: CrashLog,
}

impl Write for CrashFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.log.lock().push(Event::Append {
            obj: self.obj,
            bytes: buf[..n].to_vec(),
        });
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl WriteFile for CrashFile {
    fn sync_data(&mut self) -> io::Result<()> {
        self.inner.sync_data()?;
        self.log.lock().push(Event::SyncData { obj: self.obj });
        Ok(())
    }

    fn try_clone(&self) -> io::Result<Box<dyn WriteFile>> {
        Ok(Box::new(CrashFile {
            inner: self.inner.try_clone()?,
            obj: self.obj,
            log: self.log.clone(),
        }))
    }

    fn file_id(&self) -> io::Result<Option<FileId>> {
        self.inner.file_id()
    }
}

impl CrashFs {
    /// The record's object for `path` if it exists now, or a `Create` of a new one.
    fn open_obj(&self, path: &Path, existed: bool) -> Obj {
        let mut r = self.log.lock();
        if existed {
            r.obj_of(path)
        } else {
            let obj = r.new_obj();
            r.push(Event::Create {
                path: path.to_path_buf(),
                obj,
            });
            obj
        }
    }

    /// `inner`, recording its writes and syncs as those of `obj`.
    fn wrap(&self, inner: Box<dyn WriteFile>, obj: Obj) -> Box<dyn WriteFile> {
        Box::new(CrashFile {
            inner,
            obj,
            log: self.log.clone(),
        })
    }
}

impl Filesystem for CrashFs {
    fn open_append(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>> {
        let existed = std::fs::symlink_metadata(path).is_ok();
        let inner = StdFs.open_append(path, mode)?;
        let obj = self.open_obj(path, existed);
        Ok(self.wrap(inner, obj))
    }
    fn create_new(&self, path: &Path, mode: u32) -> io::Result<Box<dyn WriteFile>> {
        let inner = StdFs.create_new(path, mode)?;
        let obj = self.open_obj(path, false);
        Ok(self.wrap(inner, obj))
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        StdFs.open_read(path)
    }
    fn last_byte(&self, path: &Path) -> io::Result<Option<u8>> {
        StdFs.last_byte(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFs.rename(from, to)?;
        self.record(Event::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
        Ok(())
    }
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFs.rename_noreplace(from, to)?;
        self.record(Event::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        StdFs.remove_file(path)?;
        self.record(Event::Remove {
            path: path.to_path_buf(),
        });
        Ok(())
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        StdFs.sync_dir(dir)?;
        self.record(Event::SyncDir {
            dir: dir.to_path_buf(),
        });
        Ok(())
    }
    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        StdFs.metadata(path)
    }
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        StdFs.read_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path, mode: u32) -> io::Result<()> {
        let mut missing = Vec::new();
        let mut d = Some(dir);
        while let Some(p) = d {
            if p.as_os_str().is_empty() || p.exists() {
                break;
            }
            missing.push(p.to_path_buf());
            d = p.parent();
        }
        StdFs.create_dir_all(dir, mode)?;
        for path in missing.into_iter().rev() {
            self.record(Event::Mkdir { path });
        }
        Ok(())
    }
    fn lock(&self, path: &Path, mode: u32) -> io::Result<FileLock> {
        let existed = std::fs::symlink_metadata(path).is_ok();
        let lock = StdFs.lock(path, mode)?;
        if !existed {
            self.open_obj(path, false);
        }
        Ok(lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, Arc<dyn Filesystem>, CrashLog) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a/b/root");
        std::fs::create_dir_all(&root).unwrap();
        let (fs, log) = CrashFs::shared(&root).unwrap();
        (tmp, root, fs, log)
    }

    fn contents(state: &CrashState) -> Vec<(String, String)> {
        state
            .files()
            .iter()
            .map(|(p, b)| {
                (
                    p.display().to_string(),
                    String::from_utf8_lossy(b).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn unsynced_bytes_survive_as_a_prefix_and_synced_ones_always() {
        let (_tmp, root, fs, log) = setup();
        let mut f = fs.open_append(&root.join("x.log"), 0o640).unwrap();
        fs.sync_dir(&root).unwrap();
        f.write_all(b"durable\n").unwrap();
        f.sync_data().unwrap();
        f.write_all(b"later\n").unwrap();
        let states = log.states_at(log.len(), DirOrder::InOrder);
        let texts: Vec<String> = states
            .iter()
            .map(|s| String::from_utf8_lossy(&s.files()[Path::new("x.log")]).into_owned())
            .collect();
        assert!(
            texts.iter().all(|t| t.starts_with("durable\n")),
            "{texts:?}"
        );
        assert!(texts.contains(&"durable\n".to_string()));
        assert!(texts.contains(&"durable\nlat".to_string()));
        assert!(texts.contains(&"durable\nlater\n".to_string()));
    }

    #[test]
    fn a_created_file_may_vanish_until_its_directory_is_synced() {
        let (_tmp, root, fs, log) = setup();
        let mut f = fs.open_append(&root.join("x.log"), 0o640).unwrap();
        f.write_all(b"a\n").unwrap();
        f.sync_data().unwrap();
        let before = log.states_at(log.len(), DirOrder::InOrder);
        assert!(before.iter().any(|s| s.files().is_empty()));
        fs.sync_dir(&root).unwrap();
        let after = log.states_at(log.len(), DirOrder::InOrder);
        assert!(after
            .iter()
            .all(|s| contents(s) == vec![("x.log".to_string(), "a\n".to_string())]));
    }

    #[test]
    fn renames_survive_in_order_or_out_of_order_in_the_weaker_mode() {
        let (tmp, root, fs, log) = setup();
        std::fs::write(root.join("a"), b"A").unwrap();
        std::fs::write(root.join("b"), b"B").unwrap();
        // Rebuild the record now that a and b exist (they count as durable).
        let (fs2, log2) = CrashFs::shared(&root).unwrap();
        drop((fs, log));
        fs2.rename(&root.join("a"), &root.join("a2")).unwrap();
        fs2.rename(&root.join("b"), &root.join("b2")).unwrap();
        let names = |s: &CrashState| -> Vec<String> {
            s.files().keys().map(|p| p.display().to_string()).collect()
        };
        let in_order: Vec<_> = log2
            .states_at(log2.len(), DirOrder::InOrder)
            .iter()
            .map(names)
            .collect();
        assert!(in_order.contains(&vec!["a".into(), "b".into()]));
        assert!(in_order.contains(&vec!["a2".into(), "b".into()]));
        assert!(in_order.contains(&vec!["a2".into(), "b2".into()]));
        // b renamed without a: only a filesystem that reorders can leave it.
        assert!(!in_order.contains(&vec!["a".into(), "b2".into()]));
        let any: Vec<_> = log2
            .states_at(log2.len(), DirOrder::AnySubset)
            .iter()
            .map(names)
            .collect();
        assert!(any.contains(&vec!["a".into(), "b2".into()]));

        let out = tmp.path().join("a/b/state");
        log2.states_at(log2.len(), DirOrder::InOrder)[0]
            .materialize(&out)
            .unwrap();
        assert_eq!(std::fs::read(out.join("a")).unwrap(), b"A");
    }

    #[test]
    fn a_cut_before_everything_is_the_starting_state() {
        let (_tmp, root, fs, log) = setup();
        let mut f = fs.create_new(&root.join("n"), 0o640).unwrap();
        f.write_all(b"x").unwrap();
        fs.remove_file(&root.join("n")).unwrap();
        assert_eq!(log.len(), 3);
        for s in log.states_at(0, DirOrder::AnySubset) {
            assert!(s.files().is_empty(), "{}", s.description);
        }
        assert_eq!(log.describe().len(), 3);
    }
}
