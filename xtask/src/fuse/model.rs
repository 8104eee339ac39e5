//! The forgetting filesystem's state, kept in memory: every file's and directory's current
//! content, what of it was last made durable (fsync/fdatasync of the file, fsync of the
//! directory), and the operations since, so that a power cut can be built from it.
//!
//! The model (issue 17, section 2), the one the ext4/xfs journals give:
//! - a file's operations (writes, size changes) since its last fsync survive as a prefix of them,
//!   the last one kept possibly only in part (a write's first bytes);
//! - a directory's operations (an entry made, removed, renamed) since its last fsync survive as
//!   a prefix of them, in order; fsyncing a file does not make its name durable;
//! - what was fsynced survives.
//!
//! After a cut, everything is as if read back from the disk: durable, nothing pending, and the
//! inodes that no surviving name reaches are gone.
//!
//! One job in about 630 lines of code: the tree, the operations the FUSE side applies to it and
//! the cut built from it keep the rules above together; `lazyfs.rs` only translates FUSE calls.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use bunctl_log_rotation::{GZ_SUFFIX, NEXT_SUFFIX, TMP_SUFFIX};

use super::Rng;

/// The root directory's inode number (FUSE's).
pub(super) const ROOT: u64 = 1;

/// One change to a file's bytes since its last fsync.
#[derive(Clone, Debug)]
pub(super) enum FileOp {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

/// One change to a directory's entries since its last fsync.
#[derive(Clone, Debug)]
pub(super) enum DirOp {
    /// `name` now names `ino` (created, linked, or the target side of a rename from elsewhere).
    Set(OsString, u64),
    Remove(OsString),
    /// Within this directory: atomic, as a journal commits it.
    Rename(OsString, OsString),
}

#[derive(Debug)]
pub(super) enum Content {
    File {
        data: Vec<u8>,
        durable: Vec<u8>,
        pending: Vec<FileOp>,
    },
    Dir {
        entries: BTreeMap<OsString, u64>,
        durable: BTreeMap<OsString, u64>,
        pending: Vec<DirOp>,
    },
}

#[derive(Debug)]
pub(super) struct Node {
    pub(super) content: Content,
    pub(super) perm: u16,
    pub(super) nlink: u32,
    pub(super) mtime: SystemTime,
    pub(super) ctime: SystemTime,
}

impl Node {
    fn new(content: Content, perm: u16) -> Self {
        let now = SystemTime::now();
        Self {
            content,
            perm,
            nlink: 1,
            mtime: now,
            ctime: now,
        }
    }

    pub(super) fn is_dir(&self) -> bool {
        matches!(self.content, Content::Dir { .. })
    }

    pub(super) fn size(&self) -> u64 {
        match &self.content {
            Content::File { data, .. } => data.len() as u64,
            Content::Dir { entries, .. } => entries.len() as u64,
        }
    }
}

/// Why an operation was refused: an errno value.
pub(super) type Errno = i32;

/// What one power cut dropped.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CutStats {
    /// Files with unsynced operations, and those that lost some (a whole op or a part of one).
    pub(super) files_pending: usize,
    pub(super) files_cut: usize,
    pub(super) bytes_lost: u64,
    /// Directories with unsynced operations, and the operations dropped.
    pub(super) dirs_pending: usize,
    pub(super) dir_ops_lost: usize,
    /// Files and directories that had a name before the cut and none after it.
    pub(super) names_lost: usize,
    /// Files named again after the cut whose name had been removed (an unlink or rename lost).
    pub(super) names_back: usize,
}

/// Counts of what went through the filesystem.
#[derive(Default, Debug, Clone, Copy)]
pub(super) struct OpStats {
    pub(super) writes: u64,
    pub(super) bytes_written: u64,
    pub(super) file_syncs: u64,
    pub(super) dir_syncs: u64,
    pub(super) dir_ops: u64,
    /// `.NAME.log.next` files created: rotations finished in the background.
    pub(super) next_files: u64,
    /// Renames of a `.gz.tmp` to its `.gz`: compressions completed.
    pub(super) gz_renames: u64,
}

/// The whole filesystem.
pub(super) struct Tree {
    pub(super) nodes: HashMap<u64, Node>,
    next_ino: u64,
    pub(super) stats: OpStats,
    /// fsync does nothing (a disk that lies): to show that the checks catch what that loses.
    pub(super) lying_fsync: bool,
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    pub(super) fn new() -> Self {
        let mut nodes = HashMap::new();
        let mut root = Node::new(
            Content::Dir {
                entries: BTreeMap::new(),
                durable: BTreeMap::new(),
                pending: Vec::new(),
            },
            0o755,
        );
        root.nlink = 2;
        nodes.insert(ROOT, root);
        Self {
            nodes,
            next_ino: ROOT + 1,
            stats: OpStats::default(),
            lying_fsync: false,
        }
    }

    pub(super) fn get(&self, ino: u64) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(libc::ENOENT)
    }

    fn entries(&self, dir: u64) -> Result<&BTreeMap<OsString, u64>, Errno> {
        match &self.get(dir)?.content {
            Content::Dir { entries, .. } => Ok(entries),
            Content::File { .. } => Err(libc::ENOTDIR),
        }
    }

    /// The directory `dir`'s entries, sorted by name.
    pub(super) fn list(&self, dir: u64) -> Result<Vec<(OsString, u64)>, Errno> {
        Ok(self
            .entries(dir)?
            .iter()
            .map(|(n, &i)| (n.clone(), i))
            .collect())
    }

    pub(super) fn lookup(&self, dir: u64, name: &OsStr) -> Result<u64, Errno> {
        self.entries(dir)?.get(name).copied().ok_or(libc::ENOENT)
    }

    /// Applies `op` to directory `dir` and records it as pending there.
    fn dir_op(&mut self, dir: u64, op: DirOp) -> Result<(), Errno> {
        let node = self.nodes.get_mut(&dir).ok_or(libc::ENOENT)?;
        let Content::Dir {
            entries, pending, ..
        } = &mut node.content
        else {
            return Err(libc::ENOTDIR);
        };
        apply_dir_op(entries, &op);
        pending.push(op);
        let now = SystemTime::now();
        node.mtime = now;
        node.ctime = now;
        self.stats.dir_ops += 1;
        Ok(())
    }

    /// A new file or directory `name` in `dir`.
    pub(super) fn create(
        &mut self,
        dir: u64,
        name: &OsStr,
        is_dir: bool,
        perm: u16,
    ) -> Result<u64, Errno> {
        if self.entries(dir)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        if name.to_string_lossy().ends_with(NEXT_SUFFIX) {
            self.stats.next_files += 1;
        }
        let content = if is_dir {
            Content::Dir {
                entries: BTreeMap::new(),
                durable: BTreeMap::new(),
                pending: Vec::new(),
            }
        } else {
            Content::File {
                data: Vec::new(),
                durable: Vec::new(),
                pending: Vec::new(),
            }
        };
        let mut node = Node::new(content, perm);
        if is_dir {
            node.nlink = 2;
        }
        self.nodes.insert(ino, node);
        self.dir_op(dir, DirOp::Set(name.to_owned(), ino))?;
        Ok(ino)
    }

    /// A second name for file `ino`.
    pub(super) fn link(&mut self, ino: u64, dir: u64, name: &OsStr) -> Result<(), Errno> {
        if self.get(ino)?.is_dir() {
            return Err(libc::EPERM);
        }
        if self.entries(dir)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        self.dir_op(dir, DirOp::Set(name.to_owned(), ino))?;
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.nlink += 1;
        }
        Ok(())
    }

    fn drop_link(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.nlink = n.nlink.saturating_sub(1);
            n.ctime = SystemTime::now();
        }
    }

    /// Removes `name` from `dir`; `want_dir` says whether it must be a directory (rmdir) or
    /// must not be (unlink).
    pub(super) fn remove(&mut self, dir: u64, name: &OsStr, want_dir: bool) -> Result<(), Errno> {
        let ino = self.lookup(dir, name)?;
        let node = self.get(ino)?;
        match (node.is_dir(), want_dir) {
            (true, false) => return Err(libc::EISDIR),
            (false, true) => return Err(libc::ENOTDIR),
            (true, true) if node.size() > 0 => return Err(libc::ENOTEMPTY),
            _ => {}
        }
        self.dir_op(dir, DirOp::Remove(name.to_owned()))?;
        self.drop_link(ino);
        Ok(())
    }

    /// `rename(2)`; with `no_replace`, RENAME_NOREPLACE.
    pub(super) fn rename(
        &mut self,
        from_dir: u64,
        from: &OsStr,
        to_dir: u64,
        to: &OsStr,
        no_replace: bool,
    ) -> Result<(), Errno> {
        let ino = self.lookup(from_dir, from)?;
        let moving_dir = self.get(ino)?.is_dir();
        let replaced = match self.lookup(to_dir, to) {
            Ok(old) if old == ino => return Ok(()),
            Ok(_) if no_replace => return Err(libc::EEXIST),
            Ok(old) => {
                let old_node = self.get(old)?;
                match (old_node.is_dir(), moving_dir) {
                    (true, false) => return Err(libc::EISDIR),
                    (false, true) => return Err(libc::ENOTDIR),
                    (true, true) if old_node.size() > 0 => return Err(libc::ENOTEMPTY),
                    _ => Some(old),
                }
            }
            Err(_) => None,
        };
        if from
            .to_string_lossy()
            .ends_with(&format!("{GZ_SUFFIX}{TMP_SUFFIX}"))
        {
            self.stats.gz_renames += 1;
        }
        if from_dir == to_dir {
            self.dir_op(from_dir, DirOp::Rename(from.to_owned(), to.to_owned()))?;
        } else {
            // Two directories, two journals' worth: each side survives on its own.
            self.dir_op(to_dir, DirOp::Set(to.to_owned(), ino))?;
            self.dir_op(from_dir, DirOp::Remove(from.to_owned()))?;
        }
        if let Some(old) = replaced {
            self.drop_link(old);
        }
        Ok(())
    }

    fn file_mut(&mut self, ino: u64) -> Result<(&mut Vec<u8>, &mut Vec<FileOp>), Errno> {
        let node = self.nodes.get_mut(&ino).ok_or(libc::ENOENT)?;
        let now = SystemTime::now();
        node.mtime = now;
        node.ctime = now;
        match &mut node.content {
            Content::File { data, pending, .. } => Ok((data, pending)),
            Content::Dir { .. } => Err(libc::EISDIR),
        }
    }

    pub(super) fn write(&mut self, ino: u64, offset: u64, bytes: &[u8]) -> Result<(), Errno> {
        let (data, pending) = self.file_mut(ino)?;
        let op = FileOp::Write {
            offset,
            bytes: bytes.to_vec(),
        };
        apply_file_op(data, &op);
        pending.push(op);
        self.stats.writes += 1;
        self.stats.bytes_written += bytes.len() as u64;
        Ok(())
    }

    pub(super) fn set_len(&mut self, ino: u64, len: u64) -> Result<(), Errno> {
        let (data, pending) = self.file_mut(ino)?;
        let op = FileOp::SetLen(len);
        apply_file_op(data, &op);
        pending.push(op);
        Ok(())
    }

    pub(super) fn read(&self, ino: u64, offset: u64, size: u32) -> Result<&[u8], Errno> {
        match &self.get(ino)?.content {
            Content::File { data, .. } => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let end = start.saturating_add(size as usize).min(data.len());
                Ok(&data[start..end])
            }
            Content::Dir { .. } => Err(libc::EISDIR),
        }
    }

    /// fsync/fdatasync of a file, or fsync of a directory: what it holds now is durable.
    pub(super) fn sync(&mut self, ino: u64) -> Result<(), Errno> {
        let lying = self.lying_fsync;
        let node = self.nodes.get_mut(&ino).ok_or(libc::ENOENT)?;
        match &mut node.content {
            Content::File {
                data,
                durable,
                pending,
            } => {
                if !pending.is_empty() && !lying {
                    durable.clone_from(data);
                    pending.clear();
                }
                self.stats.file_syncs += 1;
            }
            Content::Dir {
                entries,
                durable,
                pending,
            } => {
                if !pending.is_empty() && !lying {
                    durable.clone_from(entries);
                    pending.clear();
                }
                self.stats.dir_syncs += 1;
            }
        }
        Ok(())
    }

    pub(super) fn set_perm(&mut self, ino: u64, perm: u16) -> Result<(), Errno> {
        let node = self.nodes.get_mut(&ino).ok_or(libc::ENOENT)?;
        node.perm = perm;
        node.ctime = SystemTime::now();
        Ok(())
    }

    /// A power cut: every file keeps its durable bytes and a random prefix of its pending
    /// operations, every directory its durable entries and a random prefix of its pending
    /// operations; then what is left is all durable and what no name reaches is gone.
    pub(super) fn power_cut(&mut self, rng: &mut Rng) -> CutStats {
        let mut stats = CutStats::default();
        let named_before = self.reachable();
        // Sorted, so that a seed replays the same cut.
        let mut inos: Vec<u64> = self.nodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in inos {
            let Some(node) = self.nodes.get_mut(&ino) else {
                continue;
            };
            match &mut node.content {
                Content::File {
                    data,
                    durable,
                    pending,
                } => {
                    if pending.is_empty() {
                        continue;
                    }
                    stats.files_pending += 1;
                    let before = data.len() as u64;
                    let kept = cut_file(durable, pending, rng);
                    if kept.len() != data.len() || kept != *data {
                        stats.files_cut += 1;
                        stats.bytes_lost += before.saturating_sub(kept.len() as u64);
                    }
                    *data = kept;
                    durable.clone_from(data);
                    pending.clear();
                }
                Content::Dir {
                    entries,
                    durable,
                    pending,
                } => {
                    if pending.is_empty() {
                        continue;
                    }
                    stats.dirs_pending += 1;
                    let keep = cut_point(pending.len(), rng);
                    stats.dir_ops_lost += pending.len() - keep;
                    let mut kept = durable.clone();
                    for op in &pending[..keep] {
                        apply_dir_op(&mut kept, op);
                    }
                    *entries = kept;
                    durable.clone_from(entries);
                    pending.clear();
                }
            }
        }
        self.collect();
        stats.names_lost = named_before
            .keys()
            .filter(|i| !self.nodes.contains_key(i))
            .count();
        stats.names_back = self
            .nodes
            .keys()
            .filter(|i| !named_before.contains_key(i))
            .count();
        stats
    }

    /// The inodes a name reaches from the root, with their link counts.
    fn reachable(&self) -> HashMap<u64, u32> {
        let mut links: HashMap<u64, u32> = HashMap::new();
        let mut stack = vec![ROOT];
        links.insert(ROOT, 2);
        while let Some(dir) = stack.pop() {
            let Some(Content::Dir { entries, .. }) = self.nodes.get(&dir).map(|n| &n.content)
            else {
                continue;
            };
            for &child in entries.values() {
                let Some(node) = self.nodes.get(&child) else {
                    continue;
                };
                let first = !links.contains_key(&child);
                *links
                    .entry(child)
                    .or_insert(if node.is_dir() { 1 } else { 0 }) += 1;
                if node.is_dir() {
                    // The child's ".." counts in its parent.
                    *links.entry(dir).or_insert(2) += 1;
                    if first {
                        stack.push(child);
                    }
                }
            }
        }
        links
    }

    /// Drops the inodes no name reaches from the root (unlinked files included) and recounts
    /// the links.
    fn collect(&mut self) {
        let links = self.reachable();
        self.nodes.retain(|ino, _| links.contains_key(ino));
        for (ino, node) in &mut self.nodes {
            node.nlink = links.get(ino).copied().unwrap_or(1);
            // A name whose inode is gone (possible only after a rename across directories,
            // which the writer does not do) must never reach the kernel.
            if let Content::Dir {
                entries, durable, ..
            } = &mut node.content
            {
                entries.retain(|_, i| links.contains_key(i));
                durable.clone_from(entries);
            }
        }
    }

    /// Writes the tree's current content under `dest` (a real directory): the state a
    /// recovery is run on and kept, when it violates an invariant, for a look.
    pub(super) fn copy_to(&self, dest: &Path) -> io::Result<()> {
        let mut stack = vec![(dest.to_path_buf(), ROOT)];
        while let Some((path, dir)) = stack.pop() {
            fs::create_dir_all(&path)?;
            let entries = self.list(dir).map_err(io::Error::from_raw_os_error)?;
            for (name, ino) in entries {
                let p = path.join(&name);
                match self.nodes.get(&ino).map(|n| &n.content) {
                    Some(Content::Dir { .. }) => stack.push((p, ino)),
                    Some(Content::File { data, .. }) => fs::write(&p, data)?,
                    None => {}
                }
            }
        }
        Ok(())
    }

    /// Every file's path (from the root, `/`-separated) and size, and every directory's path,
    /// sorted: the listing saved with a violating state.
    pub(super) fn listing(&self) -> Vec<(String, Option<u64>)> {
        let mut out = Vec::new();
        let mut stack = vec![(String::new(), ROOT)];
        while let Some((path, dir)) = stack.pop() {
            let Ok(entries) = self.list(dir) else {
                continue;
            };
            for (name, ino) in entries {
                let p = format!("{path}/{}", name.to_string_lossy());
                match self.nodes.get(&ino) {
                    Some(n) if n.is_dir() => {
                        out.push((p.clone(), None));
                        stack.push((p, ino));
                    }
                    Some(n) => out.push((p, Some(n.size()))),
                    None => {}
                }
            }
        }
        out.sort();
        out
    }
}

/// How many of `n` pending operations survive: none, all, or some, a third of the time each.
fn cut_point(n: usize, rng: &mut Rng) -> usize {
    match rng.below(3) {
        0 => 0,
        1 => n,
        _ => rng.below(n as u64 + 1) as usize,
    }
}

/// The bytes a file keeps: `durable`, a prefix of `pending`, and maybe part of the next one.
fn cut_file(durable: &[u8], pending: &[FileOp], rng: &mut Rng) -> Vec<u8> {
    let keep = cut_point(pending.len(), rng);
    let mut data = durable.to_vec();
    for op in &pending[..keep] {
        apply_file_op(&mut data, op);
    }
    // The first lost write may have reached the disk in part: its first bytes.
    if let Some(FileOp::Write { offset, bytes }) = pending.get(keep) {
        if !bytes.is_empty() && rng.below(2) == 0 {
            let part = rng.below(bytes.len() as u64) as usize;
            apply_file_op(
                &mut data,
                &FileOp::Write {
                    offset: *offset,
                    bytes: bytes[..part].to_vec(),
                },
            );
        }
    }
    data
}

fn apply_file_op(data: &mut Vec<u8>, op: &FileOp) {
    match op {
        FileOp::Write { offset, bytes } => {
            let start = usize::try_from(*offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(bytes.len());
            if bytes.is_empty() {
                return;
            }
            if data.len() < end {
                data.resize(end, 0);
            }
            data[start..end].copy_from_slice(bytes);
        }
        FileOp::SetLen(len) => data.resize(usize::try_from(*len).unwrap_or(usize::MAX), 0),
    }
}

fn apply_dir_op(entries: &mut BTreeMap<OsString, u64>, op: &DirOp) {
    match op {
        DirOp::Set(name, ino) => {
            entries.insert(name.clone(), *ino);
        }
        DirOp::Remove(name) => {
            entries.remove(name);
        }
        DirOp::Rename(from, to) => {
            if let Some(ino) = entries.remove(from) {
                entries.insert(to.clone(), ino);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    fn data(t: &Tree, ino: u64) -> Vec<u8> {
        match &t.get(ino).unwrap().content {
            Content::File { data, .. } => data.clone(),
            Content::Dir { .. } => panic!("not a file"),
        }
    }

    #[test]
    fn synced_state_survives_every_cut() {
        for seed in 0..50 {
            let mut t = Tree::new();
            let f = t.create(ROOT, name("a.log"), false, 0o644).unwrap();
            t.write(f, 0, b"hello\n").unwrap();
            t.sync(f).unwrap();
            t.sync(ROOT).unwrap();
            t.power_cut(&mut Rng(seed));
            assert_eq!(t.lookup(ROOT, name("a.log")), Ok(f));
            assert_eq!(data(&t, f), b"hello\n");
        }
    }

    #[test]
    fn unsynced_bytes_survive_as_a_prefix_and_some_cut_drops_them() {
        let mut lengths = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let mut t = Tree::new();
            let f = t.create(ROOT, name("a.log"), false, 0o644).unwrap();
            t.sync(ROOT).unwrap();
            t.write(f, 0, b"one\n").unwrap();
            t.sync(f).unwrap();
            t.write(f, 4, b"two\n").unwrap();
            t.write(f, 8, b"three\n").unwrap();
            t.power_cut(&mut Rng(seed));
            let d = data(&t, f);
            assert!(b"one\ntwo\nthree\n".starts_with(&d), "{d:?}");
            assert!(d.len() >= 4);
            lengths.insert(d.len());
        }
        assert!(lengths.contains(&4) && lengths.contains(&14), "{lengths:?}");
        assert!(lengths.len() > 4, "partial writes too: {lengths:?}");
    }

    #[test]
    fn directory_ops_survive_in_order_and_unreached_inodes_go() {
        let mut seen_lost = false;
        for seed in 0..100 {
            let mut t = Tree::new();
            let f = t.create(ROOT, name("live"), false, 0o644).unwrap();
            t.write(f, 0, b"x").unwrap();
            t.sync(f).unwrap();
            t.rename(ROOT, name("live"), ROOT, name("archive"), false)
                .unwrap();
            let g = t.create(ROOT, name("live"), false, 0o644).unwrap();
            let stats = t.power_cut(&mut Rng(seed));
            let names: Vec<_> = t.list(ROOT).unwrap().into_iter().map(|(n, _)| n).collect();
            // Prefixes of [create live, rename live->archive, create live].
            let allowed: [&[&str]; 4] = [&[], &["live"], &["archive"], &["archive", "live"]];
            assert!(
                allowed.iter().any(|a| a
                    .iter()
                    .map(OsStr::new)
                    .eq(names.iter().map(|n| n.as_os_str()))),
                "{names:?}"
            );
            if names.is_empty() {
                seen_lost = true;
                assert!(t.get(f).is_err() && t.get(g).is_err());
                assert_eq!(stats.names_lost, 2);
            }
        }
        assert!(seen_lost);
    }

    #[test]
    fn a_lying_fsync_keeps_nothing() {
        let mut lost = false;
        for seed in 0..20 {
            let mut t = Tree::new();
            t.lying_fsync = true;
            let f = t.create(ROOT, name("a.log"), false, 0o644).unwrap();
            t.write(f, 0, b"hello\n").unwrap();
            t.sync(f).unwrap();
            t.sync(ROOT).unwrap();
            t.power_cut(&mut Rng(seed));
            lost |= t.lookup(ROOT, name("a.log")).is_err();
        }
        assert!(lost);
    }

    #[test]
    fn rename_over_a_file_and_nlink() {
        let mut t = Tree::new();
        let a = t.create(ROOT, name("a"), false, 0o644).unwrap();
        let b = t.create(ROOT, name("b"), false, 0o644).unwrap();
        assert_eq!(
            t.rename(ROOT, name("a"), ROOT, name("b"), true),
            Err(libc::EEXIST)
        );
        t.rename(ROOT, name("a"), ROOT, name("b"), false).unwrap();
        assert_eq!(t.lookup(ROOT, name("b")), Ok(a));
        assert_eq!(t.get(b).unwrap().nlink, 0);
        let d = t.create(ROOT, name("d"), true, 0o755).unwrap();
        t.create(d, name("x"), false, 0o644).unwrap();
        assert_eq!(t.remove(ROOT, name("d"), true), Err(libc::ENOTEMPTY));
        assert_eq!(t.remove(ROOT, name("b"), true), Err(libc::ENOTDIR));
    }
}
