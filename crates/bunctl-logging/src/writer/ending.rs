//! How the writer's job ends and how the handle learns it: [`Done`], signalled once with how it
//! [`Ended`] and waited for by async and blocking callers alike; and the shutdown outcome the
//! handle remembers, so that every later `shutdown` returns the first one's.

use std::io;

use crate::{Error, Result};

use super::AsyncLogWriter;

/// How the writer's job ended.
pub(super) enum Ended {
    Closed(io::Result<()>),
    Panicked,
}

/// The writer's end: signalled once by its job, waited for by async and blocking callers.
#[derive(Default)]
pub(super) struct Done {
    ended: std::sync::Mutex<Option<Ended>>,
    /// Wakes blocking waiters.
    cv: std::sync::Condvar,
    /// Wakes async waiters.
    notify: tokio::sync::Notify,
}

impl Done {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Ended>> {
        // Only an assignment runs under this lock: a poisoned one is still consistent.
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records how the job ended and wakes every waiter.
    pub(super) fn signal(&self, ended: Ended) {
        *self.lock() = Some(ended);
        self.cv.notify_all();
        self.notify.notify_waiters();
    }

    fn has_ended(&self) -> bool {
        self.lock().is_some()
    }

    /// Returns once the job has ended.
    pub(super) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has_ended() {
                return;
            }
            notified.await;
        }
    }

    /// `true` if the job ended within `timeout`.
    pub(super) fn wait_blocking(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut ended = self.lock();
        while ended.is_none() {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(std::time::Instant::now()),
                None => std::time::Duration::MAX,
            };
            if left.is_zero() {
                return false;
            }
            ended = self
                .cv
                .wait_timeout(ended, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl AsyncLogWriter {
    fn outcome(&self) -> std::sync::MutexGuard<'_, Option<Result<()>>> {
        // Only an assignment runs under this lock: a poisoned one is still consistent.
        self.outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the first completed shutdown returned, if one has.
    pub(super) fn stored_outcome(&self) -> Option<Result<()>> {
        self.outcome().as_ref().map(duplicate)
    }

    /// The outcome of a shutdown whose wait ended (`job_ended`: the job signalled its end;
    /// else the wait timed out), stored by the first caller and returned to every later one.
    pub(super) fn settle(&self, job_ended: bool) -> Result<()> {
        let mut stored = self.outcome();
        if let Some(outcome) = stored.as_ref() {
            return duplicate(outcome);
        }
        let ended = if job_ended {
            self.done.lock().take()
        } else {
            None
        };
        let result = match ended {
            Some(Ended::Closed(Ok(()))) => self.report_losses(),
            Some(Ended::Closed(Err(source))) => Err(Error::Io {
                action: "close log file",
                path: self.path.clone(),
                source,
            }),
            Some(Ended::Panicked) => Err(Error::TaskFailed {
                path: self.path.clone(),
                task: "writer thread",
            }),
            // A thread stuck in a system call cannot be stopped: it goes on alone and counts
            // each line it still writes or loses.
            None => Err(Error::ShutdownTimeout {
                path: self.path.clone(),
                timeout: self.options.shutdown_timeout,
                unwritten_lines: self.unwritten_lines(),
            }),
        };
        *stored = Some(duplicate(&result));
        result
    }
}

/// A copy of a remembered outcome (errors are not `Clone`: see [`Error::duplicate`]).
fn duplicate(result: &Result<()>) -> Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(e.duplicate()),
    }
}
