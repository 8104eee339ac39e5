//! The configuration the flags describe (the manager's and `pipe`'s writer's), and the check of
//! the log directory that `pipe`, `run` and the readers make first.

use std::path::{Path, PathBuf};

use bunctl_logging::{LogConfig, LogWriterConfig, WriterOptions};

use crate::args::{Target, WriteArgs};

/// The manager-level configuration the flags describe, and the app's live file.
pub(crate) fn log_config(t: &Target, w: Option<&WriteArgs>) -> (LogConfig, PathBuf) {
    let mut config = LogConfig {
        base_dir: t.dir.clone(),
        ..LogConfig::default()
    };
    if let Some(w) = w {
        config.max_file_size = w.max_size;
        config.max_files = w.keep;
        config.compression = !w.no_compress;
    }
    let live = config.log_path(&t.app);
    (config, live)
}

/// The options the flags set beyond the configuration.
pub(crate) fn writer_options(w: &WriteArgs) -> WriterOptions {
    let mut options = WriterOptions::default();
    options.format = w.format.into();
    options
}

/// The configuration of `pipe`'s writer: the flags', batched in the unit a pipe is read in.
pub(crate) fn writer_config(t: &Target, w: &WriteArgs) -> LogWriterConfig {
    let (config, live) = log_config(t, Some(w));
    LogWriterConfig {
        // A pipe is read in 64 KiB chunks: batch in the same unit.
        buffer_size: 64 << 10,
        ..config.writer_config(&live)
    }
}

/// `Err` naming `dir` if it exists and is not a directory (a missing one is created).
pub(crate) fn check_dir(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(format!("{} is not a directory", dir.display())),
        _ => Ok(()),
    }
}
