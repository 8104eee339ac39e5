//! The `tracing` workload's subscriber: one `tracing_subscriber::fmt` layer, with the same
//! settings for every system, over the system's `MakeWriter` (bunctl-log-tracing's
//! `LogMakeWriter`, tracing-appender's `NonBlocking`, or the ceiling's `BufWriter` behind a
//! `Mutex`). The settings leave the message alone on the line: no time, level, target, colour
//! or span, so each event is written as exactly the 100-byte line and its `\n`, read back like
//! every other workload's.
//!
//! Each producer thread makes the subscriber its default for the whole run
//! (`tracing::dispatcher::set_default`), not the process: once the producers are done and the
//! harness dropped its own handle, nothing holds the system's writer any more, so
//! tracing-appender's worker can end (its clock stops there).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;

/// The subscriber every system gets: the fmt layer writing to `writer`, the message only.
pub(crate) fn dispatch<W>(writer: W) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_thread_ids(false)
        .with_thread_names(false)
        .with_file(false)
        .with_line_number(false)
        .finish();
    Dispatch::new(subscriber)
}

/// One event, from a producer thread whose default subscriber is the run's.
pub(crate) fn event(line: &str) {
    tracing::info!("{}", line);
}

/// The ceiling under the fmt layer: the shared `BufWriter` of the ceiling, one lock per event
/// (the layer writes an event with one `write_all`).
#[derive(Clone)]
pub(crate) struct CeilingMakeWriter(pub(crate) Arc<Mutex<BufWriter<File>>>);

/// The locked `BufWriter`, for one event.
pub(crate) struct CeilingEvent<'a>(MutexGuard<'a, BufWriter<File>>);

impl Write for CeilingEvent<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<'a> MakeWriter<'a> for CeilingMakeWriter {
    type Writer = CeilingEvent<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        // A producer that panicked mid-write poisons the lock; the run fails on its join.
        CeilingEvent(self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
