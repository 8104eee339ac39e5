//! [`LogManager`]: one writer per app under one directory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bunctl_core::fs::{Filesystem, StdFs};
use bunctl_core::AppId;
use bunctl_log_metrics::MetricsSnapshot;
use bunctl_log_rotation::{Clock, SystemClock};
use tokio::sync::Mutex;

use crate::{AsyncLogWriter, Error, LogConfig, Result};

/// Holds one [`AsyncLogWriter`] per app, writing `<base_dir>/<app>.log`.
///
/// [`get_writer`](Self::get_writer) returns the same writer on every call for an app, even
/// when many tasks ask at once; [`close_all`](Self::close_all) shuts every writer down
/// concurrently. Idle writers cost no CPU: nothing wakes them until a line arrives.
pub struct LogManager {
    config: LogConfig,
    fs: Arc<dyn Filesystem>,
    clock: Arc<dyn Clock>,
    writers: Mutex<HashMap<AppId, Arc<AsyncLogWriter>>>,
}

impl std::fmt::Debug for LogManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogManager")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LogManager {
    /// A manager writing under `config.base_dir` (created on the first `get_writer`).
    pub fn new(config: LogConfig) -> Self {
        Self::with_io(config, StdFs::shared(), Arc::new(SystemClock))
    }

    /// [`LogManager::new`] with another filesystem and clock (for tests and error injection).
    pub fn with_io(config: LogConfig, fs: Arc<dyn Filesystem>, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            fs,
            clock,
            writers: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The live file of `app`: `<base_dir>/<app>.log` (see [`LogConfig::log_path`]).
    pub fn log_path(&self, app: &AppId) -> PathBuf {
        self.config.log_path(app)
    }

    /// The writer of `app`, created (with `base_dir`) on first use; the same writer on every
    /// call until it is closed.
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory or file that could not be created or opened.
    pub async fn get_writer(&self, app: &AppId) -> Result<Arc<AsyncLogWriter>> {
        let mut writers = self.writers.lock().await;
        if let Some(w) = writers.get(app) {
            if !w.is_closed() {
                return Ok(w.clone());
            }
        }
        let config = self.config.writer_config(&self.log_path(app));
        let writer =
            Arc::new(AsyncLogWriter::open_with(config, self.fs.clone(), self.clock.clone()).await?);
        writers.insert(app.clone(), writer.clone());
        Ok(writer)
    }

    /// The apps that have a writer.
    pub async fn apps(&self) -> Vec<AppId> {
        self.writers.lock().await.keys().cloned().collect()
    }

    /// Shuts down and forgets the writer of `app`, if any.
    ///
    /// # Errors
    /// As [`AsyncLogWriter::shutdown`].
    pub async fn close(&self, app: &AppId) -> Result<()> {
        let writer = self.writers.lock().await.remove(app);
        match writer {
            Some(w) => w.shutdown().await,
            None => Ok(()),
        }
    }

    /// Shuts every writer down, concurrently, each bounded by its shutdown timeout. Every line
    /// accepted before is in the files when this returns `Ok`.
    ///
    /// # Errors
    /// The writers' errors: one, or [`Error::Multiple`].
    pub async fn close_all(&self) -> Result<()> {
        let writers: Vec<_> = self.writers.lock().await.drain().collect();
        let mut set = tokio::task::JoinSet::new();
        for (_, writer) in writers {
            set.spawn(async move { writer.shutdown().await });
        }
        let mut errors = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(join) => errors.push(Error::Io {
                    action: "shut down writer for",
                    path: self.config.base_dir.clone(),
                    source: std::io::Error::other(join.to_string()),
                }),
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Multiple(errors)),
        }
    }

    /// The counters of every writer, summed (see [`MetricsSnapshot::merge`]).
    pub async fn total_metrics(&self) -> MetricsSnapshot {
        let writers = self.writers.lock().await;
        writers.values().fold(MetricsSnapshot::default(), |acc, w| {
            acc.merge(&w.metrics_snapshot())
        })
    }
}
