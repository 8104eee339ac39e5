//! The signals that ask bunctl-log to end: caught, so that it ends cleanly (Unix).

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use tokio::signal::unix::SignalKind;

/// A signal asking bunctl-log to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM: what supervisors send.
    Term,
    /// SIGINT: Ctrl-C.
    Int,
    /// SIGHUP: the terminal went away.
    Hup,
}

impl Stop {
    /// Every one of them.
    pub const ALL: [Stop; 3] = [Stop::Term, Stop::Int, Stop::Hup];

    /// `SIGTERM`, `SIGINT`, `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Term => "SIGTERM",
            Stop::Int => "SIGINT",
            Stop::Hup => "SIGHUP",
        }
    }

    /// The signal, to send it on.
    pub fn signal(self) -> rustix::process::Signal {
        match self {
            Stop::Term => rustix::process::Signal::TERM,
            Stop::Int => rustix::process::Signal::INT,
            Stop::Hup => rustix::process::Signal::HUP,
        }
    }

    fn kind(self) -> SignalKind {
        SignalKind::from_raw(self.signal().as_raw())
    }
}

/// Handlers for some [`Stop`] signals: from their creation on, these signals no longer kill the
/// process but are returned by [`Signals::recv`].
pub struct Signals {
    handlers: Vec<(Stop, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Catches `which`, except the signals that were ignored when bunctl-log started (`nohup`,
    /// a non-interactive shell's background job): those stay ignored, as their caller wanted.
    /// Needs a tokio runtime.
    ///
    /// # Errors
    /// If a handler cannot be installed.
    pub fn new(which: &[Stop]) -> io::Result<Self> {
        let ignored = ignored_at_start();
        let mut handlers = Vec::new();
        for &stop in which {
            let bit = 1u64 << (stop.signal().as_raw() - 1);
            if ignored & bit == 0 {
                handlers.push((stop, tokio::signal::unix::signal(stop.kind())?));
            }
        }
        Ok(Self { handlers })
    }

    /// The next signal caught; never returns if none is caught.
    pub async fn recv(&mut self) -> Stop {
        poll_fn(|cx| {
            for (stop, handler) in &mut self.handlers {
                if let Poll::Ready(Some(())) = handler.poll_recv(cx) {
                    return Poll::Ready(*stop);
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// The set of ignored signals (bit `n - 1` for signal `n`), from `/proc/self/status`: reading
/// it needs no `unsafe` `sigaction` call. Read before any handler is installed.
#[cfg(target_os = "linux")]
fn ignored_at_start() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .unwrap_or(0)
}

/// Elsewhere there is no safe way to ask: every signal counts as not ignored.
#[cfg(not(target_os = "linux"))]
fn ignored_at_start() -> u64 {
    0
}
