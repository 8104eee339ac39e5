//! Waking a follower when something happens to an app's files: an inotify watch on their
//! directory (through `notify`), or a timer where there is none.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bunctl_log_fs::{FileId, Filesystem};
use bunctl_log_rotation::ArchiveNaming;

/// How long to wait for an event before looking anyway (a safety net, and the time it takes
/// to notice a directory that was removed and created again).
pub const WATCH_TIMEOUT: Duration = Duration::from_secs(1);

/// How often to look for new lines where the directory cannot be watched.
pub const POLL: Duration = Duration::from_millis(100);

/// Wakes a follower (see the [module docs](self)).
pub(crate) struct Waker {
    fs: Arc<dyn Filesystem>,
    dir: PathBuf,
    /// Events about names starting with this (`app.`), and about the directory.
    prefix: String,
    tx: mpsc::SyncSender<()>,
    rx: mpsc::Receiver<()>,
    watch: Option<(notify::RecommendedWatcher, Option<FileId>)>,
    /// Why the directory cannot be watched, not yet taken by [`Waker::take_unwatched`].
    unwatched: Option<String>,
    /// Whether the reason was given once already.
    said: bool,
}

impl Waker {
    /// A waker for the files of `naming`'s live file.
    pub(crate) fn new(fs: Arc<dyn Filesystem>, naming: &ArchiveNaming) -> Self {
        let live_name = naming
            .live_path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = live_name
            .rsplit_once('.')
            .map_or(live_name.as_str(), |(stem, _)| stem);
        // One pending wake-up is enough: the follower looks at everything when it wakes.
        let (tx, rx) = mpsc::sync_channel(1);
        let mut waker = Self {
            fs,
            dir: naming.dir().to_path_buf(),
            prefix: format!("{stem}."),
            tx,
            rx,
            watch: None,
            unwatched: None,
            said: false,
        };
        waker.ensure_watch();
        waker
    }

    /// Whether the directory is watched (else the follower polls every [`POLL`]).
    pub(crate) fn is_watching(&self) -> bool {
        self.watch.is_some()
    }

    /// Why the directory cannot be watched, once.
    pub(crate) fn take_unwatched(&mut self) -> Option<String> {
        self.unwatched.take()
    }

    /// Watches the directory if it exists and is not watched yet (or was replaced).
    fn ensure_watch(&mut self) {
        let Ok(meta) = self.fs.metadata(&self.dir) else {
            self.watch = None; // not there (yet): poll until it is
            return;
        };
        if self
            .watch
            .as_ref()
            .is_some_and(|(_, watched)| *watched == meta.id)
        {
            return;
        }
        let (tx, prefix, dir) = (self.tx.clone(), self.prefix.clone(), self.dir.clone());
        let handler = move |event: notify::Result<notify::Event>| {
            let relevant = event.as_ref().map_or(true, |e| {
                e.need_rescan() || e.paths.iter().any(|p| concerns(p, &dir, &prefix))
            });
            if relevant {
                // Full: a wake-up is pending already.
                let _ = tx.try_send(());
            }
        };
        let watched = notify::recommended_watcher(handler).and_then(|mut w| {
            notify::Watcher::watch(&mut w, &self.dir, notify::RecursiveMode::NonRecursive)?;
            Ok(w)
        });
        match watched {
            Ok(w) => {
                self.watch = Some((w, meta.id));
                // Something may have happened before the watch: look once more.
                let _ = self.tx.try_send(());
            }
            Err(e) => {
                self.watch = None;
                if !self.said {
                    self.unwatched = Some(format!(
                        "cannot watch {} ({e}): looking for changes every {} ms",
                        self.dir.display(),
                        POLL.as_millis()
                    ));
                    self.said = true;
                }
            }
        }
    }

    /// Returns when something may have changed, or after `max` at most.
    pub(crate) fn wait(&mut self, max: Duration) {
        let timeout = if self.watch.is_some() {
            WATCH_TIMEOUT
        } else {
            POLL
        }
        .min(max);
        if self.rx.recv_timeout(timeout).is_err() {
            // Nothing for a while: is the watch still on the directory that is there?
            self.ensure_watch();
        }
        while self.rx.try_recv().is_ok() {}
    }
}

/// Whether an event on `path` concerns the directory `dir` or a file named `prefix…`.
fn concerns(path: &Path, dir: &Path, prefix: &str) -> bool {
    path == dir
        || path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
}
