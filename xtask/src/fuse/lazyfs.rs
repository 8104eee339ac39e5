//! The FUSE side of the forgetting filesystem: a [`Tree`] served under a mount point, like
//! Jepsen's LazyFS (every write kept in memory until fsynced, so a power cut can drop it), here
//! with the whole tree in memory, which the few megabytes a campaign writes allow.
//!
//! A power cut is: the writers killed, the filesystem unmounted (the kernel's caches go with
//! it), [`Tree::power_cut`] on the shared tree, mounted again.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem,
    FopenFlags, Generation, INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use super::model::{Node, Tree};

/// How long the kernel may cache names and attributes: only this filesystem changes the tree
/// while it is mounted, and a remount forgets them.
const TTL: Duration = Duration::from_secs(1);

/// The tree, shared between the FUSE threads and the campaign (which cuts it while unmounted).
pub(super) type SharedTree = Arc<Mutex<Tree>>;

/// The filesystem FUSE calls: every request locks the tree.
pub(super) struct LazyFs {
    tree: SharedTree,
}

/// A mounted [`LazyFs`]; unmounted on [`Mounted::unmount`] (or drop).
pub(super) struct Mounted {
    session: Option<BackgroundSession>,
}

/// Mounts `tree` on `mountpoint`, served by a thread of its own.
pub(super) fn mount(tree: SharedTree, mountpoint: &Path) -> io::Result<Mounted> {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("lazyfs".to_string()),
        MountOption::Subtype("bunctl-powerloss".to_string()),
        MountOption::RW,
    ];
    let session = fuser::spawn_mount(LazyFs { tree }, mountpoint, &config)?;
    Ok(Mounted {
        session: Some(session),
    })
}

impl Mounted {
    /// Unmounts and waits for the serving thread; the tree is quiescent after it.
    pub(super) fn unmount(mut self) -> io::Result<()> {
        match self.session.take() {
            Some(s) => s.umount_and_join(),
            None => Ok(()),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.umount_and_join();
        }
    }
}

fn errno(e: i32) -> Errno {
    Errno::from_i32(e)
}

fn attr(ino: u64, node: &Node) -> FileAttr {
    let size = node.size();
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: node.mtime,
        mtime: node.mtime,
        ctime: node.ctime,
        crtime: node.ctime,
        kind: if node.is_dir() {
            FileType::Directory
        } else {
            FileType::RegularFile
        },
        perm: node.perm,
        nlink: node.nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

impl LazyFs {
    fn tree(&self) -> MutexGuard<'_, Tree> {
        // A panic in another FUSE call leaves the tree as consistent as any single op made it.
        self.tree
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry(&self, tree: &Tree, ino: u64, reply: ReplyEntry) {
        match tree.get(ino) {
            Ok(node) => reply.entry(&TTL, &attr(ino, node), Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn make(&self, parent: INodeNo, name: &OsStr, is_dir: bool, mode: u32, reply: ReplyEntry) {
        let mut tree = self.tree();
        match tree.create(parent.0, name, is_dir, (mode & 0o7777) as u16) {
            Ok(ino) => self.entry(&tree, ino, reply),
            Err(e) => reply.error(errno(e)),
        }
    }
}

fn reply_empty(result: Result<(), i32>, reply: ReplyEmpty) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(e)),
    }
}

impl Filesystem for LazyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let tree = self.tree();
        match tree.lookup(parent.0, name) {
            Ok(ino) => self.entry(&tree, ino, reply),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let tree = self.tree();
        match tree.get(ino.0) {
            Ok(node) => reply.attr(&TTL, &attr(ino.0, node)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut tree = self.tree();
        let mut result = Ok(());
        if let Some(len) = size {
            result = tree.set_len(ino.0, len);
        }
        if let (Ok(()), Some(mode)) = (result, mode) {
            result = tree.set_perm(ino.0, (mode & 0o7777) as u16);
        }
        match result.and_then(|()| tree.get(ino.0)) {
            Ok(node) => reply.attr(&TTL, &attr(ino.0, node)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            reply.error(Errno::EPERM);
            return;
        }
        self.make(parent, name, false, mode, reply);
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        self.make(parent, name, true, mode, reply);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(self.tree().remove(parent.0, name, false), reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(self.tree().remove(parent.0, name, true), reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            reply.error(Errno::EINVAL);
            return;
        }
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        reply_empty(
            self.tree()
                .rename(parent.0, name, newparent.0, newname, no_replace),
            reply,
        );
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let mut tree = self.tree();
        match tree.link(ino.0, newparent.0, newname) {
            Ok(()) => self.entry(&tree, ino.0, reply),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut tree = self.tree();
        let result = match tree.get(ino.0) {
            Ok(node) if node.is_dir() => Err(libc::EISDIR),
            Ok(_) if flags.0 & libc::O_TRUNC != 0 => tree.set_len(ino.0, 0),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        match result {
            // The file handle carries O_APPEND: appends land at the tree's end of file.
            Ok(()) => reply.opened(
                FileHandle(u64::from(flags.0 & libc::O_APPEND != 0)),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let tree = self.tree();
        match tree.read(ino.0, offset, size) {
            Ok(data) => reply.data(data),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut tree = self.tree();
        let offset = if fh.0 == 1 {
            tree.get(ino.0).map_or(offset, Node::size)
        } else {
            offset
        };
        match tree.write(ino.0, offset, data) {
            Ok(()) => reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) promises nothing about durability: nothing to do.
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.tree().sync(ino.0), reply);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.tree().get(ino.0) {
            Ok(node) if node.is_dir() => reply.opened(FileHandle(0), FopenFlags::empty()),
            Ok(_) => reply.error(Errno::ENOTDIR),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let tree = self.tree();
        let entries = match tree.list(ino.0) {
            Ok(e) => e,
            Err(e) => {
                reply.error(errno(e));
                return;
            }
        };
        let dots = [
            (OsStr::new(".").to_owned(), ino.0, FileType::Directory),
            (OsStr::new("..").to_owned(), ino.0, FileType::Directory),
        ];
        let all = dots.into_iter().chain(entries.into_iter().map(|(n, i)| {
            let kind = if tree.get(i).is_ok_and(Node::is_dir) {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            (n, i, kind)
        }));
        // The offset of an entry is its index + 1: the next readdir starts after it.
        for (i, (name, child, kind)) in all.enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), i as u64 + 1, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.tree().sync(ino.0), reply);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Plenty of room: the writer's checks of free space must not get in the way.
        reply.statfs(1 << 24, 1 << 23, 1 << 23, 1 << 20, 1 << 19, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        reply_empty(self.tree().get(ino.0).map(|_| ()), reply);
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut tree = self.tree();
        match tree.create(parent.0, name, false, (mode & 0o7777) as u16) {
            Ok(ino) => match tree.get(ino) {
                Ok(node) => reply.created(
                    &TTL,
                    &attr(ino, node),
                    Generation(0),
                    FileHandle(u64::from(flags & libc::O_APPEND != 0)),
                    FopenFlags::empty(),
                ),
                Err(e) => reply.error(errno(e)),
            },
            Err(e) => reply.error(errno(e)),
        }
    }
}
