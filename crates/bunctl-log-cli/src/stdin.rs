//! stdin read on a thread of bunctl-log's own, which a stop request ends between two reads.
//!
//! `tokio::io::stdin` reads on a blocking thread that nothing can interrupt: after a stop it
//! would stay blocked on a silent pipe (and the runtime would wait for it at exit), or take
//! bytes out of the pipe that nobody then writes. This thread instead waits in `poll(2)` for
//! stdin or a stop request, and reads only when stdin is ready: once it has stopped, every byte
//! it took out of the pipe is queued for the pump, and every other byte is still in the pipe,
//! for whoever reads it next.

use std::io::{self, PipeReader, PipeWriter};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{mpsc, oneshot};

/// Bytes per read, as the pump reads.
const CHUNK: usize = 64 << 10;

/// Chunks queued between the thread and the pump. With the one being read, less than the 1 MiB
/// that `pump_until` still takes after its stop, so that it takes all of them.
const QUEUED: usize = 2;

/// The reading end: an [`AsyncRead`] of stdin, at EOF once the thread has stopped.
pub struct StdinReader {
    chunks: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

/// Stops the thread.
pub struct Stopper {
    /// Closing it wakes the thread's `poll`.
    wake: PipeWriter,
    /// Closed by the thread when it ends, after its last chunk was queued.
    done: oneshot::Receiver<()>,
}

/// Starts reading stdin on a new thread.
///
/// # Errors
/// If the thread or its wake-up pipe cannot be created.
pub fn spawn() -> io::Result<(StdinReader, Stopper)> {
    let (wake_rx, wake) = io::pipe()?;
    let (tx, chunks) = mpsc::channel(QUEUED);
    let (done_tx, done) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("bunctl-log-stdin".into())
        .spawn(move || {
            read_stdin(&tx, &wake_rx);
            // In this order: whoever sees `done` closed finds every chunk queued.
            drop(tx);
            drop(done_tx);
        })?;
    let reader = StdinReader {
        chunks,
        chunk: Vec::new(),
        pos: 0,
    };
    Ok((reader, Stopper { wake, done }))
}

impl Stopper {
    /// Asks the thread to stop before its next read and waits until it has: everything it took
    /// out of stdin is then queued in the [`StdinReader`], which ends there. Whoever reads the
    /// reader must go on reading meanwhile, or the thread may wait for room to queue a chunk.
    pub async fn stop(self) {
        drop(self.wake);
        // An error only says that the thread has ended, which is what is awaited.
        let _ = self.done.await;
    }
}

fn read_stdin(tx: &mpsc::Sender<io::Result<Vec<u8>>>, wake: &PipeReader) {
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    loop {
        let mut fds = [
            PollFd::new(&fd, PollFlags::IN),
            PollFd::new(wake, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(e.into()));
                return;
            }
        }
        // A stop request (the wake pipe's writer closed) wins over ready input.
        if !fds[1].revents().is_empty() {
            return;
        }
        if fds[0].revents().is_empty() {
            continue;
        }
        let mut chunk = Vec::with_capacity(CHUNK);
        match rustix::io::read(fd, rustix::buffer::spare_capacity(&mut chunk)) {
            Ok(0) => return,
            Ok(_) => {
                if tx.blocking_send(Ok(chunk)).is_err() {
                    return; // The pump is gone.
                }
            }
            // Another reader of the same pipe may have taken the bytes poll saw.
            Err(Errno::INTR | Errno::AGAIN) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e.into()));
                return;
            }
        }
    }
}

impl AsyncRead for StdinReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos == this.chunk.len() {
            match ready!(this.chunks.poll_recv(cx)) {
                // The thread ended: EOF, or the stop.
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(e)),
                Some(Ok(chunk)) => {
                    this.chunk = chunk;
                    this.pos = 0;
                }
            }
        }
        let n = buf.remaining().min(this.chunk.len() - this.pos);
        buf.put_slice(&this.chunk[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}
