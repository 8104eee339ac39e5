//! Where batches of lines go: the [`Sink`] trait, [`FileSink`], and the layers that wrap it.
//!
//! # Design
//!
//! Behaviour is added by wrapping, as with tower layers, not by flags on one big struct:
//!
//! ```text
//! RetryingSink( MeteredSink( RotatingSink( FileSink ) ) )
//!   retries with  counts every    rotates at line      one write(2)
//!   backoff;      attempt: bytes, boundaries, names,   per call on the
//!   opens a       latency,        compresses and       live file
//!   circuit       errors          expires archives
//!   breaker
//! ```
//!
//! The writer hands each layer a batch of whole `\n`-terminated lines. [`Sink::write`] has the
//! contract of [`std::io::Write::write`]: it writes a prefix of the batch and says how long, so
//! a layer that fails half-way never makes the layer above repeat bytes that are already in the
//! file. Lines are never torn by a layer: [`RotatingSink`] only rotates between lines, and a
//! line that was started is finished in the same file.
//!
//! Every file operation goes through [`bunctl_log_fs::Filesystem`], so each layer is tested
//! with real error kinds (ENOSPC, EIO, EACCES) injected at any step.
//!
//! ```
//! use std::sync::Arc;
//! use bunctl_log_fs::StdFs;
//! use bunctl_log_rotation::{SizePolicy, SystemClock};
//! use bunctl_log_sink::{RotatingSink, RotatingSinkConfig, Sink};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let config = RotatingSinkConfig {
//!     policy: Box::new(SizePolicy(16)),
//!     max_files: 3,
//!     compression: false,
//!     ..RotatingSinkConfig::new(dir.path().join("app.log"))
//! };
//! let mut sink = RotatingSink::open(config, StdFs::shared(), Arc::new(SystemClock)).unwrap();
//! sink.write_all(b"first line\nsecond line\n").unwrap();
//! sink.close().unwrap();
//! assert_eq!(sink.log_files().unwrap().len(), 2); // one archive, then the live file
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod file;
mod finish;
mod metered;
mod open_record;
mod recovery;
mod retrying;
mod rotating;

use std::io;

pub use file::{FileSink, PathChange};
pub use metered::MeteredSink;
pub use retrying::{is_transient, CircuitOpen, RetryConfig, RetryingSink};
pub use rotating::{list_log_files, FullDiskPolicy, RotatingSink, RotatingSinkConfig};

/// A destination for batches of whole lines.
pub trait Sink: Send {
    /// Writes a prefix of `batch` and returns its length, like [`std::io::Write::write`].
    /// `Ok(0)` for a non-empty batch means the sink cannot take more.
    ///
    /// # Errors
    /// The I/O error; nothing of `batch` was written by this call.
    fn write(&mut self, batch: &[u8]) -> io::Result<usize>;

    /// Hands buffered data to the operating system. The default does nothing: a sink without
    /// a buffer of its own has nothing to hand on.
    ///
    /// # Errors
    /// The I/O error.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Makes written data durable (`fdatasync`). The default does nothing: for sinks whose
    /// data does not outlive the process anyway (memory, a released writer).
    ///
    /// # Errors
    /// The I/O error.
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// The writer has written nothing for a while: closes what the next write can open again
    /// (the live file's descriptor), after making what was written durable, so that a quiet
    /// writer holds as few descriptors as it can. The default does nothing.
    ///
    /// # Errors
    /// The I/O error of making the data durable; what was open then stays open.
    fn close_idle(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Called once before the last writes and [`Sink::close`]: a sink that holds writes back
    /// for a while (a circuit breaker) lets the next one through, so the last lines and the
    /// loss marker get one real try at shutdown. The default does nothing.
    fn before_close(&mut self) {}

    /// Finishes background work (compression, retention) and makes everything durable; called
    /// once at shutdown. The default is [`Sink::sync`].
    ///
    /// # Errors
    /// The first I/O error met.
    fn close(&mut self) -> io::Result<()> {
        self.sync()
    }

    /// Writes the whole batch, calling [`Sink::write`] until it is done.
    ///
    /// # Errors
    /// The first error; the returned [`PartialWrite`] says how much was written before it.
    fn write_all(&mut self, mut batch: &[u8]) -> Result<(), PartialWrite> {
        let mut written = 0;
        while !batch.is_empty() {
            match self.write(batch) {
                Ok(0) => {
                    return Err(PartialWrite {
                        written,
                        error: io::Error::new(io::ErrorKind::WriteZero, "the sink took no bytes"),
                    })
                }
                Ok(n) if n <= batch.len() => {
                    written += n;
                    batch = &batch[n..];
                }
                Ok(n) => {
                    // A sink that claims more than it was given is broken; never panic on it.
                    return Err(PartialWrite {
                        written,
                        error: io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("the sink claimed {n} bytes of a {}-byte batch", batch.len()),
                        ),
                    });
                }
                Err(error) => return Err(PartialWrite { written, error }),
            }
        }
        Ok(())
    }
}

/// An error from [`Sink::write_all`], with how many bytes were written before it.
#[derive(Debug)]
pub struct PartialWrite {
    /// Bytes of the batch that are in the sink.
    pub written: usize,
    /// What stopped the write.
    pub error: io::Error,
}

impl std::fmt::Display for PartialWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "write failed after {} bytes: {}",
            self.written, self.error
        )
    }
}

impl std::error::Error for PartialWrite {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Claims to have written more than it was given.
    struct Liar;

    impl Sink for Liar {
        fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
            Ok(batch.len() + 1)
        }
    }

    #[test]
    fn write_all_reports_a_sink_that_overclaims_instead_of_panicking() {
        let e = Liar.write_all(b"abc\n").unwrap_err();
        assert_eq!(e.written, 0);
        assert_eq!(e.error.kind(), io::ErrorKind::InvalidData);
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        (**self).write(batch)
    }
    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }
    fn sync(&mut self) -> io::Result<()> {
        (**self).sync()
    }
    fn close_idle(&mut self) -> io::Result<()> {
        (**self).close_idle()
    }
    fn before_close(&mut self) {
        (**self).before_close();
    }
    fn close(&mut self) -> io::Result<()> {
        (**self).close()
    }
}

/// A sink that keeps everything in memory; for tests and benchmarks of the layers above
/// (feature `testing`).
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    /// Everything written so far.
    pub data: Vec<u8>,
    /// How many times `sync` was called.
    pub syncs: usize,
}

#[cfg(any(test, feature = "testing"))]
impl Sink for MemorySink {
    fn write(&mut self, batch: &[u8]) -> io::Result<usize> {
        self.data.extend_from_slice(batch);
        Ok(batch.len())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.syncs += 1;
        Ok(())
    }
}
