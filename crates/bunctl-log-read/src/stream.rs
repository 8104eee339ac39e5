//! [`follow`]: a [`Follower`] on a thread of its own, as an async [`Stream`] of lines.
//!
//! File I/O never runs on an async worker: the follower reads and waits (inotify) on its
//! thread and sends blocks of whole lines through a bounded channel, so a consumer that falls
//! behind makes the follower wait rather than memory grow. Dropping the stream stops the
//! thread (within [`WATCH_TIMEOUT`](crate::WATCH_TIMEOUT) if it is waiting for lines).

use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bunctl_log_fs::Filesystem;
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::follow::Follower;
use crate::last::BLOCK;
use crate::watch::WATCH_TIMEOUT;

/// Blocks of lines in flight between the follower's thread and the stream.
const IN_FLIGHT: usize = 16;

/// The lines of an app's logs as they are written: what [`follow`] returns. Each item is one
/// line without its `\n`; after an error the stream ends.
#[derive(Debug)]
pub struct LineStream {
    rx: mpsc::Receiver<Result<Vec<u8>>>,
    /// The block being handed out, and where its next line starts.
    block: Vec<u8>,
    at: usize,
    stop: Arc<AtomicBool>,
}

/// Follows the logs whose live file is `live`: the stream yields their last `n` lines, then
/// every line written after them, across rotations (see [`Follower`]), until it is dropped.
/// The follower's notices go to `tracing` as warnings.
///
/// # Errors
/// If the follower's thread cannot be started. Errors of the follower itself (the files
/// cannot be read) come as the stream's last item.
pub fn follow(fs: Arc<dyn Filesystem>, live: &Path, n: usize) -> Result<LineStream> {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let stop = Arc::new(AtomicBool::new(false));
    let live_path = live.to_path_buf();
    let stopped = stop.clone();
    std::thread::Builder::new()
        .name(format!("{}-follow", bunctl_log_fs::THREAD_NAME_PREFIX))
        .spawn(move || run(fs, &live_path, n, &tx, &stopped))
        .map_err(|e| Error::new("start a thread to follow", live, e))?;
    Ok(LineStream {
        rx,
        block: Vec::new(),
        at: 0,
        stop,
    })
}

/// The follower's thread: polls, sends, waits, until the stream is gone.
fn run(
    fs: Arc<dyn Filesystem>,
    live: &Path,
    n: usize,
    tx: &mpsc::Sender<Result<Vec<u8>>>,
    stop: &AtomicBool,
) {
    let mut follower = match Follower::new(fs, live, n) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    };
    let mut batch: Vec<u8> = Vec::new();
    let gone = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the stream was dropped");
    while !stop.load(Ordering::Relaxed) && !tx.is_closed() {
        let polled = follower.poll(&mut |bytes| {
            batch.extend_from_slice(bytes);
            if batch.len() >= BLOCK {
                tx.blocking_send(Ok(std::mem::take(&mut batch)))
                    .map_err(|_| gone())?;
            }
            Ok(())
        });
        for notice in follower.take_notices() {
            tracing::warn!(live = %live.display(), "{notice}");
        }
        let idle = match polled {
            Ok(idle) => idle,
            Err(e) if e.is_output() => return,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        if !batch.is_empty() && tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err() {
            return;
        }
        if idle {
            follower.wait(WATCH_TIMEOUT);
        }
    }
}

impl LineStream {
    /// The next line (`None` once the stream has ended), without a `StreamExt`.
    pub async fn next_line(&mut self) -> Option<Result<Vec<u8>>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for LineStream {
    type Item = Result<Vec<u8>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let this = &mut *self;
            if this.at < this.block.len() {
                let rest = &this.block[this.at..];
                let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                let line = rest[..end].to_vec();
                this.at += end + 1;
                return Poll::Ready(Some(Ok(line)));
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(block))) => {
                    this.block = block;
                    this.at = 0;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for LineStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.rx.close();
    }
}
