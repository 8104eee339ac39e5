//! The producers: what each producer thread or task writes to, one write call per line, and
//! the latency histogram of those calls.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bunctl_logging::{AsyncLogWriter, Error as LogError};
use hdrhistogram::Histogram;

use crate::line::LineBuf;
use crate::tracing_fmt;
use crate::Res;

/// Significant figures of the latency histograms (2: 1% precision, small per-producer memory).
const SIGFIG: u8 = 2;

/// What every producer writes to.
pub(crate) enum Producer {
    BunctlLossless(Arc<AsyncLogWriter>),
    BunctlLossy(Arc<AsyncLogWriter>),
    Ta(tracing_appender::non_blocking::NonBlocking),
    Spdlog(Arc<spdlog::Logger>),
    /// The process's global `log` logger (fast_log or ftlog).
    LogFacade,
    /// `tracing` events through this subscriber, the producer thread's default while it runs.
    Tracing(tracing::Dispatch),
    CeilingOwned(BufWriter<File>),
    CeilingShared(Arc<Mutex<BufWriter<File>>>),
}

impl Producer {
    /// One write call from a plain thread.
    fn write_sync(&mut self, line: &LineBuf) -> Res<()> {
        match self {
            Producer::BunctlLossless(w) => loop {
                match w.try_write_line(line.line()) {
                    Ok(()) => return Ok(()),
                    Err(LogError::Full) => std::thread::yield_now(),
                    Err(e) => return Err(e.into()),
                }
            },
            Producer::BunctlLossy(w) => Ok(w.write_line(line.line())?),
            Producer::Ta(nb) => Ok(nb.write_all(line.with_newline())?),
            Producer::Spdlog(logger) => {
                spdlog::info!(logger: logger, "{}", line.as_str());
                Ok(())
            }
            Producer::LogFacade => {
                log::info!("{}", line.as_str());
                Ok(())
            }
            Producer::Tracing(_) => {
                tracing_fmt::event(line.as_str());
                Ok(())
            }
            Producer::CeilingOwned(w) => Ok(w.write_all(line.with_newline())?),
            Producer::CeilingShared(w) => {
                let mut w = w.lock().map_err(|_| "ceiling mutex poisoned")?;
                Ok(w.write_all(line.with_newline())?)
            }
        }
    }

    /// One write call from a tokio task.
    async fn write_async(&mut self, line: &LineBuf) -> Res<()> {
        match self {
            Producer::BunctlLossless(w) => Ok(w.write_line_async(line.line()).await?),
            Producer::Tracing(_) => Err("tracing producers run on threads".into()),
            _ => self.write_sync(line),
        }
    }

    /// For `tracing` events, makes their subscriber this thread's default until the guard
    /// drops.
    fn scope(&self) -> Option<tracing::dispatcher::DefaultGuard> {
        match self {
            Producer::Tracing(dispatch) => Some(tracing::dispatcher::set_default(dispatch)),
            _ => None,
        }
    }

    /// The producer's end (the owned ceiling flushes its `BufWriter`).
    fn finish(self) -> Res<()> {
        if let Producer::CeilingOwned(mut w) = self {
            w.flush()?;
        }
        Ok(())
    }
}

pub(crate) fn new_histogram() -> Res<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000_000, SIGFIG)?)
}

fn elapsed_ns(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

pub(crate) fn produce_sync(mut p: Producer, id: usize, n: u64) -> Res<Histogram<u64>> {
    let mut hist = new_histogram()?;
    let mut line = LineBuf::new(id);
    let scope = p.scope();
    for seq in 0..n {
        line.set_seq(seq);
        let t0 = Instant::now();
        p.write_sync(&line)?;
        hist.saturating_record(elapsed_ns(t0));
    }
    p.finish()?;
    drop(scope);
    Ok(hist)
}

pub(crate) async fn produce_async(mut p: Producer, id: usize, n: u64) -> Res<Histogram<u64>> {
    let mut hist = new_histogram()?;
    let mut line = LineBuf::new(id);
    for seq in 0..n {
        line.set_seq(seq);
        let t0 = Instant::now();
        p.write_async(&line).await?;
        hist.saturating_record(elapsed_ns(t0));
    }
    p.finish()?;
    Ok(hist)
}
